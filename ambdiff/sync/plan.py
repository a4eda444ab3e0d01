"""The sync plan: what to create, update and (with prune) delete, in a safe order. Pure.

Creates and updates go in dependency order (docs/sync.md, "Plan"): Namespaces and CRDs first,
then what workloads use, then workloads, then Ambassador's resources, each after what it
refers to; deletes go in the reverse order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ambdiff.model import Change, DiffReport, ObjectId, Origin, Resource, Status
from ambdiff.normalize import INVENTORY_LABEL

_ORDER = [
    ("", "Namespace"), ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("scheduling.k8s.io", "PriorityClass"), ("storage.k8s.io", "StorageClass"),
    ("", "ServiceAccount"), ("", "Secret"), ("", "ConfigMap"),
    ("rbac.authorization.k8s.io", "ClusterRole"), ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("rbac.authorization.k8s.io", "Role"), ("rbac.authorization.k8s.io", "RoleBinding"),
    ("", "PersistentVolume"), ("", "PersistentVolumeClaim"),
    ("", "Service"), ("", "Endpoints"), ("networking.k8s.io", "IngressClass"),
    ("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"),
    ("apps", "ReplicaSet"), ("", "Pod"), ("batch", "Job"), ("batch", "CronJob"),
    ("autoscaling", "HorizontalPodAutoscaler"), ("policy", "PodDisruptionBudget"),
    ("networking.k8s.io", "NetworkPolicy"), ("networking.k8s.io", "Ingress"),
    ("getambassador.io", "Module"), ("getambassador.io", "Listener"), ("getambassador.io", "Host"),
    ("getambassador.io", "TLSContext"), ("getambassador.io", "AuthService"),
    ("getambassador.io", "RateLimitService"), ("getambassador.io", "Filter"),
    ("getambassador.io", "FilterPolicy"), ("getambassador.io", "Mapping"),
    ("getambassador.io", "TCPMapping"),
]  # fmt: skip
_RANK = {kind: rank for rank, kind in enumerate(_ORDER)}
_UNKNOWN_RANK = _RANK[("", "Service")] + 0.5  # other kinds: after config, before workloads

# Deleting one of these takes everything inside it (or every object of its kind) with it.
CASCADING = frozenset({("", "Namespace"), ("apiextensions.k8s.io", "CustomResourceDefinition")})


class Verb(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True)
class Action:
    verb: Verb
    id: ObjectId
    api_version: str
    origin: Origin | None
    changes: tuple[Change, ...] = ()
    reason: str = ""

    def __str__(self) -> str:
        return f"{self.verb.value} {self.id}"


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    skipped: tuple[Action, ...] = ()  # deletes not done: prune off, or a cascading kind

    @property
    def empty(self) -> bool:
        return not self.actions

    def counts(self) -> dict[str, int]:
        return {v.value: sum(1 for a in self.actions if a.verb is v) for v in Verb}

    def to_json(self) -> dict[str, Any]:
        return {
            "actions": [_action_json(a) for a in self.actions],
            "skipped": [_action_json(a) for a in self.skipped],
            "summary": self.counts(),
        }


def _action_json(a: Action) -> dict[str, Any]:
    return {
        "action": a.verb.value,
        "apiVersion": a.api_version,
        "kind": a.id.kind,
        "namespace": a.id.namespace or None,
        "name": a.id.name,
        "origin": a.origin.as_json() if a.origin else None,
        "reason": a.reason,
        "changes": [{"op": c.op.value, "path": c.path_str} for c in a.changes],
    }


def rank(oid: ObjectId) -> float:
    return _RANK.get((oid.group, oid.kind), _UNKNOWN_RANK)


def build_plan(
    report: DiffReport,
    live: Mapping[ObjectId, Resource],
    *,
    inventory: str,
    prune: bool,
    prune_cascading: bool,
) -> Plan:
    """Turn a diff into actions. An unchanged object that does not carry this inventory's
    label yet is updated too, so that ambdiff owns it (and `--prune` can find it later)."""
    writes: list[Action] = []
    deletes: list[Action] = []
    skipped: list[Action] = []
    for o in report:
        if o.status is Status.ADDED:
            writes.append(
                Action(Verb.CREATE, o.id, o.api_version, o.origin, reason="not in the cluster")
            )
        elif o.status is Status.CHANGED:
            writes.append(
                Action(Verb.UPDATE, o.id, o.api_version, o.origin, o.changes, "differs from git")
            )
        elif o.status is Status.UNCHANGED:
            current = live.get(o.id)
            if current is not None and current.labels.get(INVENTORY_LABEL) != inventory:
                writes.append(
                    Action(
                        Verb.UPDATE,
                        o.id,
                        o.api_version,
                        o.origin,
                        reason="take ownership (add inventory labels)",
                    )
                )
        elif o.status is Status.REMOVED:
            action = Action(Verb.DELETE, o.id, o.api_version, None, reason="no longer in git")
            if not prune:
                skipped.append(_with_reason(action, "prune is off (--prune)"))
            elif (o.id.group, o.id.kind) in CASCADING and not prune_cascading:
                skipped.append(
                    _with_reason(
                        action,
                        "deleting it deletes everything inside it (--prune-namespaces-and-crds)",
                    )
                )
            else:
                deletes.append(action)
    writes.sort(key=lambda a: (rank(a.id), a.id))
    deletes.sort(key=lambda a: (-rank(a.id), a.id))
    return Plan(tuple(writes + deletes), tuple(skipped))


def _with_reason(action: Action, reason: str) -> Action:
    return Action(action.verb, action.id, action.api_version, action.origin, action.changes, reason)


def foreign_owner(resource: Resource | None, inventory: str) -> str | None:
    """The other inventory a live object belongs to, if any: ambdiff never takes it over."""
    if resource is None:
        return None
    owner = resource.labels.get(INVENTORY_LABEL)
    return owner if owner and owner != inventory else None
