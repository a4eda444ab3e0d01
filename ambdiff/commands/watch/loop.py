"""One source's loop: rounds of fetch, diff and (with --sync) apply, scheduled by its
Scheduler, under the Lease its Leadership holds, each ended through its RoundObserver."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial

from ambdiff.check import Severity, check_resources, validate_rule_ids
from ambdiff.cluster import Cluster
from ambdiff.commands.diff import load_desired
from ambdiff.commands.owned import add_missing_members, open_ownership
from ambdiff.commands.watch.branch import SharedBranch
from ambdiff.commands.watch.lead import Leadership, Leads
from ambdiff.commands.watch.observer import RoundObserver
from ambdiff.commands.watch.options import WatchOptions
from ambdiff.commands.watch.outcome import Outcome
from ambdiff.commands.watch.scheduler import Clock, Result, Scheduler, Trigger
from ambdiff.drift import DriftBook, DriftWatch, Target
from ambdiff.errors import AmbdiffError
from ambdiff.gitsource import Branch, GitRevision, redact
from ambdiff.health import with_built_in
from ambdiff.live import ClusterState
from ambdiff.metrics import Health, Metrics, Stage
from ambdiff.model import DiffReport, ObjectDiff, ObjectId, Resource, Status
from ambdiff.options import Common, settle
from ambdiff.render.sync import listed
from ambdiff.render.text import shown
from ambdiff.render.watch import drift_line, fields, summary
from ambdiff.settings import CONFIG_NAME, FileSettings, load_text
from ambdiff.sources import select as select_source
from ambdiff.sync.engine import Sync, SyncResult, SyncSettings
from ambdiff.sync.executor import Attempt, grouped
from ambdiff.sync.plan import Action, Verb
from ambdiff.sync.status import RecordStatus, in_sync_or_kept, of_failures, of_report
from ambdiff.sync.status import publish as publish_status
from ambdiff.sync.wait import ObjectHealth, Verdict, follow, targets_of
from ambdiff.sync.wait import Target as WaitTarget

log = logging.getLogger(__package__)


class Loop:
    def __init__(
        self,
        common: Common,
        options: WatchOptions,
        branch: Branch | SharedBranch,
        stop: threading.Event,
        metrics: Metrics,
        health: Health,
        source: str,
        fleet_leads: Leads | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.common = common
        self.options = options
        self.branch = branch
        self.stop = stop
        self.source = source  # the metrics label: the source's name, or "default"
        self.schedule = Scheduler(
            options.interval, retry_period=options.leases.retry_period, stop=stop, clock=clock
        )
        self.done = threading.Event()
        self.book = DriftBook()
        self.metrics = metrics.of(source, self.book.statuses)
        self.health = health
        self.observer = RoundObserver(source, self.metrics, health)
        self.leadership = Leadership(
            options.leases, self.metrics, health, fleet_leads or Leads(), self.schedule.clock
        )
        self.drift = DriftWatch(
            self.book,
            lambda: Cluster.connect(
                common.kubeconfig, common.context, cluster=common.cluster, user=common.user
            ),
            on_drift=self._drift_seen,
            on_expired=self._relist,
            on_error=self._watch_failed,
            on_streams=self.metrics.watch_streams.set,
        )
        self._rounds = 0
        self._commit = ""
        self._cluster: dict[str, str] = {}  # the context, server, user last logged
        self._lock_taken: Callable[[], str] = lambda: ""  # why this round's Lease was lost
        self._published: tuple[str, str, int] | None = None  # the record's status, as last written
        self._synced_commit = ""  # the last commit this replica applied in full
        self._reported: dict[ObjectId, tuple[Status, tuple[object, ...]]] = {}
        self.applying = False  # between the first and the last write of a sync
        self._to_follow: list[WaitTarget] = []  # what this round's sync declared (--wait)
        self._health: dict[ObjectId, tuple[Verdict, str]] = {}  # as last logged
        self._extra: dict[str, object] = {}  # the round's fields, for every line it logs

    def close(self) -> None:
        self.health.alive = False
        self.drift.close()
        self.leadership.release()
        self.done.set()

    def run(self) -> None:
        """Rounds, each when its Scheduler says, until the watch stops."""
        while (trigger := self.schedule.next()) is not None:
            delay = self.schedule.ended(self._round(trigger))
            if delay is not None:
                self.observer.retrying(delay)

    # ---- one round -----------------------------------------------------------------------

    def _round(self, trigger: Trigger) -> Result:
        """One round; how it ended (the loop backs off after a failure)."""
        self._rounds += 1
        number = self._rounds
        started = time.monotonic()
        extra: dict[str, object] = {"round": number, "trigger": trigger, "source": self.source}
        self._extra = extra  # for the lines the sync engine's callbacks log
        led = self.leadership.led
        if trigger is Trigger.DRIFT and self.options.sync and led:
            drifted = sum(1 for *_, status in self.book.statuses() if status != "unchanged")
            self._publish(
                *led,
                extra,
                RecordStatus(
                    "drifted",
                    self._commit,
                    drifted,
                    f"drift seen through the watch: {drifted} object(s) differ from git; healing",
                    "Drifted",
                    warning=True,
                ),
            )
        try:
            outcome = self._standing_by(extra) or self._work(extra)
        except Exception as e:
            outcome = self.observer.failed(number, e, extra)
            assert outcome.stage is not None
            self._publish_failure(outcome.stage, e, extra)
        # GitPython's repository objects live in reference cycles and each holds `git
        # cat-file` processes until collected; its docs warn that long-running processes
        # leak them otherwise.
        gc.collect()
        self.observer.ended(
            number, trigger, outcome, time.monotonic() - started, self._commit, extra
        )
        return outcome.result

    def _work(self, extra: dict[str, object]) -> Outcome:
        """The round's work. Errors that end it early raise."""
        self.branch.fetch()
        commit = self.branch.head()
        if commit != self._commit:
            log.info(
                f"branch {self.options.branch} is at {commit[:12]}",
                extra={**extra, "event": "commit", "commit": commit},
            )
            self._commit = commit
        self.metrics.commit.info(
            {"repository": self.branch.description, "branch": self.options.branch, "commit": commit}
        )
        common, settings = self._at(commit)
        desired, state, texts = load_desired(common)
        assert isinstance(state, ClusterState)
        identity = dict(state.cluster.identity)
        if identity != self._cluster:
            self._cluster = identity
            log.info(
                f"using context {identity['context']} at {identity['server']}",
                extra={**extra, "event": "cluster", **identity},
            )
        if not self.options.sync:
            return self._compare(common, settings, desired, state, commit, extra, texts)
        # One writer at a time: the replica that leads the inventory's Lease, held across
        # rounds; never plan from what another writer is changing.
        lock = self.leadership.lead(
            state.cluster, settings.inventory, common.settings.record_namespace, extra
        )
        if lock is None:
            return Outcome(Result.STANDBY, summary=self.health.detail)
        self._lock_taken = lock.lost
        self._to_follow = []
        try:
            outcome = self._compare(common, settings, desired, state, commit, extra, texts)
        finally:
            self._lock_taken = lambda: ""
        # As `sync --wait`: after the writes, with the lock free (following writes nothing).
        if outcome.result is Result.SUCCEEDED and common.wait and not self.stop.is_set():
            return self._follow(common, state, outcome, extra)
        return outcome

    def _follow(
        self, common: Common, state: ClusterState, outcome: Outcome, extra: dict[str, object]
    ) -> Outcome:
        """Follow the round's objects until healthy; log each change of an object's health
        (since the last round), and fail the round when one failed or timed out."""

        def changed(status: ObjectHealth, elapsed: float) -> None:
            oid = status.target.id
            key = (status.verdict, status.message)
            if self._health.get(oid) == key:  # as the last round left it: said already
                return
            self._health[oid] = key
            bad = status.verdict in (Verdict.FAILED, Verdict.TIMED_OUT)
            detail = f": {status.message}" if status.message else ""
            log.log(
                logging.ERROR if bad else logging.INFO,
                f"health: {shown(str(oid))} {status.verdict.value}{detail}",
                extra={
                    **extra,
                    "event": "health",
                    "kind": oid.kind,
                    "namespace": oid.namespace,
                    "object_name": oid.name,
                    "health": status.verdict.value,
                },
            )

        rules = with_built_in(common.settings.health)
        report = follow(
            state.cluster,
            self._to_follow,
            rules,
            timeout=common.timeout,
            on_change=changed,
            pause=self.stop.wait,
        )
        counts = {v: len(report.of(v)) for v in Verdict}
        said = (
            f"{outcome.summary}; health: {counts[Verdict.HEALTHY]} healthy, "
            f"{counts[Verdict.FAILED]} failed, {counts[Verdict.TIMED_OUT]} timed out"
        )
        if report.interrupted:
            return Outcome(
                Result.INTERRUPTED, summary=f"{outcome.summary}; stopped while waiting for health"
            )
        if not report.ok:
            log.error(f"not healthy: {said}", extra={**extra, "event": "unhealthy"})
            return Outcome(Result.FAILED, Stage.HEALTH, summary=said)
        return replace(outcome, summary=said)

    # ---- leadership ------------------------------------------------------------------------

    def _standing_by(self, extra: dict[str, object]) -> Outcome | None:
        """A standby round while the leader still holds the Lease: one read, no git fetch
        and no diff; None when the Lease is free (a full round takes it)."""
        if self.leadership.standing_by(extra):
            return Outcome(Result.STANDBY, summary=self.health.detail)
        return None

    def _should_stop(self) -> bool:
        """Between two objects: a stop was asked for, or another writer took the Lease."""
        return self.stop.is_set() or bool(self._lock_taken())

    def _compare(
        self,
        common: Common,
        settings: SyncSettings,
        desired: list[Resource],
        state: ClusterState,
        commit: str,
        extra: dict[str, object],
        texts: dict[str, list[str]],
    ) -> Outcome:
        """Compare (and with --sync, converge) under the lock when syncing. `texts`: the
        files read, for check's line numbers."""
        ownership = open_ownership(
            common, state, settings.inventory, desired, read_only=not self.options.sync
        )
        live = state.fetch(desired, None, settings.inventory, ownership.stray_kinds())
        add_missing_members(state, ownership, live)
        state.require_complete()
        engine = Sync(state.cluster, desired, live, settings, ownership, commit)
        self.book.reset(engine.report)
        targets = [Target(res, ns, rv) for (res, ns), rv in state.list_versions.items()]
        self.drift.update(desired, targets, engine.compare_options)
        self._report_drift(engine.report, extra)
        if not self.options.sync:
            return Outcome(Result.SUCCEEDED, summary=summary(engine.report, commit))
        publish = partial(
            self._publish,
            state.cluster,
            settings.inventory,
            common.settings.record_namespace,
            extra,
        )
        if engine.refusal:
            log.error(
                f"{engine.refusal} Not in the loop: if this is meant, stop the watch (it "
                "holds the inventory's Lease while it leads), then run `ambdiff sync "
                "--prune --allow-mass-prune` by hand.",
                extra={**extra, "event": "prune-refused"},
            )
            publish(
                RecordStatus(
                    "failed",
                    commit,
                    len(engine.plan.actions),
                    f"prune refused: {engine.refusal}",
                    "SyncFailed",
                    warning=True,
                )
            )
            return Outcome(Result.FAILED, Stage.PRUNE_GUARD)
        self._to_follow = targets_of(
            desired, [a for a in engine.plan.actions if a.verb is Verb.DELETE]
        )
        for skipped in engine.plan.skipped:
            if self.options.sync and not skipped.reason.startswith("prune is off"):
                log.info(
                    f"{skipped}: {skipped.reason}",
                    extra={**extra, "event": "prune-skipped", "object": str(skipped.id)},
                )
        if engine.plan.empty:
            engine.write_record(None)
            self._synced_commit = commit
            settled = in_sync_or_kept(engine.report, commit)
            key = (settled.result, settled.revision, settled.drifted)
            publish(settled, event=settled.result != "in-sync" and key != self._published)
            return Outcome(Result.SUCCEEDED, summary=summary(engine.report, commit))
        if self.stop.is_set():
            return Outcome(Result.INTERRUPTED, summary="stopped before applying")
        if _check_fails(desired, common, state.default_namespace, extra, texts):
            publish(
                RecordStatus(
                    "failed",
                    commit,
                    len(engine.plan.actions),
                    "check found errors at error level; nothing was written",
                    "SyncFailed",
                    warning=True,
                )
            )
            return Outcome(Result.FAILED, Stage.PREFLIGHT)
        self.applying = True
        try:
            result = engine.run(should_stop=self._should_stop, after_each=self._applied)
        finally:
            self.applying = False
        if result.record_error:
            log.error(result.record_error, extra={**extra, "event": "record-failed"})
        if result.failures:
            publish(of_failures(result.failures, commit, "preflight"))
        elif result.apply_report is not None and not self._lock_taken():
            # The same commit applied again: the cluster had drifted from it, now healed.
            publish(of_report(result.apply_report, commit, healed=commit == self._synced_commit))
            if result.apply_report.complete:
                self._synced_commit = commit
        return self._after_sync(result, commit, extra)

    def _publish_failure(self, stage: Stage, e: Exception, extra: dict[str, object]) -> None:
        """A round that failed before it could say so itself (reading git, the manifests, the
        settings), while this replica leads: the record says failed, with an Event once per
        failure (the retries of the same one leave none)."""
        led = self.leadership.led
        if not (self.options.sync and led):
            return
        if stage not in (Stage.GIT, Stage.CONFIG, Stage.MANIFESTS, Stage.INTERNAL):
            return  # the stages after the lead publish their own status
        why = (
            redact(str(e))
            if isinstance(e, AmbdiffError)
            else f"a bug in ambdiff: {type(e).__name__}"
        )
        status = RecordStatus(
            "failed",
            self._commit,
            0,
            f"{stage} failed, nothing written: {why}",
            "SyncFailed",
            warning=True,
        )
        key = (status.result, status.revision, status.drifted)
        self._publish(*led, extra, status, event=key != self._published)

    def _publish(
        self,
        cluster: Cluster,
        inventory: str,
        namespace: str,
        extra: dict[str, object],
        status: RecordStatus,
        *,
        event: bool = True,
    ) -> None:
        """The record's status (when it changed) and an Event; a refusal is logged, never
        fails the round."""
        key = (status.result, status.revision, status.drifted)
        if not event and key == self._published:
            return  # in sync as last written: no write every interval
        said = publish_status(cluster, inventory, namespace, status, event=event)
        if said:
            log.warning(said, extra={**extra, "event": "status-failed"})
        else:
            self._published = key

    def _at(self, commit: str) -> tuple[Common, SyncSettings]:
        """The shared options for this commit: its own settings file (unless --config named
        one), with flags taking precedence. The cluster never comes from the commit."""
        settings = self.common.settings
        if not self.options.config_given:
            text = GitRevision(self.common.repo_root, commit).read_text(CONFIG_NAME)
            settings = (
                load_text(text, f"{CONFIG_NAME} at {commit[:12]}") if text else FileSettings()
            )
        o = self.options
        # A PATH that names a source of this commit's settings is that source (the mirror of
        # a URL has no working tree for the CLI to have told names from folders).
        names = [p for p in o.paths if any(s.name == p for s in settings.sources)]
        paths = [p for p in o.paths if p not in names]
        selection = select_source(
            settings.sources, paths, default_paths=settings.paths, names=names
        )
        settled = settle("watch", self.common.given, settings, selection.source)
        # The source's own interval, unless --interval (or AMBDIFF_INTERVAL) was given.
        if selection.source.interval is not None and not o.interval_given:
            self.schedule.interval = selection.source.interval
        common = replace(
            self.common,
            rev=commit,
            settings=settings,
            paths=selection.read_paths,
            selection=selection,
            namespace=settled.namespace,
            prune=settled.prune,
            wait=settled.wait,
            timeout=settled.timeout,
        )
        return common, SyncSettings(
            inventory=common.inventory,
            ignore=settings.ignore,
            prune=settled.prune and not selection.narrowed,
            force_conflicts=o.force_conflicts,
            mass_prune_share=settings.mass_prune_share,
        )

    def _after_sync(self, result: SyncResult, commit: str, extra: dict[str, object]) -> Outcome:
        for group in grouped(result.failures):
            if group.cause:  # one line for a cause many objects share (a dead server, RBAC)
                objects = [str(f.action.id) for f in group.failures]
                log.error(
                    f"preflight failed for {len(objects)} objects: {group.cause} ({listed(group)})",
                    extra={
                        **extra,
                        "event": "preflight-failed",
                        "cause": group.cause,
                        "objects": objects,
                    },
                )
                continue
            failure = group.failures[0]
            origin = f" ({failure.action.origin})" if failure.action.origin else ""
            log.error(
                f"preflight failed for {failure.action}{origin}: {failure.message}",
                extra={**extra, "event": "preflight-failed", "object": str(failure.action.id)},
            )
        if result.failures:
            return Outcome(Result.FAILED, Stage.PREFLIGHT)
        apply_report = result.apply_report
        assert apply_report is not None
        applied, failed, waiting = (len(apply_report.of(s)) for s in Attempt)
        if apply_report.interrupted:
            return Outcome(
                Result.INTERRUPTED,
                summary=f"stopped between two objects: {applied} "
                f"applied, {waiting} not attempted (none half-applied)",
            )
        if not apply_report.complete:
            log.error(
                f"sync failed: {applied} applied, {failed} failed, {waiting} not attempted",
                extra={**extra, "event": "sync-failed"},
            )
            return Outcome(Result.FAILED, Stage.APPLY)
        return Outcome(Result.SUCCEEDED, summary=summary(result.report, commit, applied=applied))

    # ---- reporting -------------------------------------------------------------------------

    def _report_drift(self, report: DiffReport, extra: dict[str, object]) -> None:
        """Log each object out of sync, once until it changes again."""
        for o in report:
            if o.status is Status.UNCHANGED:
                self._reported.pop(o.id, None)
                continue
            key = (o.status, o.changes)
            if self._reported.get(o.id) == key:
                continue
            self._reported[o.id] = key
            log.info(
                f"out of sync: {drift_line(o)}", extra={**extra, **fields(o), "event": "drift"}
            )
        gone = {o.id for o in report}
        for oid in [oid for oid in self._reported if oid not in gone]:
            del self._reported[oid]

    def _applied(self, action: Action, attempt: Attempt) -> None:
        self.metrics.actions.labels(action.verb.value, attempt.value.replace(" ", "_")).inc()
        if attempt is Attempt.APPLIED:
            if action.verb is Verb.DELETE:
                self.book.forget(action.id)
            else:
                self.book.record(
                    ObjectDiff(action.id, action.api_version, Status.UNCHANGED, action.origin)
                )
            self._reported.pop(action.id, None)
        log.log(
            logging.INFO if attempt is Attempt.APPLIED else logging.ERROR,
            f"{attempt.value}: {action}",
            extra={
                **self._extra,
                "event": "sync-action",
                "action": action.verb.value,
                "object": str(action.id),
                "state": attempt.value,
            },
        )

    def _drift_seen(self, diff: ObjectDiff) -> None:
        self.metrics.drift_events.labels(diff.id.kind, diff.id.namespace).inc()
        log.info(
            f"drift seen through the watch: {drift_line(diff)}",
            extra={**fields(diff), "event": "drift-watch", "source": self.source},
        )
        self.schedule.poke()

    def _relist(self) -> None:
        self.schedule.poke(drift=False)

    def _watch_failed(self, error: AmbdiffError) -> None:
        self.metrics.errors.labels(Stage.WATCH).inc()
        log.warning(
            f"{redact(str(error))} Retrying; rounds every "
            f"{self.options.interval:g}s still notice drift.",
            extra={"event": "watch-failed"},
        )


def _check_fails(
    desired: list[Resource],
    common: Common,
    default_namespace: str,
    extra: dict[str, object],
    texts: dict[str, list[str]],
) -> bool:
    """Preflight's first half, as in `ambdiff sync`: check's rules at error level."""
    disabled = validate_rule_ids(common.settings.check_disable, "check.disable")
    report = check_resources(
        desired,
        default_namespace=common.default_namespace(default_namespace),
        disabled=disabled,
        texts=texts,
    )
    errors = [f for f in report.findings if f.severity is Severity.ERROR]
    for f in errors:
        log.error(
            f"preflight: {f.where}: {f.message} [{f.rule}]; nothing was written",
            extra={**extra, "event": "preflight-failed", "rule": f.rule, "object": f.object},
        )
    return bool(errors)
