"""The diff report in every output format: human, diff (unified), json; markdown is in
`ambdiff.render.markdown`."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

from rich.markup import escape
from rich.text import Text

from ambdiff.model import JSON, MISSING, Change, DiffReport, ObjectDiff, Op, Status
from ambdiff.render.console import Consoles
from ambdiff.render.markdown import markdown
from ambdiff.render.text import json_text, safe_line, shown
from ambdiff.yamlio import dump

_SIGIL = {Status.ADDED: "+", Status.CHANGED: "~", Status.REMOVED: "-", Status.UNCHANGED: "="}
_STYLE = {
    Status.ADDED: "green",
    Status.CHANGED: "yellow",
    Status.REMOVED: "red",
    Status.UNCHANGED: "dim",
}
_OP_STYLE = {Op.ADD: "green", Op.CHANGE: "yellow", Op.REMOVE: "red"}
_NOTE = {
    Status.ADDED: "not in the cluster",
    Status.REMOVED: "in this inventory, no longer in git: `sync --prune` deletes it",
}
_SIGIL_OP = {Op.ADD: "+", Op.CHANGE: "~", Op.REMOVE: "-"}
MAX_VALUE = 120


def render(
    report: DiffReport,
    fmt: str,
    consoles: Consoles,
    *,
    where: str,
    verbose: int = 0,
    cluster: Mapping[str, str] | None = None,
) -> None:
    """`cluster`: the context, server, user and namespace compared with (None offline)."""
    if fmt == "json":
        data = to_json(report)
        if cluster is not None:
            data = {"cluster": dict(cluster), **data}
        consoles.out.file.write(json_text(json.dumps(data, indent=2, allow_nan=False)) + "\n")
    elif fmt == "markdown":
        consoles.out.file.write(markdown(report, where=where, cluster=cluster))
    elif fmt == "diff":
        unified(report, consoles)
    else:
        human(report, consoles, where=where, verbose=verbose)


# ---- json ------------------------------------------------------------------------------


def to_json(report: DiffReport) -> dict[str, Any]:
    """The shape docs/diff.md documents under "-o json"."""
    return {
        "summary": {k: report.summary[k] for k in ("added", "changed", "unchanged", "removed")},
        "resources": [_object_json(o) for o in report],
        "errors": list(report.errors),
    }


def _object_json(o: ObjectDiff) -> dict[str, Any]:
    return {
        "apiVersion": o.api_version,
        "kind": o.id.kind,
        "namespace": o.id.namespace or None,
        "name": o.id.name,
        "status": o.status.value,
        "origin": o.origin.as_json() if o.origin else None,
        "changes": [_change_json(c) for c in o.changes],
    }


def _change_json(c: Change) -> dict[str, Any]:
    out: dict[str, Any] = {"op": c.op.value, "path": c.path_str}
    if c.old is not MISSING and c.op is not Op.ADD:
        out["old"] = c.old
    if c.new is not MISSING and c.op is not Op.REMOVE:
        out["new"] = c.new
    if c.masked:
        out["masked"] = True
    return out


# ---- human -----------------------------------------------------------------------------


def _value(value: JSON) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _header(o: ObjectDiff) -> str:
    origin = f"  {o.origin}" if o.origin else ""
    return shown(f"{_SIGIL[o.status]} {o.id}  ({o.api_version}){origin}")


def change_line(c: Change) -> str:
    """One change on one line, as every plain-text view shows it (`shown`)."""
    return shown(_change_text(c))


def _change_text(c: Change) -> str:
    if c.masked:
        verb = {Op.ADD: "added", Op.CHANGE: "changed", Op.REMOVE: "removed"}[c.op]
        return f"{_SIGIL_OP[c.op]} {c.path_str}: (secret value {verb}; hidden)"
    if c.op is Op.ADD:
        return f"+ {c.path_str}: {_value(c.new)}"
    if c.op is Op.REMOVE:
        return f"- {c.path_str}: {_value(c.old)}"
    return f"~ {c.path_str}: {_value(c.old)} → {_value(c.new)}"


def summary_line(report: DiffReport) -> str:
    s = report.summary
    return f"{s['changed']} changed, {s['added']} added, {s['removed']} removed, {s['unchanged']} unchanged"


def human(report: DiffReport, consoles: Consoles, *, where: str, verbose: int = 0) -> None:
    out = consoles.out
    for o in report:
        if o.status is Status.UNCHANGED and not verbose:
            continue
        style = _STYLE[o.status]
        note = f"  [dim]({_NOTE[o.status]})[/]" if o.status in _NOTE else ""
        out.print(f"[bold {style}]{escape(_header(o))}[/]{note}")
        for c in o.changes:
            out.print(f"    [{_OP_STYLE[c.op]}]{escape(change_line(c))}[/]")
    if report.differs:
        out.print()
    status = "[bold yellow]differs from[/]" if report.differs else "[bold green]in sync with[/]"
    out.print(f"{escape(summary_line(report))}: git {status} {escape(shown(where))}")


# ---- unified diff ----------------------------------------------------------------------


def _yaml(body: Mapping[str, JSON] | None) -> list[str]:
    return dump(dict(body)).splitlines(keepends=True) if body is not None else []


def unified_text(o: ObjectDiff) -> str:
    name = shown(f"{o.id.group_kind}/{o.id.namespace + '/' if o.id.namespace else ''}{o.id.name}")
    lines = difflib.unified_diff(
        _yaml(o.live), _yaml(o.desired), fromfile=f"live/{name}", tofile=f"git/{name}"
    )
    return "".join(lines)


def unified(report: DiffReport, consoles: Consoles) -> None:
    for o in report:
        if o.status is Status.UNCHANGED:
            continue
        for line in unified_text(o).splitlines():
            style = ""
            if line.startswith(("+++", "---")):
                style = "bold"
            elif line.startswith("+"):
                style = "green"
            elif line.startswith("-"):
                style = "red"
            elif line.startswith("@@"):
                style = "cyan"
            consoles.out.print(Text(safe_line(shown(line)), style=style))
