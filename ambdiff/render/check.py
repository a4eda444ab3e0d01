"""Output of `check` (human, json, github) and `routes` (human, json)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import groupby

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ambdiff.check.findings import CheckReport, Finding, Severity
from ambdiff.check.table import RouteChange, RouteRow
from ambdiff.render.text import json_text, safe_line, shown

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
_GITHUB = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def render_report(report: CheckReport, output: str, out: Console) -> None:
    if output == "json":
        _print_raw(out, json_text(json.dumps(report_json(report), indent=2, allow_nan=False)))
    elif output == "github":
        for finding in report.findings:
            _print_raw(out, github_annotation(finding))
    else:
        _human(report, out)


def report_json(report: CheckReport) -> dict[str, object]:
    return {
        "findings": [
            {
                "rule": f.rule,
                "severity": f.severity.value,
                "file": f.file,
                "line": f.line,
                "object": f.object,
                "message": f.message,
                **({"via": f.via} if f.via else {}),
            }
            for f in report.findings
        ],
        "summary": report.summary,
    }


def github_annotation(finding: Finding) -> str:
    """A GitHub Actions workflow command: `::error file=...,line=...,title=rule::message`."""
    line = f"line={finding.line}," if finding.line else ""
    props = (
        f"file={_gh_property(shown(finding.file))},{line}title={_gh_property(shown(finding.rule))}"
    )
    return f"::{_GITHUB[finding.severity]} {props}::{_gh_data(shown(finding.message))}"


def _human(report: CheckReport, out: Console) -> None:
    for file, findings in groupby(report.findings, key=lambda f: f.file):
        out.print(f"[bold]{escape(safe_line(shown(file or '(no file)')))}[/]")
        for f in findings:
            out.print(
                f"  {escape(safe_line(shown(f.where)))}  "
                f"[{_STYLE[f.severity]}]{f.severity.value:<7}[/] "
                f"[dim]{escape(shown(f.rule))}[/]  {escape(shown(f.message))}"
                + (f"  [dim](via {escape(safe_line(shown(f.via)))})[/]" if f.via else "")
            )
        out.print()
    summary = report.summary
    counts = [
        f"{summary[s.value]} {s.value}{'s' if summary[s.value] != 1 else ''}"
        for s in Severity
        if summary[s.value] or s is not Severity.INFO
    ]
    verdict = "[bold red]failed[/]" if report.exit_code else "[green]passed[/]"
    strict = " (--strict: warnings fail too)" if report.strict else ""
    out.print(
        f"check {verdict}{strict}: {', '.join(counts)} in {summary['files']} "
        f"file{'s' if summary['files'] != 1 else ''} ({summary['objects']} "
        f"object{'s' if summary['objects'] != 1 else ''})"
    )


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def _print_raw(out: Console, text: str) -> None:
    """Machine-readable text goes out as is: no markup, wrapping or highlighting."""
    out.file.write(text + "\n")
    out.file.flush()


# ---- routes ------------------------------------------------------------------------------

_COLUMNS = ("method", "host", "prefix", "headers", "service", "weight", "source")
_CHANGE_STYLE = {"added": "green", "removed": "red", "re-pointed": "yellow"}
_CHANGE_MARK = {"added": "+", "removed": "-", "re-pointed": "~"}


def render_routes(rows: Sequence[RouteRow], output: str, out: Console) -> None:
    if output == "json":
        _print_raw(
            out,
            json_text(
                json.dumps({"routes": [r.as_json() for r in rows]}, indent=2, allow_nan=False)
            ),
        )
        return
    if not rows:
        out.print("No Mappings found: the route table is empty.")
        return
    several = len({r.ambassador_id for r in rows}) > 1
    table = _table(first="ambassador_id" if several else None)
    cells = [tuple(map(shown, ((r.ambassador_id,) if several else ()) + r.cells())) for r in rows]
    for row_cells in cells:
        table.add_row(*(escape(v) for v in row_cells))
    _print_wide(out, table, cells)
    routes = len({(r.ambassador_id, r.route) for r in rows})
    out.print(
        f"{routes} route{'s' if routes != 1 else ''} from {len(rows)} Mapping{'s' if len(rows) != 1 else ''}, "
        "in the order Emissary tries them."
    )


def render_route_changes(
    changes: Sequence[RouteChange], base: str, head: str, output: str, out: Console
) -> None:
    counts = {s: sum(1 for c in changes if c.status == s) for s in _CHANGE_MARK}
    if output == "json":
        payload = {
            "base": base,
            "head": head,
            "changes": [c.as_json() for c in changes],
            "summary": counts,
        }
        _print_raw(out, json_text(json.dumps(payload, indent=2, allow_nan=False)))
        return
    out.print(f"Routes in {escape(shown(head))} compared with {escape(shown(base))}:")
    if not changes:
        out.print("No route is added, removed or re-pointed.")
        return
    table = _table(first="")
    cells: list[tuple[str, ...]] = []
    for change in changes:
        style = _CHANGE_STYLE[change.status]
        for n, row in enumerate(change.rows()):
            mark = _CHANGE_MARK[change.status] if n == 0 else ""
            texts = tuple(map(shown, row))
            cells.append((mark, *texts))
            table.add_row(f"[{style}]{mark}[/]", *(f"[{style}]{escape(v)}[/]" for v in texts))
    _print_wide(out, table, cells)
    out.print(", ".join(f"{n} {status}" for status, n in counts.items()))


def _print_wide(out: Console, table: Table, rows: Sequence[Sequence[str]]) -> None:
    """As wide as the cells need: a route table is read line by line, like kubectl's."""
    columns = len(rows[0])
    headers = [str(c.header) for c in table.columns]
    natural = sum(max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers[:columns]))
    width = out.width
    try:
        out.width = max(width, natural + 2 * columns)
        with out.capture() as captured:
            out.print(table)
    finally:
        out.width = width
    text = "\n".join(safe_line(line.rstrip()) for line in captured.get().splitlines())
    out.file.write(text + "\n")


def _table(first: str | None = None) -> Table:
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    if first is not None:
        table.add_column(first, no_wrap=True)
    for column in _COLUMNS:
        table.add_column(column, overflow="fold")
    return table
