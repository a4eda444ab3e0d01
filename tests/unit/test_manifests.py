"""Reading desired state: documents, origins, Lists, identities (docs/diff.md, "What is read")."""

from __future__ import annotations

from pathlib import Path

import pytest

from ambdiff.gitsource import SourceFile, WorkTree
from ambdiff.manifests import ManifestProblem, identify, parse_file, read
from ambdiff.model import ObjectId
from ambdiff.yamlio import load_documents

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


def namespaced(group: str, version: str, kind: str) -> bool:
    return kind != "Namespace"


def test_multi_document_file_keeps_each_documents_first_line() -> None:
    text = (
        "# header\n---\n"
        + CM.format(name="a")
        + "---\n# only a comment\n---\n"
        + CM.format(name="b")
    )
    objs = parse_file(SourceFile("k/cm.yaml", text))
    assert [(o.body["metadata"]["name"], str(o.origin)) for o in objs] == [
        ("a", "k/cm.yaml:3"),
        ("b", "k/cm.yaml:10"),
    ]


def test_list_items_get_their_own_lines() -> None:
    text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: b}\n"
    objs = parse_file(SourceFile("list.yaml", text))
    assert [o.origin.line for o in objs] == [4, 7]


def test_json_files_are_read() -> None:
    objs = parse_file(
        SourceFile(
            "cm.json", '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}}'
        )
    )
    assert objs[0].body["metadata"]["name"] == "j"


def test_malformed_yaml_is_a_problem_with_line_and_column() -> None:
    with pytest.raises(ManifestProblem) as e:
        parse_file(SourceFile("bad.yaml", "apiVersion: v1\nkind: [ConfigMap\nmetadata: {}\n"))
    assert e.value.rule == "yaml-syntax"
    assert (e.value.line, e.value.column) == (3, 9) and str(e.value).startswith(
        "bad.yaml:3:9: invalid YAML"
    )


def test_duplicate_keys_are_yaml_syntax_errors() -> None:
    problems: list[ManifestProblem] = []
    parse_file(SourceFile("dup.yaml", CM.format(name="a") + "metadata: {}\n"), problems.append)
    assert [(p.rule, p.line) for p in problems] == [("yaml-syntax", 5)]
    assert "duplicate key 'metadata'" in problems[0].message


def test_a_duplicate_key_written_differently_says_what_yaml_read_it_as() -> None:
    """`on:` and `yes:` are both the key "true" to kubectl: the message says which was written
    and how to keep it as text (an independent tester saw only "duplicate key 'true'")."""
    problems: list[ManifestProblem] = []
    text = CM.format(name="a") + "data:\n  on: a\n  yes: b\n"
    parse_file(SourceFile("dup.yaml", text), problems.append)
    assert [(p.rule, p.line) for p in problems] == [("yaml-syntax", 7)]
    assert "duplicate key 'true': 'yes' is read as 'true'" in problems[0].message
    assert "quote the key to keep it as written" in problems[0].message
    problems.clear()
    parse_file(
        SourceFile("ok.yaml", CM.format(name="a") + 'data:\n  "on": a\n  "yes": b\n'),
        problems.append,
    )
    assert problems == []


def test_timestamps_stay_strings() -> None:
    [doc] = load_documents("date: 2024-01-01\n", "x")
    assert doc.data == {"date": "2024-01-01"}


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("kind: ConfigMap\nmetadata: {name: a}\n", "apiVersion"),
        ("apiVersion: v1\nmetadata: {name: a}\n", "kind"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: a-}\n", "metadata.name"),
        ("- just\n- a list\n", "mapping"),
    ],
)
def test_missing_essentials_are_reported(text: str, missing: str) -> None:
    problems: list[ManifestProblem] = []
    assert parse_file(SourceFile("m.yaml", text), problems.append) == []
    assert problems[0].rule == "missing-field" and missing in problems[0].message


def test_identity_defaults_namespace_for_namespaced_kinds_only() -> None:
    text = CM.format(name="a") + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"
    resources = identify(
        parse_file(SourceFile("x.yaml", text)), namespaced=namespaced, default_namespace="dev"
    )
    assert [r.id for r in resources] == [
        ObjectId("", "ConfigMap", "dev", "a"),
        ObjectId("", "Namespace", "", "shop"),
    ]


def test_same_identity_twice_names_both_origins() -> None:
    raw = parse_file(SourceFile("a.yaml", CM.format(name="x"))) + parse_file(
        SourceFile("b.yaml", "# c\n" + CM.format(name="x"))
    )
    with pytest.raises(ManifestProblem) as e:
        identify(raw, namespaced=namespaced, default_namespace="default")
    assert e.value.rule == "duplicate-object"
    assert "b.yaml:2" in str(e.value) and "a.yaml:1" in str(e.value)


def test_work_tree_walk_skips_hidden_folders_and_other_files(tmp_path: Path) -> None:
    (tmp_path / "k").mkdir()
    (tmp_path / ".github").mkdir()
    (tmp_path / "k" / "a.yaml").write_text(CM.format(name="a"))
    (tmp_path / "k" / "b.yml").write_text(CM.format(name="b"))
    (tmp_path / "k" / "notes.txt").write_text("hello")
    (tmp_path / ".github" / "ci.yaml").write_text("on: push\n")
    (tmp_path / ".ambdiff.yaml").write_text("namespace: x\n")
    objs = read(WorkTree(tmp_path), [])
    assert sorted(o.origin.file for o in objs) == ["k/a.yaml", "k/b.yml"]
