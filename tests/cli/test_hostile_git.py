"""Revisions git cannot give, and repositories git refuses: one sentence that says why and
what to do (exit 2), never a traceback (issue #14)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ambdiff.cli import main

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: shop}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec: {{containers: [{{name: web, image: "web:1"}}]}}
"""
SNAPSHOT = "apiVersion: v1\nkind: List\nitems: []\n"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "protocol.file.allow=always", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Three commits (replicas 1, 2, 3) of k8s/web.yaml."""
    root = tmp_path / "gitops"
    (root / "k8s").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    for replicas in (1, 2, 3):
        (root / "k8s" / "web.yaml").write_text(DEPLOY.format(replicas=replicas))
        git(root, "add", "-A")
        git(root, "commit", "-qm", f"replicas {replicas}")
    (tmp_path / "snapshot.yaml").write_text(SNAPSHOT)
    return root


def clone(repo: Path, name: str, *options: str) -> Path:
    target = repo.parent / name
    git(repo.parent, "clone", "-q", *options, f"file://{repo}", str(target))
    return target


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "unexpected error" not in err
    return code, out, err


def one_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("ambdiff: error: ")]
    assert len(lines) == 1, err
    return lines[0]


def diff(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, str, str]:
    snapshot = str(root.parent / "snapshot.yaml")
    return run(capsys, "diff", "--repo", str(root), "--live-file", snapshot, *args)


def test_a_revision_beyond_a_shallow_clone_says_how_to_fetch_more(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shallow = clone(repo, "shallow", "--depth", "1")
    code, _, _ = diff(capsys, shallow, "--rev", "HEAD", "k8s")
    assert code == 1
    for rev in ("HEAD~2", "HEAD~1"):
        code, _, err = diff(capsys, shallow, "--rev", rev, "k8s")
        assert code == 2
        assert one_error(err) == (
            f"ambdiff: error: unknown git revision '{rev}' in {shallow}: this is a shallow "
            "clone, and the commit may be older than the history it holds. Fetch more history "
            "(`git fetch --deepen=100`, or all of it: `git fetch --unshallow`); in GitHub "
            "Actions, give actions/checkout `fetch-depth: 0`."
        )
    code, _, err = run(capsys, "check", "--repo", str(shallow), "--rev", "HEAD~2", "k8s")
    assert code == 2 and "shallow clone" in one_error(err)


def test_a_reflog_revision_git_cannot_resolve_is_one_sentence(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh = clone(repo, "fresh")
    code, _, err = diff(capsys, fresh, "--rev", "HEAD@{5}", "k8s")
    assert code == 2
    assert one_error(err) == (
        f"ambdiff: error: unknown git revision 'HEAD@{{5}}' in {fresh}: log for 'HEAD' only "
        "has 1 entries. Use a commit, branch or tag that `git log` knows (fetch it first?)."
    )
    shutil.rmtree(fresh / ".git" / "logs")  # a clone that keeps no reflog
    code, _, err = diff(capsys, fresh, "--rev", "HEAD@{yesterday}", "k8s")
    assert code == 2
    assert one_error(err).startswith(
        f"ambdiff: error: unknown git revision 'HEAD@{{yesterday}}' in {fresh}: git's reflog "
        "has no such entry (each clone has its own reflog"
    )


def test_a_reflog_date_before_the_clone_is_git_s_answer_with_its_warning(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh = clone(repo, "fresh")
    code, _, err = diff(capsys, fresh, "--rev", "HEAD@{yesterday}", "k8s")
    assert code == 1 and "replicas" not in err
    assert (
        "ambdiff: warning: --rev HEAD@{yesterday}: git says: log for 'HEAD' only goes back" in err
    )


def test_a_revision_like_an_option_is_refused(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = diff(capsys, repo, "--rev=--output=/tmp/x", "k8s")
    assert code == 2
    assert one_error(err) == (
        "ambdiff: error: --rev --output=/tmp/x: a revision cannot start with '-'. "
        "Name a commit, branch or tag."
    )


def test_a_submodule_is_not_read_from_a_revision(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outer = repo.parent / "outer"
    outer.mkdir()
    git(outer, "init", "-q", "-b", "main")
    git(outer, "submodule", "add", "-q", f"file://{repo}", "manifests")
    git(outer, "commit", "-qm", "with a submodule")
    for path in ("manifests", "manifests/k8s"):
        code, _, err = diff(capsys, outer, "--rev", "HEAD", path)
        assert code == 2
        line = one_error(err)
        assert line.startswith(f"ambdiff: error: {path}: ")
        assert "git submodule in revision HEAD (" in line
        assert "submodules are not read from a revision. Run without --rev" in line
    code, _, err = run(capsys, "check", "--repo", str(outer), "--rev", "HEAD", "manifests")
    assert code == 2 and "submodules are not read from a revision" in one_error(err)


def test_a_repository_of_another_user_names_git_s_fix(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # git (2.35.2+) treats every repository as another user's with this variable set: what a
    # CI container sees when the checkout belongs to the runner's user.
    monkeypatch.setenv("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")
    probe = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True)
    if "dubious ownership" not in probe.stderr:
        pytest.skip("this git does not honour GIT_TEST_ASSUME_DIFFERENT_OWNER")
    expected = (
        f"ambdiff: error: git refuses to read the repository {repo}: another user owns it "
        '(git\'s "dubious ownership" check). If you trust it, run `git config --global --add '
        f"safe.directory {repo}`"
    )
    for args in (["--rev", "HEAD", "k8s"], ["k8s"]):
        code, _, err = diff(capsys, repo, *args)
        assert code == 2
        assert one_error(err).startswith(expected)
    code, _, err = run(capsys, "check", "--repo", str(repo), "--rev", "HEAD", "k8s")
    assert code == 2 and one_error(err).startswith(expected)


def test_symlinks_in_a_revision_are_followed_inside_it_only(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = repo.parent / "secret.yaml"
    outside.write_text("apiVersion: v1\nkind: Secret\nstringData: {password: hunter2}\n")
    (repo / "linked").mkdir()
    (repo / "linked" / "web.yaml").symlink_to("../k8s/web.yaml")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a link inside")
    code, out, err = diff(capsys, repo, "--rev", "HEAD", "linked")
    assert code == 1 and "Deployment shop/web" in out, err

    (repo / "linked" / "leak.yaml").symlink_to(outside)
    (repo / "linked" / "a.yaml").symlink_to("b.yaml")
    (repo / "linked" / "b.yaml").symlink_to("a.yaml")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "links out and round")
    shutil.rmtree(repo / "linked")  # only the revision has them
    code, out, err = diff(capsys, repo, "--rev", "HEAD", "linked/leak.yaml")
    assert code == 2 and "hunter2" not in out + err
    assert one_error(err).startswith(
        "ambdiff: error: linked/leak.yaml: a symbolic link to a file outside the repository"
    )
    code, _, err = diff(capsys, repo, "--rev", "HEAD", "linked/a.yaml")
    assert code == 2
    assert "linked/a.yaml: a symbolic link loop (it never reaches a file)." in one_error(err)


def test_non_utf8_in_a_revision_names_the_line(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "k8s" / "bad.yaml").write_bytes(b"apiVersion: v1\nkind: ConfigMap\ndata: {k: \xe9}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "latin-1")
    (repo / "k8s" / "bad.yaml").unlink()
    code, _, err = diff(capsys, repo, "--rev", "HEAD", "k8s")
    assert code == 2
    assert one_error(err) == (
        "ambdiff: error: k8s/bad.yaml:3: not UTF-8 text (at byte offset 41). Save it as UTF-8."
    )


def test_a_blob_over_the_size_limit_is_refused_unread(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (repo / "k8s" / "huge.yaml").open("wb") as f:
        f.truncate(16 * 2**20 + 1)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "huge")
    (repo / "k8s" / "huge.yaml").unlink()
    code, _, err = diff(capsys, repo, "--rev", "HEAD", "k8s")
    assert code == 2
    assert one_error(err) == (
        "ambdiff: error: k8s/huge.yaml: larger than 16 MiB, the most ambdiff reads from one "
        "file. Split it into several files."
    )


def test_a_corrupt_git_config_is_one_sentence_naming_the_repository(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # (An independent tester: the inventory name read the config and exit 3 followed.)
    (repo / ".git" / "config").write_text("[core\nbroken = = =\n")
    code, _, err = diff(capsys, repo)
    assert code == 2
    line = one_error(err)
    assert f"the git configuration of {repo} cannot be read" in line, err
    assert "git config --list" in err


def test_a_deleted_working_directory_is_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    code, _, err = run(capsys, "check")
    assert code == 2
    assert "the current directory no longer exists" in one_error(err)
