"""Ownership rules, the inventory record and the Lease (ambdiff.sync), against a small fake
of the cluster calls they make. What only the API server decides is in tests/e2e."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ambdiff.cluster import ApiResource
from ambdiff.errors import ClusterError
from ambdiff.model import ObjectId, Resource
from ambdiff.sync import record as records
from ambdiff.sync.lock import Lock, LockHeld
from ambdiff.sync.ownership import Ownership
from ambdiff.sync.record import Identity, Member, Record

ME = Identity("github.com/team-a/gitops", "default", (), "default")
CM = ApiResource("", "v1", "ConfigMap", "configmaps", True)
LEASE = ApiResource("coordination.k8s.io", "v1", "Lease", "leases", True)


class FakeCluster:
    """ConfigMaps and Leases in a dict, with resourceVersions and 409s like the server's."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.version = 0

    def resource(self, api_version: str, kind: str) -> ApiResource | None:
        return {"ConfigMap": CM, "Lease": LEASE}.get(kind)

    def get(self, res: ApiResource, namespace: str | None, name: str) -> dict[str, Any] | None:
        found = self.objects.get((res.kind, namespace or "", name))
        return None if found is None else {**found, "metadata": dict(found["metadata"])}

    def list(
        self,
        res: ApiResource,
        namespace: str | None,
        label_selector: str = "",
        field_selector: str = "",
    ) -> list[dict[str, Any]]:
        return [
            o
            for (kind, _, _), o in self.objects.items()
            if kind == res.kind and label_selector in (o["metadata"].get("labels") or {})
        ]

    def _store(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self.version += 1
        stored = {**body, "metadata": {**body["metadata"], "resourceVersion": str(self.version)}}
        meta = stored["metadata"]
        self.objects[(body["kind"], meta["namespace"], meta["name"])] = stored
        return stored

    def apply(
        self,
        res: ApiResource,
        body: Mapping[str, Any],
        *,
        manager: str,
        dry_run: bool = False,
        force: bool = False,
    ) -> dict[str, Any]:
        return self._store(body)

    def create(self, res: ApiResource, body: Mapping[str, Any]) -> dict[str, Any]:
        meta = body["metadata"]
        if (body["kind"], meta["namespace"], meta["name"]) in self.objects:
            raise _conflict()
        return self._store(body)

    def replace(self, res: ApiResource, body: Mapping[str, Any]) -> dict[str, Any]:
        meta = body["metadata"]
        current = self.objects.get((body["kind"], meta["namespace"], meta["name"]))
        if current is None or current["metadata"]["resourceVersion"] != meta.get("resourceVersion"):
            raise _conflict()
        return self._store(body)


def _conflict() -> ClusterError:
    error = ClusterError("the object has been modified")
    error.status = 409
    return error


def live(name: str, uid: str, *, inventory: str = "inv", namespace: str = "shop") -> Resource:
    oid = ObjectId("", "ConfigMap", namespace, name)
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid,
            "labels": {"ambdiff.io/inventory": inventory} if inventory else {},
        },
    }
    return Resource(oid, "v1", body)


def recorded(*resources: Resource) -> Record:
    members = tuple(Member(r.id, r.body["metadata"]["uid"], "v1") for r in resources)
    return Record("inv", "default", ME, "abc", "2026-12-01T00:00:00Z", members)


# ---- the record --------------------------------------------------------------------------


def test_a_record_round_trips_through_its_configmap_and_follows_applyset_conventions() -> None:
    cluster = FakeCluster()
    one, two = live("a", "uid-a"), live("b", "uid-b", namespace="")
    records.write(cluster, recorded(one, two), "ambdiff")
    body = cluster.get(CM, "default", "ambdiff-inventory-inv")
    assert body is not None
    meta = body["metadata"]
    assert meta["labels"]["applyset.kubernetes.io/id"].startswith("applyset-")
    assert meta["labels"]["applyset.kubernetes.io/id"].endswith("-v1")
    assert meta["annotations"]["applyset.kubernetes.io/contains-group-kinds"] == "ConfigMap"
    assert meta["annotations"]["applyset.kubernetes.io/tooling"].startswith("ambdiff/v")
    back = records.read(cluster, "inv", "default", ME)
    assert back.exists and back.owned_by(ME)
    assert set(back.members) == {Member(one.id, "uid-a", "v1"), Member(two.id, "uid-b", "v1")}


def test_a_hand_edited_record_is_one_sentence() -> None:
    body = records.body_of(recorded(live("a", "u")))
    body["binaryData"]["members.json.gz"] = "bm90IGd6aXA="  # "not gzip"
    with pytest.raises(ClusterError, match=r"cannot be read .* edited by hand"):
        records.parse(body, "inv", "default")


def test_a_record_of_another_repository_or_namespace_stops_the_run() -> None:
    cluster = FakeCluster()
    theirs = Identity("github.com/team-b/gitops", "default", (), "default")
    records.write(cluster, Record("inv", "default", theirs, "f00", "then", ()), "ambdiff")
    with pytest.raises(
        ClusterError, match=r"belongs to source 'default' of github.com/team-b/gitops"
    ):
        Ownership.open(cluster, inventory="inv", namespace="default", identity=ME)
    prod = Identity(ME.repository, "default", (), "env-prod")
    records.write(cluster, Record("inv2", "default", ME, "f00", "then", ()), "ambdiff")
    with pytest.raises(ClusterError, match=r"default namespace default.*this run is .*env-prod"):
        Ownership.open(cluster, inventory="inv2", namespace="default", identity=prod)


# ---- what may be removed and deleted ------------------------------------------------------


def test_only_record_members_are_removed_and_a_narrowed_run_has_none() -> None:
    a, b, stray = live("a", "1"), live("b", "2"), live("stray", "3")
    state = {r.id: r for r in (a, b, stray)}
    full = Ownership(recorded(a, b), ME)
    assert full.members(state) == {a.id, b.id}
    assert full.unrecorded([a.id], state) == [stray.id]
    narrowed = Ownership(recorded(a, b), ME, narrowed=True)
    assert narrowed.members(state) == frozenset()
    assert narrowed.outside([a.id], state) == [b.id, stray.id]
    adopting = Ownership(recorded(a), ME, adopt_labelled=True)
    assert adopting.members(state) == {a.id, b.id, stray.id}


def test_a_candidate_is_vetoed_when_it_is_not_the_object_recorded_or_another_record_has_it() -> (
    None
):
    a = live("a", "uid-a")
    ownership = Ownership(
        recorded(a), ME, other_owners={"uid-shared": "default/ambdiff-inventory-b"}
    )
    assert ownership.veto(a.id, a) == ""
    assert "another uid" in ownership.veto(a.id, live("a", "uid-new"))
    assert "label" in ownership.veto(a.id, live("a", "uid-a", inventory="someone-else"))
    shared = live("s", "uid-shared")
    assert "default/ambdiff-inventory-b lists it too" in Ownership(
        recorded(shared), ME, other_owners={"uid-shared": "default/ambdiff-inventory-b"}
    ).veto(shared.id, shared)
    cluster_scoped = live("c", "uid-c", namespace="")
    blind = Ownership(recorded(cluster_scoped), ME, other_owners=None)
    assert "cannot be listed" in blind.veto(cluster_scoped.id, cluster_scoped)


@pytest.mark.parametrize(
    ("deletes", "members", "refused"),
    [(0, 10, False), (5, 10, False), (6, 10, True), (10, 10, True), (1, 1, True), (1, 2, False)],
)
def test_the_mass_prune_guard(deletes: int, members: int, refused: bool) -> None:
    message = Ownership(recorded(), ME).mass_prune(deletes, members, 0.5)
    assert bool(message) is refused
    if refused:
        assert "stopped before writing anything" in message


def test_the_next_record_keeps_what_a_narrowed_run_did_not_read() -> None:
    a, b = live("a", "1"), live("b", "2")
    ownership = Ownership(recorded(a, b), ME, narrowed=True)
    c = Member(ObjectId("", "ConfigMap", "shop", "c"), "3", "v1")
    new = ownership.next_record(revision="def", kept=(), applied={c.id: c}, deleted=[])
    assert {m.id for m in new.members} == {a.id, b.id, c.id}
    full = Ownership(recorded(a, b), ME).next_record(
        revision="def", kept=(), applied={}, deleted=[b.id]
    )
    assert {m.id for m in full.members} == {a.id} and full.revision == "def"


# ---- the Lease ---------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_one_holder_at_a_time_and_a_second_is_told_who_and_since_when() -> None:
    cluster, clock = FakeCluster(), Clock()
    first = Lock(cluster, "inv", "default", "ci-runner/1", now=clock, sleep=clock.sleep)
    first.acquire(0)
    second = Lock(cluster, "inv", "default", "laptop/2", now=clock, sleep=clock.sleep)
    clock.sleep(4)
    with pytest.raises(LockHeld) as held:
        second.acquire(0)
    # What is known, no more: the holder renewed 4 s ago; a stopped writer looks the same.
    assert held.value.message == (
        "the lock of inventory inv is held by ci-runner/1 (Lease default/ambdiff-inv, taken "
        "2026-12-02T12:00:00.000000Z): another sync is running, or one stopped without giving "
        "it back; it renewed the Lease 4s ago, which expires in 11s unless renewed again."
    )
    first.release()
    second.acquire(0)
    lease = cluster.get(LEASE, "default", "ambdiff-inv")
    assert lease is not None and lease["spec"]["holderIdentity"] == "laptop/2"
    assert lease["spec"]["leaseTransitions"] == 1


def test_a_lock_a_watch_holds_says_so_and_that_waiting_will_not_help() -> None:
    from ambdiff.sync.lock import WATCH_ROLE, holder_identity

    cluster, clock = FakeCluster(), Clock()
    watch = holder_identity(WATCH_ROLE)
    assert watch.endswith("/watch") and watch.split("/")[1].isdigit()  # host/pid/id/watch
    Lock(cluster, "inv", "default", watch, now=clock, sleep=clock.sleep).acquire(0)
    with pytest.raises(LockHeld) as held:
        Lock(cluster, "inv", "default", "ci/1", now=clock, sleep=clock.sleep).acquire(0)
    assert held.value.message.startswith(
        f"the lock of inventory inv is held by the watch {watch} (Lease default/ambdiff-inv, "
    )
    assert (
        "keeps its Lease across rounds and gives it back only when it stops" in held.value.message
    )
    assert held.value.hint.startswith("Waiting will not help while it runs")


def test_a_dead_holders_lease_is_taken_over_after_it_expires() -> None:
    cluster, clock = FakeCluster(), Clock()
    Lock(cluster, "inv", "default", "dead/1", duration=15, now=clock, sleep=clock.sleep).acquire(0)
    waiting = Lock(cluster, "inv", "default", "next/2", now=clock, sleep=clock.sleep)
    waiting.acquire(60)  # waits on the (fake) clock until 15 s have passed, then takes it
    assert clock.now - datetime(2026, 12, 2, 12, 0, tzinfo=UTC) > timedelta(seconds=15)
    lease = cluster.get(LEASE, "default", "ambdiff-inv")
    assert lease is not None and lease["spec"]["holderIdentity"] == "next/2"


def test_a_holder_whose_lease_was_taken_knows_it_and_a_passing_error_is_not_that() -> None:
    cluster, clock = FakeCluster(), Clock()
    mine = Lock(cluster, "inv", "default", "slow/1", renew_every=0, now=clock, sleep=clock.sleep)
    mine.acquire(0)
    clock.now += timedelta(seconds=60)  # renewals failed past the duration: expired
    Lock(cluster, "inv", "default", "next/2", now=clock, sleep=clock.sleep).acquire(0)
    mine._renew_loop()  # returns once it sees another holder
    assert mine.taken == "the lock of inventory inv was taken by next/2"
