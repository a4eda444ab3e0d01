"""The sync engine (ambdiff.sync.engine) against a small fake of its cluster Protocol: plan,
preflight, the first stage, apply, prune from the record and the record written last. What
only the API server decides (its dry runs, conflicts, RBAC) is in tests/e2e."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from ambdiff.cluster import ApiResource
from ambdiff.errors import ClusterError
from ambdiff.model import ObjectId, Resource
from ambdiff.normalize import INVENTORY_LABEL
from ambdiff.sync import record as records
from ambdiff.sync.engine import Sync, SyncSettings
from ambdiff.sync.executor import Attempt, grouped
from ambdiff.sync.ownership import Ownership
from ambdiff.sync.record import Identity, Member

ME = Identity("git.example/shop", "default", (), "")
KINDS = {
    "ConfigMap": ApiResource("", "v1", "ConfigMap", "configmaps", True),
    "Namespace": ApiResource("", "v1", "Namespace", "namespaces", False),
    "Service": ApiResource("", "v1", "Service", "services", True),
}


class FakeCluster:
    """Objects in a dict; a dry run into a Namespace that does not exist fails as the server
    does (404), and `refuse` names objects whose every write is refused (HTTP 422)."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {
            ("Namespace", "", "default"): {"metadata": {"name": "default", "uid": "ns-default"}}
        }
        self.writes: list[str] = []  # real writes, in order
        self.refuse = refuse
        self._uids = itertools.count(1)

    def resource(self, api_version: str, kind: str) -> ApiResource | None:
        return KINDS.get(kind)

    def forget(self, api_version: str) -> None:
        pass

    def get(self, res: ApiResource, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.objects.get((res.kind, namespace or "", name))

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
            if kind == res.kind
            and label_selector.split("=")[0] in (o["metadata"].get("labels") or {})
        ]

    def apply(
        self,
        res: ApiResource,
        body: Mapping[str, Any],
        *,
        manager: str,
        dry_run: bool = False,
        force: bool = False,
    ) -> dict[str, Any]:
        meta = body["metadata"]
        if meta["name"] in self.refuse:
            error = ClusterError(f"{res.kind} {meta['name']} is invalid")
            error.status = 422
            raise error
        namespace = meta.get("namespace", "") if res.namespaced else ""
        if namespace and ("Namespace", "", namespace) not in self.objects:
            error = ClusterError(f"namespaces {namespace!r} not found")
            error.status = 404
            raise error
        key = (res.kind, namespace, meta["name"])
        uid = (self.objects.get(key) or {}).get("metadata", {}).get(
            "uid"
        ) or f"uid-{next(self._uids)}"
        stored = {**body, "metadata": {**meta, "uid": uid}}
        if not dry_run:
            self.objects[key] = stored
            self.writes.append(f"apply {res.kind} {meta['name']}")
        return stored

    def create(self, res: ApiResource, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.apply(res, body, manager="x")

    def replace(self, res: ApiResource, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.apply(res, body, manager="x")

    def delete(
        self,
        res: ApiResource,
        namespace: str | None,
        name: str,
        *,
        dry_run: bool = False,
        precondition: Mapping[str, Any] | None = None,
    ) -> None:
        if not dry_run:
            del self.objects[(res.kind, namespace or "", name)]
            self.writes.append(f"delete {res.kind} {name}")


def cm(name: str, namespace: str = "shop") -> Resource:
    oid = ObjectId("", "ConfigMap", namespace, name)
    return Resource(
        oid,
        "v1",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace},
            "data": {"k": "v"},
        },
    )


def namespace(name: str) -> Resource:
    return Resource(
        ObjectId("", "Namespace", "", name),
        "v1",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
    )


def live_of(cluster: FakeCluster) -> dict[ObjectId, Resource]:
    out = {}
    for (kind, ns, name), body in cluster.objects.items():
        if name.startswith("ambdiff-inventory-") or name == "default":
            continue
        oid = ObjectId("", kind, ns, name)
        out[oid] = Resource(oid, "v1", {"apiVersion": "v1", "kind": kind, **body})
    return out


def sync(
    cluster: FakeCluster,
    desired: list[Resource],
    *,
    prune: bool = True,
    narrowed: bool = False,
    allow_mass_prune: bool = False,
) -> Sync:
    ownership = Ownership.open(
        cluster, inventory="inv", namespace="default", identity=ME, narrowed=narrowed
    )
    settings = SyncSettings(
        inventory="inv", prune=prune and not narrowed, allow_mass_prune=allow_mass_prune
    )
    return Sync(cluster, desired, live_of(cluster), settings, ownership, "rev-1")


def members(cluster: FakeCluster) -> set[str]:
    found = records.read(cluster, "inv", "default", ME)
    return {m.id.name for m in found.members}


def test_from_empty_everything_is_applied_in_order_and_recorded_last() -> None:
    cluster = FakeCluster()
    cluster.objects[("Namespace", "", "shop")] = {"metadata": {"name": "shop", "uid": "ns"}}
    result = sync(cluster, [cm("b"), cm("a")]).run()
    assert result.ok
    assert cluster.writes == [
        "apply ConfigMap a",
        "apply ConfigMap b",
        "apply ConfigMap ambdiff-inventory-inv",
    ]
    assert members(cluster) == {"a", "b"}


def test_a_new_namespace_is_the_first_stage_and_a_failure_after_it_writes_nothing_else() -> None:
    cluster = FakeCluster(refuse=frozenset({"bad"}))
    engine = sync(cluster, [namespace("fresh"), cm("good", "fresh"), cm("bad", "fresh")])
    assert engine.preflight() == []  # nothing can be dry-run into a Namespace not there yet
    assert {str(a) for a in engine.unchecked} == {
        "create ConfigMap fresh/good",
        "create ConfigMap fresh/bad",
    }
    assert cluster.writes == []
    failures = engine.stage()
    assert [str(f.action) for f in failures] == ["create ConfigMap fresh/bad"]
    assert [str(a) for a in engine.staged] == ["create Namespace fresh"]
    assert cluster.writes == ["apply Namespace fresh"]


def test_prune_deletes_record_members_git_dropped_and_nothing_else() -> None:
    cluster = FakeCluster()
    cluster.objects[("Namespace", "", "shop")] = {"metadata": {"name": "shop", "uid": "ns"}}
    assert sync(cluster, [cm("a"), cm("b"), cm("c")]).run().ok
    # An object with the label that no record lists (made by hand) is never a candidate.
    cluster.objects[("ConfigMap", "shop", "hand")] = {
        "metadata": {
            "name": "hand",
            "namespace": "shop",
            "uid": "h",
            "labels": {"ambdiff.io/inventory": "inv"},
        }
    }
    engine = sync(cluster, [cm("a"), cm("b")])
    assert [str(a) for a in engine.plan.actions] == ["delete ConfigMap shop/c"]
    result = engine.run()
    assert result.ok and ("ConfigMap", "shop", "hand") in cluster.objects
    assert members(cluster) == {"a", "b"}


def test_a_narrowed_run_neither_prunes_nor_shrinks_the_record() -> None:
    cluster = FakeCluster()
    cluster.objects[("Namespace", "", "shop")] = {"metadata": {"name": "shop", "uid": "ns"}}
    assert sync(cluster, [cm("a"), cm("b")]).run().ok
    engine = sync(cluster, [cm("a")], narrowed=True)
    assert engine.plan.empty and engine.report.summary["removed"] == 0
    engine.write_record(None)
    assert members(cluster) == {"a", "b"}


def test_the_mass_prune_guard_refuses_before_any_write() -> None:
    cluster = FakeCluster()
    cluster.objects[("Namespace", "", "shop")] = {"metadata": {"name": "shop", "uid": "ns"}}
    assert sync(cluster, [cm(f"c{i}") for i in range(4)]).run().ok
    before = list(cluster.writes)
    result = sync(cluster, [cm("c0")]).run()
    assert "delete 3 of its 4 objects" in result.refused and not result.ok
    assert cluster.writes == before
    assert sync(cluster, [cm("c0")], allow_mass_prune=True).run().ok
    assert members(cluster) == {"c0"}


def test_a_failure_part_way_records_exactly_what_exists() -> None:
    cluster = FakeCluster()
    cluster.objects[("Namespace", "", "shop")] = {"metadata": {"name": "shop", "uid": "ns"}}
    engine = sync(cluster, [cm("a"), cm("b")])
    cluster.refuse = frozenset({"b"})  # after preflight: the server refuses the real write
    applied = engine.apply()
    assert [s for _, s, _ in applied.attempts] == [Attempt.APPLIED, Attempt.FAILED]
    assert members(cluster) == {"a"}
    uid = cluster.objects[("ConfigMap", "shop", "a")]["metadata"]["uid"]
    recorded = records.read(cluster, "inv", "default", ME)
    assert recorded.members == (Member(ObjectId("", "ConfigMap", "shop", "a"), uid, "v1"),)
    assert recorded.revision == "rev-1"


def test_objects_of_another_inventory_are_refused_in_preflight_as_one_cause() -> None:
    """Each refused object is listed (JSON keeps them all); the report says the cause once."""
    cluster = FakeCluster()
    cluster.objects[("Namespace", "", "shop")] = {"metadata": {"name": "shop", "uid": "ns"}}
    for name in ("a", "b"):
        cluster.objects[("ConfigMap", "shop", name)] = {
            "metadata": {
                "name": name,
                "namespace": "shop",
                "uid": f"u-{name}",
                "labels": {INVENTORY_LABEL: "theirs"},
            }
        }
    failures = sync(cluster, [cm("a"), cm("b")]).preflight()
    assert [f.message for f in failures] == [
        "it belongs to the inventory 'theirs'; ambdiff never takes over another inventory's objects"
    ] * 2
    [group] = grouped(failures)
    assert group.cause == (
        "they belong to the inventory 'theirs'; ambdiff never takes over "
        "another inventory's objects"
    )
    assert len(group.failures) == 2 and not cluster.writes
