"""Kustomize overlays and Helm charts through the CLI, offline, with the real tools: kubectl's
built-in kustomize, and helm built from its Go module (tools/testbin.py). The tools' own
output, run by the test, is the oracle: what ambdiff compares must be exactly what they
render, less the origin annotations ambdiff adds for itself."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ambdiff.cli import main
from ambdiff.normalize import FIELD_MANAGER, INVENTORY_LABEL, MANAGED_BY
from tests.helm_binary import require_helm

INVENTORY = "render-test"

BASE = {
    "base/kustomization.yaml": "resources: [web.yaml, mapping.yaml]\n",
    "base/web.yaml": """\
# the web Deployment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: docker.io/library/nginx:1.27.3
""",
    "base/mapping.yaml": """\
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata:
  name: web
spec:
  hostname: shop.example.com
  prefix: /
  service: web:80
""",
    "overlays/prod/kustomization.yaml": """\
resources: [../../base]
namespace: shop
patches:
- path: replicas.yaml
""",
    "overlays/prod/replicas.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
""",
    "charts/quote/Chart.yaml": "apiVersion: v2\nname: quote\nversion: 0.1.0\nappVersion: 0.5.0\n",
    "charts/quote/values.yaml": "replicaCount: 1\nprefix: /quote/\nhostname: shop.example.com\n",
    "charts/quote/templates/deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}}}
    spec:
      containers:
      - name: quote
        image: docker.io/datawire/quote:{{ .Chart.AppVersion }}
""",
    "charts/quote/templates/mapping.yaml": """\
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata:
  name: {{ .Release.Name }}
spec:
  hostname: {{ .Values.hostname }}
  prefix: {{ .Values.prefix }}
  service: {{ .Release.Name }}:80
""",
    "environments/prod/quote.yaml": "replicaCount: 2\n",
    ".ambdiff.yaml": """\
sources:
  - name: web
    paths: [overlays/prod]
    inventory: render-test
  - name: quote
    paths: [charts/quote]
    namespace: shop
    inventory: render-test-quote
    helm:
      release: quote
      values: [environments/prod/quote.yaml]
""",
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "gitops"
    for name, text in BASE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "init")
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def helm() -> Iterator[str]:
    path = require_helm()
    os.environ["AMBDIFF_HELM"] = path  # the guard fixture clears AMBDIFF_* after each test
    yield path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(path: Path, text: str, inventory: str, namespace: str = "shop") -> Path:
    """A `kubectl get -o yaml` List of what a tool rendered, as a sync would have left it."""
    items = []
    for doc in yaml.safe_load_all(text):
        if not doc:
            continue
        meta = doc["metadata"]
        meta.setdefault("namespace", namespace)
        meta["labels"] = {
            **meta.get("labels", {}),
            MANAGED_BY: FIELD_MANAGER,
            INVENTORY_LABEL: inventory,
        }
        items.append(doc)
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
    return path


def kustomize(folder: Path) -> str:
    return subprocess.run(
        ["kubectl", "kustomize", str(folder)], check=True, capture_output=True, text=True
    ).stdout


def helm_template(helm: str, repo: Path, *values: str) -> str:
    args = [helm, "template", "quote", str(repo / "charts/quote"), "-n", "shop"]
    for v in values:
        args += ["-f", str(repo / v)]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def scaled_prod(repo: Path, replicas: int) -> Path:
    """A snapshot of the prod overlay as kubectl renders it (3 replicas); then the overlay's
    patch is changed to `replicas`, uncommitted."""
    live = snapshot(repo.parent / "live.yaml", kustomize(repo / "overlays/prod"), INVENTORY)
    patch = repo / "overlays/prod/replicas.yaml"
    patch.write_text(patch.read_text().replace("replicas: 3", f"replicas: {replicas}"))
    return live


def changes(out: str) -> dict[tuple[str, str], tuple[str, str, list[str]]]:
    report = json.loads(out)
    return {
        (r["kind"], r["name"]): (
            r["status"],
            f"{r['origin']['file']}:{r['origin']['line']} via {r['origin'].get('via')}",
            [c["path"] for c in r["changes"]],
        )
        for r in report["resources"]
    }


# ---- kustomize ---------------------------------------------------------------------------


def test_an_overlay_diffs_clean_against_what_kubectl_kustomize_renders(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live = snapshot(repo.parent / "live.yaml", kustomize(repo / "overlays/prod"), INVENTORY)
    code, out, err = run(capsys, "diff", "web", "--live-file", str(live), "-o", "json")
    assert code == 0, err + out
    assert changes(out) == {
        ("Deployment", "web"): ("unchanged", "base/web.yaml:2 via overlays/prod", []),
        ("Mapping", "web"): ("unchanged", "base/mapping.yaml:1 via overlays/prod", []),
    }
    assert "config.kubernetes.io/origin" not in out


def test_a_change_to_an_overlay_is_a_field_level_change_naming_the_source_file(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live = scaled_prod(repo, 5)
    code, out, _ = run(capsys, "diff", "web", "--live-file", str(live))
    assert code == 1
    assert "~ Deployment shop/web  (apps/v1)  base/web.yaml:2 via overlays/prod" in out
    assert "~ spec.replicas: 3 → 5" in out


def test_rev_renders_that_revision_and_leaves_the_working_tree_alone(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live = scaled_prod(repo, 5)
    before = git(repo, "status", "--porcelain")
    code, out, err = run(capsys, "diff", "web", "--rev", "HEAD", "--live-file", str(live))
    assert code == 0, err + out  # HEAD has 3 replicas, as the snapshot
    assert git(repo, "status", "--porcelain") == before == " M overlays/prod/replicas.yaml\n"
    git(repo, "commit", "-qam", "five")
    code, out, _ = run(capsys, "diff", "web", "--rev", "HEAD", "--live-file", str(live))
    assert code == 1 and "~ spec.replicas: 3 → 5" in out


def test_a_kustomization_that_asks_for_origin_annotations_keeps_them(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    k = repo / "overlays/prod/kustomization.yaml"
    k.write_text(k.read_text() + "buildMetadata: [originAnnotations]\n")
    live = snapshot(repo.parent / "live.yaml", kustomize(repo / "overlays/prod"), INVENTORY)
    code, out, err = run(capsys, "diff", "web", "--live-file", str(live))
    assert code == 0, err + out  # the live objects carry them too: unchanged


def test_a_kustomization_kustomize_refuses_is_one_sentence_without_temporary_paths(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "overlays/prod/kustomization.yaml").write_text("resources: [../../missing]\n")
    code, out, err = run(capsys, "diff", "web", "--live-file", str(repo / "none.yaml"))
    assert code == 2 and out == ""
    assert err.startswith("ambdiff: error: overlays/prod: `kubectl kustomize` failed: ")
    assert "missing" in err and "ambdiff-kustomize-" not in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_no_kustomize_and_no_kubectl_on_path_says_what_to_install(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = repo.parent / "bin"
    bare.mkdir()
    (bare / "git").symlink_to(shutil.which("git") or "/usr/bin/git")
    monkeypatch.setenv("PATH", str(bare))
    code, _, err = run(capsys, "check", "overlays/prod")
    assert code == 2
    assert (
        "overlays/prod: holds a kustomization, which ambdiff renders with `kustomize` or "
        "`kubectl`, and none is on PATH" in err
    )
    assert "--kustomize" in err


def test_a_named_renderer_that_does_not_exist_is_an_error(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "check", "overlays/prod", "--kustomize", "/nonexistent/kustomize")
    assert code == 2 and "--kustomize /nonexistent/kustomize: no such program" in err


# ---- helm --------------------------------------------------------------------------------


def test_a_chart_with_environment_values_diffs_clean_against_helm_template(
    repo: Path, helm: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rendered = helm_template(helm, repo, "environments/prod/quote.yaml")
    live = snapshot(repo.parent / "live.yaml", rendered, "render-test-quote")
    code, out, err = run(capsys, "diff", "quote", "--live-file", str(live), "-o", "json")
    assert code == 0, err + out
    assert changes(out) == {
        ("Deployment", "quote"): (
            "unchanged", "charts/quote/templates/deployment.yaml:0 via charts/quote", [],
        ),
        ("Mapping", "quote"): ("unchanged", "charts/quote/templates/mapping.yaml:0 via charts/quote", []),
    }  # fmt: skip


def test_a_change_to_a_values_file_names_the_template(
    repo: Path, helm: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rendered = helm_template(helm, repo, "environments/prod/quote.yaml")
    live = snapshot(repo.parent / "live.yaml", rendered, "render-test-quote")
    (repo / "environments/prod/quote.yaml").write_text("replicaCount: 4\n")
    code, out, _ = run(capsys, "diff", "quote", "--live-file", str(live))
    assert code == 1
    assert (
        "~ Deployment shop/quote  (apps/v1)  charts/quote/templates/deployment.yaml via charts/quote"
        in out
    )
    assert "~ spec.replicas: 2 → 4" in out


def test_a_chart_folder_given_as_a_path_renders_with_its_own_values(
    tmp_path: Path, repo: Path, helm: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / ".ambdiff.yaml").unlink()
    rendered = helm_template(helm, repo)  # release "quote" = the folder's name
    live = snapshot(tmp_path / "live.yaml", rendered, "x")
    code, out, err = run(
        capsys, "diff", "charts/quote", "-n", "shop", "--inventory", "x", "--live-file", str(live)
    )
    assert code == 0, err + out


def test_a_values_file_that_links_out_of_the_repository_is_refused(
    repo: Path, helm: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    outside = tmp_path / "secret-values.yaml"
    outside.write_text("password: hunter2\n")
    values = repo / "environments/prod/quote.yaml"
    values.unlink()
    values.symlink_to(outside)
    code, _, err = run(capsys, "check", "quote")
    assert code == 1 and "hunter2" not in err
    code, out, err = run(capsys, "diff", "quote", "--live-file", str(tmp_path / "none.yaml"))
    assert code == 2 and "hunter2" not in err + out
    assert (
        "environments/prod/quote.yaml: the values file of the chart charts/quote is not in "
        "the repository" in err
    )


# ---- check across sources ----------------------------------------------------------------


def test_check_sees_a_chart_mapping_collide_with_an_overlay_mapping(
    repo: Path, helm: str, capsys: pytest.CaptureFixture[str]
) -> None:
    values = repo / "charts/quote/values.yaml"
    values.write_text(values.read_text().replace("prefix: /quote/", "prefix: /"))
    code, out, err = run(capsys, "check", "--strict", "-o", "json")
    assert code == 1, err
    found = {
        (f["file"], f["via"], f["object"]): f["message"]
        for f in json.loads(out)["findings"]
        if f["rule"] == "route-collision"
    }
    assert set(found) == {
        ("base/mapping.yaml", "overlays/prod", "Mapping shop/web"),
        ("charts/quote/templates/mapping.yaml", "charts/quote", "Mapping shop/quote"),
    }
    message = found["base/mapping.yaml", "overlays/prod", "Mapping shop/web"]
    assert "with Mapping shop/quote (charts/quote/templates/mapping.yaml, 50%)" in message


def test_pre_commit_with_a_staged_values_file_reports_what_the_chart_renders(
    repo: Path, helm: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "environments/prod/quote.yaml").write_text("replicaCount: three\n")
    code, out, _ = run(capsys, "check", "--with-repo", "environments/prod/quote.yaml", "-o", "json")
    findings = json.loads(out)["findings"]
    assert code == 1
    assert [(f["file"], f["via"]) for f in findings] == [
        ("charts/quote/templates/deployment.yaml", "charts/quote")
    ]
    assert "spec.replicas" in findings[0]["message"]


# ---- input from outside, exclude ---------------------------------------------------------


def test_rendered_output_on_stdin_and_a_file_outside_the_repository(
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    rendered = kustomize(repo / "overlays/prod")
    live = snapshot(tmp_path / "live.yaml", rendered, INVENTORY)
    outside = tmp_path / "rendered.yaml"
    outside.write_text(rendered)
    code, out, err = run(
        capsys, "diff", str(outside), "--inventory", INVENTORY, "--live-file", str(live)
    )
    assert code == 0, err + out
    monkeypatch.setattr("sys.stdin", _Stdin(rendered.replace("replicas: 3", "replicas: 4")))
    code, out, err = run(capsys, "diff", "-", "--inventory", INVENTORY, "--live-file", str(live))
    assert code == 1 and "~ Deployment shop/web  (apps/v1)  (stdin):" in out
    assert "removed" in out and "0 removed" in out  # a partial read never calls objects removed
    monkeypatch.setattr("sys.stdin", _Stdin(rendered))
    code, out, err = run(capsys, "check", "-")
    assert code == 0, out + err


def test_sync_refuses_stdin_and_outside_files(
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr("sys.stdin", _Stdin(BASE["base/mapping.yaml"]))
    code, _, err = run(capsys, "sync", "-", "--yes")
    assert code == 2
    assert "(stdin): sync applies what the repository holds" in err
    outside = tmp_path / "rendered.yaml"
    outside.write_text(BASE["base/mapping.yaml"])
    code, _, err = run(capsys, "sync", str(outside), "--yes")
    assert code == 2 and f"{outside}: sync applies what the repository holds" in err


def test_exclude_is_honoured_by_diff_before_any_file_is_parsed(
    repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (repo / ".ambdiff.yaml").write_text("exclude: ['scratch/*', 'overlays/dev']\n")
    (repo / "scratch").mkdir()
    (repo / "scratch/broken.yaml").write_text("a: [unclosed\n")
    (repo / "overlays/dev").mkdir()
    (repo / "overlays/dev/kustomization.yaml").write_text("resources: [../../missing]\n")
    live = snapshot(tmp_path / "live.yaml", kustomize(repo / "overlays/prod"), "x")
    code, out, err = run(
        capsys, "diff", "overlays", "scratch", "--inventory", "x", "--live-file", str(live)
    )
    assert code == 0, err + out


class _Stdin:
    """Standard input that is a pipe (not a terminal), holding `text`."""

    def __init__(self, text: str) -> None:
        self.buffer = io.BytesIO(text.encode())

    def isatty(self) -> bool:
        return False


def test_routes_rev_compares_the_rendered_chart_of_two_revisions(
    repo: Path, helm: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "environments/prod/quote.yaml").write_text("replicaCount: 2\nprefix: /quotes/\n")
    code, out, err = run(capsys, "routes", "--rev", "HEAD", "-o", "json")
    assert code == 1, err
    found = {
        (c["status"], r["prefix"], r["source"]["file"])
        for c in json.loads(out)["changes"] for r in c["old"] + c["new"]
    }  # fmt: skip
    assert found == {
        ("added", "/quotes/", "charts/quote/templates/mapping.yaml"),
        ("removed", "/quote/", "charts/quote/templates/mapping.yaml"),
    }
    code, out, _ = run(capsys, "routes")
    assert code == 0
    assert "/quotes/" in out and "charts/quote/templates/mapping.yaml" in out


def test_pre_commit_with_a_staged_base_file_reports_what_the_overlay_renders(
    repo: Path, helm: str, capsys: pytest.CaptureFixture[str]
) -> None:
    patch = repo / "overlays/prod/replicas.yaml"
    patch.write_text(patch.read_text().replace("replicas: 3", "replicas: many"))
    # The base's kustomization is staged: the overlay built on it is what gets applied.
    code, out, _ = run(capsys, "check", "--with-repo", "base/kustomization.yaml", "-o", "json")
    findings = json.loads(out)["findings"]
    assert code == 1
    assert [(f["file"], f["via"], f["rule"]) for f in findings] == [
        ("base/web.yaml", "overlays/prod", "schema")
    ]


def test_pre_commit_with_either_environments_values_file_reports_its_chart(
    repo: Path, helm: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = repo / ".ambdiff.yaml"
    settings.write_text(
        settings.read_text()
        + """\
  - name: quote-dev
    paths: [charts/quote]
    namespace: shop-dev
    helm: {release: quote, values: [environments/dev/quote.yaml]}
"""
    )
    (repo / "environments/dev").mkdir()
    (repo / "environments/dev/quote.yaml").write_text("hostname: dev.example.com\n")
    # prod's values, though quote-dev (with other values) renders the same chart after it:
    (repo / "environments/prod/quote.yaml").write_text("replicaCount: three\n")
    code, out, _ = run(capsys, "check", "--with-repo", "environments/prod/quote.yaml", "-o", "json")
    assert code == 1
    assert [(f["object"], f["rule"]) for f in json.loads(out)["findings"]] == [
        ("Deployment shop/quote", "schema")
    ]


# ---- hostile folders (found by an independent tester) -----------------------------------

LEAK = "hunter2-LEAK"


@pytest.mark.parametrize(
    "kustomization",
    [
        f'secretGenerator:\n- name: s\n  literals: ["password: {LEAK}"]\n',  # no '='
        f"secretGenerator:\n- name: s\n  literals: [{LEAK}]\n",
        f"patches:\n- patch: |-\n    stringData: {{password: {LEAK}}}\n",  # no kind
    ],
)
def test_a_kustomize_failure_never_shows_the_secret_it_quotes(
    repo: Path, capsys: pytest.CaptureFixture[str], kustomization: str, tmp_path: Path
) -> None:
    (repo / "overlays/prod/kustomization.yaml").write_text(kustomization)
    code, out, err = run(capsys, "diff", "web", "--live-file", str(tmp_path / "none.yaml"))
    assert code == 2 and "`kubectl kustomize` failed" in err and "***" in err
    assert LEAK not in out + err
    for output in ("json", "github", "human"):
        code, out, err = run(capsys, "check", "overlays/prod", "-o", output)
        assert code == 1 and "render-failed" in out and LEAK not in out + err


def test_a_helm_fail_never_shows_the_value_it_was_given(
    repo: Path, helm: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (repo / "environments/prod/quote.yaml").write_text(f"password: {LEAK}\n")
    (repo / "charts/quote/templates/fail.yaml").write_text("{{ fail .Values.password }}\n")
    code, out, err = run(capsys, "diff", "quote", "--live-file", str(tmp_path / "none.yaml"))
    assert code == 2
    assert (
        "charts/quote: `helm template` failed: execution error at "
        "(quote/templates/fail.yaml:1:3): ***." in err
    )
    assert LEAK not in out + err


def test_a_chart_link_out_of_the_repository_is_refused_in_both_modes(
    repo: Path, helm: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("OUTSIDE-CONTENT\n")
    (repo / "charts/quote/f.txt").symlink_to(outside)
    (repo / "charts/quote/templates/cm.yaml").write_text(
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: f}\ndata: {f: {{ .Files.Get "f.txt" | quote }}}\n'
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a link out")
    for rev in ((), ("--rev", "HEAD")):
        code, out, err = run(capsys, "diff", "quote", *rev, "--live-file", str(tmp_path / "x.yaml"))
        assert code == 2, out
        assert err.startswith(
            "ambdiff: error: charts/quote/f.txt: a symbolic link out of the "
            "repository, in charts/quote: helm would read"
        )
        assert "OUTSIDE-CONTENT" not in out + err


def test_a_kustomization_naming_a_folder_outside_the_repository_is_refused(
    repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere/kustomization.yaml").write_text("resources: []\n")
    (repo / "overlays/prod/kustomization.yaml").write_text("resources: [../../../elsewhere]\n")
    for rev in ((), ("--rev", "HEAD")):
        if rev:
            git(repo, "commit", "-qam", "outside")
        code, _, err = run(capsys, "diff", "web", *rev, "--live-file", str(tmp_path / "x.yaml"))
        assert code == 2
        assert (
            "overlays/prod/kustomization.yaml names ../../../elsewhere, a folder outside "
            "the repository" in err
        )


def test_rev_errors_name_no_temporary_folder(
    repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (repo / "overlays/prod/kustomization.yaml").write_text("resources: [missing.yaml]\n")
    git(repo, "commit", "-qam", "broken")
    code, _, err = run(capsys, "diff", "web", "--rev", "HEAD", "--live-file", str(tmp_path / "x"))
    assert code == 2 and "missing.yaml" in err
    assert "ambdiff-" not in err and str(tmp_path.parent) not in err


def test_an_excluded_kustomization_leaves_its_folder_unread(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / ".ambdiff.yaml").write_text("exclude: [overlays/prod/kustomization.yaml]\n")
    code, out, err = run(capsys, "check", "overlays", "base/mapping.yaml")
    assert code == 0, out + err  # replicas.yaml is a patch, never read as a manifest
    assert "1 file" in out


def test_an_excluded_file_that_a_folder_renders_from_is_named_in_a_warning(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / ".ambdiff.yaml").write_text("exclude: [base/mapping.yaml]\n")
    code, _out, err = run(capsys, "check", "overlays/prod")
    assert code == 0
    assert (
        "warning: overlays/prod renders from base/mapping.yaml, which `exclude` names: "
        "kustomize reads it all the same" in err
    )


def test_routes_rev_against_a_base_without_a_new_source_reads_it_as_empty(
    repo: Path, helm: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pull request that adds an overlay: the base revision has neither its folder nor
    its source, and routes --rev compares with it all the same."""
    (repo / "overlays/dev").mkdir()
    (repo / "overlays/dev/kustomization.yaml").write_text("""\
resources: [../../base]
namespace: shop-dev
patches:
- target: {kind: Mapping, name: web}
  patch: |-
    - {op: replace, path: /spec/hostname, value: dev.example.com}
""")
    settings = repo / ".ambdiff.yaml"
    settings.write_text(settings.read_text() + "  - name: web-dev\n    paths: [overlays/dev]\n")
    code, out, err = run(capsys, "routes", "--rev", "HEAD", "-o", "json")
    assert code == 1, err
    added = [(c["status"], r["object"]) for c in json.loads(out)["changes"] for r in c["new"]]
    assert added == [("added", "Mapping shop-dev/web")]
    code, out, err = run(capsys, "check", "--rev", "HEAD")
    assert code == 0, out + err


def test_routes_refuses_a_table_missing_a_folder_that_did_not_render(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / ".ambdiff.yaml").unlink()
    (repo / "overlays/prod/kustomization.yaml").write_text("resources: [missing.yaml]\n")
    code, out, err = run(capsys, "routes", "overlays")
    assert code == 2 and out == ""
    assert err.startswith("ambdiff: error: overlays/prod: `kubectl kustomize` failed")


def test_an_overlay_that_renders_nothing_diffs_as_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (repo / "overlays/prod/kustomization.yaml").write_text("resources: []\n")
    live = snapshot(tmp_path / "live.yaml", kustomize(repo / "base"), INVENTORY)
    code, out, err = run(capsys, "diff", "web", "--live-file", str(live))
    assert code == 1, err  # what the inventory holds and git no longer has: removed
    assert "0 changed, 0 added, 2 removed, 0 unchanged" in out
