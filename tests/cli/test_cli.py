"""The command line as a user meets it: real git repositories in tmp_path, offline snapshots,
exit codes and one-sentence errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ambdiff import __version__
from ambdiff.cli import main

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
        - name: web
          image: web:{tag}
"""

SNAPSHOT = """apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: web, namespace: shop, uid: u1, resourceVersion: "7"}
  spec:
    replicas: 2
    selector: {matchLabels: {app: web}}
    template:
      metadata: {labels: {app: web}}
      spec:
        containers:
        - {name: web, image: "web:1", imagePullPolicy: IfNotPresent}
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with one commit: replicas 2, image web:1 (matches the snapshot)."""
    root = tmp_path / "gitops"
    (root / "k8s").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "k8s" / "web.yaml").write_text(DEPLOY.format(replicas=2, tag=1))
    git(root, "add", "-A")
    git(root, "commit", "-qm", "first")
    (tmp_path / "snapshot.yaml").write_text(SNAPSHOT)
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0 and __version__ in out
    code, out, _ = run(capsys, "diff", "--help")
    assert code == 0
    for option in (
        "--rev",
        "--live-file",
        "--server-side",
        "--kubeconfig",
        "--context",
        "Examples:",
    ):
        assert option in out


def test_in_sync_exits_0(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "diff", "--repo", str(repo), "--live-file", str(repo.parent / "snapshot.yaml")
    )
    assert code == 0, err
    assert "0 changed, 0 added, 0 removed, 1 unchanged: git in sync with" in out


def test_working_tree_change_exits_1_with_the_field(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "k8s" / "web.yaml").write_text(DEPLOY.format(replicas=2, tag=2))
    code, out, _ = run(
        capsys, "diff", "--repo", str(repo), "--live-file", str(repo.parent / "snapshot.yaml")
    )
    assert code == 1
    assert "~ Deployment shop/web  (apps/v1)  k8s/web.yaml:1" in out
    assert '~ spec.template.spec.containers[name=web].image: "web:1" → "web:2"' in out


def test_rev_reads_git_objects_without_touching_a_dirty_tree(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "k8s" / "web.yaml").write_text(DEPLOY.format(replicas=5, tag=1))
    git(repo, "commit", "-qam", "scale to 5")
    (repo / "k8s" / "web.yaml").write_text(DEPLOY.format(replicas=9, tag=1))  # dirty
    snapshot = str(repo.parent / "snapshot.yaml")
    code, out, _ = run(
        capsys, "diff", "--repo", str(repo), "--rev", "HEAD~1", "--live-file", snapshot
    )
    assert code == 0, out
    code, out, _ = run(
        capsys, "diff", "--repo", str(repo), "--rev", "main", "-o", "json", "--live-file", snapshot
    )
    assert code == 1
    [change] = json.loads(out)["resources"][0]["changes"]
    assert change == {"op": "change", "path": "spec.replicas", "old": 2, "new": 5}
    assert "replicas: 9" in (repo / "k8s" / "web.yaml").read_text()
    assert git(repo, "status", "--porcelain").strip() == "M k8s/web.yaml"


def test_paths_are_relative_to_where_the_user_stands(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo / "k8s")
    code, _, err = run(
        capsys, "diff", "web.yaml", "--live-file", str(repo.parent / "snapshot.yaml")
    )
    assert code == 0, err


def test_settings_file_sets_defaults_and_flags_win(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / ".ambdiff.yaml").write_text(
        "output: json\nignore:\n  - kind: Deployment\n    paths: [/spec/replicas]\n"
    )
    (repo / "k8s" / "web.yaml").write_text(DEPLOY.format(replicas=7, tag=1))
    snapshot = str(repo.parent / "snapshot.yaml")
    code, out, _ = run(capsys, "diff", "--repo", str(repo), "--live-file", snapshot)
    assert code == 0 and json.loads(out)["summary"]["unchanged"] == 1
    code, out, _ = run(capsys, "diff", "--repo", str(repo), "--live-file", snapshot, "-o", "human")
    assert code == 0 and "1 unchanged" in out


def test_environment_variables_set_options(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMBDIFF_OUTPUT", "json")
    monkeypatch.setenv("AMBDIFF_LIVE_FILE", str(repo.parent / "snapshot.yaml"))
    code, out, _ = run(capsys, "diff", "--repo", str(repo))
    assert code == 0 and json.loads(out)["summary"]["unchanged"] == 1


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (lambda r: (r / "k8s" / "bad.yaml").write_text("kind: [x\n"), [], "k8s/bad.yaml:2:1"),
        (
            lambda r: (r / "k8s" / "nokind.yaml").write_text(
                "apiVersion: v1\nmetadata: {name: a}\n"
            ),
            [],
            "k8s/nokind.yaml:1: object has no kind",
        ),
        (
            lambda r: (r / "k8s" / "dup.yaml").write_text(DEPLOY.format(replicas=1, tag=1)),
            [],
            "Deployment shop/web is defined twice (first at k8s/dup.yaml:1)",
        ),
        (lambda r: None, ["--rev", "no-such-branch"], "unknown git revision 'no-such-branch'"),
        (lambda r: None, ["missing-dir"], "missing-dir: no such file or directory"),
        (
            lambda r: (r / ".ambdiff.yaml").write_text("inventroy: x\n"),
            [],
            "Did you mean 'inventory'?",
        ),
        (lambda r: None, ["-o", "yaml"], "Invalid value for '-o' / '--output'"),
    ],
    ids=["yaml", "missing-kind", "duplicate", "rev", "path", "settings", "flag"],
)
def test_bad_input_is_one_sentence_and_exit_2(
    repo: Path, capsys: pytest.CaptureFixture[str], setup, args: list[str], message: str
) -> None:
    setup(repo)
    code, out, err = run(
        capsys,
        "diff",
        "--repo",
        str(repo),
        "--live-file",
        str(repo.parent / "snapshot.yaml"),
        *args,
    )
    assert code == 2
    assert message in err
    assert "Traceback" not in err + out


@pytest.mark.parametrize(
    ("args", "offline"),
    [
        (["diff"], "(`ambdiff diff --live-file SNAPSHOT` compares with a saved dump instead.)"),
        (
            ["routes", "--live"],
            "(`ambdiff routes --live --live-file SNAPSHOT` reads a saved dump instead.)",
        ),
        (["sync", "--dry-run"], None),  # sync cannot work from a snapshot: it does not say so
    ],
)
def test_no_kubeconfig_is_a_clear_error_and_only_a_command_that_can_work_offline_says_how(
    repo: Path, capsys: pytest.CaptureFixture[str], args: list[str], offline: str | None
) -> None:
    code, _, err = run(capsys, *args, "--repo", str(repo))
    assert code == 2 and "Traceback" not in err
    [error] = [line for line in err.splitlines() if line.startswith("ambdiff: error:")]
    assert error.startswith("ambdiff: error: no kubeconfig found: no file named in $KUBECONFIG (")
    assert "Pass --kubeconfig or set KUBECONFIG." in error
    if offline is None:
        assert "--live-file" not in err
    else:
        assert error.endswith(offline)


def test_unknown_environment_variable(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMBDIFF_NAMESPAC", "x")
    code, _, err = run(capsys, "diff", "--repo", str(repo))
    assert code == 2 and "Did you mean AMBDIFF_NAMESPACE?" in err


def test_python_dash_m_runs_the_same_cli(repo: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ambdiff",
            "diff",
            "--repo",
            str(repo),
            "--live-file",
            str(repo.parent / "snapshot.yaml"),
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["summary"]["unchanged"] == 1


def test_a_misspelt_source_name_is_named_with_a_suggestion(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / ".ambdiff.yaml").write_text("sources:\n  - {name: web, paths: [k8s]}\n")
    code, out, err = run(capsys, "check", "--repo", str(repo), "wbe")
    assert code == 2 and out == ""
    assert err == (
        "ambdiff: error: wbe: no source of that name and no such file or folder. "
        "Did you mean 'web'?\n"
    )
    assert run(capsys, "check", "--repo", str(repo), "web")[0] == 0
