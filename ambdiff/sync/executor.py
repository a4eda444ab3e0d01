"""Carry out a sync plan: preflight (every action as a server-side dry run), then apply in
order, stopping at the first failed write, and report applied / failed / not attempted."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ambdiff.cluster import ApiResource
from ambdiff.differ import CLIENT_SIDE_APPLY, KUBECTL_APPLY
from ambdiff.errors import ClusterError, ConflictError
from ambdiff.live import MAX_CONCURRENT_REQUESTS
from ambdiff.model import ObjectId, Resource
from ambdiff.normalize import FIELD_MANAGER, as_applied
from ambdiff.sync.plan import Action, Plan, Verb, foreign_owner
from ambdiff.sync.ports import SyncCluster
from ambdiff.takeover import pending, takeover_patch

CRD_WAIT_SECONDS = 60.0


class Attempt(StrEnum):
    """How the attempt at one action ended (its "state" in the JSON output)."""

    APPLIED = "applied"
    FAILED = "failed"
    NOT_ATTEMPTED = "not attempted"


@dataclass(frozen=True)
class Failure:
    action: Action
    message: str
    cause: str = ""  # what it shares with other failures (a dead server, an RBAC rule)
    hint: str = ""

    @classmethod
    def of(cls, action: Action, error: ClusterError) -> Failure:
        return cls(action, failure_text(error), error.cause, error.hint)


@dataclass(frozen=True)
class FailureGroup:
    """Failures of one cause, said once; a failure of its own has `cause` "" and is alone."""

    cause: str
    hint: str
    failures: tuple[Failure, ...]


def grouped(failures: Sequence[Failure]) -> list[FailureGroup]:
    """The one grouping step of every failure report: failures that share a cause become
    one group (in the order each cause first appears); the others stay one by one."""
    counts: dict[str, int] = {}
    for f in failures:
        if f.cause:
            counts[f.cause] = counts.get(f.cause, 0) + 1
    groups: dict[str, list[Failure]] = {}
    out: list[FailureGroup | str] = []
    for f in failures:
        if f.cause and counts[f.cause] > 1:
            if f.cause not in groups:
                groups[f.cause] = []
                out.append(f.cause)
            groups[f.cause].append(f)
        else:
            out.append(FailureGroup("", f.hint, (f,)))
    return [
        FailureGroup(g, groups[g][0].hint, tuple(groups[g])) if isinstance(g, str) else g
        for g in out
    ]


@dataclass(frozen=True)
class ApplyReport:
    attempts: tuple[tuple[Action, Attempt, str], ...]
    interrupted: bool = False

    def of(self, attempt: Attempt) -> list[Action]:
        return [a for a, s, _ in self.attempts if s is attempt]

    @property
    def complete(self) -> bool:
        return all(s is Attempt.APPLIED for _, s, _ in self.attempts)

    def to_json(self) -> dict[str, Any]:
        return {
            "result": "succeeded"
            if self.complete
            else "interrupted"
            if self.interrupted
            else "failed",
            "actions": [
                {
                    "action": a.verb.value,
                    "apiVersion": a.api_version,
                    "kind": a.id.kind,
                    "namespace": a.id.namespace or None,
                    "name": a.id.name,
                    "state": s.value,
                    **({"error": m} if m else {}),
                }
                for a, s, m in self.attempts
            ],
            "summary": {attempt.value: len(self.of(attempt)) for attempt in Attempt},
        }


@dataclass
class Executor:
    cluster: SyncCluster
    desired: Mapping[ObjectId, Resource]
    live: Mapping[ObjectId, Resource]
    inventory: str
    force_conflicts: bool = False
    manager: str = FIELD_MANAGER
    unchecked: list[Action] = field(default_factory=list)  # not dry-run: see preflight
    staged: list[Action] = field(default_factory=list)  # written by preflight's first stage
    uids: dict[ObjectId, str] = field(default_factory=dict)  # of what this run applied
    # Inventories of the repository's other sources: an object that moved from one of them
    # to this source is handed over rather than refused.
    adoptable: frozenset[str] = frozenset()

    # ---- preflight -------------------------------------------------------------------

    def preflight(
        self, plan: Plan, progress: Callable[[int, int], None] | None = None
    ) -> list[Failure]:
        """Dry-run every action; the failures, one per object. Nothing is written. Objects in
        a Namespace, or of a CRD, that this plan creates cannot be dry-run before it exists
        (the server answers 404): they are left in `unchecked`, for `stage`."""
        failures: list[Failure] = []
        for action in plan.actions:
            owner = foreign_owner(self.live.get(action.id), self.inventory)
            if owner is not None and owner not in self.adoptable:
                refusal = "ambdiff never takes over another inventory's objects"
                failures.append(
                    Failure(
                        action,
                        f"it belongs to the inventory {owner!r}; {refusal}",
                        cause=f"they belong to the inventory {owner!r}; {refusal}",
                    )
                )
        crd_kinds = self._kinds_created_by(plan)
        new_namespaces = {
            a.id.name for a in plan.actions if a.verb is Verb.CREATE and a.id.kind == "Namespace"
        }
        jobs: list[Action] = []
        for a in plan.actions:
            if (a.id.group, a.id.kind) in crd_kinds or a.id.namespace in new_namespaces:
                self.unchecked.append(a)
            else:
                jobs.append(a)
        failures += self._dry_run(jobs, progress)
        return failures

    def stage(self, plan: Plan) -> list[Failure]:
        """The first stage of a real run whose plan creates Namespaces or CRDs: create those
        (listed in `staged`), then dry-run what goes into them (`unchecked`). The failures;
        when there are any, the first stage is all this run wrote."""
        if not self.unchecked:
            return []
        for action in plan.actions:
            first = action.verb is Verb.CREATE and (
                (action.id.kind == "Namespace" and not action.id.group)
                or action.id.kind == "CustomResourceDefinition"
            )
            if first and action not in self.staged:
                try:
                    self._write(action, dry_run=False)
                except ClusterError as e:
                    return [Failure.of(action, e)]
                self.staged.append(action)
        remaining = [a for a in self.unchecked if a not in self.staged]
        self.unchecked = []
        return self._dry_run(remaining, None)

    def _dry_run(
        self, jobs: Sequence[Action], progress: Callable[[int, int], None] | None
    ) -> list[Failure]:
        def one(action: Action) -> Failure | None:
            try:
                self._write(action, dry_run=True)
            except ClusterError as e:
                return Failure.of(action, e)
            return None

        failures = []
        with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_REQUESTS) as pool:
            for done, failure in enumerate(pool.map(one, jobs), 1):
                if failure is not None:
                    failures.append(failure)
                if progress:
                    progress(done, len(jobs))
        return failures

    def _kinds_created_by(self, plan: Plan) -> set[tuple[str, str]]:
        """Kinds whose CRD this plan creates: the server cannot dry-run them before."""
        kinds = set()
        for action in plan.actions:
            if action.verb is Verb.CREATE and action.id.kind == "CustomResourceDefinition":
                spec = self.desired[action.id].body.get("spec", {})
                kinds.add((spec.get("group", ""), spec.get("names", {}).get("kind", "")))
        return kinds

    # ---- apply -----------------------------------------------------------------------

    def apply(
        self,
        plan: Plan,
        *,
        should_stop: Callable[[], bool] = lambda: False,
        after_each: Callable[[Action, Attempt], None] | None = None,
    ) -> ApplyReport:
        """Apply in order; stop at the first failure or when `should_stop()` says so (checked
        between objects, so none is left half-applied)."""
        attempts: list[tuple[Action, Attempt, str]] = []
        stopped = False
        interrupted = False
        for action in plan.actions:
            if action in self.staged:  # written by the first stage
                attempts.append((action, Attempt.APPLIED, ""))
                if after_each is not None:
                    after_each(action, Attempt.APPLIED)
                continue
            if stopped or should_stop():
                interrupted = interrupted or not stopped
                stopped = True
                attempts.append((action, Attempt.NOT_ATTEMPTED, ""))
                continue
            try:
                self._write(action, dry_run=False)
            except ClusterError as e:
                attempts.append((action, Attempt.FAILED, failure_text(e)))
                stopped = True
            else:
                attempts.append((action, Attempt.APPLIED, ""))
            if after_each is not None:
                after_each(action, attempts[-1][1])
        return ApplyReport(tuple(attempts), interrupted=interrupted)

    def _write(self, action: Action, *, dry_run: bool) -> None:
        res = self._resource(action)
        if action.verb is Verb.DELETE:
            current = self.live[action.id]
            self.cluster.delete(
                res,
                action.id.namespace or None,
                action.id.name,
                dry_run=dry_run,
                precondition=current.body.get("metadata", {}),
            )
            return
        body = as_applied(action.id, self.desired[action.id].body, self.inventory)
        existing = self.live.get(action.id)
        takeover = pending(existing.body) if existing is not None else None
        if existing is not None and takeover is not None and not dry_run:
            # Before the first write of an object `kubectl apply` wrote: its fields become
            # ambdiff's (ambdiff.takeover), so the apply removes what git dropped.
            ops = takeover_patch(existing.body, takeover, self.manager)
            self.cluster.patch(res, action.id.namespace or None, action.id.name, ops)
        try:
            answer = self.cluster.apply(
                res, body, manager=self.manager, dry_run=dry_run, force=self.force_conflicts
            )
        except ConflictError as e:
            if not (dry_run and takeover is not None and _only_kubectl_apply(e)):
                raise
            # The dry run comes before the takeover: a conflict with kubectl's client-side
            # apply alone is gone by the real write.
            answer = self.cluster.apply(res, body, manager=self.manager, dry_run=True, force=True)
        if not dry_run:
            self.uids[action.id] = str(((answer or {}).get("metadata") or {}).get("uid") or "")
        if not dry_run and action.id.kind == "CustomResourceDefinition":
            self._wait_for_crd(body)

    def _resource(self, action: Action) -> ApiResource:
        res = self.cluster.resource(action.api_version, action.id.kind)
        if res is None:
            raise ClusterError(
                f"the cluster does not serve {action.id.kind} in {action.api_version}.",
                hint="Is its CustomResourceDefinition installed?",
            )
        return res

    def _wait_for_crd(self, crd: Mapping[str, Any]) -> None:
        """Custom resources of a CRD created in this run are applied only once the API server
        serves their kind."""
        spec = crd.get("spec", {})
        group, kind = spec.get("group", ""), spec.get("names", {}).get("kind", "")
        versions = [v["name"] for v in spec.get("versions", []) if v.get("served", True)]
        deadline = time.monotonic() + CRD_WAIT_SECONDS
        while time.monotonic() < deadline:
            for version in versions:
                self.cluster.forget(f"{group}/{version}")
            if all(self.cluster.resource(f"{group}/{v}", kind) for v in versions):
                return
            time.sleep(0.25)
        raise ClusterError(
            f"the CRD for {kind}.{group} was created but not served within "
            f"{CRD_WAIT_SECONDS:.0f}s.",
            hint="Check the CRD's status conditions.",
        )


_CONFLICT = re.compile(r'conflict with "([^"]+)"')


def failure_text(error: ClusterError) -> str:
    """One line per failure; for apply conflicts, each field with the manager that owns it."""
    if isinstance(error, ConflictError) and error.details:
        fields = []
        for cause in error.details.get("causes") or ():
            manager = _CONFLICT.search(str(cause.get("message", "")))
            who = manager.group(1) if manager else "another manager"
            fields.append(f"{str(cause.get('field', '?')).lstrip('.')} (owned by {who})")
        if fields:
            return (
                "conflict: " + "; ".join(fields) + ". Rerun with --force-conflicts to take "
                "these fields over, or drop them from git."
            )
    return error.message


def _only_kubectl_apply(error: ConflictError) -> bool:
    """Every field of this conflict is owned by `kubectl apply` (taken over first)."""
    causes = (error.details or {}).get("causes") or ()
    owners = [_CONFLICT.search(str(c.get("message", ""))) for c in causes]
    return bool(owners) and all(
        m is not None and m.group(1) in (CLIENT_SIDE_APPLY, KUBECTL_APPLY) for m in owners
    )
