"""The sync engine, without any output: compare → plan → preflight → apply. `ambdiff sync`
renders between the steps and asks before applying; `ambdiff watch` runs them in one go."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ambdiff.cluster import Cluster
from ambdiff.compare import CompareOptions, build_report
from ambdiff.executor import Executor, Failure, State, SyncReport
from ambdiff.model import DiffReport, ObjectId, Resource
from ambdiff.plan import Action, Plan, build_plan
from ambdiff.settings import IgnoreRule


@dataclass(frozen=True)
class SyncSettings:
    inventory: str
    ignore: Sequence[IgnoreRule] = ()
    prune: bool = False
    prune_cascading: bool = False
    force_conflicts: bool = False

    @property
    def compare_options(self) -> CompareOptions:
        """Secrets stay masked: what the engine reports may be printed or logged."""
        return CompareOptions(inventory=self.inventory, ignore=self.ignore)


@dataclass(frozen=True)
class SyncResult:
    """How far a sync got: `failures` when preflight stopped it (nothing written), `outcome`
    when it applied (possibly stopped part-way), neither when there was nothing to do."""

    report: DiffReport
    plan: Plan
    failures: tuple[Failure, ...] = ()
    outcome: SyncReport | None = None

    @property
    def ok(self) -> bool:
        return not self.failures and (self.outcome is None or self.outcome.complete)


class Sync:
    """One sync of `desired` onto `live`: the report and plan are made on construction;
    `preflight` and `apply` write (or dry-run) through `cluster`."""

    def __init__(
        self,
        cluster: Cluster,
        desired: Sequence[Resource],
        live: Mapping[ObjectId, Resource],
        settings: SyncSettings,
    ) -> None:
        self.report = build_report(desired, live, settings.compare_options)
        self.plan = build_plan(self.report, live, inventory=settings.inventory,
                               prune=settings.prune, prune_cascading=settings.prune_cascading)  # fmt: skip
        self._executor = Executor(cluster, {r.id: r for r in desired}, live, settings.inventory,
                                  force_conflicts=settings.force_conflicts)  # fmt: skip

    def preflight(self, progress: Callable[[int, int], None] | None = None) -> list[Failure]:
        """A server-side dry run of every action; the failures. Nothing is written."""
        return self._executor.preflight(self.plan, progress)

    @property
    def unchecked(self) -> list[Action]:
        """Actions preflight could not dry-run (their Namespace or CRD is created first)."""
        return self._executor.unchecked

    def apply(
        self,
        *,
        should_stop: Callable[[], bool] = lambda: False,
        after_each: Callable[[Action, State], None] | None = None,
    ) -> SyncReport:
        """Apply in order, stopping at the first failure or between two objects when
        `should_stop()` says so."""
        return self._executor.apply(self.plan, should_stop=should_stop, after_each=after_each)

    def run(
        self,
        *,
        should_stop: Callable[[], bool] = lambda: False,
        after_each: Callable[[Action, State], None] | None = None,
    ) -> SyncResult:
        """Preflight, then apply when preflight passed: the whole sync, unattended."""
        if self.plan.empty:
            return SyncResult(self.report, self.plan)
        failures = self.preflight()
        if failures:
            return SyncResult(self.report, self.plan, failures=tuple(failures))
        outcome = self.apply(should_stop=should_stop, after_each=after_each)
        return SyncResult(self.report, self.plan, outcome=outcome)
