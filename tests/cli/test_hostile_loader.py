"""Hostile YAML and JSON as a user meets it (issue #14): alias bombs, anchors that contain
themselves, deep nesting, huge integers, tags that do not fit their value, NaN, duplicate
JSON keys. `check` reports a `yaml-syntax` finding (exit 1); `diff` and `routes` stop with
one sentence (exit 2); nothing hangs, crashes or prints a secret."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ambdiff.cli import main
from ambdiff.yamlio import MAX_DEPTH

SECRET = "hunter2-do-not-print"
SNAPSHOT = "apiVersion: v1\nkind: List\nitems: []\n"
HEAD = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\n"


def laughs(levels: int = 9, width: int = 9) -> str:
    lines = [f"  a0: &a0 [{','.join(['x'] * width)}]"]
    lines += [f"  a{i}: &a{i} [{','.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return HEAD + "data:\n" + "\n".join(lines) + "\n"


def nested(depth: int, leaf: str = "1") -> str:
    """A ConfigMap whose document is `depth` lists and maps deep (root, data, then lists)."""
    return HEAD + "data:\n  x: " + "[" * (depth - 2) + leaf + "]" * (depth - 2) + "\n"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "gitops"
    (root / "k8s").mkdir(parents=True)
    (root / "k8s" / "c.yaml").write_text(HEAD + "data: {a: b}\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "first"]):
        subprocess.run(["git", *args], cwd=root, check=True)
    (tmp_path / "snapshot.yaml").write_text(SNAPSHOT)
    monkeypatch.chdir(root)
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([args[0], "--color", "never", *args[1:]])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "unexpected error" not in err, err
    assert SECRET not in out + err
    return code, out, err


def one_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("ambdiff: error: ")]
    assert len(lines) == 1, err
    return lines[0]


def refused_everywhere(capsys: pytest.CaptureFixture[str], where: str, problem: str) -> None:
    """`check` finds it (yaml-syntax, exit 1), `diff` stops on it (exit 2), `routes` leaves
    the file out with a warning; `where` is file:line."""
    code, out, _ = run(capsys, "check", "k8s")
    assert code == 1
    assert f"{where}  error   yaml-syntax  " in out and problem in out
    code, _, err = run(capsys, "diff", "--live-file", "../snapshot.yaml", "k8s")
    assert code == 2, err
    error = one_error(err)
    assert f"{where}:" in error and problem in error
    code, _, err = run(capsys, "routes", "k8s")
    assert code in (0, 2) and where in err and problem in err


def test_an_alias_bomb_in_git_is_refused_by_every_command(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = laughs()
    assert len(text.encode()) < 700  # would expand to 9**9 values
    (repo / "k8s" / "bomb.yaml").write_text(text)
    refused_everywhere(capsys, "k8s/bomb.yaml:8", "aliases in this document expand to too many")


def test_an_alias_bomb_as_the_live_file_is_one_sentence(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo.parent / "snapshot.yaml").write_text(laughs())
    code, _, err = run(capsys, "diff", "--live-file", "../snapshot.yaml", "k8s")
    assert code == 2
    assert "snapshot.yaml:" in one_error(err) and "aliases" in one_error(err)


def test_an_anchor_that_contains_itself_is_refused(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "k8s" / "self.yaml").write_text(HEAD + "data: &d {a: *d}\n")
    refused_everywhere(capsys, "k8s/self.yaml:4", "anchor that contains itself")


def test_nesting_at_the_limit_is_diffed_and_written_as_json(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "k8s" / "c.yaml").write_text(nested(MAX_DEPTH, leaf="1"))
    (repo.parent / "snapshot.yaml").write_text(nested(MAX_DEPTH, leaf="2"))
    code, out, err = run(capsys, "diff", "-o", "json", "--live-file", "../snapshot.yaml", "k8s")
    assert code == 1, err
    (resource,) = json.loads(out)["resources"]
    assert resource["status"] == "changed"
    code, out, err = run(capsys, "diff", "--live-file", "../snapshot.yaml", "k8s")
    assert code == 1, err
    code, out, _ = run(capsys, "check", "k8s")
    assert "yaml-syntax" not in out


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("deep.yaml", nested(MAX_DEPTH + 1), 5),
        ("deep.yaml", HEAD + "data:\n  x: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n", 5),
        (
            "deep.json",
            '{"kind": "ConfigMap",\n"data": ' + '{"a": ' * 10_000 + "1" + "}" * 10_001,
            2,
        ),
    ],
)
def test_nesting_past_the_limit_is_refused(
    repo: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, line: int
) -> None:
    (repo / "k8s" / name).write_text(text)
    refused_everywhere(capsys, f"k8s/{name}:{line}", f"nested more than {MAX_DEPTH} deep")


def test_a_five_thousand_digit_number_is_text_as_kubectl_reads_it(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "k8s" / "c.yaml").write_text(HEAD + f"data: {{a: {'9' * 5000}}}\n")
    code, out, err = run(capsys, "diff", "-o", "json", "--live-file", "../snapshot.yaml", "k8s")
    assert code == 1, err
    assert json.loads(out)["summary"]["added"] == 1


@pytest.mark.parametrize("value", [f"!!int {SECRET}", f"!!binary {SECRET}", f"!!float {SECRET}"])
def test_a_tag_that_does_not_fit_a_secret_value_never_prints_the_value(
    repo: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: shop}\n"
    (repo / "k8s" / "secret.yaml").write_text(secret + f"stringData:\n  password: {value}\n")
    refused_everywhere(capsys, "k8s/secret.yaml:5", "invalid YAML")


def strict_json(text: str) -> Any:
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in the JSON output")

    return json.loads(text, parse_constant=refuse)


def test_nan_in_json_files_is_never_written_as_nan(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = '"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"}'
    (repo / "k8s" / "c.yaml").unlink()
    (repo / "k8s" / "c.json").write_text("{" + body + ', "data": {"a": NaN, "b": Infinity}}')
    live = (
        '{"apiVersion": "v1", "kind": "List", "items": [{' + body + ', "data": {"a": -Infinity}}]}'
    )
    (repo.parent / "snapshot.json").write_text(live)
    code, out, err = run(capsys, "diff", "-o", "json", "--live-file", "../snapshot.json", "k8s")
    assert code == 1, err
    changes = {c["path"]: c for r in strict_json(out)["resources"] for c in r["changes"]}
    assert changes["data.a"]["new"] == "NaN" and changes["data.a"]["old"] == "-Infinity"


def test_a_key_given_twice_in_a_json_manifest_is_refused_with_its_place(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = '{"apiVersion": "v1", "kind": "ConfigMap",\n "metadata": {"name": "c", "name": "d"}}\n'
    (repo / "k8s" / "c.json").write_text(text)
    refused_everywhere(capsys, "k8s/c.json:2", "duplicate key 'name'")
    _, _, err = run(capsys, "diff", "--live-file", "../snapshot.yaml", "k8s")
    assert "k8s/c.json:2:28: invalid JSON: duplicate key 'name'" in one_error(err)


@pytest.mark.parametrize(
    "managed", ["5", "[5, {manager: kubectl, operation: Apply, fieldsV1: 3}]", "{a: 1}"]
)
def test_a_live_file_with_managed_fields_of_the_wrong_shape_is_compared_not_a_crash(
    repo: Path, capsys: pytest.CaptureFixture[str], managed: str
) -> None:
    """A hand-made snapshot may hold anything in managedFields (it was exit 3, "a bug")."""
    (repo.parent / "snapshot.yaml").write_text(
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n"
        f"  metadata: {{name: c, namespace: shop, managedFields: {managed}}}\n  data: {{a: c}}\n"
    )
    code, out, _ = run(capsys, "diff", "--inventory", "x", "--live-file", "../snapshot.yaml", "k8s")
    assert code == 1
    assert '~ data.a: "c" → "b"' in out
