"""`ambdiff sync`: plan → preflight → confirm → apply → prune → report."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ambdiff.check import Severity, check_resources, validate_rule_ids
from ambdiff.commands.diff import load_desired
from ambdiff.commands.owned import (
    add_missing_members,
    open_ownership,
    ownership_notes,
    revision,
    takeover_notes,
)
from ambdiff.commands.signals import stop_on_signal
from ambdiff.errors import ConfigError, Exit
from ambdiff.health import with_built_in
from ambdiff.live import ClusterState
from ambdiff.model import Resource
from ambdiff.options import Common, refuse_external
from ambdiff.render import health as render_health
from ambdiff.render import sync as render
from ambdiff.render.console import Consoles, make_consoles
from ambdiff.render.progress import progress
from ambdiff.settings import DEFAULT_TIMEOUT
from ambdiff.sync.engine import Sync, SyncSettings
from ambdiff.sync.executor import Attempt
from ambdiff.sync.lock import Lock, holder_identity
from ambdiff.sync.plan import Action, Verb
from ambdiff.sync.status import RecordStatus, in_sync_or_kept, of_failures, of_report
from ambdiff.sync.status import publish as publish_status
from ambdiff.sync.wait import Target, follow, targets_of


@dataclass
class _Ran:
    """How the locked part of a sync ended: the exit code, the JSON report (None when a "no"
    at the prompt left nothing to report), and what --wait is to follow (None: nothing, the
    sync did not get that far)."""

    code: int
    result: dict[str, Any] | None
    targets: list[Target] | None = None


@dataclass(frozen=True)
class SyncOptions:
    inventory: str
    yes: bool = False
    dry_run: bool = False
    prune: bool = False
    prune_cascading: bool = False
    force_conflicts: bool = False
    plan_out: Path | None = None
    allow_mass_prune: bool = False
    lock_timeout: float = 60.0
    adopt_labelled: bool = False
    wait: bool = False  # follow what git declares until healthy (ambdiff.sync.wait)
    timeout: float = DEFAULT_TIMEOUT


def run(
    common: Common,
    options: SyncOptions,
    *,
    consoles: Consoles | None = None,
    confirm: Callable[[str], bool] | None = None,
    after_each: Callable[[Action, Attempt], None] | None = None,
) -> int:
    """`confirm(question)` asks a person (the CLI passes a terminal prompt, or None when
    stdin is not a terminal); `after_each` lets tests act between two objects."""
    consoles = consoles or make_consoles(common.color)
    as_json = common.output == "json"
    if common.output not in ("human", "json"):
        raise ConfigError(f"-o {common.output} is not a sync format; use human or json.")
    if common.live_file is not None:
        raise ConfigError("sync writes to a cluster; it cannot be combined with --live-file.")
    refuse_external(common, "sync")
    if not options.dry_run and not options.yes and confirm is None:
        # Before the cluster is read: a CI job that forgot --yes fails without needing one.
        raise ConfigError(
            "sync writes to the cluster and stdin is not a terminal to confirm on.",
            hint="Pass --yes (as CI should), or --dry-run to only check.",
        )
    with progress(consoles, "Reading manifests", stage=True):
        desired, state, texts = load_desired(common, consoles)
    assert isinstance(state, ClusterState)
    errors = [
        f
        for f in check_resources(
            desired,
            default_namespace=common.default_namespace(state.default_namespace),
            disabled=validate_rule_ids(common.settings.check_disable, "check.disable"),
            texts=texts,
        ).findings
        if f.severity is Severity.ERROR
    ]
    del texts  # (check's, for line numbers: not held while the cluster is read and compared)
    document = render.json_document(state.cluster.identity, options.inventory)
    if errors:
        document["check"] = [render.finding_json(f) for f in errors]
        if not as_json:
            render.check_errors(errors, consoles)
        return render.finish(
            render.ended(document, "failed", "check"), as_json, consoles, Exit.USAGE
        )
    lock = None
    if not options.dry_run:
        # Before anything is read: a plan made from what another writer is changing would
        # mix two revisions.
        lock = Lock(
            state.cluster, options.inventory, common.settings.record_namespace, holder_identity()
        )
        lock.acquire(
            options.lock_timeout, on_wait=lambda said: consoles.err.print(said, markup=False)
        )
        lock.start_renewing()
    at_once = False
    try:
        taken = (lambda: lock.taken) if lock is not None else (lambda: "")
        ran = _locked(
            common, options, desired, state, consoles, confirm, after_each, as_json, taken, document
        )
    except KeyboardInterrupt:  # a second Ctrl-C: out now, with no request that could hang
        at_once = True
        raise
    finally:
        if lock is not None and at_once:
            lock.abandon()
        elif lock is not None:
            lock.release()
    # Waiting writes nothing: the lock is free for the next sync while this one watches.
    if ran.targets is not None and options.wait and ran.result is not None:
        ran.code = _wait(common, options, state, ran, consoles, as_json)
    if ran.result is None:
        return ran.code
    return render.finish(ran.result, as_json, consoles, ran.code)


def _wait(
    common: Common,
    options: SyncOptions,
    state: ClusterState,
    ran: _Ran,
    consoles: Consoles,
    as_json: bool,
) -> int:
    """Follow what the sync declared until healthy (exit 0), failed or timed out (1), or
    Ctrl-C (130); the report goes into the result."""
    assert ran.targets is not None and ran.result is not None
    rules = with_built_in(common.settings.health)
    with (
        _stop_on_interrupt() as stop_requested,
        render_health.watching(consoles, len(ran.targets), options.timeout) as display,
    ):
        report = follow(
            state.cluster,
            ran.targets,
            rules,
            timeout=options.timeout,
            on_change=display.change,
            on_round=display.round,
            pause=stop_requested.wait,
        )
    ran.result["health"] = report.to_json()
    if not as_json:
        render_health.report(report, consoles)
    if report.interrupted:
        render.ended(ran.result, "interrupted", "wait")
        return Exit.INTERRUPTED
    if not report.ok:
        render.ended(ran.result, "failed", "wait")
    return ran.code if report.ok else Exit.DIFFERENT


def _locked(
    common: Common,
    options: SyncOptions,
    desired: list[Resource],
    state: ClusterState,
    consoles: Consoles,
    confirm: Callable[[str], bool] | None,
    after_each: Callable[[Action, Attempt], None] | None,
    as_json: bool,
    taken: Callable[[], str],
    result: dict[str, Any],
) -> _Ran:
    """The sync once its lock is held; `taken()` says why the lock was lost, if it was.
    `result`: the JSON document (_document), filled as the stages run."""
    where = state.description
    ownership = open_ownership(
        common, state, options.inventory, desired, adopt_labelled=options.adopt_labelled
    )
    with progress(consoles, "Reading live objects", stage=True) as update:
        live = state.fetch(desired, update, options.inventory, ownership.stray_kinds())
        add_missing_members(state, ownership, live)
    state.require_complete()
    settings = SyncSettings(
        inventory=options.inventory,
        ignore=common.settings.ignore,
        prune=options.prune and not common.narrowed,
        prune_cascading=options.prune_cascading,
        force_conflicts=options.force_conflicts,
        mass_prune_share=common.settings.mass_prune_share,
        allow_mass_prune=options.allow_mass_prune,
    )
    rev = revision(common)
    engine = Sync(state.cluster, desired, live, settings, ownership, rev)
    the_plan = engine.plan

    def publish(status: RecordStatus, *, event: bool = True) -> None:
        """The record's status and an Event: never fails the sync (a refusal is a note)."""
        said = publish_status(
            state.cluster, options.inventory, common.settings.record_namespace, status, event=event
        )
        if said:
            result["notes"].append(said)
            if not as_json:
                consoles.err.print(f"Note: {said}", markup=False)

    if options.plan_out is not None:
        options.plan_out.write_text(
            json.dumps(the_plan.to_json(), indent=2, allow_nan=False) + "\n"
        )
    result["plan"] = the_plan.to_json()
    ids = [r.id for r in desired]
    notes = ownership_notes(
        ownership, ids, live, common, inventory=options.inventory, prune=options.prune, verb="sync"
    )
    written = [a.id for a in the_plan.actions if a.verb is not Verb.DELETE]
    notes += takeover_notes(written, live, "sync")
    result["notes"] = notes
    if not as_json:
        render.plan(the_plan, consoles, where=where)
        for note in notes:
            consoles.err.print(note, markup=False)
    if engine.refusal:
        result["refused"] = engine.refusal
        if not as_json:
            consoles.err.print(
                f"Refused: {engine.refusal} Rerun with --allow-mass-prune if this is meant.",
                markup=False,
            )
        return _Ran(Exit.USAGE, render.ended(result, "refused", "plan"))
    if the_plan.empty:
        if not options.dry_run:
            engine.write_record(None)
            _record_failed(engine.record_error, result, as_json, consoles)
        code = Exit.DIFFERENT if engine.record_error else Exit.OK
        if engine.record_error:
            render.ended(result, "failed", "record")
        else:
            render.ended(result, "succeeded")
        if not options.dry_run and not engine.record_error:
            settled = in_sync_or_kept(engine.report, rev)
            publish(settled, event=settled.result != "in-sync")
        return _Ran(code, result, None if options.dry_run else targets_of(desired, ()))

    with progress(consoles, "Preflight (server-side dry run)", stage=True) as update:
        failures = engine.preflight(update)
    result["preflight"] = [render.failure_json(f) for f in failures]
    if failures:
        if not as_json:
            render.preflight_failures(failures, consoles)
        if not options.dry_run:
            publish(of_failures(failures, rev, "preflight"))
        return _Ran(Exit.USAGE, render.ended(result, "failed", "preflight"))
    if engine.unchecked and not as_json:
        later = (
            "only once those exist (--dry-run creates nothing)"
            if options.dry_run
            else "after it creates those, before anything else is written"
        )
        consoles.err.print(
            f"{len(engine.unchecked)} object(s) go into a Namespace or are of a CRD that this "
            f"sync creates: they are dry-run {later}."
        )
    if options.dry_run:
        if not as_json:
            consoles.out.print(
                f"Preflight passed: {len(the_plan.actions)} action(s) would be applied "
                "(--dry-run: nothing was written)."
            )
        return _Ran(Exit.OK, render.ended(result, "succeeded"))
    if not options.yes:
        assert confirm is not None  # checked before anything was read
        if not confirm(f"Apply these {len(the_plan.actions)} action(s) to {where}?"):
            consoles.err.print("Not confirmed: nothing was written.")
            return _Ran(Exit.USAGE, None)  # stopped before writing, as preflight does
    failures = engine.stage()
    result["staged"] = [str(a) for a in engine.staged]
    if failures:
        result["preflight"] = [render.failure_json(f) for f in failures]
        if not as_json:
            render.preflight_failures(failures, consoles, staged=engine.staged)
        publish(of_failures(failures, rev, "preflight"))
        return _Ran(Exit.USAGE, render.ended(result, "failed", "preflight"))

    with (
        _stop_on_interrupt(ONE_MORE) as stop_requested,
        progress(consoles, "Applying", stage=True) as update,
    ):
        done = 0

        def each(action: Action, attempt: Attempt) -> None:
            nonlocal done
            done += 1
            update(done, len(the_plan.actions))
            if after_each is not None:
                after_each(action, attempt)

        # Another writer took the Lease (ours could not be renewed): stop between objects.
        apply_report = engine.apply(
            should_stop=lambda: stop_requested.is_set() or bool(taken()), after_each=each
        )
    result["report"] = apply_report.to_json()
    if taken():
        result["lock_lost"] = taken()
        consoles.err.print(f"Stopped: {taken()}.", markup=False)
    if not as_json:
        render.report(apply_report, consoles)
    _record_failed(engine.record_error, result, as_json, consoles)
    if not taken():  # the Lease is still this sync's: the status is its to write
        publish(of_report(apply_report, rev))
    code = (
        Exit.OK
        if apply_report.complete
        else Exit.INTERRUPTED
        if apply_report.interrupted
        else Exit.DIFFERENT
    )
    if code == Exit.OK and engine.record_error:
        code = Exit.DIFFERENT
    if code == Exit.OK:
        render.ended(result, "succeeded")
    elif apply_report.interrupted or taken():
        render.ended(result, "interrupted", "apply")
    else:
        render.ended(result, "failed", "apply" if not apply_report.complete else "record")
    if not apply_report.complete:
        return _Ran(code, result)
    deleted = [a for a in the_plan.actions if a.verb is Verb.DELETE]
    return _Ran(code, result, targets_of(desired, deleted))


def _record_failed(error: str, result: dict[str, Any], as_json: bool, consoles: Consoles) -> None:
    if error:
        result["record_error"] = error
        if not as_json:
            consoles.err.print(error, markup=False)


ONE_MORE = "Stopping after the object in flight; press Ctrl-C again to stop at once."


def _stop_on_interrupt(said: str = "") -> AbstractContextManager[threading.Event]:
    """Ctrl-C (or SIGTERM) during apply finishes the object in flight, then stops; during
    --wait it stops waiting. The event is set when that was asked."""

    def say(signum: int) -> None:
        if said:
            with contextlib.suppress(OSError):
                sys.stderr.write(said + "\n")
                sys.stderr.flush()

    return stop_on_signal(on_first=say)
