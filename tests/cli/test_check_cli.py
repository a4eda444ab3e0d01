"""`ambdiff check` as a user runs it: output formats, exit codes, settings."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ambdiff import schemas, yamlio
from ambdiff.cli import main

API = """apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata:
  name: {name}
  namespace: {ns}
spec:
  hostname: "*"
  prefix: /api/
  service: {name}
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "gitops"
    (root / "apps").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "apps" / "api.yaml").write_text(API.format(name="api", ns="shop"))
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check", "--color", "never", *args])
    out, err = capsys.readouterr()
    return code, out, err


def collide(repo: Path) -> None:
    (repo / "apps" / "legacy.yaml").write_text(API.format(name="legacy", ns="legacy"))


def test_clean_repository_passes(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--repo", str(repo))
    assert (code, err) == (0, "")
    assert out.strip() == "check passed: 0 errors, 0 warnings in 1 file (1 object)"


def test_human_output_groups_by_file_with_line_and_rule(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    collide(repo)
    (repo / "apps" / "broken.yaml").write_text("kind: Mapping\nmetadata: {name: [x\n")
    code, out, _ = run(capsys, "--repo", str(repo))
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "apps/api.yaml"
    assert lines[1].startswith(
        "  apps/api.yaml:8  warning route-collision  Mapping shop/api: shares the route"
    )
    assert "apps/broken.yaml" in lines
    assert any(
        line.startswith("  apps/broken.yaml:3  error   yaml-syntax  invalid YAML") for line in lines
    )
    assert lines[-1] == "check failed: 1 error, 2 warnings in 3 files (2 objects)"


def test_json_output_is_exactly_the_contract(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    collide(repo)
    code, out, _ = run(capsys, "--repo", str(repo), "-o", "json")
    assert code == 0  # warnings only
    data = json.loads(out)
    assert list(data) == ["findings", "summary"]
    first = data["findings"][0]
    assert list(first) == ["rule", "severity", "file", "line", "object", "message"]
    assert first | {"message": ""} == {
        "rule": "route-collision", "severity": "warning", "file": "apps/api.yaml", "line": 8,
        "object": "Mapping shop/api", "message": "",
    }  # fmt: skip
    assert data["summary"] == {"error": 0, "warning": 2, "info": 0, "files": 2, "objects": 2}


def test_github_annotations(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "apps" / "api.yaml").write_text(API.format(name="api", ns="shop") + "  weight: 120\n")
    code, out, _ = run(capsys, "--repo", str(repo), "-o", "github")
    assert code == 1
    [line] = out.splitlines()
    assert line.startswith(
        "::error file=apps/api.yaml,line=10,title=route-group-conflict::Mapping shop/api: has weight 120"
    )


def test_strict_fails_on_warnings(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    collide(repo)
    assert run(capsys, "--repo", str(repo))[0] == 0
    code, out, _ = run(capsys, "--repo", str(repo), "--strict")
    assert code == 1
    assert out.splitlines()[-1].startswith("check failed (--strict: warnings fail too)")
    (repo / ".ambdiff.yaml").write_text("check: {strict: true}\n")
    assert run(capsys, "--repo", str(repo))[0] == 1


def test_rules_disabled_in_settings(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    collide(repo)
    (repo / ".ambdiff.yaml").write_text("check:\n  disable: [route-collision]\n")
    code, out, _ = run(capsys, "--repo", str(repo), "--strict")
    assert code == 0 and "route-collision" not in out
    (repo / ".ambdiff.yaml").write_text("check:\n  disable: [route-colision]\n")
    code, _, err = run(capsys, "--repo", str(repo))
    assert code == 2
    assert "unknown check rule 'route-colision'" in err and "Did you mean 'route-collision'?" in err


def test_unreadable_input_is_exit_2_but_bad_yaml_is_a_finding(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--repo", str(repo), "nowhere")
    assert code == 2 and "nowhere: no such file or directory" in err
    code, _, err = run(capsys, "--repo", str(repo), "-o", "diff")
    assert code == 2 and "'diff' is not one of 'human', 'json', 'github'" in err
    (repo / "apps" / "api.yaml").write_text("a: [\n")
    assert run(capsys, "--repo", str(repo))[0] == 1


def test_with_repo_reports_only_the_given_files(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    collide(repo)
    (repo / "apps" / "old.yaml").write_text("a: [\n")  # an old problem elsewhere
    code, out, _ = run(
        capsys, "--repo", str(repo), "--with-repo", "--strict", "-o", "json", "apps/legacy.yaml"
    )
    assert code == 1
    found = json.loads(out)["findings"]
    assert [(f["file"], f["rule"]) for f in found] == [("apps/legacy.yaml", "route-collision")]
    assert "apps/api.yaml:1" in found[0]["message"]


def test_rev_checks_a_commit(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one mapping")
    collide(repo)  # only in the working tree
    code, out, _ = run(capsys, "--repo", str(repo), "--rev", "HEAD", "--strict")
    assert code == 0, out


BUNDLES = Path(__file__).resolve().parents[1] / "e2e" / "bundles"


def test_findings_are_the_same_when_two_processes_read_and_validate(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    forks: list[int],
) -> None:
    """Big repositories are read and validated by two processes (ambdiff.forked); the public
    bundles (Argo CD, kube-prometheus, Emissary, ingress-nginx), a broken file and a route
    collision give the same report, byte for byte, split or not."""

    root = tmp_path / "bundles"
    shutil.copytree(BUNDLES, root)
    git(root, "init", "-q", "-b", "main")
    (root / "broken.yaml").write_text("kind: Mapping\nmetadata: {name: [x\n")
    (root / "api.yaml").write_text(API.format(name="api", ns="shop"))
    (root / "legacy.yaml").write_text(API.format(name="legacy", ns="legacy"))
    reports = []
    for split_from in (0, 10**12):
        monkeypatch.setattr(yamlio, "PARALLEL_FROM", split_from)
        monkeypatch.setattr(schemas, "PARALLEL_FROM", split_from)
        code, out, err = run(capsys, "--repo", str(root), "-o", "json")
        reports.append((code, out, err, len(forks)))
        forks.clear()
    assert reports[0][:3] == reports[1][:3]
    assert (reports[0][3], reports[1][3]) == (2, 0)  # reading and validation; then neither
    code, out, _, _ = reports[0]
    rules = {finding["rule"] for finding in json.loads(out)["findings"]}
    assert code == 1 and {"yaml-syntax", "route-collision"} <= rules
