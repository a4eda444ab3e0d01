"""`-o markdown`: a pull-request comment that fits GitHub's limit at any size.

Layout: title, summary line, counts per kind and namespace (and per source when there are
several), the table of objects, then one collapsed block per object. Objects come most
consequential first: removed (`sync --prune` deletes them), changed, added. What does not fit
in `BUDGET` is left out, and a line says how many objects (and changes of one object) are.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence

from ambdiff.model import JSON, Change, DiffReport, ObjectDiff, Op, Status
from ambdiff.render.text import html_text, md_code, md_text, shown
from ambdiff.secrets import shown as masked
from ambdiff.yamlio import dump

# GitHub refuses a comment over 65,536 characters; the rest is room for a CI job's wrapper.
BUDGET = 60_000
# No single object may take more than this, so one huge ConfigMap cannot hide the others.
MAX_OBJECT = 12_000
MAX_VALUE = 120
MAX_LINE = 200  # a manifest line; a diff line (a path and two values) at most twice that
MAX_SUMMARY_ROWS = 40
ORDER = (Status.REMOVED, Status.CHANGED, Status.ADDED)
_SIGIL = {Status.ADDED: "+", Status.CHANGED: "~", Status.REMOVED: "-", Status.UNCHANGED: "="}
_SIGIL_OP = {Op.ADD: "+", Op.CHANGE: "~", Op.REMOVE: "-"}
_RESERVE = 600  # the "left out" lines
_EMPTY = {
    Status.REMOVED: "- (in this inventory, no longer in git: `sync --prune` deletes it)",
    Status.ADDED: "+ (not in the cluster)",
    Status.CHANGED: "(changed)",
}


def markdown(report: DiffReport, *, where: str, cluster: Mapping[str, str] | None = None) -> str:
    """The comment. `cluster`: what `where` was built from; its server never appears."""
    where = _public_where(where, cluster)
    title = "differs from" if report.differs else "is in sync with"
    head = [f"### ambdiff: git {title} {md_text(where)}", "", f"**{_summary_line(report)}**", ""]
    shown_objects = sorted(
        (o for o in report if o.status is not Status.UNCHANGED),
        key=lambda o: ORDER.index(o.status),
    )
    if not shown_objects:
        return "\n".join(head) + "\n"
    head += _summary_tables(shown_objects)
    room = BUDGET - len("\n".join(head)) - _RESERVE
    rows = ["| | object | apiVersion | origin | changes |", "|---|---|---|---|---|"]
    room -= sum(len(r) + 1 for r in rows)
    blocks: list[str] = []
    included = 0
    for o in shown_objects:
        row = _row(o)
        left = min(MAX_OBJECT, room - len(row) - 1)
        block = _block(o, left)
        if block is None:
            break
        rows.append(row)
        blocks.append(block)
        room -= len(row) + 1 + len(block) + 1
        included += 1
    left_out = _left_out(shown_objects[included:])
    out = [*head, *rows, ""]
    if left_out:
        out += [left_out, ""]
    out += blocks
    if left_out:
        out += [left_out, ""]
    return "\n".join(out)


def _public_where(where: str, cluster: Mapping[str, str] | None) -> str:
    server = (cluster or {}).get("server")
    if not server:
        return where
    return where.replace(f" ({server})", "").replace(server, "its API server")


def _summary_line(report: DiffReport) -> str:
    s = report.summary
    return f"{s['changed']} changed, {s['added']} added, {s['removed']} removed, {s['unchanged']} unchanged"


# ---- summary tables --------------------------------------------------------------------


def _summary_tables(objects: list[ObjectDiff]) -> list[str]:
    by_kind = _counts(objects, lambda o: (o.id.kind, o.id.namespace))
    lines = ["| kind | namespace | changed | added | removed |", "|---|---|---|---|---|"]
    for (kind, namespace), c in by_kind[:MAX_SUMMARY_ROWS]:
        ns = md_code(namespace, cell=True) if namespace else "(cluster-scoped)"
        lines.append(f"| {md_code(kind, cell=True)} | {ns} | {_cells(c)}")
    lines += _more_rows(by_kind, "kind and namespace pairs")
    sources = _counts(objects, _source)
    if sum(1 for (source,), _ in sources if source) > 1:  # removed objects have no source
        lines += ["| source | changed | added | removed |", "|---|---|---|---|"]
        for (source,), c in sources[:MAX_SUMMARY_ROWS]:
            name = md_code(source, cell=True) if source else "(removed: no longer in git)"
            lines.append(f"| {name} | {_cells(c)}")
        lines += _more_rows(sources, "sources")
    return lines


def _source(o: ObjectDiff) -> tuple[str, ...]:
    if o.origin is None:
        return ("",)
    return (o.origin.via or posixpath.dirname(o.origin.file) or ".",)


def _counts(
    objects: Iterable[ObjectDiff], key: Callable[[ObjectDiff], tuple[str, ...]]
) -> list[tuple[tuple[str, ...], Counter[Status]]]:
    groups: dict[tuple[str, ...], Counter[Status]] = {}
    for o in objects:
        groups.setdefault(key(o), Counter())[o.status] += 1
    return sorted(groups.items(), key=lambda item: (-item[1].total(), item[0]))


def _cells(c: Counter[Status]) -> str:
    return f"{c[Status.CHANGED]} | {c[Status.ADDED]} | {c[Status.REMOVED]} |"


def _more_rows(groups: Sequence[object], what: str) -> list[str]:
    hidden = len(groups) - MAX_SUMMARY_ROWS
    more = ["", f"{hidden} more {what} are not shown."] if hidden > 0 else []
    return [*more, ""]


# ---- objects ---------------------------------------------------------------------------


def _row(o: ObjectDiff) -> str:
    origin = md_code(str(o.origin), cell=True) if o.origin else ""
    count = len(o.changes) if o.status is Status.CHANGED else o.status.value
    return (
        f"| {_SIGIL[o.status]} | {md_code(str(o.id), cell=True)} | "
        f"{md_code(o.api_version, cell=True)} | {origin} | {count} |"
    )


def _block(o: ObjectDiff, limit: int) -> str | None:
    """The collapsed block, cut to `limit` characters with a line saying what was cut (all
    of it, if need be); None when not even that fits."""
    if o.status is Status.ADDED and o.desired is not None:
        lang, body, unit = "yaml", _manifest(o.desired), "lines of this object's manifest"
    else:
        lang, unit = "diff", "changes of this object"
        body = [line for c in o.changes for line in _change_lines(c)]
        if not body:
            body = [_EMPTY[o.status]]
    summary = f"<details><summary><code>{_SIGIL[o.status]} {html_text(str(o.id))}</code></summary>"
    fence = "`" * max(3, 1 + max((len(r) for r in re.findall("`+", "\n".join(body))), default=0))
    frame = [summary, "", f"{fence}{lang}", fence, "</details>"]
    room = limit - sum(len(line) + 1 for line in frame) - 120  # the "not shown" line
    if room < 0:
        return None
    kept: list[str] = []
    for line in body:
        if len(line) + 1 > room:
            break
        kept.append(line)
        room -= len(line) + 1
    if not kept and not o.changes and lang == "diff":
        return None  # a one-line note, not a change: all or nothing
    cut = len(body) - len(kept)
    if o.changes and lang == "diff":  # a change of a value is two lines: keep both or none
        whole = _changes_in(o.changes, len(kept))
        kept = [line for c in o.changes[:whole] for line in _change_lines(c)]
        cut = len(o.changes) - whole
    unit = unit.replace("changes", "change").replace("lines", "line") if cut == 1 else unit
    note = [f"{cut} more {unit} {'is' if cut == 1 else 'are'} not shown.", ""] if cut else []
    return "\n".join([summary, "", f"{fence}{lang}", *kept, fence, "", *note, "</details>", ""])


def _changes_in(changes: tuple[Change, ...], lines: int) -> int:
    """How many whole changes the first `lines` diff lines hold."""
    count = 0
    for c in changes:
        lines -= len(_change_lines(c))
        if lines < 0:
            break
        count += 1
    return count


def _manifest(body: Mapping[str, JSON]) -> list[str]:
    # Bodies are masked when built (ambdiff.compare); masking again keeps any sealed value out.
    text = dump(dict(masked(body)))
    return [_cut(shown(line), MAX_LINE) for line in text.splitlines()]


def _change_lines(c: Change) -> list[str]:
    """GitHub colours `-` and `+` lines in a diff block: a change of a value is both."""
    path = c.path_str
    if c.masked:
        verb = {Op.ADD: "added", Op.CHANGE: "changed", Op.REMOVE: "removed"}[c.op]
        return [
            _cut(shown(f"{_SIGIL_OP[c.op]} {path}: (secret value {verb}; hidden)"), 2 * MAX_LINE)
        ]
    if c.op is Op.ADD:
        return [_cut(shown(f"+ {path}: {_value(c.new)}"), 2 * MAX_LINE)]
    if c.op is Op.REMOVE:
        return [_cut(shown(f"- {path}: {_value(c.old)}"), 2 * MAX_LINE)]
    return [
        _cut(shown(f"- {path}: {_value(c.old)}"), 2 * MAX_LINE),
        _cut(shown(f"+ {path}: {_value(c.new)}"), 2 * MAX_LINE),
    ]


def _value(value: JSON) -> str:
    return _cut(json.dumps(value, ensure_ascii=False, separators=(", ", ": ")), MAX_VALUE)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _left_out(objects: list[ObjectDiff]) -> str:
    if not objects:
        return ""
    c = Counter(o.status for o in objects)
    return (
        f"**{len(objects)} more objects ({c[Status.CHANGED]} changed, {c[Status.ADDED]} added, "
        f"{c[Status.REMOVED]} removed) are not shown**: run `ambdiff diff` (or "
        "`ambdiff diff -o json`) on the same revision for the full report."
    )
