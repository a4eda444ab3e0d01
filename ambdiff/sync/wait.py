"""`sync --wait`: after the writes, follow each object until it is healthy, has failed, or
the time is up. Nothing here writes: an interrupted or failed wait leaves every write in place.

Each round reads every object still on its way (a name-selected LIST each, a few at a time), judges it by its
health rule (ambdiff.health) and reports what changed; a deleted object is done once it is
gone. Failed is final (a rollout past its progress deadline does not recover by waiting).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ambdiff.cluster import ApiResource
from ambdiff.errors import ClusterError, ForbiddenError
from ambdiff.health import Health, Rule, assess, find
from ambdiff.live import MAX_CONCURRENT_REQUESTS
from ambdiff.model import ObjectId, Resource
from ambdiff.settings import DEFAULT_TIMEOUT
from ambdiff.sync.plan import Action
from ambdiff.sync.ports import SyncCluster

POLL_SECONDS = 2.0


class Verdict(StrEnum):
    HEALTHY = "healthy"
    FAILED = "failed"
    PROGRESSING = "progressing"
    NONE = "not reported"
    TIMED_OUT = "timed out"

    @property
    def settled(self) -> bool:
        return self is not Verdict.PROGRESSING


@dataclass(frozen=True)
class Target:
    """An object to follow: one the sync wrote or kept, or one it deleted."""

    id: ObjectId
    api_version: str
    deleted: bool = False


@dataclass(frozen=True)
class ObjectHealth:
    """One followed object's health as last seen."""

    target: Target
    verdict: Verdict
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        oid = self.target.id
        return {
            "apiVersion": self.target.api_version,
            "kind": oid.kind,
            "namespace": oid.namespace or None,
            "name": oid.name,
            "health": self.verdict.value,
            **({"message": self.message} if self.message else {}),
            **({"deleted": True} if self.target.deleted else {}),
        }


@dataclass(frozen=True)
class WaitReport:
    statuses: tuple[ObjectHealth, ...]
    timeout: float
    elapsed: float
    interrupted: bool = False

    def of(self, *verdicts: Verdict) -> list[ObjectHealth]:
        return [s for s in self.statuses if s.verdict in verdicts]

    @property
    def ok(self) -> bool:
        return not self.interrupted and not self.of(Verdict.FAILED, Verdict.TIMED_OUT)

    @property
    def result(self) -> str:
        if self.interrupted:
            return "interrupted"
        if self.of(Verdict.FAILED):
            return "failed"
        return "timed out" if self.of(Verdict.TIMED_OUT) else "healthy"

    def to_json(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "timeout": self.timeout,
            "elapsed": round(self.elapsed, 1),
            "objects": [s.to_json() for s in self.statuses],
            "summary": {v.value: len(self.of(v)) for v in Verdict},
        }


def targets_of(desired: Sequence[Resource], deleted: Sequence[Action]) -> list[Target]:
    """What a wait follows after a sync: every object git declares, and what it deleted."""
    return [
        *(Target(r.id, r.api_version) for r in desired),
        *(Target(a.id, a.api_version, deleted=True) for a in deleted),
    ]


def follow(
    cluster: SyncCluster,
    targets: Sequence[Target],
    rules: Sequence[Rule],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    on_change: Callable[[ObjectHealth, float], None] | None = None,
    on_round: Callable[[Sequence[ObjectHealth], float], None] | None = None,
    pause: Callable[[float], bool] = lambda seconds: threading.Event().wait(seconds),
    clock: Callable[[], float] = time.monotonic,
    poll: float = POLL_SECONDS,
) -> WaitReport:
    """Follow `targets` until each is settled or `timeout` seconds have passed.
    `pause(seconds)` waits between rounds and says True when the wait is to stop (Ctrl-C);
    `on_change(status, elapsed)` hears each change, `on_round(statuses, elapsed)` each round."""
    start = clock()
    current = {t: ObjectHealth(t, Verdict.PROGRESSING, "not read yet") for t in targets}
    rule_of = {t: find(rules, t.id.group, t.id.kind) for t in targets}
    # Objects that reported nothing, of a kind with a rule of its own (a Host, a Mapping):
    # read again while the wait goes on, since their controller may still report.
    again = [t for t in targets if (rule := rule_of[t]) is not None and rule.kind != "*"]
    interrupted = False
    while True:
        pending = [t for t in targets if not current[t].verdict.settled]
        if pending:
            pending += [t for t in again if current[t].verdict is Verdict.NONE]
        for status in _observe(cluster, pending, rule_of):
            old = current[status.target]
            current[status.target] = status
            moved = (old.verdict, old.message) != (status.verdict, status.message)
            if on_change is not None and moved:
                on_change(status, clock() - start)
        if on_round is not None:
            on_round([current[t] for t in targets], clock() - start)
        left = start + timeout - clock()
        if all(s.verdict.settled for s in current.values()) or left <= 0:
            break
        if pause(min(poll, left)):
            interrupted = True
            break
    elapsed = clock() - start
    final = [current[t] for t in targets]
    if not interrupted:
        final = [
            ObjectHealth(s.target, Verdict.TIMED_OUT, s.message) if not s.verdict.settled else s
            for s in final
        ]
        for s in final:
            if s.verdict is Verdict.TIMED_OUT and on_change is not None:
                on_change(s, elapsed)
    return WaitReport(tuple(final), timeout, elapsed, interrupted)


def _observe(
    cluster: SyncCluster, targets: Sequence[Target], rule_of: Mapping[Target, Rule | None]
) -> list[ObjectHealth]:
    """One round: each target read and judged (a few requests at a time)."""
    seen: dict[tuple[str, str, str, str], bool | None] = {}  # `missing` tests, this round

    def look(api_version: str, kind: str, namespace: str, name: str) -> bool | None:
        """Whether it exists; None when this identity may not read it."""
        key = (api_version, kind, namespace, name)
        if key not in seen:
            res = cluster.resource(api_version, kind)
            try:
                seen[key] = res is not None and _read(cluster, res, namespace, name) is not None
            except ForbiddenError:
                seen[key] = None
        return seen[key]

    def one(target: Target) -> ObjectHealth:
        unseen: list[str] = []

        def exists(api_version: str, kind: str, namespace: str, name: str) -> bool:
            found = look(api_version, kind, namespace, name)
            if found is None and len(unseen) < 5:  # not a reason to wait, but said (docs/sync.md)
                unseen.append(f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}")
            return found is not False

        try:
            status = _judge(cluster, target, rule_of[target], exists)
            if unseen:
                note = (
                    f"could not check {', '.join(dict.fromkeys(unseen))} (reading it is "
                    "forbidden), so it counts as present"
                )
                status = ObjectHealth(
                    target, status.verdict, "; ".join(filter(None, (status.message, note)))
                )
            return status
        except ForbiddenError as e:  # waiting longer changes nothing
            return ObjectHealth(target, Verdict.FAILED, f"cannot read it: {e.message.rstrip('.')}")
        except ClusterError as e:  # a dropped connection: say so, keep waiting
            return ObjectHealth(
                target, Verdict.PROGRESSING, f"cannot read it: {e.message.rstrip('.')}"
            )

    if not targets:
        return []
    with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_REQUESTS) as pool:
        return list(pool.map(one, targets))


def _judge(
    cluster: SyncCluster,
    target: Target,
    rule: Rule | None,
    exists: Callable[[str, str, str, str], bool],
) -> ObjectHealth:
    oid = target.id
    res = cluster.resource(target.api_version, oid.kind)
    if res is None:
        if target.deleted:  # its kind is gone (a pruned CRD takes its objects with it): so is it
            return _deleting(target, None)
        return ObjectHealth(
            target,
            Verdict.PROGRESSING,
            f"the cluster does not serve {oid.kind} in {target.api_version}",
        )
    body = _read(cluster, res, oid.namespace, oid.name)
    if target.deleted:
        return _deleting(target, body)
    if body is None:  # a Job's ttlSecondsAfterFinished, or another hand: its end is not known
        return ObjectHealth(
            target,
            Verdict.NONE,
            "it no longer exists (deleted since the sync: by a "
            "Job's ttlSecondsAfterFinished, or by someone else)",
        )
    health: Health = assess(body, rule, exists)
    return ObjectHealth(target, Verdict(health.result.value), health.message)


def _read(
    cluster: SyncCluster, res: ApiResource, namespace: str, name: str
) -> dict[str, Any] | None:
    """One object, read with `list` and a name selector: a sync already needs `list` on what
    it applies (it reads the live objects so), so waiting needs no other permission."""
    items = cluster.list(res, namespace or None, field_selector=f"metadata.name={name}")
    return next((i for i in items if (i.get("metadata") or {}).get("name") == name), None)


def _deleting(target: Target, body: Mapping[str, Any] | None) -> ObjectHealth:
    if body is None:
        return ObjectHealth(target, Verdict.HEALTHY, "deleted")
    meta = body.get("metadata")
    listed = meta.get("finalizers") if isinstance(meta, Mapping) else None
    finalizers = [str(f) for f in listed] if isinstance(listed, list) else []
    held = f" (held by finalizers: {', '.join(finalizers)})" if finalizers else ""
    return ObjectHealth(target, Verdict.PROGRESSING, f"being deleted{held}")
