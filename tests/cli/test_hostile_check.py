"""Hostile and broken manifests in `check`, `routes` and offline `diff` (issue #14): one
sentence or one finding naming the file, line and field, never a traceback, never a value."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ambdiff.cli import main

SECRET = "hunter2-do-not-print"
LIVE = "apiVersion: v1\nkind: List\nitems: []\n"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "gitops"
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    (root / "live.yaml").write_text(LIVE)
    monkeypatch.chdir(root)
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert "unexpected error" not in err
    assert SECRET not in out + err
    return code, out, err


def configmap(name: str = "a", meta: str = "") -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: shop\n{meta}"
        f"data:\n  k: v\n"
    )


NAMESPACE_LIST = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: [{SECRET}]\n"
NAME_MAP = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{k: {SECRET}}}\n"


# ---- 1. metadata.name / metadata.namespace of the wrong type ---------------------------


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        (NAMESPACE_LIST, "ConfigMap: metadata.namespace is a list, not a string"),
        (NAME_MAP, "ConfigMap: metadata.name is a mapping, not a string"),
    ],
    ids=["namespace-list", "name-map"],
)
def test_a_name_or_namespace_that_is_no_string_is_one_finding_in_check(
    repo: Path, capsys: pytest.CaptureFixture[str], text: str, sentence: str
) -> None:
    (repo / "bad.yaml").write_text("---\n" + text)
    (repo / "good.yaml").write_text(configmap())
    code, out, _ = run(capsys, "check", "--color", "never", "bad.yaml", "good.yaml")
    assert code == 1
    assert f"bad.yaml:2  error   missing-field  {sentence}" in out
    assert "in 2 files (1 object)" in out


@pytest.mark.parametrize("text", [NAMESPACE_LIST, NAME_MAP], ids=["namespace-list", "name-map"])
def test_a_name_or_namespace_that_is_no_string_stops_diff_with_one_sentence(
    repo: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    (repo / "bad.yaml").write_text(text)
    code, _, err = run(capsys, "diff", "--inventory", "t", "--live-file", "live.yaml", "bad.yaml")
    assert code == 2
    assert err.startswith("ambdiff: error: bad.yaml:1: ConfigMap: metadata.")
    assert err.count("\n") == 1


def test_a_live_file_object_with_a_namespace_map_is_one_sentence(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "good.yaml").write_text(configmap())
    (repo / "live.yaml").write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: {{x: {SECRET}}}\n"
    )
    code, _, err = run(capsys, "diff", "--inventory", "t", "--live-file", "live.yaml", "good.yaml")
    assert code == 2
    assert "live.yaml:1: ConfigMap: metadata.namespace is a mapping, not a string" in err


def test_routes_leaves_out_an_object_whose_namespace_is_a_list(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "bad.yaml").write_text(NAMESPACE_LIST)
    code, _, err = run(capsys, "routes", "bad.yaml")
    assert code in (0, 1)
    assert "bad.yaml:1: ConfigMap: metadata.namespace is a list, not a string" in err


# ---- 4. an unreadable file is a finding, and the rest is still checked ------------------


def test_a_file_that_is_not_utf8_is_a_finding_and_the_others_are_checked(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "k8s").mkdir()
    (repo / "k8s" / "a-latin1.yaml").write_bytes(b"apiVersion: v1\ndata: {k: \xff}\n")
    (repo / "k8s" / "b.yaml").write_text(NAME_MAP)
    code, out, _ = run(capsys, "check", "--color", "never", "k8s")
    assert code == 1
    assert "k8s/a-latin1.yaml:2  error   unreadable-file  not UTF-8 text" in out
    assert "nothing in it is read. Save it as UTF-8." in out
    assert "k8s/b.yaml:1  error   missing-field" in out  # checked after the unreadable one
    assert "2 errors, 0 warnings in 2 files" in out


# ---- 5. a misspelt kind: offline diff refuses it, as check does -------------------------


def test_offline_diff_refuses_a_misspelt_builtin_kind_with_a_suggestion(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "deploy.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: api, namespace: shop}\n"
    )
    code, out, err = run(
        capsys, "diff", "--inventory", "t", "--live-file", "live.yaml", "deploy.yaml"
    )
    assert (code, out) == (2, "")
    assert err == (
        "ambdiff: error: deploy.yaml:1: apps/v1 has no kind Deploymnet. Did you mean Deployment?\n"
    )
    code, out, _ = run(capsys, "check", "--color", "never", "deploy.yaml")
    assert code == 1
    assert "did you mean Deployment?" in out


def test_offline_diff_refuses_a_custom_kind_no_crd_defines(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "w.yaml").write_text("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    code, _, err = run(capsys, "diff", "--inventory", "t", "--live-file", "live.yaml", "w.yaml")
    assert code == 2
    assert "w.yaml:1: example.com/v1 has no kind Widget: no CustomResourceDefinition" in err


def test_offline_diff_accepts_a_custom_kind_whose_crd_is_in_git_or_in_the_snapshot(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "w.yaml").write_text("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    (repo / "live.yaml").write_text(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: other, namespace: default}\n"
    )
    code, out, _ = run(capsys, "diff", "--inventory", "t", "--live-file", "live.yaml", "w.yaml")
    assert code == 1
    assert "Widget default/w" in out and "added" in out.lower()


# ---- 6. a file named twice is read once --------------------------------------------------


@pytest.mark.parametrize(
    "paths",
    [("k8s/a.yaml", "k8s/a.yaml"), ("k8s", "k8s/a.yaml"), ("k8s/a.yaml", "./k8s/a.yaml")],
    ids=["same-file", "dir-and-file", "dot-slash"],
)
def test_a_file_named_twice_is_read_once(
    repo: Path, capsys: pytest.CaptureFixture[str], paths: tuple[str, str]
) -> None:
    (repo / "k8s").mkdir()
    (repo / "k8s" / "a.yaml").write_text(configmap())
    code, out, _ = run(capsys, "check", "--color", "never", *paths)
    assert (code, out.strip()) == (0, "check passed: 0 errors, 0 warnings in 1 file (1 object)")
    (repo / "live.yaml").write_text(configmap())
    code, out, err = run(capsys, "diff", "--inventory", "t", "--live-file", "live.yaml", *paths)
    assert code == 0, err
    assert "defined twice" not in out + err


# ---- 7, 8. Secret data: base64, and a map ------------------------------------------------


def test_secret_data_that_is_not_base64_is_an_error_naming_the_key_only(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "s.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop}\ndata:\n"
        f"  ok: aGVsbG8=\n  wrapped: |\n    aGVs\n    bG8=\n  password: {SECRET}\n"
    )
    code, out, _ = run(capsys, "check", "--color", "never", "s.yaml")
    assert code == 1
    assert out.splitlines()[1] == (
        "  s.yaml:9  error   secret-data-base64  Secret shop/db: data.password is not valid "
        "base64; the API server rejects the Secret (write the plain value under stringData "
        "instead, or encode it with `base64 -w0`)"
    )
    assert "1 error," in out


@pytest.mark.parametrize(
    ("field", "value", "shape"),
    [
        ("data", SECRET, "a string"),
        ("stringData", f"[{SECRET}]", "a list"),
        ("data", f"[{SECRET}]", "a list"),
        ("stringData", SECRET, "a string"),
    ],
)
def test_secret_data_that_is_no_map_is_flagged_without_its_value(
    repo: Path, capsys: pytest.CaptureFixture[str], field: str, value: str, shape: str
) -> None:
    (repo / "s.yaml").write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: db, namespace: shop}}\n{field}: {value}\n"
    )
    code, out, _ = run(capsys, "check", "--color", "never", "s.yaml")
    assert code == 1
    assert f"Secret shop/db: {field} must be a mapping, not {shape}" in out


# ---- 2, 3. quantities and integers no number type holds --------------------------------


POD = """apiVersion: v1
kind: Pod
metadata: {{name: api, namespace: shop}}
spec:
  containers:
  - name: c
    image: x
    resources:
      limits: {{memory: {memory}}}
"""


@pytest.mark.parametrize(
    "memory",
    ['"1e9999999"', "9" * 5000, '"' + "9" * 5000 + '"'],
    ids=["exponent", "5000-digit-int", "5000-digit-string"],
)
def test_a_quantity_no_number_holds_is_a_change_not_a_crash(
    repo: Path, capsys: pytest.CaptureFixture[str], memory: str
) -> None:
    (repo / "pod.yaml").write_text(POD.format(memory=memory))
    (repo / "live.yaml").write_text(POD.format(memory="1Gi"))
    code, out, err = run(capsys, "diff", "--inventory", "t", "--live-file", "live.yaml", "pod.yaml")
    assert code == 1, err
    assert "resources.limits.memory" in out
    code, _, err = run(capsys, "check", "--color", "never", "pod.yaml")
    assert code in (0, 1), err


def test_a_json_snapshot_with_a_5000_digit_integer_is_compared(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "good.yaml").write_text(configmap())
    (repo / "live.json").write_text(
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": '
        f'"shop"}}, "data": {{"k": {"9" * 5000}}}}}'
    )
    code, out, err = run(
        capsys, "diff", "--inventory", "t", "--live-file", "live.json", "good.yaml"
    )
    assert code == 1, err
    assert "data.k" in out
