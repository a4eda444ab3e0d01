"""The sync engine, without any output: compare → plan → preflight → apply. `ambdiff sync`
renders between the steps and asks before applying; `ambdiff watch` runs them in one go."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from ambdiff.compare import CompareOptions, build_report
from ambdiff.errors import ClusterError
from ambdiff.model import DiffReport, ObjectId, Resource
from ambdiff.normalize import FIELD_MANAGER, INVENTORY_LABEL
from ambdiff.settings import IgnoreRule
from ambdiff.sync import record as records
from ambdiff.sync.executor import ApplyReport, Attempt, Executor, Failure
from ambdiff.sync.ownership import DEFAULT_MASS_PRUNE_SHARE, Ownership, member_of
from ambdiff.sync.plan import Action, Plan, Verb, build_plan
from ambdiff.sync.ports import SyncCluster


@dataclass(frozen=True)
class SyncSettings:
    inventory: str
    ignore: Sequence[IgnoreRule] = ()
    prune: bool = False
    prune_cascading: bool = False
    force_conflicts: bool = False
    mass_prune_share: float = DEFAULT_MASS_PRUNE_SHARE
    allow_mass_prune: bool = False

    @property
    def compare_options(self) -> CompareOptions:
        """Secrets stay masked: what the engine reports may be printed or logged."""
        return CompareOptions(inventory=self.inventory, ignore=self.ignore)


@dataclass(frozen=True)
class SyncResult:
    """How far a sync got: `failures` when preflight stopped it (nothing written), `apply_report`
    when it applied (possibly stopped part-way), neither when there was nothing to do."""

    report: DiffReport
    plan: Plan
    failures: tuple[Failure, ...] = ()
    apply_report: ApplyReport | None = None
    refused: str = ""  # the mass-deletion guard stopped it before writing
    record_error: str = ""  # applied, but the inventory record could not be written

    @property
    def ok(self) -> bool:
        complete = self.apply_report is None or self.apply_report.complete
        return not self.failures and not self.refused and complete and not self.record_error


class Sync:
    """One sync of `desired` onto `live`: the report and plan are made on construction;
    `preflight` and `apply` write (or dry-run) through `cluster`."""

    def __init__(
        self,
        cluster: SyncCluster,
        desired: Sequence[Resource],
        live: Mapping[ObjectId, Resource],
        settings: SyncSettings,
        ownership: Ownership | None = None,
        revision: str = "",
    ) -> None:
        """With `ownership`, only the inventory record's members can be `removed` and pruned
        (ambdiff.sync.ownership); without, any live object with the inventory's label."""
        self._cluster = cluster
        self._desired = desired
        self._live = live
        self._ownership = ownership
        self._revision = revision
        members = None if ownership is None else ownership.members(live)
        self.compare_options = replace(settings.compare_options, members=members)
        self.report = build_report(desired, live, self.compare_options)
        plan = build_plan(
            self.report,
            live,
            inventory=settings.inventory,
            prune=settings.prune,
            prune_cascading=settings.prune_cascading,
        )
        self.plan = plan if ownership is None else _vetted(plan, live, ownership)
        deletes = self.plan.counts()["delete"]
        self.refusal = (
            ""
            if ownership is None or settings.allow_mass_prune
            else ownership.mass_prune(deletes, len(members or ()), settings.mass_prune_share)
        )
        self._executor = Executor(
            cluster,
            {r.id: r for r in desired},
            live,
            settings.inventory,
            force_conflicts=settings.force_conflicts,
            adoptable=ownership.siblings if ownership else frozenset(),
        )
        self.record_error = ""

    def preflight(self, progress: Callable[[int, int], None] | None = None) -> list[Failure]:
        """A server-side dry run of every action; the failures. Nothing is written. What
        goes into a Namespace or CRD the plan creates is left `unchecked`, for `stage`."""
        return self._executor.preflight(self.plan, progress)

    def stage(self) -> list[Failure]:
        """A real run's first stage, after preflight and before apply: create the plan's new
        Namespaces and CRDs (`staged`, the only writes so far), then dry-run what goes into
        them. The failures: when there are any, nothing else is written."""
        return self._executor.stage(self.plan)

    @property
    def staged(self) -> list[Action]:
        """What preflight's first stage wrote."""
        return self._executor.staged

    @property
    def unchecked(self) -> list[Action]:
        """Actions preflight could not dry-run (their Namespace or CRD is created first)."""
        return self._executor.unchecked

    def apply(
        self,
        *,
        should_stop: Callable[[], bool] = lambda: False,
        after_each: Callable[[Action, Attempt], None] | None = None,
    ) -> ApplyReport:
        """Apply in order, stopping at the first failure or between two objects when
        `should_stop()` says so; then write the inventory record (also after a failure, so
        that it lists exactly what now exists)."""
        assert not self.refusal, "the mass-deletion guard refused this plan"
        apply_report = self._executor.apply(
            self.plan, should_stop=should_stop, after_each=after_each
        )
        self.write_record(apply_report)
        return apply_report

    def write_record(self, apply_report: ApplyReport | None) -> None:
        """Record what this run leaves owned: the old members, plus every desired object that
        now exists with our label, less what it deleted or found gone. `apply_report` None: nothing
        was applied (an empty plan), the record is (re)written only when it changes."""
        if self._ownership is None:
            return
        done = {} if apply_report is None else {a.id: s for a, s, _ in apply_report.attempts}
        applied: dict[ObjectId, records.Member] = {}
        for resource in self._desired:
            attempt = done.get(resource.id)
            current = self._live.get(resource.id)
            if attempt is Attempt.APPLIED:
                uid = self._executor.uids.get(resource.id, "")
                applied[resource.id] = records.Member(resource.id, uid, resource.api_version)
            elif (
                current is not None
                and current.labels.get(INVENTORY_LABEL) == self._executor.inventory
            ):
                applied[resource.id] = member_of(current)
        deleted = [oid for oid, s in done.items() if s is Attempt.APPLIED and oid not in applied]
        # Gone, or handed over to another inventory (a source it moved to took it).
        gone = [
            m.id
            for m in self._ownership.record.members
            if m.id not in applied
            and (
                m.id not in self._live
                or self._live[m.id].labels.get(INVENTORY_LABEL) != self._executor.inventory
            )
        ]
        new = self._ownership.next_record(
            revision=self._revision, kept=(), applied=applied, deleted=[*deleted, *gone]
        )
        old = self._ownership.record
        if old.exists and apply_report is None and set(new.members) == set(old.members):
            return
        try:
            records.write(self._cluster, new, FIELD_MANAGER)
        except ClusterError as e:
            self.record_error = (
                f"the inventory record {new.namespace}/{new.name} could not be written: "
                f"{e.message.rstrip('.')}. Objects created by this run are not recorded, so a "
                "later prune will not delete them; rerun the sync."
            )

    def run(
        self,
        *,
        should_stop: Callable[[], bool] = lambda: False,
        after_each: Callable[[Action, Attempt], None] | None = None,
    ) -> SyncResult:
        """Preflight, then apply when preflight passed: the whole sync, unattended."""
        if self.refusal:
            return SyncResult(self.report, self.plan, refused=self.refusal)
        if self.plan.empty:
            self.write_record(None)
            return SyncResult(self.report, self.plan, record_error=self.record_error)
        failures = self.preflight() or self.stage()
        if failures:
            return SyncResult(self.report, self.plan, failures=tuple(failures))
        apply_report = self.apply(should_stop=should_stop, after_each=after_each)
        return SyncResult(
            self.report, self.plan, apply_report=apply_report, record_error=self.record_error
        )


def _vetted(plan: Plan, live: Mapping[ObjectId, Resource], ownership: Ownership) -> Plan:
    """Deletes that ownership vetoes move to `skipped`, with the reason."""
    kept: list[Action] = []
    skipped = list(plan.skipped)
    for action in plan.actions:
        reason = ownership.veto(action.id, live[action.id]) if action.verb is Verb.DELETE else ""
        if reason:
            skipped.append(
                Action(
                    action.verb, action.id, action.api_version, None, (), f"not deleted: {reason}"
                )
            )
        else:
            kept.append(action)
    return Plan(tuple(kept), tuple(skipped))
