"""Hostile names, keys, paths and values in every output format: no line a GitHub Actions
runner would execute as a workflow command, no terminal escape sequence, and no Markdown or
HTML that breaks out of the pull-request comment's table, summary or fence."""

from __future__ import annotations

import io
import json
import re
import subprocess
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from ambdiff.check.findings import CheckReport, Finding
from ambdiff.cli import main
from ambdiff.model import (
    Change,
    DiffReport,
    ListKey,
    ObjectDiff,
    ObjectId,
    Op,
    Origin,
    Status,
    format_path,
)
from ambdiff.render import sync as render_sync
from ambdiff.render.check import render_report
from ambdiff.render.console import make_consoles
from ambdiff.render.diff import render
from ambdiff.render.text import html_text, md_code, md_text, safe_line, shown
from ambdiff.render.watch import drift_line
from ambdiff.sync.executor import ApplyReport, Attempt, Failure
from ambdiff.sync.plan import Action, Plan, Verb

HOSTILE = ("\n::error::x", "\x1b[31m", "\u202e", "`|<img src=x>", "##[error]y")
EVIL = "".join(HOSTILE)
SGR = re.compile(r"\x1b\[[0-9;]*m")  # rich's own colours, when colour was asked for


def assert_inert(text: str, *, color: bool = False) -> None:
    """What the runner, a terminal or a log viewer would act on is absent."""
    if color:
        text = SGR.sub("", text)
    assert "\x1b" not in text
    assert "\u202e" not in text
    assert "##[" not in text  # the runner reads the legacy form anywhere in a line
    for line in text.split("\n"):
        assert not line.lstrip().startswith("::"), line
        assert "\r" not in line


# ---- the function every renderer uses ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\nb\r\tc", "a\\nb\\r\\tc"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("\x00\x7f\x85\x9b", "\\x00\\x7f\\x85\\x9b"),
        ("abc\u202edef", "abc\\u202edef"),
        ("\u200bzero\u200f\u2066\u2069\ufeff", "\\u200bzero\\u200f\\u2066\\u2069\\ufeff"),
        ("line\u2028sep", "line\\u2028sep"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("bad\udcff", "bad\\udcff"),  # an undecodable file name byte
        ("##[error]x and ###[", "##\\x5berror]x and ###\\x5b"),
        ("shop/web-1 é 𝔘 → …", "shop/web-1 é 𝔘 → …"),
    ],
)
def test_shown_escapes_what_a_terminal_or_runner_would_act_on(text: str, expected: str) -> None:
    assert shown(text) == expected
    assert shown(shown(text)) == expected


def test_a_line_that_starts_with_input_cannot_start_a_workflow_command() -> None:
    assert safe_line("::error::x") == "\\x3a:error::x"
    assert safe_line("   ::warning::x") == "   \\x3a:warning::x"
    assert safe_line("a ::error::x") == "a ::error::x"


def test_markdown_helpers_render_text_literally() -> None:
    md = MarkdownIt("commonmark").enable("table")
    evil = "x` **b** [l](http://e) ![i](http://e/p.png) <img src=x> &amp; | ~~s~~"
    assert md.render(md_text(evil)) == f"<p>{html_text(evil)}</p>\n"
    assert md.render(md_code(evil)) == f"<p><code>{html_text(evil)}</code></p>\n"
    table = f"| a |\n|---|\n| {md_code(evil, cell=True)} |\n"
    assert f"<td><code>{html_text(evil)}</code></td>" in md.render(table)
    assert html_text('<b a="1">&') == "&lt;b a=&quot;1&quot;&gt;&amp;"
    assert md_code("") == ""


def test_field_paths_quote_hostile_keys_on_one_line() -> None:
    assert format_path(("data", "k\n::error::x")) == 'data["k\\n::error::x"]'
    assert format_path(("data", 'a"b\\c')) == 'data["a\\"b\\\\c"]'
    assert format_path(("data", "trailing\n")) == 'data["trailing\\n"]'
    assert format_path(("spec", "containers", ListKey((("name", "x],y\n"),)), "image")) == (
        'spec.containers[name="x],y\\n"].image'
    )
    assert format_path(("spec", "ports", ListKey((("port", 80),)))) == "spec.ports[port=80]"


# ---- every diff format --------------------------------------------------------------------


def hostile_report() -> DiffReport:
    def obj(n: int, text: str, status: Status) -> ObjectDiff:
        oid = ObjectId("", f"Kind{text}", f"ns{text}", f"name{n}{text}")
        changes = (
            Change(Op.CHANGE, ("data", f"key{text}"), old=f"old{text}", new=f"new{text}"),
            Change(Op.ADD, ("metadata", "labels", f"l{text}"), new={f"k{text}": [text]}),
            Change(Op.REMOVE, ("spec", "containers", ListKey((("name", text),))), old=text),
            Change(Op.CHANGE, ("data", f"secret{text}"), old="a", new="b", masked=True),
        )
        body = {"metadata": {"name": oid.name}, "data": {f"key{text}": f"{text}\n{text}"}}
        return ObjectDiff(
            oid,
            f"v1{text}",
            status,
            Origin(f"dir{text}/{text}.yaml", 3),
            changes if status is Status.CHANGED else (),
            desired=None if status is Status.REMOVED else body,
            live=None if status is Status.ADDED else {**body, "data": {text: text}},
        )

    statuses = (Status.CHANGED, Status.ADDED, Status.REMOVED, Status.CHANGED, Status.CHANGED)
    objects = tuple(obj(n, t, s) for n, (t, s) in enumerate(zip(HOSTILE, statuses, strict=True)))
    evil = ObjectDiff(
        ObjectId("", "ConfigMap", EVIL, EVIL),
        "v1",
        Status.CHANGED,
        None,
        (Change(Op.ADD, (EVIL,), new=EVIL),),
        desired={EVIL: EVIL},
        live={},
    )
    return DiffReport((*objects, evil), errors=(f"not read: {EVIL}",))


def rendered(fmt: str, color: str = "never", where: str = f"the snapshot {EVIL}") -> str:
    out, err = io.StringIO(), io.StringIO()
    render(hostile_report(), fmt, make_consoles(color, out, err), where=where, verbose=1)
    assert err.getvalue() == ""
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["human", "diff", "markdown", "json"])
@pytest.mark.parametrize("color", ["never", "always"])
def test_no_diff_format_lets_input_act_on_the_reader(fmt: str, color: str) -> None:
    text = rendered(fmt, color)
    assert_inert(text, color=color == "always" and fmt in ("human", "diff"))
    if color == "never":
        assert "\x1b" not in text


def test_human_and_diff_show_hostile_names_escaped() -> None:
    human = rendered("human")
    assert "~ ConfigMap \\n::error::x\\x1b[31m\\u202e`|<img src=x>##\\x5berror]y/" in human
    assert '~ data["key\\n::error::x"]: "old\\n::error::x" → "new\\n::error::x"' in human
    assert "(secret value changed; hidden)" in human
    unified = rendered("diff")
    assert "--- live/ConfigMap/\\n::error::x\\x1b[31m" in unified
    assert '+"\\n::error::x": "\\n::error::x"' in unified or "+? " in unified


def test_json_keeps_hostile_values_exact() -> None:
    data = json.loads(rendered("json"))
    names = [r["name"] for r in data["resources"]]
    assert names == [f"name{n}{t}" for n, t in enumerate(HOSTILE)] + [EVIL]
    first = data["resources"][0]["changes"][0]
    assert (first["old"], first["new"]) == (f"old{HOSTILE[0]}", f"new{HOSTILE[0]}")
    assert data["errors"] == [f"not read: {EVIL}"]


def test_markdown_has_one_table_row_per_object_and_no_injected_html() -> None:
    text = rendered("markdown")
    report = hostile_report()
    html = MarkdownIt("commonmark").enable("table").render(text)
    body = html.split("<tbody>")[-1].split("</tbody>")[0]  # the table of objects comes last
    assert body.count("<tr>") == len(report.objects)
    assert all(cells == 5 for cells in [row.count("<td") for row in body.split("<tr>")[1:]])
    assert "<img" not in html and "<h1" not in html and "<h2" not in html
    assert html.count("<h3>") == 1 and html.count("<details>") == len(report.objects)
    assert html.count("<pre><code") == len(report.objects)  # every fence closed where it should
    assert f"<code>Kind{html_text(HOSTILE[3])} ns" in body
    assert "```diff" in text.splitlines() and "'''" not in text


# ---- check, routes, sync, watch -----------------------------------------------------------


def test_check_human_and_github_and_json() -> None:
    findings = tuple(
        Finding(f"::error::f{n}{t}.yaml", n + 1, "schema", f"ConfigMap {t}", f"{t} is bad {t}")
        for n, t in enumerate(HOSTILE)
    )
    report = CheckReport(findings, files=len(HOSTILE), objects=len(HOSTILE))
    outputs = {}
    for fmt in ("human", "github", "json"):
        out = io.StringIO()
        render_report(report, fmt, make_consoles("never", out, io.StringIO()).out)
        outputs[fmt] = out.getvalue()
    assert_inert(outputs["human"])
    assert "\\x3a:error::f0\\n::error::x.yaml" in outputs["human"]
    assert_inert(outputs["json"])
    assert [f["file"] for f in json.loads(outputs["json"])["findings"]] == [
        f.file for f in findings
    ]
    lines = outputs["github"].splitlines()
    assert len(lines) == len(findings)
    assert all(line.startswith("::error file=%3A%3Aerror%3A%3Af") for line in lines)
    assert all("\x1b" not in line and "\u202e" not in line for line in lines)
    assert all("##[" not in line.split("::", 2)[2] for line in lines)


def test_sync_plan_failures_and_report() -> None:
    oid = ObjectId("", "ConfigMap", "ns", EVIL)
    action = Action(
        Verb.UPDATE,
        oid,
        "v1",
        Origin(f"{EVIL}.yaml"),
        (Change(Op.CHANGE, ("data", EVIL), old=EVIL, new="b"),),
        reason=EVIL,
    )
    out, err = io.StringIO(), io.StringIO()
    consoles = make_consoles("never", out, err)
    render_sync.plan(Plan((action,), skipped=(action,)), consoles, where=EVIL)
    render_sync.check_errors([Finding(EVIL, 1, "schema", EVIL, EVIL)], consoles)
    render_sync.preflight_failures([Failure(action, EVIL)], consoles, staged=(action,))
    render_sync.report(ApplyReport(((action, Attempt.FAILED, EVIL),)), consoles)
    assert_inert(out.getvalue())
    assert_inert(err.getvalue())
    assert out.getvalue().count("\n") == 6 and "\\n::error::x" in out.getvalue()


def test_watch_log_line() -> None:
    line = drift_line(hostile_report().objects[-1])
    assert_inert(line)
    assert "\n" not in line


# ---- through the CLI ----------------------------------------------------------------------

CONFIGMAP = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {
        "name": f"evil{HOSTILE[0]}",
        "namespace": "s",
        "annotations": {f"k{HOSTILE[4]}": f"v{HOSTILE[1]}"},
    },
    "data": {f"key{HOSTILE[0]}": f"line1{EVIL}"},
}
MAPPING = {
    "apiVersion": "getambassador.io/v3alpha1",
    "kind": "Mapping",
    "metadata": {"name": "m", "namespace": "s"},
    "spec": {
        "hostname": f"h{HOSTILE[1]}{HOSTILE[2]}",
        "prefix": f"/p{HOSTILE[0]}/",
        "service": f"svc{HOSTILE[3]}{HOSTILE[4]}",
    },
}


@pytest.fixture
def hostile_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository whose manifests (JSON is YAML) hold names no API server would take."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "k").mkdir()
    live = {
        **CONFIGMAP,
        "metadata": {
            **CONFIGMAP["metadata"],  # type: ignore[dict-item]
            "labels": {"app.kubernetes.io/managed-by": "ambdiff"},
        },
        "data": {f"key{HOSTILE[0]}": "other"},
    }
    (tmp_path / "k" / "a.yaml").write_text(json.dumps(CONFIGMAP))
    (tmp_path / "k" / "::error::m.yaml").write_text(json.dumps(MAPPING))
    (tmp_path / "live.yaml").write_text(
        json.dumps({"apiVersion": "v1", "kind": "List", "items": [live]})
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("fmt", ["human", "diff", "markdown", "json"])
def test_diff_of_hostile_manifests(
    hostile_repo: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    code, out, err = cli(
        capsys,
        "diff",
        "--color",
        "never",
        "--inventory",
        "x",
        "--live-file",
        "live.yaml",
        "-o",
        fmt,
        "k",
    )
    assert code == 1, err
    assert "Traceback" not in err
    assert_inert(out)
    assert_inert(err)
    if fmt == "markdown":
        assert sum(1 for line in out.splitlines() if line.startswith("| ~ ")) == 1
        assert sum(1 for line in out.splitlines() if line.startswith("| + ")) == 1


@pytest.mark.parametrize("fmt", ["human", "github", "json"])
def test_check_of_hostile_manifests(
    hostile_repo: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    code, out, err = cli(capsys, "check", "--color", "never", "-o", fmt, "k")
    assert code in (0, 1), err
    assert "Traceback" not in err
    assert_inert(err)
    if fmt == "github":
        assert out and all(
            line.startswith(("::error ", "::warning ", "::notice ")) for line in out.splitlines()
        )
        assert "\x1b" not in out
    else:
        assert_inert(out)


@pytest.mark.parametrize("fmt", ["human", "json"])
def test_routes_of_hostile_manifests(
    hostile_repo: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    code, out, err = cli(capsys, "routes", "--color", "never", "-o", fmt, "k")
    assert code == 0, err
    assert_inert(out)
    if fmt == "json":
        assert json.loads(out)["routes"][0]["service"] == MAPPING["spec"]["service"]  # type: ignore[index]
    else:
        assert "svc`|<img src=x>##\\x5berror]y" in out


def test_plain_text_messages_on_the_consoles_are_shown() -> None:
    """Commands print their notes and `Not compared:` lines as plain text (markup=False)."""
    out, err = io.StringIO(), io.StringIO()
    consoles = make_consoles("always", out, err)
    consoles.err.print(f"Not compared: ConfigMap {EVIL}", markup=False)
    consoles.err.print(f"{HOSTILE[0].lstrip()} :rocket:", markup=False)
    assert_inert(err.getvalue(), color=True)
    assert err.getvalue().count("\n") == 2
    assert "\\x3a:error::x :rocket:" in SGR.sub("", err.getvalue())


def test_error_messages_quote_hostile_paths_escaped(
    hostile_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "diff", "--inventory", "x", "--live-file", f"no{EVIL}.yaml", "k")
    assert code == 2 and out == ""
    assert err.startswith("ambdiff: error: ") and err.count("\n") == 1
    assert "no\\n::error::x\\x1b[31m" in err
    assert_inert(err)
