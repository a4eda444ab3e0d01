"""What a change seen through the API watch means (ambdiff.drift): each event is compared
with git on arrival; only a change that takes an object away from git is drift."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ambdiff.cluster import ApiResource, Cluster
from ambdiff.compare import CompareOptions, build_report
from ambdiff.drift import DriftBook, DriftWatch
from ambdiff.model import ObjectDiff, ObjectId, Resource, Status
from ambdiff.settings import IgnoreRule

DEPLOYMENTS = ApiResource("apps", "v1", "Deployment", "deployments", True)
CONFIGMAPS = ApiResource("", "v1", "ConfigMap", "configmaps", True)
WEB = ObjectId("apps", "Deployment", "shop", "web")
INVENTORY = "gitops"


def desired_web(replicas: int = 2) -> Resource:
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"replicas": replicas},
    }
    return Resource(WEB, "apps/v1", body)


def live_web(replicas: int = 2, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "7", "uid": "u1",
                     "labels": {"ambdiff.io/inventory": INVENTORY}},
        "spec": {"replicas": replicas, "strategy": {"type": "RollingUpdate"}},
        "status": status,
    }  # fmt: skip


class Seen:
    def __init__(self) -> None:
        self.drift: list[ObjectDiff] = []


def no_cluster() -> Cluster:
    raise AssertionError("no stream is opened in these tests")


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
def watch(seen: Seen) -> DriftWatch:
    book = DriftBook()
    w = DriftWatch(
        book,
        no_cluster,
        on_drift=seen.drift.append,
        on_expired=lambda: None,
        on_error=lambda e: None,
    )
    desired = [desired_web()]
    options = CompareOptions(inventory=INVENTORY)
    w.update(desired, [], options)  # no targets: nothing connects
    book.reset(build_report(desired, {WEB: Resource(WEB, "apps/v1", live_web())}, options))
    return w


def test_a_hand_edit_of_a_field_git_sets_is_drift_once(watch: DriftWatch, seen: Seen) -> None:
    watch._handle(DEPLOYMENTS, "MODIFIED", live_web(replicas=5))
    assert [(d.id, d.status) for d in seen.drift] == [(WEB, Status.CHANGED)]
    assert [c.path_str for c in seen.drift[0].changes] == ["spec.replicas"]
    assert ("Deployment", "shop", "changed") in watch.book.statuses()
    # The same drift again (a status update of the drifted object) is not news ...
    watch._handle(DEPLOYMENTS, "MODIFIED", live_web(replicas=5, readyReplicas=5))
    assert len(seen.drift) == 1
    # ... another value is.
    watch._handle(DEPLOYMENTS, "MODIFIED", live_web(replicas=6))
    assert len(seen.drift) == 2


def test_changes_that_keep_an_object_in_sync_are_not_drift(watch: DriftWatch, seen: Seen) -> None:
    watch._handle(DEPLOYMENTS, "MODIFIED", live_web(readyReplicas=2))  # status
    edited = live_web()
    edited["metadata"]["annotations"] = {"note": "set by hand"}  # a field git does not set
    watch._handle(DEPLOYMENTS, "MODIFIED", edited)
    assert seen.drift == []
    assert watch.book.statuses() == [("Deployment", "shop", "unchanged")]


def test_healing_clears_the_book_without_reporting(watch: DriftWatch, seen: Seen) -> None:
    watch._handle(DEPLOYMENTS, "MODIFIED", live_web(replicas=5))
    watch._handle(DEPLOYMENTS, "MODIFIED", live_web(replicas=2))  # our own sync, say
    assert len(seen.drift) == 1
    assert watch.book.statuses() == [("Deployment", "shop", "unchanged")]


def test_a_deleted_object_git_names_is_drift(watch: DriftWatch, seen: Seen) -> None:
    watch._handle(DEPLOYMENTS, "DELETED", live_web())
    assert [(d.id, d.status) for d in seen.drift] == [(WEB, Status.ADDED)]


def test_objects_git_does_not_name_matter_only_in_this_inventory(
    watch: DriftWatch, seen: Seen
) -> None:
    other = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "handmade", "namespace": "shop"},
        "data": {"a": "b"},
    }
    watch._handle(CONFIGMAPS, "ADDED", other)
    theirs = copy.deepcopy(other)
    theirs["metadata"]["labels"] = {"ambdiff.io/inventory": "another-repo"}
    watch._handle(CONFIGMAPS, "ADDED", theirs)
    assert seen.drift == []
    ours = copy.deepcopy(other)
    ours["metadata"]["labels"] = {"ambdiff.io/inventory": INVENTORY}
    watch._handle(CONFIGMAPS, "ADDED", ours)
    stray = ObjectId("", "ConfigMap", "shop", "handmade")
    assert [(d.id, d.status) for d in seen.drift] == [(stray, Status.REMOVED)]
    watch._handle(CONFIGMAPS, "DELETED", ours)
    assert ("ConfigMap", "shop", "removed") not in watch.book.statuses()


def test_ignore_rules_apply_to_watched_changes(seen: Seen) -> None:
    w = DriftWatch(
        DriftBook(),
        no_cluster,
        on_drift=seen.drift.append,
        on_expired=lambda: None,
        on_error=lambda e: None,
    )
    rule = IgnoreRule(kind="Deployment", paths=("/spec/replicas",))
    w.update([desired_web()], [], CompareOptions(inventory=INVENTORY, ignore=(rule,)))
    w._handle(DEPLOYMENTS, "MODIFIED", live_web(replicas=9))
    assert seen.drift == []
