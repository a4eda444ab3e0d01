"""`-o markdown`: a pull-request comment that fits GitHub's limit and says what it left out."""

from __future__ import annotations

import io
import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

from ambdiff.compare import CompareOptions, build_report
from ambdiff.model import (
    Change,
    DiffReport,
    ObjectDiff,
    ObjectId,
    Op,
    Origin,
    Resource,
    Status,
)
from ambdiff.render.console import make_consoles
from ambdiff.render.diff import render
from ambdiff.render.markdown import markdown
from ambdiff.secrets import seal

GITHUB_LIMIT = 65_536
LEFT_OUT = re.compile(
    r"\*\*(\d+) more objects \((\d+) changed, (\d+) added, (\d+) removed\) are not shown\*\*"
)


def parse(text: str) -> list[Token]:
    return MarkdownIt("commonmark").enable("table").parse(text)


def tables(tokens: list[Token]) -> list[tuple[int, int]]:
    """(header rows, body rows) of every table."""
    out = []
    for i, t in enumerate(tokens):
        if t.type != "table_open":
            continue
        end = next(j for j in range(i, len(tokens)) if tokens[j].type == "table_close")
        inner = tokens[i:end]
        head = next(k for k, x in enumerate(inner) if x.type == "thead_close")
        rows = [k for k, x in enumerate(inner) if x.type == "tr_open"]
        out.append((sum(1 for k in rows if k < head), sum(1 for k in rows if k > head)))
    return out


def changed(kind: str, ns: str, name: str, n: int = 1, *, origin: str = "k8s/a.yaml") -> ObjectDiff:
    changes = tuple(
        Change(Op.CHANGE, ("data", f"key{i}"), old=f"old{i}", new=f"new{i}") for i in range(n)
    )
    return ObjectDiff(
        ObjectId("", kind, ns, name), "v1", Status.CHANGED, Origin(origin, 3), changes
    )


def added(kind: str, ns: str, name: str, body: dict | None = None) -> ObjectDiff:
    body = body or {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}}
    return ObjectDiff(
        ObjectId("", kind, ns, name),
        "v1",
        Status.ADDED,
        Origin("apps/b.yaml", 1, via="apps"),
        desired=body,
    )


def removed(kind: str, ns: str, name: str) -> ObjectDiff:
    return ObjectDiff(ObjectId("", kind, ns, name), "v1", Status.REMOVED, None)


def big_report() -> DiffReport:
    objects = []
    for i in range(5000):
        kind, ns = ("ConfigMap", "Service", "Mapping")[i % 3], f"team-{i % 7}"
        make = (changed, added, removed)[i % 3] if i % 5 else changed
        objects.append(make(kind, ns, f"object-{i:04d}"))
    return DiffReport(tuple(objects))


def details_blocks(text: str) -> list[str]:
    return re.findall(r"^<details>.*?^</details>$", text, flags=re.S | re.M)


def test_a_5000_object_drift_fits_and_says_exactly_what_is_left_out() -> None:
    report = big_report()
    text = markdown(report, where="context prod")
    assert len(text) < GITHUB_LIMIT
    shown_objects = len(details_blocks(text))
    lines = LEFT_OUT.findall(text)
    assert lines, "the comment must say that objects were left out"
    missing, n_changed, n_added, n_removed = (int(x) for x in lines[0])
    assert shown_objects + missing == 5000
    s = report.summary
    # Removed first, then changed, then added: what is shown is the start of that order.
    order = [
        o for st in (Status.REMOVED, Status.CHANGED, Status.ADDED) for o in report if o.status is st
    ]
    left = order[shown_objects:]
    assert n_changed == sum(o.status is Status.CHANGED for o in left)
    assert n_added == sum(o.status is Status.ADDED for o in left) == s["added"]
    assert n_removed == sum(o.status is Status.REMOVED for o in left)
    assert n_changed + n_added + n_removed == missing
    # The table lists exactly the objects whose blocks are shown, plus the summary tables.
    counts = tables(parse(text))
    assert counts[-1] == (1, shown_objects)
    assert counts[0] == (1, 21)  # 3 kinds x 7 namespaces


def test_one_huge_object_is_cut_with_a_count_of_its_changes_left_out() -> None:
    huge = changed("ConfigMap", "prod", "huge", n=5000)
    other = changed("ConfigMap", "prod", "small")
    text = markdown(DiffReport((huge, other)), where="context prod")
    assert len(text) < GITHUB_LIMIT
    kept = text.count("+ data.key")
    assert kept > 10
    note = re.search(r"(\d+) more changes of this object are not shown", text)
    assert note and int(note.group(1)) == 5000 - (kept - 1)  # `small` has one too
    assert "`ConfigMap prod/small`" in text and not LEFT_OUT.search(text)
    assert_fences_hold(text)


def test_a_line_too_long_for_the_comment_is_cut_and_does_not_hide_the_next() -> None:
    key = "k" * 70_000
    huge = ObjectDiff(
        ObjectId("", "ConfigMap", "prod", "huge"),
        "v1",
        Status.CHANGED,
        None,
        (Change(Op.ADD, ("data", key), new="v"),),
    )
    text = markdown(DiffReport((huge, changed("ConfigMap", "prod", "small"))), where="x")
    assert len(text) < GITHUB_LIMIT
    line = next(line for line in text.splitlines() if line.startswith("+ data.kkk"))
    assert len(line) == 400 and line.endswith("…")
    assert "+ data.key0" in text and not LEFT_OUT.search(text)
    assert_fences_hold(text)


def assert_fences_hold(text: str) -> None:
    tokens = parse(text)
    fences = [t for t in tokens if t.type == "fence"]
    blocks = details_blocks(text)
    assert len(fences) == len(blocks)
    for fence, block in zip(fences, blocks, strict=True):
        body = block.split("\n", 3)[3]  # after the summary, the blank line and the opening fence
        closing = re.search(r"^(`{3,})$", body, flags=re.M)
        assert closing is not None
        assert fence.content == body[: closing.start()]
        assert "</details>" not in fence.content.splitlines()[-1:] or "</details>" in block
    # Every <details> opens and closes as HTML outside code: none is swallowed by a fence.
    html = "".join(t.content for t in tokens if t.type == "html_block")
    assert html.count("<details>") == html.count("</details>") == len(blocks)


HOSTILE = "a|b`c``d```e</details><script>alert(1)</script>"


def test_hostile_names_and_values_do_not_break_the_structure() -> None:
    name = ObjectId("", "ConfigMap", "ns|`x`", HOSTILE)
    diff = ObjectDiff(
        name,
        "v1",
        Status.CHANGED,
        Origin("d|```/a.yaml", 1),
        (Change(Op.CHANGE, ("data", HOSTILE), old=HOSTILE, new="```\n</details>\n```"),),
    )
    manifest = {"x": "```\n````\n</details>\n<script>x</script>\n", "data": {HOSTILE: HOSTILE}}
    new = ObjectDiff(
        ObjectId("", "ConfigMap", "ns", "new"),
        "v1",
        Status.ADDED,
        Origin("b.yaml", 1),
        desired=manifest,
    )
    text = markdown(DiffReport((diff, new, removed("Secret", "ns", HOSTILE))), where=HOSTILE)
    tokens = parse(text)
    assert tables(tokens) == [
        (1, 3),
        (1, 3),
        (1, 3),
    ]  # kind/namespace, source (2 + removed), object
    assert_fences_hold(text)
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert "<script>" not in html and "&lt;script&gt;" in html
    yaml_fence = next(t for t in tokens if t.type == "fence" and t.info == "yaml")
    assert "````" in yaml_fence.content and "</details>" in yaml_fence.content


def test_an_added_object_shows_its_manifest() -> None:
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm"},
        "data": {"greeting": "hello"},
    }
    text = markdown(DiffReport((added("ConfigMap", "ns", "cm", body),)), where="context dev")
    fence = next(t for t in parse(text) if t.type == "fence")
    assert fence.info == "yaml"
    assert "kind: ConfigMap\n" in fence.content and "  greeting: hello\n" in fence.content


def test_an_added_secrets_values_are_not_shown() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "ns"},
        "data": {"password": "c3VwZXItc2VjcmV0"},
        "stringData": {"token": "tok-123456"},
    }
    resource = Resource(ObjectId("", "Secret", "ns", "db"), "v1", seal(secret), Origin("s.yaml"))
    report = build_report([resource], {}, CompareOptions(inventory="x"))
    text = markdown(report, where="context dev")
    assert "password: '***" in text and "token: '***" in text
    assert "c3VwZXItc2VjcmV0" not in text and "tok-123456" not in text


def test_the_comment_names_the_context_never_the_server() -> None:
    server = "https://10.0.0.1:6443"
    cluster = {
        "context": "kind-prod",
        "cluster": "kind-prod",
        "server": server,
        "user": "u",
        "namespace": "default",
    }
    consoles = make_consoles(out=io.StringIO(), err=io.StringIO(), color="never")
    report = DiffReport((changed("ConfigMap", "ns", "a"),))
    render(
        report,
        "markdown",
        consoles,
        where=f"context kind-prod ({server}), git main",
        cluster=cluster,
    )
    text = consoles.out.file.getvalue()
    assert text.startswith("### ambdiff: git differs from context kind-prod, git main\n")
    assert "10.0.0.1" not in text


def test_a_small_diff_shows_everything_with_no_left_out_line() -> None:
    report = DiffReport(
        (
            removed("Mapping", "shop", "v1"),
            changed("Mapping", "shop", "q", 2),
            added("Filter", "shop", "jwt"),
        )
    )
    text = markdown(report, where="context dev")
    assert not LEFT_OUT.search(text) and "not shown" not in text
    assert len(details_blocks(text)) == 3
    # Removed first (sync --prune deletes them), then changed, then added.
    assert text.index("- Mapping shop/v1") < text.index("~ Mapping shop/q") < text.index("+ Filter")
    # Two sources (a plain folder and a rendered one) and the removed object: a source table.
    assert tables(parse(text)) == [(1, 2), (1, 3), (1, 3)]


def test_objects_of_one_source_get_no_table_of_sources() -> None:
    """docs/diff.md: the table of sources is there when the objects come from more than one
    (objects removed from git, which have no source, do not make a second)."""
    one = [
        ObjectDiff(
            ObjectId("", "ConfigMap", "ns", f"c{i}"),
            "v1",
            Status.ADDED,
            Origin("k8s/a.yaml", i + 1),
            desired={"data": {}},
        )
        for i in range(3)
    ]
    text = markdown(DiffReport((*one, removed("ConfigMap", "ns", "gone"))), where="x")
    assert "| source |" not in text
    two = (
        *one,
        ObjectDiff(
            ObjectId("", "ConfigMap", "ns", "d"),
            "v1",
            Status.ADDED,
            Origin("apps/a.yaml", 1),
            desired={"data": {}},
        ),
    )
    assert "| source |" in markdown(DiffReport(two), where="x")
