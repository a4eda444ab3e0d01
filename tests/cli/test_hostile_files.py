"""Hostile and broken files below a PATH or given as --live-file: one sentence (exit 2) or a
warning, never a traceback, a hang or a secret (issue #14)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ambdiff.cli import main

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "web:1"}]}
"""
SNAPSHOT = "apiVersion: v1\nkind: List\nitems: []\n"
SECRET = "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: shop}\n"
SECRET += "stringData: {password: hunter2-do-not-print}\n"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "gitops"
    (root / "k8s").mkdir(parents=True)
    (root / "k8s" / "web.yaml").write_text(DEPLOY)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "first"]):
        subprocess.run(["git", *args], cwd=root, check=True)
    (tmp_path / "snapshot.yaml").write_text(SNAPSHOT)
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every path ambdiff opens with os.open (as the file reader does)."""
    paths: list[str] = []
    real_open = os.open

    def spy(path: str | os.PathLike[str], flags: int, *args: int, **kw: int) -> int:
        paths.append(os.fspath(path))
        return real_open(path, flags, *args, **kw)

    monkeypatch.setattr(os, "open", spy)
    yield paths


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "unexpected error" not in err
    return code, out, err


def one_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("ambdiff: error: ")]
    assert len(lines) == 1, err
    return lines[0]


COMMANDS = [
    ["check", "k8s"],
    ["diff", "--live-file", "../snapshot.yaml", "k8s"],
    ["routes", "k8s"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_fifo_below_a_path_is_skipped_with_a_warning_and_never_opened(
    repo: Path, capsys: pytest.CaptureFixture[str], opened: list[str], command: list[str]
) -> None:
    fifo = repo / "k8s" / "x.yaml"
    os.mkfifo(fifo)
    code, _, err = run(capsys, *command)
    assert code in (0, 1)
    assert "ambdiff: warning: k8s/x.yaml: a named pipe (FIFO), not a regular file (skipped)." in err
    assert str(fifo) not in opened and not any(p.endswith("x.yaml") for p in opened)


def test_a_fifo_named_as_the_path_or_the_live_file_is_an_error(
    repo: Path, capsys: pytest.CaptureFixture[str], opened: list[str]
) -> None:
    os.mkfifo(repo / "k8s" / "x.yaml")
    code, _, err = run(capsys, "check", "k8s/x.yaml")
    assert code == 2
    assert one_error(err) == (
        "ambdiff: error: k8s/x.yaml: a named pipe (FIFO), not a regular file. Name a regular file."
    )
    os.mkfifo(repo.parent / "live.yaml")
    code, _, err = run(capsys, "diff", "--live-file", "../live.yaml", "k8s")
    assert code == 2
    assert "--live-file ../live.yaml: a named pipe (FIFO), not a regular file." in one_error(err)
    assert not any(p.endswith(("x.yaml", "live.yaml")) for p in opened)


def test_a_symlink_loop_is_one_sentence(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "k8s" / "a.yaml").symlink_to("b.yaml")
    (repo / "k8s" / "b.yaml").symlink_to("a.yaml")
    code, _, err = run(capsys, "diff", "--live-file", "../snapshot.yaml", "k8s")
    assert code == 2
    assert one_error(err) == (
        "ambdiff: error: k8s/a.yaml: a symbolic link loop (it never reaches a file). "
        "Fix or remove the link."
    )
    code, _, err = run(capsys, "diff", "--live-file", "../snapshot.yaml", "k8s/b.yaml")
    assert code == 2 and "k8s/b.yaml: a symbolic link loop" in one_error(err)
    code, out, err = run(capsys, "check", "k8s")
    assert code in (1, 2) and "symbolic link loop" in out + err


def test_a_folder_linked_to_its_parent_is_not_walked(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "k8s" / "sub").mkdir()
    (repo / "k8s" / "sub" / "up").symlink_to("..")
    (repo / "k8s" / "loop.yaml").symlink_to(".", target_is_directory=True)
    code, out, err = run(capsys, "diff", "--live-file", "../snapshot.yaml", "k8s")
    assert code == 1, err
    assert "1 added" in out and "defined twice" not in err


def test_a_dangling_symlink_is_named(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "k8s" / "gone.yaml").symlink_to("nowhere.yaml")
    code, _, err = run(capsys, "diff", "--live-file", "../snapshot.yaml", "k8s")
    assert code == 2
    assert "k8s/gone.yaml: a symbolic link to a file that does not exist." in one_error(err)


def test_a_symlink_out_of_the_repository_is_refused_unread(
    repo: Path, capsys: pytest.CaptureFixture[str], opened: list[str]
) -> None:
    outside = repo.parent / "elsewhere" / "secret.yaml"
    outside.parent.mkdir()
    outside.write_text(SECRET)
    (repo / "k8s" / "leak.yaml").symlink_to(outside)
    for command in COMMANDS[:2]:
        code, out, err = run(capsys, *command)
        assert "hunter2" not in out + err
        assert str(outside) not in opened
    code, _, err = run(capsys, "diff", "--live-file", "../snapshot.yaml", "k8s")
    assert code == 2
    assert one_error(err).startswith(
        f"ambdiff: error: k8s/leak.yaml: a symbolic link to {outside}, outside the repository"
    )


def test_a_name_too_long_is_one_sentence(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    long_name = "a" * 300 + ".yaml"
    code, _, err = run(capsys, "check", long_name)
    assert code == 2
    assert "the name is too long for the file system" in one_error(err)
    assert len(one_error(err)) < 400  # the name is shortened
    code, _, err = run(capsys, "diff", "--live-file", f"../{long_name}", "k8s")
    assert code == 2
    assert one_error(err).startswith("ambdiff: error: --live-file ../aaaa")
    assert "the name is too long for the file system" in one_error(err)


def test_non_utf8_live_file_names_the_line_and_byte(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = b"apiVersion: v1\nkind: List\nitems:\n- {kind: Secret, data: {k: caf\xe9}}\n"
    assert data.index(b"\xe9") == 63
    (repo.parent / "snapshot.yaml").write_bytes(data)
    code, _, err = run(capsys, "diff", "--live-file", "../snapshot.yaml", "k8s")
    assert code == 2
    assert one_error(err) == (
        "ambdiff: error: --live-file ../snapshot.yaml:4: not UTF-8 text (at byte offset 63). "
        "Save it as UTF-8."
    )
    assert "caf" not in err


def test_non_utf8_manifest_names_the_line_and_byte(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = b"apiVersion: v1\nkind: ConfigMap\ndata: {k: \xff}\n"
    assert data.index(b"\xff") == 41
    (repo / "k8s" / "bad.yaml").write_bytes(data)
    code, _, err = run(capsys, "diff", "--live-file", "../snapshot.yaml", "k8s")
    assert code == 2
    assert "k8s/bad.yaml:3: not UTF-8 text (at byte offset 41). Save it as UTF-8." in err
    code, out, err = run(capsys, "check", "k8s")
    assert code == 1 and "not UTF-8 text (at byte offset 41)" in out + err


def test_utf16_gets_a_hint(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo.parent / "snapshot.yaml").write_bytes(SNAPSHOT.encode("utf-16"))
    code, _, err = run(capsys, "diff", "--live-file", "../snapshot.yaml", "k8s")
    assert code == 2
    assert "It looks like UTF-16 (what PowerShell's `>` writes): save it as UTF-8." in err


def test_a_file_over_the_size_limit_is_refused_unread(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (repo / "k8s" / "huge.yaml").open("wb") as f:
        f.truncate(16 * 2**20 + 1)  # sparse: costs no disk, and is never read
    code, _, err = run(capsys, "diff", "--live-file", "../snapshot.yaml", "k8s")
    assert code == 2
    assert one_error(err) == (
        "ambdiff: error: k8s/huge.yaml: larger than 16 MiB, the most ambdiff reads from one "
        "file. Split it into several files."
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_an_unreadable_file_is_named(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "k8s" / "web.yaml").chmod(0)
    code, _, err = run(capsys, "diff", "--live-file", "../snapshot.yaml", "k8s")
    assert code == 2
    assert "k8s/web.yaml: cannot be read: permission denied." in one_error(err)


def test_permission_denied_is_named(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the test above, also when the tests run as root (which chmod does not stop)."""
    real_open = os.open

    def denied(path: str | os.PathLike[str], flags: int, *args: int, **kw: int) -> int:
        if os.fspath(path).endswith("web.yaml"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_open(path, flags, *args, **kw)

    monkeypatch.setattr(os, "open", denied)
    code, _, err = run(capsys, "diff", "--live-file", "../snapshot.yaml", "k8s")
    assert code == 2
    assert one_error(err) == (
        "ambdiff: error: k8s/web.yaml: cannot be read: permission denied. Let the user running "
        "ambdiff read it (chmod a+r), or move it out of the PATHs."
    )
    code, out, err = run(capsys, "check", "k8s")
    assert code == 1 and "permission denied" in out + err


def test_a_warning_naming_a_hostile_file_stays_on_one_line(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.mkfifo(repo / "k8s" / "x\n::error::injected\x1b[31m.yaml")
    code, _, err = run(capsys, "check", "k8s")
    assert code == 0, err
    assert "ambdiff: warning: k8s/x\\n::error::injected\\x1b[31m.yaml: a named pipe" in err
    assert not any(line.startswith("::") for line in err.splitlines()) and "\x1b" not in err
