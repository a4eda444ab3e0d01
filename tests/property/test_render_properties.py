"""Properties of the renderers, on generated reports: every format renders any report the
differ or `check` can make, machine-readable output parses strictly, and values reach the
reader as they are (no markup, emoji codes or fences taken from the data)."""

from __future__ import annotations

import io
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from kube_strategies import JSON_VALUES, KEYS, NAMES, TEXT, examples
from markdown_it import MarkdownIt

from ambdiff.check.findings import RULES, CheckReport, Finding
from ambdiff.model import (
    MISSING,
    Change,
    DiffReport,
    ListKey,
    ObjectDiff,
    ObjectId,
    Op,
    Origin,
    Status,
)
from ambdiff.render.check import render_report
from ambdiff.render.console import make_consoles
from ambdiff.render.diff import change_line, render

SEGMENTS = st.one_of(
    st.sampled_from(KEYS),
    TEXT,
    st.integers(0, 20),
    st.builds(lambda k, v: ListKey(((k, v),)), st.sampled_from(("name", "port")), JSON_VALUES),
)


@st.composite
def changes(draw: st.DrawFn) -> Change:
    op = draw(st.sampled_from(Op))
    path = tuple(draw(st.lists(SEGMENTS, min_size=1, max_size=5)))
    old = MISSING if op is Op.ADD else draw(JSON_VALUES)
    new = MISSING if op is Op.REMOVE else draw(JSON_VALUES)
    return Change(op, path, old=old, new=new, masked=draw(st.booleans()))


BODIES = st.none() | st.dictionaries(st.sampled_from(KEYS) | TEXT, JSON_VALUES, max_size=4)


@st.composite
def object_diffs(draw: st.DrawFn) -> ObjectDiff:
    status = draw(st.sampled_from(Status))
    oid = ObjectId(
        draw(st.sampled_from(("", "apps", "getambassador.io"))),
        draw(st.sampled_from(("Secret", "Deployment", "Mapping"))),
        draw(st.sampled_from(("", "shop")) | TEXT),
        draw(st.sampled_from(NAMES) | TEXT),
    )
    origin = draw(st.none() | st.builds(Origin, TEXT, st.integers(1, 10**6)))
    found = tuple(draw(st.lists(changes(), max_size=4))) if status is Status.CHANGED else ()
    return ObjectDiff(
        oid,
        draw(st.sampled_from(("v1", "apps/v1")) | TEXT),
        status,
        origin,
        found,
        desired=draw(BODIES),
        live=draw(BODIES),
    )


REPORTS = st.builds(
    DiffReport,
    st.lists(object_diffs(), max_size=4).map(tuple),
    st.lists(TEXT, max_size=2).map(tuple),
)


def rendered(report: Any, fmt: str, color: str = "never", verbose: int = 0) -> str:
    out, err = io.StringIO(), io.StringIO()
    render(report, fmt, make_consoles(color, out, err), where="the snapshot x", verbose=verbose)
    assert err.getvalue() == ""
    return out.getvalue()


def strict_json(text: str) -> Any:
    def refuse(constant: str) -> Any:
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@settings(max_examples=examples(100))
@given(REPORTS, st.sampled_from(("never", "always")), st.integers(0, 1))
def test_every_diff_format_renders_any_report(report: DiffReport, color: str, verbose: int) -> None:
    for fmt in ("human", "diff", "markdown"):
        rendered(report, fmt, color, verbose)
    data = strict_json(rendered(report, "json"))
    assert [r["status"] for r in data["resources"]] == [o.status.value for o in report]
    assert data["errors"] == list(report.errors)


@settings(max_examples=examples(100))
@given(REPORTS)
def test_human_output_shows_each_change_line_as_it_is(report: DiffReport) -> None:
    """Values are text, never markup or emoji codes: `[bold]` and `:rocket:` print as typed."""
    text = rendered(report, "human")
    for o in report:
        for c in o.changes:
            assert change_line(c) in text


@settings(max_examples=examples(100))
@given(REPORTS)
def test_markdown_fences_are_never_broken_by_values(report: DiffReport) -> None:
    text = rendered(report, "markdown")
    # Removed objects come first, then changed, then added (a manifest, in a yaml block).
    shown = [
        o
        for status in (Status.REMOVED, Status.CHANGED, Status.ADDED)
        for o in report
        if o.status is status
    ]
    tokens = MarkdownIt("commonmark").parse(text)
    fences = [t.info for t in tokens if t.type == "fence"]
    assert fences == [
        "yaml" if o.status is Status.ADDED and o.desired is not None else "diff" for o in shown
    ]
    html = [t.content for t in tokens if t.type == "html_block"]
    assert sum(block.count("</details>") for block in html) == len(shown)


FINDINGS = st.builds(
    Finding,
    TEXT,
    st.integers(0, 10**6),
    st.sampled_from(sorted(RULES)),
    TEXT,
    TEXT,
)
CHECK_REPORTS = st.builds(
    CheckReport,
    st.lists(FINDINGS, max_size=5).map(lambda f: tuple(sorted(f))),
    st.integers(0, 100),
    st.integers(0, 100),
    st.booleans(),
)


def check_output(report: CheckReport, fmt: str) -> str:
    out = io.StringIO()
    render_report(report, fmt, make_consoles("never", out, io.StringIO()).out)
    return out.getvalue()


@settings(max_examples=examples(100))
@given(CHECK_REPORTS)
def test_every_check_format_renders_any_report(report: CheckReport) -> None:
    check_output(report, "human")
    data = strict_json(check_output(report, "json"))
    assert [f["message"] for f in data["findings"]] == [f.message for f in report.findings]
    # GitHub reads one workflow command per line: a newline in a message must not end it.
    text = check_output(report, "github")
    lines = text[:-1].split("\n") if text else []
    assert len(lines) == len(report.findings)
    assert all(line.startswith(("::error ", "::warning ", "::notice ")) for line in lines)
