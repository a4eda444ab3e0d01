"""`sync --wait`'s follow loop (ambdiff.sync.wait.follow) against a fake cluster that answers
`resource()` and `get()` from a script, one answer per round, with a fake clock that only the
fake pause moves: no real sleeps. What the API server and the terminal show is in
tests/e2e/test_sync_wait.py."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any, cast

import pytest

from ambdiff.cluster import ApiResource
from ambdiff.errors import ClusterError, ForbiddenError
from ambdiff.health import Result, built_in
from ambdiff.model import ObjectId
from ambdiff.sync.ports import SyncCluster
from ambdiff.sync.wait import ObjectHealth, Target, Verdict, WaitReport, follow

RULES = built_in()
KINDS = {
    "Deployment": ApiResource("apps", "v1", "Deployment", "deployments", True),
    "Job": ApiResource("batch", "v1", "Job", "jobs", True),
    "ConfigMap": ApiResource("", "v1", "ConfigMap", "configmaps", True),
    "Secret": ApiResource("", "v1", "Secret", "secrets", True),
    "Host": ApiResource("getambassador.io", "v3alpha1", "Host", "hosts", True),
}
Answer = dict[str, Any] | None | Exception


class FakeCluster:
    """`get` answers each object from its script, one entry per read (the last one repeats);
    an Exception in the script is raised. Every GET is counted."""

    def __init__(self, scripts: dict[tuple[str, str, str], Sequence[Answer]]) -> None:
        self.scripts = {key: list(answers) for key, answers in scripts.items()}
        self.gets: Counter[tuple[str, str, str]] = Counter()
        self._lock = threading.Lock()  # follow reads a few objects at a time

    def resource(self, api_version: str, kind: str) -> ApiResource | None:
        return KINDS.get(kind)

    def get(self, res: ApiResource, namespace: str | None, name: str) -> dict[str, Any] | None:
        key = (res.kind, namespace or "", name)
        with self._lock:
            self.gets[key] += 1
            script = self.scripts.get(key, [None])
            answer = script[min(self.gets[key], len(script)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def list(
        self,
        res: ApiResource,
        namespace: str | None,
        label_selector: str = "",
        field_selector: str = "",
    ) -> list[dict[str, Any]]:
        """How the wait reads one object: a list selected by its name."""
        assert field_selector.startswith("metadata.name=") and not label_selector
        found = self.get(res, namespace, field_selector.removeprefix("metadata.name="))
        if found is not None and "name" not in (found.get("metadata") or {}):
            found = {
                **found,
                "metadata": {
                    **(found.get("metadata") or {}),
                    "name": field_selector.removeprefix("metadata.name="),
                },
            }
        return [] if found is None else [found]


class Clock:
    """Time that passes only when the wait pauses; `stop_at` makes the nth pause say stop."""

    def __init__(self, stop_at: int = 0) -> None:
        self.now = 1000.0
        self.pauses: list[float] = []
        self.stop_at = stop_at

    def __call__(self) -> float:
        return self.now

    def pause(self, seconds: float) -> bool:
        self.pauses.append(seconds)
        self.now += seconds
        return len(self.pauses) == self.stop_at


def run(
    cluster: FakeCluster,
    targets: Sequence[Target],
    *,
    timeout: float = 60.0,
    clock: Clock | None = None,
) -> tuple[WaitReport, list[tuple[str, str, str, float]]]:
    """follow() with the fake clock; also what on_change heard: (name, verdict, message, at)."""
    clock = clock or Clock()
    heard: list[tuple[str, str, str, float]] = []

    def on_change(status: ObjectHealth, elapsed: float) -> None:
        heard.append((status.target.id.name, status.verdict.value, status.message, elapsed))

    report = follow(
        cast(SyncCluster, cluster),
        targets,
        RULES,
        timeout=timeout,
        on_change=on_change,
        pause=clock.pause,
        clock=clock,
        poll=2.0,
    )
    return report, heard


def web(deleted: bool = False) -> Target:
    return Target(ObjectId("apps", "Deployment", "shop", "web"), "apps/v1", deleted=deleted)


WEB = ("Deployment", "shop", "web")


def deployment(
    updated: int, available: int, *, replicas: int = 2, conditions: Sequence[dict[str, str]] = ()
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "generation": 1},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": 1,
            "replicas": replicas,
            "updatedReplicas": updated,
            "availableReplicas": available,
            "conditions": list(conditions),
        },
    }


STUCK = {
    "type": "Progressing",
    "status": "False",
    "reason": "ProgressDeadlineExceeded",
    "message": 'ReplicaSet "web-7d4b9c" has timed out progressing.',
}


def test_an_object_healthy_at_once_is_read_once_and_the_wait_never_pauses() -> None:
    cluster = FakeCluster({WEB: [deployment(2, 2)]})
    clock = Clock()
    report, heard = run(cluster, [web()], clock=clock)
    assert report.result == "healthy" and report.ok
    assert [(s.verdict, s.message) for s in report.statuses] == [(Verdict.HEALTHY, "")]
    assert heard == [("web", "healthy", "", 0.0)]
    assert cluster.gets[WEB] == 1
    assert clock.pauses == []
    assert report.elapsed == 0.0


def test_a_rollout_is_followed_until_healthy_and_each_change_is_heard_once_in_order() -> None:
    cluster = FakeCluster(
        {WEB: [deployment(1, 0), deployment(1, 0), deployment(2, 1), deployment(2, 2)]}
    )
    clock = Clock()
    report, heard = run(cluster, [web()], clock=clock)
    assert report.result == "healthy"
    # round 2 read the same as round 1: nothing new to hear
    assert heard == [
        ("web", "progressing", "1 of 2 replicas updated", 0.0),
        ("web", "progressing", "1 of 2 updated replicas available", 4.0),
        ("web", "healthy", "", 6.0),
    ]
    assert cluster.gets[WEB] == 4
    assert clock.pauses == [2.0, 2.0, 2.0]
    assert report.elapsed == 6.0


def test_failed_is_final_and_not_read_again_while_others_are_followed() -> None:
    job = Target(ObjectId("batch", "Job", "shop", "migrate"), "batch/v1")
    running = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate"},
        "status": {"active": 1},
    }
    done = {
        **running,
        "status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]},
    }
    cluster = FakeCluster(
        {
            WEB: [deployment(2, 2, conditions=[STUCK])],
            ("Job", "shop", "migrate"): [running, running, done],
        }
    )
    report, heard = run(cluster, [web(), job])
    assert cluster.gets[WEB] == 1
    assert cluster.gets[("Job", "shop", "migrate")] == 3
    assert report.result == "failed" and not report.ok
    assert [(s.target.id.name, s.verdict) for s in report.statuses] == [
        ("web", Verdict.FAILED),
        ("migrate", Verdict.HEALTHY),
    ]
    assert (
        "web",
        "failed",
        'progress deadline exceeded: ReplicaSet "web-7d4b9c" has timed out progressing.',
        0.0,
    ) in heard


def test_a_failure_ends_the_wait_when_nothing_else_is_on_its_way() -> None:
    cluster = FakeCluster({WEB: [deployment(1, 0), deployment(1, 0, conditions=[STUCK])]})
    report, _ = run(cluster, [web()])
    assert report.result == "failed"
    assert cluster.gets[WEB] == 2
    assert report.of(Verdict.TIMED_OUT) == []


def test_the_timeout_turns_what_is_still_on_its_way_into_timed_out_with_its_last_message() -> None:
    cluster = FakeCluster({WEB: [deployment(1, 0), deployment(2, 1)]})
    clock = Clock()
    report, heard = run(cluster, [web()], timeout=5.0, clock=clock)
    assert report.result == "timed out" and not report.ok and not report.interrupted
    (status,) = report.statuses
    assert (status.verdict, status.message) == (
        Verdict.TIMED_OUT,
        "1 of 2 updated replicas available",
    )
    assert heard[-1] == ("web", "timed out", "1 of 2 updated replicas available", 5.0)
    # the last pause is only what was left of the timeout, and a read follows it
    assert clock.pauses == [2.0, 2.0, 1.0]
    assert cluster.gets[WEB] == 4
    assert report.elapsed == 5.0


def test_a_stop_during_a_pause_is_interrupted_not_timed_out() -> None:
    cluster = FakeCluster({WEB: [deployment(1, 0)]})
    clock = Clock(stop_at=2)
    report, heard = run(cluster, [web()], clock=clock)
    assert report.interrupted and not report.ok
    assert report.result == "interrupted"
    (status,) = report.statuses
    assert (status.verdict, status.message) == (Verdict.PROGRESSING, "1 of 2 replicas updated")
    assert all(verdict != "timed out" for _, verdict, _, _ in heard)
    assert cluster.gets[WEB] == 2  # no read after the stop
    assert report.to_json()["result"] == "interrupted"
    assert report.to_json()["summary"]["timed out"] == 0


def test_a_deleted_object_held_by_finalizers_is_done_once_it_is_gone() -> None:
    terminating = {
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "deletionTimestamp": "2026-01-01T00:00:00Z",
            "finalizers": ["example.com/cleanup", "foregroundDeletion"],
        }
    }
    cluster = FakeCluster({WEB: [terminating, None]})
    report, heard = run(cluster, [web(deleted=True)])
    assert heard == [
        ("web", "progressing",
         "being deleted (held by finalizers: example.com/cleanup, foregroundDeletion)", 0.0),
        ("web", "healthy", "deleted", 2.0),
    ]  # fmt: skip
    assert report.result == "healthy"
    assert report.to_json()["objects"] == [
        {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "web",
         "health": "healthy", "message": "deleted", "deleted": True}
    ]  # fmt: skip


def test_a_deleted_object_without_finalizers_is_simply_being_deleted() -> None:
    cluster = FakeCluster({WEB: [{"metadata": {"name": "web"}}]})
    report, _ = run(cluster, [web(deleted=True)], timeout=2.0)
    assert [(s.verdict, s.message) for s in report.statuses] == [
        (Verdict.TIMED_OUT, "being deleted")
    ]


def test_an_object_that_cannot_be_read_is_still_waited_for_and_says_why() -> None:
    lost = ClusterError("cannot reach the cluster at https://127.0.0.1:6443: connection refused.")
    cluster = FakeCluster({WEB: [lost, deployment(2, 2)]})
    report, heard = run(cluster, [web()])
    assert heard[0] == (
        "web",
        "progressing",
        "cannot read it: cannot reach the cluster at https://127.0.0.1:6443: connection refused",
        0.0,
    )
    assert report.result == "healthy"


def test_a_forbidden_read_of_the_object_itself_fails_at_once() -> None:
    """RBAC does not change by waiting: the object fails on the first round, read once."""
    cluster = FakeCluster({WEB: [ForbiddenError('deployments.apps "web" is forbidden.')]})
    report, _ = run(cluster, [web()], timeout=60.0)
    assert [(s.verdict, s.message) for s in report.statuses] == [
        (Verdict.FAILED, 'cannot read it: deployments.apps "web" is forbidden')
    ]
    assert cluster.gets[WEB] == 1


def test_an_object_gone_since_the_sync_is_not_held_to_the_timeout_and_an_unserved_kind_is() -> None:
    """A Job with ttlSecondsAfterFinished may be gone before a round sees it Complete: its
    end is not known, so it neither fails the wait nor keeps it going."""
    gone = Target(ObjectId("", "ConfigMap", "shop", "settings"), "v1")
    unserved = Target(ObjectId("example.com", "Widget", "shop", "w"), "example.com/v1")
    report, _ = run(FakeCluster({}), [gone, unserved], timeout=1.0)
    assert [(s.verdict, s.message) for s in report.statuses] == [
        (
            Verdict.NONE,
            "it no longer exists (deleted since the sync: by a Job's "
            "ttlSecondsAfterFinished, or by someone else)",
        ),
        (Verdict.TIMED_OUT, "the cluster does not serve Widget in example.com/v1"),
    ]


def test_a_deleted_object_whose_kind_is_no_longer_served_is_deleted() -> None:
    widget = Target(ObjectId("example.com", "Widget", "shop", "w"), "example.com/v1", deleted=True)
    report, heard = run(FakeCluster({}), [widget])
    assert heard == [("w", "healthy", "deleted", 0.0)]
    assert report.result == "healthy"


def host(secret: str) -> dict[str, Any]:
    return {
        "apiVersion": "getambassador.io/v3alpha1",
        "kind": "Host",
        "metadata": {"name": "shop", "namespace": "shop"},
        "spec": {"hostname": "shop.example.com", "tlsSecret": {"name": secret}},
        "status": {"state": "Ready"},
    }


HOST = Target(ObjectId("getambassador.io", "Host", "shop", "shop"), "getambassador.io/v3alpha1")


def test_a_secret_that_cannot_be_read_counts_as_present() -> None:
    # Without RBAC to read Secrets, a missing-Secret test cannot say "missing": no reason to wait.
    cluster = FakeCluster(
        {
            ("Host", "shop", "shop"): [host("cert")],
            ("Secret", "shop", "cert"): [ForbiddenError("secrets is forbidden.")],
        }
    )
    report, _ = run(cluster, [HOST])
    assert [(s.verdict, s.message) for s in report.statuses] == [
        (
            Verdict.HEALTHY,
            ("could not check Secret shop/cert (reading it is forbidden), so it counts as present"),
        )
    ]


def test_a_missing_secret_is_waited_for_until_it_exists() -> None:
    secret = {"metadata": {"name": "cert", "namespace": "shop"}, "type": "kubernetes.io/tls"}
    cluster = FakeCluster(
        {("Host", "shop", "shop"): [host("cert")], ("Secret", "shop", "cert"): [None, secret]}
    )
    report, heard = run(cluster, [HOST])
    assert heard == [
        ("shop", "progressing", "waiting for its TLS Secret shop/cert (it does not exist)", 0.0),
        ("shop", "healthy", "", 2.0),
    ]
    assert report.result == "healthy"
    assert cluster.gets[("Secret", "shop", "cert")] == 2  # once a round


def test_a_wait_with_nothing_to_follow_ends_at_once() -> None:
    report, heard = run(FakeCluster({}), [])
    assert (report.result, report.statuses, heard) == ("healthy", (), [])


def test_the_report_as_json() -> None:
    cm = Target(ObjectId("", "ConfigMap", "shop", "settings"), "v1")
    ns = Target(ObjectId("", "Namespace", "", "shop"), "v1")
    statuses = (
        ObjectHealth(web(), Verdict.FAILED, "progress deadline exceeded: x"),
        ObjectHealth(cm, Verdict.NONE),
        ObjectHealth(ns, Verdict.HEALTHY),
    )
    report = WaitReport(statuses, timeout=300.0, elapsed=12.345)
    assert report.to_json() == {
        "result": "failed",
        "timeout": 300.0,
        "elapsed": 12.3,
        "objects": [
            {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "web",
             "health": "failed", "message": "progress deadline exceeded: x"},
            {"apiVersion": "v1", "kind": "ConfigMap", "namespace": "shop", "name": "settings",
             "health": "not reported"},
            {"apiVersion": "v1", "kind": "Namespace", "namespace": None, "name": "shop",
             "health": "healthy"},
        ],
        "summary": {"healthy": 1, "failed": 1, "progressing": 0, "not reported": 1,
                    "timed out": 0},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("verdicts", "interrupted", "result", "ok"),
    [
        ((Verdict.HEALTHY, Verdict.NONE), False, "healthy", True),
        ((Verdict.HEALTHY, Verdict.TIMED_OUT), False, "timed out", False),
        ((Verdict.TIMED_OUT, Verdict.FAILED), False, "failed", False),
        ((Verdict.FAILED, Verdict.PROGRESSING), True, "interrupted", False),
    ],
)
def test_the_result_of_a_report(
    verdicts: tuple[Verdict, ...], interrupted: bool, result: str, ok: bool
) -> None:
    report = WaitReport(tuple(ObjectHealth(web(), v) for v in verdicts), 60.0, 1.0, interrupted)
    assert (report.result, report.ok) == (result, ok)


def test_every_health_result_is_a_verdict() -> None:
    assert {r.value for r in Result} <= {v.value for v in Verdict}
    assert {v for v in Verdict if not v.settled} == {Verdict.PROGRESSING}
