"""`ambdiff watch`: the continual diff-and-sync loop.

Each round fetches the branch, resolves its head, diffs that commit (read from git's object
store) with the cluster and, with `--sync`, applies it through the sync engine. Between rounds
the API watches of `ambdiff.drift` notice hand edits within seconds; the periodic round is the
backstop. Metrics and health are served on `--metrics-port`; failures are retried with
exponential backoff; SIGTERM or SIGINT stops the loop between two objects, never inside one.
"""

from __future__ import annotations

import gc
import logging
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from ambdiff import logs
from ambdiff.check import Severity, check_resources, validate_rule_ids
from ambdiff.cluster import Cluster
from ambdiff.commands.diff import load_desired
from ambdiff.commands.owned import add_missing_members, open_ownership
from ambdiff.drift import DriftBook, DriftWatch, Target
from ambdiff.errors import AmbdiffError, ClusterError, ConfigError, Exit, GitError, ManifestError
from ambdiff.gitsource import Branch, GitRevision, redact
from ambdiff.health import with_built_in
from ambdiff.live import ClusterState
from ambdiff.metrics import Endpoint, Health, Healths, Metrics
from ambdiff.model import DiffReport, ObjectDiff, ObjectId, Resource, Status
from ambdiff.options import Common, settle
from ambdiff.render.sync import listed
from ambdiff.render.text import shown
from ambdiff.render.watch import describe, fields, summary
from ambdiff.schedule import Backoff, Debounce, backoff_cap
from ambdiff.settings import CONFIG_NAME, FileSettings, load_text
from ambdiff.sources import DEFAULT as DEFAULT_SOURCE
from ambdiff.sources import select as select_source
from ambdiff.sync.engine import Sync, SyncResult, SyncSettings
from ambdiff.sync.executor import State, grouped
from ambdiff.sync.lock import WATCH_ROLE, Lock, LockHeld, holder_identity, lease_name
from ambdiff.sync.plan import Action, Verb
from ambdiff.sync.status import Status as RecordStatus
from ambdiff.sync.status import in_sync_or_kept, of_failures, of_report
from ambdiff.sync.status import publish as publish_status
from ambdiff.sync.wait import Status as WaitStatus
from ambdiff.sync.wait import Target as WaitTarget
from ambdiff.sync.wait import Verdict, follow, targets_of

log = logging.getLogger(__name__)

STOP_GRACE = 20.0  # seconds a stop may wait for a request in flight before the process exits
DRIFT_QUIET = 1.0  # a burst of changes is over after this long without another
DRIFT_MAX_DELAY = 5.0  # ... or this long after its first change
MIN_GAP = 1.0  # between the end of a round and a round started by drift


@dataclass(frozen=True)
class Leases:
    """Leader election on each inventory's Lease, with client-go's defaults (seconds)."""

    duration: float = 15.0  # a leader that stops renewing is replaced this long after
    renew_deadline: float = 10.0  # a leader that could not renew for this long stops writing
    retry_period: float = 2.0  # how often a leader renews, and a standby tries to take it

    def __post_init__(self) -> None:
        if not self.duration > self.renew_deadline > self.retry_period > 0:
            raise ConfigError(
                f"--lease-duration ({self.duration:g}s) must be longer than --renew-deadline "
                f"({self.renew_deadline:g}s), and that longer than --retry-period "
                f"({self.retry_period:g}s).",
                hint="The defaults are 15s, 10s and 2s, as client-go's leader election.",
            )


@dataclass(frozen=True)
class WatchOptions:
    branch: str = "main"
    interval: float = 60.0
    sync: bool = False
    force_conflicts: bool = True
    paths: tuple[str, ...] = ()  # PATH arguments; empty: the settings file's, or everything
    config_given: bool = False  # --config: use it, not the settings file in each commit
    metrics_address: str = "0.0.0.0"
    metrics_port: int = 9108  # 0: no HTTP endpoint
    log_format: str = "text"
    leases: Leases = Leases()
    interval_given: bool = False  # --interval or AMBDIFF_INTERVAL: it wins over a source's


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ambdiff" / "repos"


def open_branch(location: str | None, branch: str, cache_dir: Path | None = None) -> Branch:
    """The branch to follow: in a local repository, or in a mirror of a URL (made now, empty;
    the first round fetches)."""
    return Branch(location, branch, cache_dir or default_cache_dir())


def run(
    common: Common, options: WatchOptions, branch: Branch, *, stop: threading.Event | None = None
) -> int:
    """Run rounds until `stop` is set or SIGTERM/SIGINT arrives; 0 after a clean stop. Every
    source the branch's .ambdiff.yaml declares (or those named) gets its own loop, in its own
    thread: one failing never stops the others."""
    if common.live_file is not None:
        raise ConfigError("watch reads a cluster; it cannot be combined with --live-file.")
    if common.rev is not None:
        raise ConfigError("watch follows a branch; use --branch instead of --rev.")
    logs.configure(options.log_format, common.verbose, shown=shown)
    stop = stop or threading.Event()
    metrics = Metrics()
    healths: dict[str, Health] = {}
    endpoint = None
    if options.metrics_port:
        endpoint = Endpoint(
            metrics, Healths(healths), options.metrics_address, options.metrics_port
        )
    fleet = _Fleet(stop, [])
    try:
        with _signals(fleet):
            served = _served(common, options, branch, stop)
            if served is None:
                return Exit.OK  # stopped before the branch could be read
            if common.given.inventory and len(served) > 1:
                raise ConfigError(
                    f"--inventory {common.given.inventory} names one inventory, and this watch "
                    f"serves {len(served)} sources ({', '.join(n for n, _ in served)}), each "
                    "with its own inventory, Lease and record.",
                    hint="Leave --inventory out, or name one source: `ambdiff watch --sync "
                    "SOURCE --inventory NAME`.",
                )
            shared, leads = _SharedBranch(branch), _Leads()
            for label, paths in served:
                health = healths[label] = Health()
                loop_options = replace(options, paths=paths)
                fleet.loops.append(Loop(common, loop_options, shared, stop, metrics, health, label,
                                        leads))  # fmt: skip
            mode = "diff and sync" if options.sync else "diff only, nothing is written"
            where = (f"; metrics on http://{options.metrics_address}:{endpoint.port}/metrics"
                     if endpoint else "")  # fmt: skip
            names = ", ".join(label for label, _ in served)
            every = (f"every {options.interval:g}s" if options.interval_given or len(served) == 1
                     else f"every {options.interval:g}s unless a source sets its own interval")  # fmt: skip
            log.info(f"following branch {options.branch} of {branch.description} {every} "
                     f"({mode}), source(s) {names}{where}",
                     extra={"event": "start", "repository": branch.description,
                            "branch": options.branch, "interval_seconds": options.interval,
                            "sync": options.sync, "sources": [n for n, _ in served]})  # fmt: skip
            fleet.run()
    finally:
        fleet.close()
        if endpoint is not None:
            endpoint.close()
    log.info("stopped", extra={"event": "stop"})
    return Exit.OK


def _served(common: Common, options: WatchOptions, branch: Branch,
            stop: threading.Event) -> list[tuple[str, tuple[str, ...]]] | None:  # fmt: skip
    """(metrics label, PATH arguments) of each loop to run: one per source of the branch
    head's settings file (or of --config) when no PATH is given, or one per source named;
    else one loop for the PATHs. None when stopped while the branch could not be read."""
    backoff = Backoff(base=1.0, cap=backoff_cap(options.interval))
    while not stop.is_set():
        try:
            settings = common.settings
            if not options.config_given:
                branch.fetch()
                text = GitRevision(common.repo_root, branch.head()).read_text(CONFIG_NAME)
                settings = (
                    load_text(text, f"{CONFIG_NAME} at {options.branch}")
                    if text
                    else FileSettings()
                )
            break
        except (GitError, ConfigError) as e:
            delay = backoff.next()
            log.error(f"cannot read branch {options.branch} yet: {redact(str(e))} Retrying in "
                      f"{delay:.1f}s.", extra={"event": "round-failed", "stage": _stage_of(e)})  # fmt: skip
            stop.wait(delay)
    else:
        return None
    names = [s.name for s in settings.sources]
    given = list(options.paths)
    if given and all(p in names for p in given):
        return [(p, (p,)) for p in dict.fromkeys(given)]
    if given or len(names) <= 1:
        return [(names[0] if len(names) == 1 and not given else DEFAULT_SOURCE, tuple(given))]
    return [(n, (n,)) for n in names]


class _SharedBranch:
    """One branch for every loop: a fetch that another loop made moments ago (or is making)
    serves this one too, so N sources cost one fetch per round, not N; the branch's git
    repository is used by one thread at a time."""

    def __init__(self, branch: Branch, fresh_for: float = 1.0) -> None:
        self._branch, self._fresh_for = branch, fresh_for
        self._lock = threading.Lock()
        self._fetched = -math.inf

    def fetch(self) -> None:
        with self._lock:
            if time.monotonic() - self._fetched < self._fresh_for:
                return
            self._branch.fetch()
            self._fetched = time.monotonic()

    def head(self) -> str:
        # GitPython's Repo keeps one `git cat-file` process per repository, and two threads
        # talking to it at once wait for each other forever: one at a time.
        with self._lock:
            return self._branch.head()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._branch, name)


class _Leads:
    """How many sources the loops of this process lead (the spreading rule of Loop._lead)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0

    def add(self, n: int) -> None:
        with self.lock:
            self.count = max(0, self.count + n)


class _Fleet:
    """The loops of one process, stopped together: what the signal handler and the stop
    watchdog see."""

    def __init__(self, stop: threading.Event, loops: list[Loop]) -> None:
        self.stop, self.loops = stop, loops
        self.done = threading.Event()

    @property
    def applying(self) -> bool:
        return any(loop.applying for loop in self.loops)

    def request_stop(self) -> None:
        self.stop.set()
        for loop in self.loops:
            loop.wake.set()

    def run(self) -> None:
        if len(self.loops) == 1:
            self.loops[0].run()
            return
        threads = [threading.Thread(target=loop.run, name=f"source-{loop.source}", daemon=True)
                   for loop in self.loops]  # fmt: skip
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(0.2)  # short joins: the main thread stays free for signals

    def close(self) -> None:
        for loop in self.loops:
            loop.close()
        self.done.set()


class Loop:
    def __init__(
        self, common: Common, options: WatchOptions, branch: Branch | _SharedBranch,
        stop: threading.Event, metrics: Metrics, health: Health, source: str,
        fleet_leads: _Leads | None = None,
    ) -> None:  # fmt: skip
        self.common = common
        self.options = options
        self.branch = branch
        self.stop = stop
        self.source = source  # the metrics label: the source's name, or "default"
        self.wake = threading.Event()
        self.done = threading.Event()
        self.book = DriftBook()
        self.metrics = metrics.of(source, self.book.statuses)
        self.health = health
        self.drift = DriftWatch(
            self.book,
            lambda: Cluster.connect(
                common.kubeconfig, common.context, cluster=common.cluster, user=common.user
            ),
            on_drift=self._drift_seen, on_expired=self._relist, on_error=self._watch_failed,
            on_streams=self.metrics.watch_streams.set,
        )  # fmt: skip
        self._lock = threading.Lock()
        self._debounce = Debounce(DRIFT_QUIET, DRIFT_MAX_DELAY)
        self._drifted = False  # a pending early round is for drift, not only to list again
        self._rounds = 0
        self._commit = ""
        self._cluster: dict[str, str] = {}  # the context, server, user last logged
        self._holder = holder_identity(WATCH_ROLE)  # this process, in the inventory's Lease
        self._lock_taken: Callable[[], str] = lambda: ""  # why this round's Lease was lost
        self._lease: Lock | None = None  # the Lease this replica leads with, held across rounds
        self._standby: Lock | None = None  # the Lease another replica leads (read, not held)
        self._standby_said = ""  # the holder last logged, so standby is said once
        self._published: tuple[str, str, int] | None = None  # the record's status, as last written
        self._synced_commit = ""  # the last commit this replica applied in full
        self._led: tuple[Cluster, str, str] | None = None  # where the led inventory's record is
        self.fleet_leads = fleet_leads or _Leads()  # how many sources this process leads
        self.interval = options.interval  # between rounds: the source's `interval:` once read
        self._defer_until: float | None = None  # before taking a free Lease (see _lead)
        self._reported: dict[ObjectId, tuple[Status, tuple[object, ...]]] = {}
        self.applying = False  # between the first and the last write of a sync
        self._to_follow: list[WaitTarget] = []  # what this round's sync declared (--wait)
        self._health: dict[ObjectId, tuple[Verdict, str]] = {}  # as last logged
        self._extra: dict[str, object] = {}  # the round's fields, for every line it logs

    def poke(self, *, drift: bool = True) -> None:
        """Something changed live (or a watch must list again): run a round once the burst
        is over."""
        with self._lock:
            self._debounce.poke(time.monotonic())
            self._drifted = self._drifted or drift
        self.wake.set()

    def request_stop(self) -> None:
        self.stop.set()
        self.wake.set()

    def close(self) -> None:
        self.health.alive = False
        self.drift.close()
        if self._lease is not None:  # handed over now, not after --lease-duration
            self._lease.release()
            self._lease = None
            self.fleet_leads.add(-1)
        self.done.set()

    # ---- scheduling ----------------------------------------------------------------------

    def run(self) -> None:
        backoff = Backoff(base=1.0, cap=backoff_cap(self.options.interval))
        next_at = not_before = time.monotonic()
        due = "start"
        while True:
            trigger = self._next(due, next_at, not_before)
            if trigger is None:
                return
            result = self._round(trigger)
            now = time.monotonic()
            if result == "standby":  # another replica leads: try its Lease again soon
                backoff.reset()
                period = self.options.leases.retry_period
                next_at, not_before, due = now + period, now + period, "standby"
            elif result != "failed":
                backoff.reset()
                next_at, not_before, due = now + self.interval, now + MIN_GAP, "interval"
            else:
                delay = backoff.next()
                next_at = not_before = now + delay
                due = "retry"
                log.info(
                    f"retrying in {delay:.1f}s",
                    extra={"event": "backoff", "delay_seconds": delay, "source": self.source},
                )

    def _next(self, due: str, next_at: float, not_before: float) -> str | None:
        """Wait for the next round; what starts it (`due` when its time comes; "drift" when a
        burst of live changes is over, "relist" when a watch expired), or None when stopping."""
        while True:
            self.wake.clear()
            # After the clear: a stop asked between a check and the clear (stop is set before
            # wake) is seen here, not after a backoff of minutes.
            if self.stop.is_set():
                return None
            now = time.monotonic()
            with self._lock:
                drift_at = self._debounce.deadline()
                early = "drift" if self._drifted else "relist"
            if drift_at is not None and now >= max(drift_at, not_before):
                return early
            if now >= next_at:
                return due
            until = next_at if drift_at is None else min(next_at, max(drift_at, not_before))
            self.wake.wait(until - now)

    # ---- one round -----------------------------------------------------------------------

    def _round(self, trigger: str) -> str:
        """One round; how it ended (the loop backs off after "failed")."""
        self._rounds += 1
        number = self._rounds
        with self._lock:
            self._debounce.reset()  # this round reads everything afresh
            self._drifted = False
        started = time.monotonic()
        extra = {"round": number, "trigger": trigger, "source": self.source}
        self._extra = extra  # for the lines the sync engine's callbacks log
        if trigger == "drift" and self.options.sync and self._lease is not None and self._led:
            drifted = sum(1 for *_, status in self.book.statuses() if status != "unchanged")
            self._publish(*self._led, extra, RecordStatus(
                "drifted", self._commit, drifted, f"drift seen through the watch: {drifted} "
                "object(s) differ from git; healing", "Drifted", warning=True))  # fmt: skip
        try:
            outcome = self._standing_by() or self._work(extra)
        except Exception as e:
            outcome = _Outcome("failed", _stage_of(e))
            if isinstance(e, AmbdiffError):
                log.error(f"round {number} failed ({outcome.stage}): {redact(str(e))}",
                          extra={**extra, "event": "round-failed", "stage": outcome.stage})  # fmt: skip
            else:
                log.exception(f"round {number} failed: a bug in ambdiff: {type(e).__name__}: {e}",
                              extra={**extra, "event": "round-failed", "stage": outcome.stage})  # fmt: skip
            self._publish_failure(outcome.stage, e, extra)
        # GitPython's repository objects live in reference cycles and each holds `git
        # cat-file` processes until collected; its docs warn that long-running processes
        # leak them otherwise.
        gc.collect()
        elapsed = time.monotonic() - started
        self.metrics.round_duration.observe(elapsed)
        self.metrics.rounds.labels(trigger, outcome.result).inc()
        if outcome.result == "succeeded":
            self.metrics.last_success.set_to_current_time()
            self.metrics.failing.set(0)
            self.health.ready = True
            self.health.detail = f"ok: round {number} at {self._commit[:12]}"
        elif outcome.result == "failed":
            self.metrics.errors.labels(outcome.stage).inc()
            self.metrics.failing.inc()
            if not self.health.ready:
                self.health.detail = (
                    f"no round has succeeded yet; the last failed ({outcome.stage})"
                )
        if outcome.summary and outcome.result != "standby":
            log.info(f"round {number} ({trigger}): {outcome.summary} ({elapsed:.2f}s)",
                     extra={**extra, "event": "round", "result": outcome.result,
                            "commit": self._commit, "duration_seconds": round(elapsed, 3)})  # fmt: skip
        return outcome.result

    def _work(self, extra: dict[str, object]) -> _Outcome:
        """The round's work. Errors that end it early raise."""
        self.branch.fetch()
        commit = self.branch.head()
        if commit != self._commit:
            log.info(f"branch {self.options.branch} is at {commit[:12]}",
                     extra={**extra, "event": "commit", "commit": commit})  # fmt: skip
            self._commit = commit
        self.metrics.commit.info({"repository": self.branch.description,
                                  "branch": self.options.branch, "commit": commit})  # fmt: skip
        common, settings = self._at(commit)
        desired, state, texts = load_desired(common)
        assert isinstance(state, ClusterState)
        identity = dict(state.cluster.identity)
        if identity != self._cluster:
            self._cluster = identity
            log.info(f"using context {identity['context']} at {identity['server']}",
                     extra={**extra, "event": "cluster", **identity})  # fmt: skip
        if not self.options.sync:
            return self._compare(common, settings, desired, state, commit, extra, texts)
        # One writer at a time: the replica that leads the inventory's Lease, held across
        # rounds; never plan from what another writer is changing.
        lock = self._lead(state.cluster, settings.inventory, common.settings.record_namespace)
        if lock is None:
            return _Outcome("standby", summary=self.health.detail)
        self._lock_taken = lock.lost
        self._to_follow = []
        try:
            outcome = self._compare(common, settings, desired, state, commit, extra, texts)
        finally:
            self._lock_taken = lambda: ""
        # As `sync --wait`: after the writes, with the lock free (following writes nothing).
        if outcome.result == "succeeded" and common.wait and not self.stop.is_set():
            return self._follow(common, state, outcome, extra)
        return outcome

    def _follow(self, common: Common, state: ClusterState, outcome: _Outcome,
                extra: dict[str, object]) -> _Outcome:  # fmt: skip
        """Follow the round's objects until healthy; log each change of an object's health
        (since the last round), and fail the round when one failed or timed out."""

        def changed(status: WaitStatus, elapsed: float) -> None:
            oid = status.target.id
            key = (status.verdict, status.message)
            if self._health.get(oid) == key:  # as the last round left it: said already
                return
            self._health[oid] = key
            bad = status.verdict in (Verdict.FAILED, Verdict.TIMED_OUT)
            detail = f": {status.message}" if status.message else ""
            log.log(logging.ERROR if bad else logging.INFO,
                    f"health: {shown(str(oid))} {status.verdict.value}{detail}",
                    extra={**extra, "event": "health", "kind": oid.kind, "namespace": oid.namespace,
                           "object_name": oid.name, "health": status.verdict.value})  # fmt: skip

        rules = with_built_in(common.settings.health)
        report = follow(state.cluster, self._to_follow, rules, timeout=common.timeout,
                        on_change=changed, pause=self.stop.wait)  # fmt: skip
        counts = {v: len(report.of(v)) for v in Verdict}
        said = (f"{outcome.summary}; health: {counts[Verdict.HEALTHY]} healthy, "
                f"{counts[Verdict.FAILED]} failed, {counts[Verdict.TIMED_OUT]} timed out")  # fmt: skip
        if report.interrupted:
            return _Outcome(
                "interrupted", summary=f"{outcome.summary}; stopped while waiting for health"
            )
        if not report.ok:
            log.error(f"not healthy: {said}", extra={**extra, "event": "unhealthy"})
            return _Outcome("failed", "health", summary=said)
        return replace(outcome, summary=said)

    # ---- leadership ------------------------------------------------------------------------

    def _lead(self, cluster: Cluster, inventory: str, namespace: str) -> Lock | None:
        """The Lease this replica writes under, taken now or kept from an earlier round; None
        while another replica leads the inventory (this one stands by)."""
        lease = self._lease
        if lease is not None and (lease.inventory, lease.namespace) != (inventory, namespace):
            lease.release()  # the commit moved the inventory: lead the new one, or stand by
            self._lease = lease = None
            self.fleet_leads.add(-1)
        if lease is not None and lease.lost():
            log.warning(f"no longer leading inventory {inventory}: {lease.lost()}; standing by",
                        extra={"event": "lead-lost", "inventory": inventory})  # fmt: skip
            lease.abandon()
            self._lease = lease = None
            self.fleet_leads.add(-1)
        if lease is not None:
            return lease
        leases = self.options.leases
        lock = Lock(cluster, inventory, namespace, self._holder, duration=round(leases.duration),
                    renew_every=leases.retry_period, renew_deadline=leases.renew_deadline)  # fmt: skip
        # Spread sources between replicas: a replica that leads k sources already waits k
        # retry periods before taking a free Lease, so one with fewer wins the race.
        with self.fleet_leads.lock:
            led = self.fleet_leads.count
            now = time.monotonic()
            if led and self._defer_until is None:
                self._defer_until = now + led * leases.retry_period
            if led and self._defer_until is not None and now < self._defer_until:
                holder = lock.holder_of()
                if holder:  # taken meanwhile: stand by it, not "waiting"
                    self._defer_until = None
                    self._standby = lock
                    self.metrics.leading.labels(inventory).set(0)
                    self._said_standby(inventory, holder, lock.held_by(holder))
                    return None
                self.health.ready = True
                self.health.detail = (f"waiting to lead inventory {inventory}: this replica leads "
                                      f"{led} source(s) already, another may take it first")  # fmt: skip
                return None
            try:
                lock.acquire(0)
            except LockHeld as e:
                self._defer_until = None
                self._stand_by(lock, inventory, e)
                return None
            self.fleet_leads.count += 1
            self._defer_until = None
        lock.start_renewing()
        self._lease, self._standby, self._standby_said = lock, None, ""
        self._led = (cluster, inventory, namespace)
        self.metrics.leading.labels(inventory).set(1)
        log.info(f"leading inventory {inventory} (Lease {namespace}/{lease_name(inventory)})",
                 extra={"event": "lead", "inventory": inventory, "holder": self._holder})  # fmt: skip
        return lock

    def _stand_by(self, lock: Lock, inventory: str, e: LockHeld) -> None:
        self._standby = lock
        self.metrics.leading.labels(inventory).set(0)
        self._said_standby(inventory, lock.holder_of(), e.message)

    def _said_standby(self, inventory: str, holder: str, why: str) -> None:
        """/readyz names the leader; the log says so once per leader."""
        self.health.ready = True  # standing by is this replica's job, done
        self.health.detail = f"standby: inventory {inventory} is led by {holder or 'another'}"
        if holder != self._standby_said:
            self._standby_said = holder
            log.info(f"standing by: {why}",
                     extra={**self._extra, "event": "standby", "inventory": inventory,
                            "holder": holder})  # fmt: skip

    def _standing_by(self) -> _Outcome | None:
        """A standby round while the leader still holds the Lease: one read, no git fetch
        and no diff; None when the Lease is free (a full round takes it)."""
        if self._standby is None or self._lease is not None:
            return None
        holder = self._standby.holder_of()
        if not holder:
            return None
        if holder != self._standby_said:  # another replica took over from the one we named
            self._said_standby(self._standby.inventory, holder, self._standby.held_by(holder))
        return _Outcome("standby", summary=self.health.detail)

    def _should_stop(self) -> bool:
        """Between two objects: a stop was asked for, or another writer took the Lease."""
        return self.stop.is_set() or bool(self._lock_taken())

    def _compare(
        self, common: Common, settings: SyncSettings, desired: list[Resource],
        state: ClusterState, commit: str, extra: dict[str, object],
        texts: dict[str, list[str]],
    ) -> _Outcome:  # fmt: skip
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
            return _Outcome("succeeded", summary=summary(engine.report, commit))
        publish = partial(self._publish, state.cluster, settings.inventory,
                          common.settings.record_namespace, extra)  # fmt: skip
        if engine.refusal:
            log.error(f"{engine.refusal} Not in the loop: if this is meant, stop the watch (it "
                      "holds the inventory's Lease while it leads), then run `ambdiff sync "
                      "--prune --allow-mass-prune` by hand.",
                      extra={**extra, "event": "prune-refused"})  # fmt: skip
            publish(RecordStatus("failed", commit, len(engine.plan.actions),
                           f"prune refused: {engine.refusal}", "SyncFailed", warning=True))  # fmt: skip
            return _Outcome("failed", "prune-guard")
        self._to_follow = targets_of(
            desired, [a for a in engine.plan.actions if a.verb is Verb.DELETE]
        )
        for skipped in engine.plan.skipped:
            if self.options.sync and not skipped.reason.startswith("prune is off"):
                log.info(f"{skipped}: {skipped.reason}",
                         extra={**extra, "event": "prune-skipped", "object": str(skipped.id)})  # fmt: skip
        if engine.plan.empty:
            engine.write_record(None)
            self._synced_commit = commit
            settled = in_sync_or_kept(engine.report, commit)
            key = (settled.result, settled.revision, settled.drifted)
            publish(settled, event=settled.result != "in-sync" and key != self._published)
            return _Outcome("succeeded", summary=summary(engine.report, commit))
        if self.stop.is_set():
            return _Outcome("interrupted", summary="stopped before applying")
        if _check_fails(desired, common, state.default_namespace, extra, texts):
            publish(RecordStatus("failed", commit, len(engine.plan.actions), "check found errors at "
                           "error level; nothing was written", "SyncFailed", warning=True))  # fmt: skip
            return _Outcome("failed", "preflight")
        self.applying = True
        try:
            result = engine.run(should_stop=self._should_stop, after_each=self._applied)
        finally:
            self.applying = False
        if result.record_error:
            log.error(result.record_error, extra={**extra, "event": "record-failed"})
        if result.failures:
            publish(of_failures(result.failures, commit, "preflight"))
        elif result.outcome is not None and not self._lock_taken():
            # The same commit applied again: the cluster had drifted from it, now healed.
            publish(of_report(result.outcome, commit, healed=commit == self._synced_commit))
            if result.outcome.complete:
                self._synced_commit = commit
        return self._after_sync(result, commit, extra)

    def _publish_failure(self, stage: str, e: Exception, extra: dict[str, object]) -> None:
        """A round that failed before it could say so itself (reading git, the manifests, the
        settings), while this replica leads: the record says failed, with an Event once per
        failure (the retries of the same one leave none)."""
        if not (self.options.sync and self._lease is not None and self._led):
            return
        if stage not in ("git", "config", "manifests", "internal"):
            return  # the stages after the lead publish their own status
        why = (
            redact(str(e))
            if isinstance(e, AmbdiffError)
            else f"a bug in ambdiff: {type(e).__name__}"
        )
        status = RecordStatus("failed", self._commit, 0, f"{stage} failed, nothing written: {why}",
                              "SyncFailed", warning=True)  # fmt: skip
        key = (status.result, status.revision, status.drifted)
        self._publish(*self._led, extra, status, event=key != self._published)

    def _publish(self, cluster: Cluster, inventory: str, namespace: str,
                 extra: dict[str, object], status: RecordStatus, *, event: bool = True) -> None:  # fmt: skip
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
        selection = select_source(settings.sources, paths, default_paths=settings.paths,
                                  names=names)  # fmt: skip
        settled = settle("watch", self.common.given, settings, selection.source)
        # The source's own interval, unless --interval (or AMBDIFF_INTERVAL) was given.
        if selection.source.interval is not None and not o.interval_given:
            self.interval = selection.source.interval
        common = replace(self.common, rev=commit, settings=settings,
                         paths=selection.read_paths, selection=selection,
                         namespace=settled.namespace, prune=settled.prune,
                         wait=settled.wait, timeout=settled.timeout)  # fmt: skip
        return common, SyncSettings(
            inventory=common.inventory, ignore=settings.ignore,
            prune=settled.prune and not selection.narrowed, force_conflicts=o.force_conflicts,
            mass_prune_share=settings.mass_prune_share,
        )  # fmt: skip

    def _after_sync(self, result: SyncResult, commit: str, extra: dict[str, object]) -> _Outcome:
        for group in grouped(result.failures):
            if group.cause:  # one line for a cause many objects share (a dead server, RBAC)
                objects = [str(f.action.id) for f in group.failures]
                log.error(f"preflight failed for {len(objects)} objects: {group.cause} "
                          f"({listed(group)})",
                          extra={**extra, "event": "preflight-failed", "cause": group.cause,
                                 "objects": objects})  # fmt: skip
                continue
            failure = group.failures[0]
            origin = f" ({failure.action.origin})" if failure.action.origin else ""
            log.error(f"preflight failed for {failure.action}{origin}: {failure.message}",
                      extra={**extra, "event": "preflight-failed", "object": str(failure.action.id)})  # fmt: skip
        if result.failures:
            return _Outcome("failed", "preflight")
        outcome = result.outcome
        assert outcome is not None
        applied, failed, waiting = (len(outcome.of(s)) for s in State)
        if outcome.interrupted:
            return _Outcome("interrupted", summary=f"stopped between two objects: {applied} "
                            f"applied, {waiting} not attempted (none half-applied)")  # fmt: skip
        if not outcome.complete:
            log.error(f"sync failed: {applied} applied, {failed} failed, {waiting} not attempted",
                      extra={**extra, "event": "sync-failed"})  # fmt: skip
            return _Outcome("failed", "apply")
        return _Outcome("succeeded", summary=summary(result.report, commit, applied=applied))

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
            log.info(f"out of sync: {describe(o)}", extra={**extra, **fields(o), "event": "drift"})
        gone = {o.id for o in report}
        for oid in [oid for oid in self._reported if oid not in gone]:
            del self._reported[oid]

    def _applied(self, action: Action, state: State) -> None:
        self.metrics.actions.labels(action.verb.value, state.value.replace(" ", "_")).inc()
        if state is State.APPLIED:
            if action.verb is Verb.DELETE:
                self.book.forget(action.id)
            else:
                self.book.record(ObjectDiff(action.id, action.api_version, Status.UNCHANGED,
                                            action.origin))  # fmt: skip
            self._reported.pop(action.id, None)
        log.log(logging.INFO if state is State.APPLIED else logging.ERROR,
                f"{state.value}: {action}",
                extra={**self._extra, "event": "sync-action", "action": action.verb.value,
                       "object": str(action.id), "state": state.value})  # fmt: skip

    def _drift_seen(self, diff: ObjectDiff) -> None:
        self.metrics.drift_events.labels(diff.id.kind, diff.id.namespace).inc()
        log.info(f"drift seen through the watch: {describe(diff)}",
                 extra={**fields(diff), "event": "drift-watch", "source": self.source})  # fmt: skip
        self.poke()

    def _relist(self) -> None:
        self.poke(drift=False)

    def _watch_failed(self, error: AmbdiffError) -> None:
        self.metrics.errors.labels("watch").inc()
        log.warning(f"{redact(str(error))} Retrying; rounds every "
                    f"{self.options.interval:g}s still notice drift.",
                    extra={"event": "watch-failed"})  # fmt: skip


def _check_fails(
    desired: list[Resource], common: Common, default_namespace: str, extra: dict[str, object],
    texts: dict[str, list[str]],
) -> bool:  # fmt: skip
    """Preflight's first half, as in `ambdiff sync`: check's rules at error level."""
    disabled = validate_rule_ids(common.settings.check_disable, "check.disable")
    report = check_resources(desired, default_namespace=common.default_namespace(default_namespace),
                             disabled=disabled, texts=texts)  # fmt: skip
    errors = [f for f in report.findings if f.severity is Severity.ERROR]
    for f in errors:
        log.error(f"preflight: {f.where}: {f.message} [{f.rule}]; nothing was written",
                  extra={**extra, "event": "preflight-failed", "rule": f.rule,
                         "object": f.object})  # fmt: skip
    return bool(errors)


@dataclass(frozen=True)
class _Outcome:
    result: str  # succeeded | failed | interrupted
    stage: str = ""  # where a failed round failed
    summary: str = ""


def _stage_of(error: BaseException) -> str:
    if isinstance(error, GitError):
        return "git"
    if isinstance(error, ConfigError):
        return "config"
    if isinstance(error, ManifestError):
        return "manifests"
    if isinstance(error, LockHeld):
        return "lock"
    if isinstance(error, ClusterError):
        return "cluster"
    return "internal"


@contextmanager
def _signals(loop: _Fleet) -> Iterator[None]:
    """SIGTERM or SIGINT: stop after the object in flight (a watchdog ends the process if a
    request hangs past STOP_GRACE); a second signal stops at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        if loop.stop.is_set():
            raise KeyboardInterrupt
        log.info(f"{signal.Signals(signum).name}: stopping after the work in flight",
                 extra={"event": "signal"})  # fmt: skip
        loop.request_stop()
        threading.Thread(target=_watchdog, args=(loop,), name="stop-watchdog", daemon=True).start()

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _watchdog(loop: _Fleet) -> None:
    """End the process STOP_GRACE after a stop was asked, whatever is in flight: the pod's
    grace period (30 s in examples/in-cluster) ends in SIGKILL, and a line that says what
    was cut short is better than none."""
    if loop.done.wait(STOP_GRACE):
        return
    if loop.applying:
        said = (f"a write did not finish within {STOP_GRACE:.0f}s of the stop; exiting with it "
                "in flight (server-side apply is idempotent: the next round, or a sync, applies "
                "it again)")  # fmt: skip
    else:
        said = (f"a request did not finish within {STOP_GRACE:.0f}s of the stop; exiting "
                "without it (nothing was being written)")  # fmt: skip
    busy = sorted(t.name for t in threading.enumerate() if t is not threading.current_thread())
    log.warning(said, extra={"event": "stop-forced", "writing": loop.applying, "threads": busy})
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(Exit.INTERRUPTED)
