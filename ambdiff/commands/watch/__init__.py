"""`ambdiff watch`: the continual diff-and-sync loop.

Each round fetches the branch, resolves its head, diffs that commit (read from git's object
store) with the cluster and, with `--sync`, applies it through the sync engine. Between rounds
the API watches of `ambdiff.drift` notice hand edits within seconds; the periodic round is the
backstop. Metrics and health are served on `--metrics-port`; failures are retried with
exponential backoff; SIGTERM or SIGINT stops the loop between two objects, never inside one.

The package: `run` (here) starts a `Loop` (loop.py) per source in a `Fleet` (fleet.py); each
loop's `Scheduler` (scheduler.py) says when a round runs, its `Leadership` (lead.py) holds the
inventory's Lease with --sync, and its `RoundObserver` (observer.py) turns each round's typed
`Outcome` (outcome.py) into metrics, health and a log line.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import replace
from pathlib import Path

from ambdiff import logs
from ambdiff.commands.watch.branch import SharedBranch
from ambdiff.commands.watch.fleet import Fleet
from ambdiff.commands.watch.lead import Leads
from ambdiff.commands.watch.loop import Loop
from ambdiff.commands.watch.options import Leases, WatchOptions
from ambdiff.commands.watch.outcome import stage_of
from ambdiff.errors import ConfigError, Exit, GitError
from ambdiff.gitsource import Branch, GitRevision, redact
from ambdiff.metrics import Endpoint, Health, Healths, Metrics
from ambdiff.options import Common
from ambdiff.render.text import shown
from ambdiff.schedule import Backoff, backoff_cap
from ambdiff.settings import CONFIG_NAME, FileSettings, load_text
from ambdiff.sources import DEFAULT as DEFAULT_SOURCE

__all__ = ["Leases", "WatchOptions", "default_cache_dir", "open_branch", "run"]

log = logging.getLogger(__name__)


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
    fleet = Fleet(stop)
    try:
        with fleet.stopped_by_signals():
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
            shared, leads = SharedBranch(branch), Leads()
            for label, paths in served:
                health = healths[label] = Health()
                loop_options = replace(options, paths=paths)
                fleet.loops.append(
                    Loop(common, loop_options, shared, stop, metrics, health, label, leads)
                )
            mode = "diff and sync" if options.sync else "diff only, nothing is written"
            where = (
                f"; metrics on http://{options.metrics_address}:{endpoint.port}/metrics"
                if endpoint
                else ""
            )
            names = ", ".join(label for label, _ in served)
            every = (
                f"every {options.interval:g}s"
                if options.interval_given or len(served) == 1
                else f"every {options.interval:g}s unless a source sets its own interval"
            )
            log.info(
                f"following branch {options.branch} of {branch.description} {every} "
                f"({mode}), source(s) {names}{where}",
                extra={
                    "event": "start",
                    "repository": branch.description,
                    "branch": options.branch,
                    "interval_seconds": options.interval,
                    "sync": options.sync,
                    "sources": [n for n, _ in served],
                },
            )
            fleet.run()
    finally:
        fleet.close()
        if endpoint is not None:
            endpoint.close()
    log.info("stopped", extra={"event": "stop"})
    return Exit.OK


def _served(
    common: Common, options: WatchOptions, branch: Branch, stop: threading.Event
) -> list[tuple[str, tuple[str, ...]]] | None:
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
            log.error(
                f"cannot read branch {options.branch} yet: {redact(str(e))} Retrying in "
                f"{delay:.1f}s.",
                extra={"event": "round-failed", "stage": stage_of(e)},
            )
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
