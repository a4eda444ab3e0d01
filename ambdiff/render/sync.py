"""The sync plan, preflight failures and the applied / failed / not-attempted report; and
`-o json`'s document (docs/sync.md)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from rich.markup import escape

from ambdiff.check import Finding
from ambdiff.render.console import Consoles
from ambdiff.render.diff import change_line
from ambdiff.render.text import json_text, shown
from ambdiff.sync.executor import ApplyReport, Attempt, Failure, FailureGroup, grouped
from ambdiff.sync.plan import Action, Plan, Verb

_SIGIL = {Verb.CREATE: ("+", "green"), Verb.UPDATE: ("~", "yellow"), Verb.DELETE: ("-", "red")}
MAX_LISTED = 10  # objects named for a cause that many share
_ATTEMPT_STYLE = {
    Attempt.APPLIED: "green",
    Attempt.FAILED: "bold red",
    Attempt.NOT_ATTEMPTED: "dim",
}


def _line(action: Action) -> str:
    sigil, style = _SIGIL[action.verb]
    origin = f"  {action.origin}" if action.origin else ""
    text = f"{sigil} {action.verb.value} {action.id}  ({action.api_version}){origin}"
    return f"[{style}]{escape(shown(text))}[/]  [dim]{escape(shown(action.reason))}[/]"


def plan(p: Plan, consoles: Consoles, *, where: str) -> None:
    out = consoles.out
    if p.empty:
        out.print(f"Nothing to do: git and {escape(shown(where))} agree.")
    else:
        c = p.counts()
        out.print(
            f"[bold]Plan[/] for {escape(shown(where))}: {c['create']} to create, "
            f"{c['update']} to update, {c['delete']} to delete"
        )
        for action in p.actions:
            out.print(f"  {_line(action)}")
            for change in action.changes:
                out.print(f"      {escape(change_line(change))}")
    for action in p.skipped:
        out.print(
            f"  [dim]not deleting {escape(shown(str(action.id)))}: {escape(shown(action.reason))}[/]"
        )


def check_errors(errors: Sequence[Finding], consoles: Consoles) -> None:
    err = consoles.err
    err.print(f"[bold red]ambdiff check found {len(errors)} error(s); nothing was written:[/]")
    for f in errors:
        err.print(
            f"  [red]✗[/] {escape(shown(f.where))}: {escape(shown(f.message))} "
            f"[dim]\\[{escape(shown(f.rule))}][/]"
        )


def preflight_failures(
    failures: list[Failure], consoles: Consoles, staged: Sequence[Action] = ()
) -> None:
    err = consoles.err
    if staged:
        err.print(
            f"[bold red]Preflight failed for {len(failures)} object(s). Only its first "
            f"stage was written: {len(staged)} Namespace(s)/CRD(s) created so that what "
            "goes into them could be dry-run:[/]"
        )
        for action in staged:
            err.print(f"  [yellow]+[/] {escape(shown(str(action)))}")
        err.print("[bold red]Nothing else was written:[/]")
    else:
        err.print(
            f"[bold red]Preflight failed for {len(failures)} object(s); nothing was written:[/]"
        )
    for group in grouped(failures):
        if not group.cause:
            f = group.failures[0]
            origin = f" ({f.action.origin})" if f.action.origin else ""
            err.print(f"  [red]✗[/] {escape(shown(f'{f.action}{origin}: {f.message}'))}")
            continue
        hint = f" {group.hint}" if group.hint else ""
        err.print(
            f"  [red]✗[/] {len(group.failures)} objects: {escape(shown(group.cause))}."
            f"{escape(shown(hint))}"
        )
        err.print(f"      [dim]{escape(shown(listed(group)))}[/]")


def listed(group: FailureGroup, most: int = MAX_LISTED) -> str:
    """The objects of a group, the first `most` by name."""
    names = [str(f.action.id) for f in group.failures]
    more = f", and {len(names) - most} more (-o json lists each)" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def report(r: ApplyReport, consoles: Consoles) -> None:
    out = consoles.out
    for action, attempt, message in r.attempts:
        mark = {Attempt.APPLIED: "✓", Attempt.FAILED: "✗", Attempt.NOT_ATTEMPTED: "·"}[attempt]
        detail = f": {escape(shown(message))}" if message else ""
        text = escape(shown(str(action)))
        out.print(f"  [{_ATTEMPT_STYLE[attempt]}]{mark} {attempt.value:<13} {text}[/]{detail}")
    applied, failed, waiting = (len(r.of(s)) for s in Attempt)
    if r.complete:
        out.print(f"[bold green]Sync succeeded[/]: {applied} applied.")
    else:
        why = "interrupted" if r.interrupted else "failed"
        out.print(
            f"[bold red]Sync {why}[/]: {applied} applied, {failed} failed, {waiting} not "
            "attempted. Fix the cause and run sync again: it converges."
        )


# ---- -o json ---------------------------------------------------------------------------


def json_document(cluster: Mapping[str, str], inventory: str) -> dict[str, Any]:
    """`-o json`'s document, every key present from the start (docs/sync.md): a stage that did
    not run leaves its key empty, so a pipeline reads `.result` and `.stage` alone. The
    command fills it as its stages run."""
    return {
        "result": None,
        "stage": None,
        "cluster": dict(cluster),
        "inventory": inventory,
        "check": [],
        "plan": None,
        "notes": [],
        "preflight": [],
        "staged": [],
        "report": None,
        "refused": None,
        "record_error": None,
        "lock_lost": None,
        "health": None,
    }


def ended(document: dict[str, Any], result: str, stage: str | None = None) -> dict[str, Any]:
    """Say how the sync ended: `result` succeeded | failed | refused | interrupted, and the
    `stage` that ended it (check, plan, preflight, apply, record, wait) unless it succeeded."""
    document["result"], document["stage"] = result, stage
    return document


def finding_json(f: Finding) -> dict[str, Any]:
    return {
        "rule": f.rule,
        "file": f.file,
        "line": f.line,
        "object": f.object,
        "message": f.message,
    }


def failure_json(f: Failure) -> dict[str, str]:
    return {"action": str(f.action), "error": f.message, **({"cause": f.cause} if f.cause else {})}


def finish(document: dict[str, Any], as_json: bool, consoles: Consoles, code: int) -> int:
    """Write the document when -o json asked for it; the exit code, unchanged."""
    if as_json:
        consoles.out.file.write(json_text(json.dumps(document, indent=2, allow_nan=False)) + "\n")
    return code
