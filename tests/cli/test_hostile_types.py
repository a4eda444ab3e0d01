"""Malformed CRDs and fields of the wrong type, as a user of `check`, `routes` and offline
`diff` sees them (issue #14): a finding or one sentence naming the file, line and field,
exit 1 or 2, never a traceback (exit 3), never a value."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ambdiff.cli import main

SECRET = "hunter2-do-not-print"
EMPTY = "apiVersion: v1\nkind: List\nitems: []\n"
CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties: %s
"""
WIDGET = (
    "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: s}\nspec: {a: 1}\n"
)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "gitops"
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    (root / "live.yaml").write_text(EMPTY)
    monkeypatch.chdir(root)
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code != 3
    assert "Traceback" not in out + err
    assert "unexpected error" not in err
    assert SECRET not in out + err
    return code, out, err


def diff(capsys: pytest.CaptureFixture[str], *paths: str) -> tuple[int, str, str]:
    return run(capsys, "diff", "--inventory", "t", "--live-file", "live.yaml", *paths)


# ---- 1. a malformed CRD ---------------------------------------------------------------------


def test_check_reports_a_malformed_crd_schema_as_crd_invalid_at_its_line(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "crd.yaml").write_text(
        CRD % f"{{a: {{type: integer, minimum: {SECRET}}}}}" + "---\n" + WIDGET
    )
    code, out, _ = run(capsys, "check", "--color", "never", "crd.yaml")
    assert code == 1
    assert (
        "crd.yaml:18  error   crd-invalid  CustomResourceDefinition widgets.example.com: "
        "spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.a.minimum must be "
        "a number, not a string; the API server rejects this CustomResourceDefinition, and "
        "check does not validate its objects against it"
    ) in out


@pytest.mark.parametrize(
    "properties",
    [
        SECRET,
        "[1]",
        "{a: {type: integer, maxLength: [1]}}",
        "{a: {enum: 5}}",
        "{a: {oneOf: abc}}",
        "{a: {type: 5}}",
    ],
)
def test_a_malformed_crd_never_crashes_check_routes_or_diff(
    repo: Path, capsys: pytest.CaptureFixture[str], properties: str
) -> None:
    (repo / "crd.yaml").write_text(CRD % properties + "---\n" + WIDGET)
    code, out, _ = run(capsys, "check", "--color", "never", "crd.yaml")
    assert code == 1 and "crd-invalid" in out
    assert run(capsys, "routes", "crd.yaml")[0] == 0
    # diff validates no object (check does); the CRD's group, kind and scope still count.
    code, out, _ = diff(capsys, "crd.yaml")
    assert code == 1 and "Widget s/w" in out


@pytest.mark.parametrize(
    "spec",
    [
        SECRET,
        "[1]",
        "{group: [a], names: abc, versions: abc, scope: [1]}",
        "{group: example.com, names: {kind: Widget}, versions: [abc, {name: [1]}]}",
    ],
)
def test_a_malformed_crd_in_the_snapshot_never_crashes_diff(
    repo: Path, capsys: pytest.CaptureFixture[str], spec: str
) -> None:
    (repo / "live.yaml").write_text(
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: apiextensions.k8s.io/v1\n"
        f"  kind: CustomResourceDefinition\n  metadata: {{name: widgets.example.com}}\n"
        f"  spec: {spec}\n"
    )
    (repo / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: s}\n"
    )
    code, _, _ = diff(capsys, "cm.yaml")
    assert code == 1


def test_offline_diff_treats_the_kind_of_a_crd_without_a_readable_kind_as_unknown(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = CRD.replace("names: {kind: Widget, plural: widgets}", "names: {kind: [Widget]}")
    (repo / "crd.yaml").write_text(broken % "{}" + "---\n" + WIDGET)
    code, _, err = diff(capsys, "crd.yaml")
    assert code == 2
    assert err.startswith("ambdiff: error: crd.yaml:20: example.com/v1 has no kind Widget")
    assert len(err.strip().splitlines()) == 1


# ---- 2. reference and routing rules on fields of the wrong type ------------------------------

POLICY = (
    "apiVersion: getambassador.io/v3alpha1\nkind: FilterPolicy\nmetadata: {name: p, namespace: s}\n"
)
HOST = "apiVersion: getambassador.io/v3alpha1\nkind: Host\nmetadata: {name: h, namespace: s}\n"
MAPPING = (
    "apiVersion: getambassador.io/v3alpha1\nkind: Mapping\n"
    "metadata: {name: m, namespace: s, labels: {a: b}}\nspec: {prefix: /a/, service: s}\n"
)


@pytest.mark.parametrize(
    ("text", "finding"),
    [
        (POLICY + "spec: {rules: 5}\n", "spec.rules must be a list, not 5"),
        (
            POLICY + "spec: {rules: [{path: /a/, filters: [{name: f, namespace: [1]}]}]}\n",
            "spec.rules[0].filters[0].namespace must be a string, not a list",
        ),
        (
            HOST + "spec: {hostname: a.example.com, tlsSecret: {name: x, namespace: [1]}}\n",
            "spec.tlsSecret.namespace must be a string, not a list",
        ),
        (
            HOST + "spec: {hostname: a.example.com, mappingSelector: {matchExpressions: "
            "[{key: a, operator: In, values: 5}]}}\n---\n" + MAPPING,
            "spec.mappingSelector.matchExpressions[0].values must be a list, not 5",
        ),
    ],
    ids=["rules-number", "filter-namespace-list", "tls-secret-namespace-list", "values-number"],
)
def test_a_field_of_the_wrong_type_is_a_schema_finding_not_a_crash(
    repo: Path, capsys: pytest.CaptureFixture[str], text: str, finding: str
) -> None:
    (repo / "a.yaml").write_text(text)
    code, out, _ = run(capsys, "check", "--color", "never", "a.yaml")
    assert code == 1
    assert finding in out
    assert run(capsys, "routes", "a.yaml")[0] == 0


# ---- 3. labels and annotations must be maps of strings ---------------------------------------


def test_a_snapshot_whose_inventory_label_is_a_list_stops_diff_with_one_sentence(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "live.yaml").write_text(
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n"
        "    name: a\n    namespace: s\n"
        f"    labels: {{app.kubernetes.io/managed-by: ambdiff, ambdiff.io/inventory: [{SECRET}]}}\n"
    )
    (repo / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: s}\n"
    )
    code, _, err = diff(capsys, "cm.yaml")
    assert code == 2
    assert err == (
        'ambdiff: error: live.yaml:4: ConfigMap: metadata.labels["ambdiff.io/inventory"] is a '
        'list, not a string. Write metadata.labels["ambdiff.io/inventory"] as a '
        "string.\n"
    )


@pytest.mark.parametrize(
    ("meta", "field"),
    [
        ("labels: {version: 1}", "metadata.labels.version is a number, not a string (quote it)"),
        (f"labels: [{SECRET}]", "metadata.labels is a list, not a mapping"),
        (f"annotations: {SECRET}", "metadata.annotations is a string, not a mapping"),
        ("annotations: {a: {b: c}}", "metadata.annotations.a is a mapping, not a string"),
    ],
    ids=["label-number", "labels-list", "annotations-string", "annotation-map"],
)
def test_labels_and_annotations_must_be_maps_of_strings(
    repo: Path, capsys: pytest.CaptureFixture[str], meta: str, field: str
) -> None:
    (repo / "cm.yaml").write_text(
        f"# a ConfigMap\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a, namespace: s, {meta}}}\n"
    )
    code, out, _ = run(capsys, "check", "--color", "never", "cm.yaml")
    assert code == 1
    assert f"cm.yaml:2  error   schema  ConfigMap: {field}" in out
    code, _, err = diff(capsys, "cm.yaml")
    assert code == 2
    assert err.startswith(f"ambdiff: error: cm.yaml:2: ConfigMap: {field}.")
    assert len(err.strip().splitlines()) == 1


def test_a_secret_whose_annotation_is_no_string_is_named_by_type_only(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "s.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  namespace: s\n  annotations:\n"
        f"    kubectl.kubernetes.io/last-applied-configuration: [{SECRET}]\n"
    )
    code, _, err = diff(capsys, "s.yaml")
    assert code == 2
    assert (
        'metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"] is a list' in err
    )
