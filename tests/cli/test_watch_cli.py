"""`ambdiff watch` as a user meets it without a cluster: option errors (exit 2), the branch
it follows (a local repository, or a URL mirrored into the cache), and a loop that keeps
going, backs off and stops cleanly when the cluster cannot be reached."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ambdiff.cli import main
from ambdiff.errors import ConfigError, GitError
from ambdiff.gitsource import Branch, GitRevision

MAP = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop}\ndata: {a: '1'}\n"
)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "gitops"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "config.yaml").write_text(MAP)
    git(root, "add", ".")
    git(root, "commit", "-qm", "first")
    return root


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--interval", "soon"], "--interval 'soon' is not a duration"),
        (["--interval", "0s"], "must be longer than zero"),
        (["--rev", "HEAD"], "watch has no --rev option: watch follows a branch (--branch)"),
        (["-o", "json"], "watch has no -o option: watch writes logs, not a report (--log-format)"),
        (["--live-file", "dump.yaml"], "watch has no --live-file option"),
        (["--log-format", "xml"], "Invalid value for '--log-format'"),
        (["--metrics-port", "70000"], "Invalid value for '--metrics-port'"),
        (
            ["--sync", "--renew-deadline", "20s"],
            "--lease-duration (15s) must be longer than --renew-deadline (20s), and that longer "
            "than --retry-period (2s).",
        ),
        (["--sync", "--retry-period", "soon"], "--retry-period 'soon' is not a duration"),
    ],
)
def test_option_errors_exit_2_with_one_line(
    repo: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["watch", "--repo", str(repo), "--metrics-port", "0", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1, err


def test_repo_must_be_a_directory_or_a_git_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["watch", "--repo", str(tmp_path / "nope")]) == 2
    assert "no such directory, and not a git URL" in capsys.readouterr().err
    assert main(["watch", "--repo", str(tmp_path)]) == 2
    assert "is not inside a git repository" in capsys.readouterr().err


def test_a_local_repository_is_read_as_it_is(repo: Path, tmp_path: Path) -> None:
    branch = Branch(str(repo), "main", tmp_path / "cache")
    head = git(repo, "rev-parse", "HEAD")
    branch.fetch()  # nothing to fetch; the repository is left alone
    assert (branch.head(), branch.root, branch.url) == (head, repo.resolve(), None)
    assert not (tmp_path / "cache").exists()
    (repo / "config.yaml").write_text(MAP.replace("'1'", "'2'"))  # a dirty tree is fine
    git(repo, "commit", "-qam", "second")
    assert branch.head() == git(repo, "rev-parse", "HEAD") != head
    with pytest.raises(GitError, match="there is no branch 'release'"):
        Branch(str(repo), "release", tmp_path / "cache").head()


def test_a_url_is_mirrored_bare_into_the_cache_and_fetched(repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    branch = Branch(f"file://{repo}", "main", cache)
    assert branch.root.parent == cache and branch.root.name.startswith("gitops-")
    branch.fetch()
    assert branch.head() == git(repo, "rev-parse", "HEAD")
    assert git(branch.root, "rev-parse", "--is-bare-repository") == "true"
    (repo / "config.yaml").write_text(MAP.replace("'1'", "'2'"))
    git(repo, "commit", "-qam", "second")
    assert branch.head() != git(repo, "rev-parse", "HEAD")  # until the next fetch
    branch.fetch()
    second = git(repo, "rev-parse", "HEAD")
    assert branch.head() == second
    assert "a: '2'" in (GitRevision(branch.root, second).read_text("config.yaml") or "")
    # A second watcher on the same URL reuses the mirror.
    assert Branch(f"file://{repo}", "main", cache).root == branch.root


def test_a_fetch_that_fails_says_why_without_credentials(tmp_path: Path) -> None:
    branch = Branch("https://token:s3cret@127.0.0.1:9/org/gitops.git", "main", tmp_path)
    with pytest.raises(GitError) as error:
        branch.fetch()
    text = str(error.value)
    assert "cannot fetch branch 'main' from https://***@127.0.0.1:9/org/gitops.git" in text
    assert "s3cret" not in text and "token" not in text.split(" from ")[1]


def test_an_unwritable_cache_is_a_plain_error(repo: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigError, match="Point --cache-dir at a writable directory"):
        Branch(f"file://{repo}", "main", blocker / "cache")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_without_a_cluster_rounds_fail_back_off_and_sigterm_exits_0(
    repo: Path, tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "watch.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ambdiff",
                "watch",
                "--repo",
                str(repo),
                "--interval",
                "1s",
                "--kubeconfig",
                str(tmp_path / "missing"),
                "--metrics-address",
                "127.0.0.1",
                "--metrics-port",
                str(port),
                "--log-format",
                "json",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while log.read_text().count('"event": "backoff"') < 2:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        proc.kill()
    events = [json.loads(line) for line in log.read_text().splitlines()]
    failed = [e for e in events if e["event"] == "round-failed"]
    assert failed[0]["stage"] == "cluster"
    assert "no such file" in failed[0]["message"] and "missing" in failed[0]["message"]
    assert "Traceback" not in log.read_text()
    assert events[-1]["event"] == "stop"


def test_a_busy_metrics_port_exits_2(repo: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "ambdiff",
                "watch",
                "--repo",
                str(repo),
                "--metrics-address",
                "127.0.0.1",
                "--metrics-port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert f"cannot serve metrics on 127.0.0.1:{port}" in done.stderr
