"""Hostile and broken input at the CLI's edge (issue #14): settings, environment variables,
flags, the terminal and the output stream. Each ends as one sentence and exit 2 (or a quiet
exit), never a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest

from ambdiff.cli import BROKEN_PIPE, cli, environment_names, main
from ambdiff.commands import diff as diff_command
from ambdiff.errors import ConfigError
from ambdiff.settings import check_environment

CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: web
  namespace: shop
  annotations: {note: "日本語 → テスト"}
data: {a: "1"}
"""

SNAPSHOT = """apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: web, namespace: shop, uid: u1, resourceVersion: "7"}
  data: {a: "2"}
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """One ConfigMap with a Japanese annotation; the snapshot differs from it."""
    root = tmp_path / "gitops"
    (root / "k8s").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "k8s" / "web.yaml").write_text(CONFIGMAP, encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "first")
    (tmp_path / "snapshot.yaml").write_text(SNAPSHOT)
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def diff(capsys: pytest.CaptureFixture[str], repo: Path, *args: str) -> tuple[int, str, str]:
    return run(
        capsys,
        "diff",
        "--repo",
        str(repo),
        "--live-file",
        str(repo.parent / "snapshot.yaml"),
        *args,
    )


def one_error(err: str) -> str:
    """The single `ambdiff: error: ...` line, and nothing else on stderr."""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ambdiff: error: "), err
    return lines[0]


# ---- the settings file ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("output: xml\n", "'output' must be one of human, diff, markdown, json, github."),
        ("color: purple\n", "'color' must be one of auto, always, never."),
        ("output: markdwon\n", "Did you mean 'markdown'?"),
    ],
)
def test_a_bad_output_or_color_in_the_settings_file_is_refused(
    repo: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    (repo / ".ambdiff.yaml").write_text(text)
    code, out, err = diff(capsys, repo)
    assert code == 2 and out == ""
    line = one_error(err)
    assert str(repo / ".ambdiff.yaml") in line and message in line


def test_settings_paths_outside_the_repository_are_never_read(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = repo.parent / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "other.yaml").write_text(CONFIGMAP.replace("name: web", "name: other"))
    for path in ("../elsewhere", str(elsewhere)):
        (repo / ".ambdiff.yaml").write_text(f"paths: [{path!r}]\n")
        code, out, err = diff(capsys, repo)
        assert code == 2 and out == ""
        line = one_error(err)
        assert f"{repo / '.ambdiff.yaml'}: paths[0]: each entry of 'paths' must be a folder" in line


def test_an_ignore_pointer_with_a_bad_escape_is_refused(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / ".ambdiff.yaml").write_text("ignore: [{kind: ConfigMap, paths: [/data/a~2]}]\n")
    code, _, err = diff(capsys, repo)
    assert code == 2
    assert "ignore[0]: paths[0] has a '~' that is not ~0 or ~1" in one_error(err)


def test_a_settings_file_that_is_not_utf8(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / ".ambdiff.yaml").write_bytes(b"namespace: \xff\xfe\n")
    code, _, err = diff(capsys, repo)
    assert code == 2
    assert one_error(err) == (
        f"ambdiff: error: {repo / '.ambdiff.yaml'}:1:12: the settings file is not UTF-8 text "
        "(a byte there is not UTF-8). Save it as UTF-8."
    )


def test_a_fifo_given_as_config_is_never_opened(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = repo.parent / "settings.fifo"
    os.mkfifo(fifo)  # no writer: opening it to read would block for ever
    code, _, err = diff(capsys, repo, "--config", str(fifo))
    assert code == 2 and "is not a regular file" in one_error(err)


# ---- environment variables -----------------------------------------------------------


def test_every_option_variable_is_known_and_derived_from_the_options() -> None:
    known, flag_only = environment_names(cli)
    for command in cli.commands.values():
        for param in command.params:
            if isinstance(param, click.Option) and param.envvar:
                assert param.envvar in known
    assert {"AMBDIFF_VERBOSE", "AMBDIFF_PRUNE_NAMESPACES_AND_CRDS", "AMBDIFF_LOG_FORMAT"} <= known
    assert flag_only["AMBDIFF_WITH_REPO"] == "--with-repo"
    assert not set(flag_only) & known
    # Every option's own variable is accepted, and so is click's completion switch.
    environ = {**dict.fromkeys(known, "1"), "_AMBDIFF_COMPLETE": "bash_source"}
    check_environment(known, environ, flag_only=flag_only)


def test_a_variable_for_a_flag_that_reads_none_is_refused(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMBDIFF_WITH_REPO", "1")
    code, out, err = run(capsys, "check", "--repo", str(repo))
    assert code == 2 and out == ""
    assert one_error(err) == (
        "ambdiff: error: environment variable AMBDIFF_WITH_REPO is not read: --with-repo has "
        "no environment variable. Unset it and pass --with-repo on the command line."
    )


def test_an_unknown_variable_gets_a_suggestion(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMBDIFF_SHOW_SECRET", "1")
    code, _, err = diff(capsys, repo)
    assert code == 2
    assert one_error(err) == (
        "ambdiff: error: unknown environment variable AMBDIFF_SHOW_SECRET. "
        "Did you mean AMBDIFF_SHOW_SECRETS?"
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AMBDIFF_OUTPUT", "xml"),
        ("AMBDIFF_COLOR", "purple"),
        ("AMBDIFF_VERBOSE", "x"),
        ("AMBDIFF_SERVER_SIDE", "maybe"),
    ],
)
def test_a_bad_value_in_a_variable_names_the_variable(
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    value: str,
) -> None:
    monkeypatch.setenv(name, value)
    code, out, err = diff(capsys, repo)
    assert code == 2 and out == ""
    line = one_error(err)
    assert line.startswith(f"ambdiff: error: environment variable {name}: ")
    assert line.endswith(f"Fix or unset {name}.")
    assert "Invalid value for" not in line


def test_a_bad_flag_is_still_reported_as_the_flag(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = diff(capsys, repo, "-o", "xml")
    assert code == 2 and "Invalid value for '-o' / '--output'" in err


# ---- empty values --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["diff", "--rev", ""],
            "--rev is empty: was it given an unset variable? Name a commit, "
            "branch or tag, or leave --rev out to read the working tree.",
        ),
        (["routes", "--rev", " "], "--rev is empty"),
        (["diff", "--context", ""], "--context is empty"),
        (["check", "-n", ""], "--namespace is empty"),
    ],
)
def test_an_empty_value_is_refused_not_taken_for_the_default(
    repo: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(capsys, *args, "--repo", str(repo))
    assert code == 2 and out == ""
    assert message in one_error(err)


# ---- -v ------------------------------------------------------------------------------


def test_verbose_adds_the_cause_never_a_traceback(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kw: Any) -> int:
        try:
            int("s3cr3t-value")
        except ValueError as e:
            raise ConfigError("something the user can fix.") from e
        return 0

    monkeypatch.setattr(diff_command, "run", refuse)
    code, _, err = diff(capsys, repo, "-v")
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[-2:] == [
        "ambdiff: error: something the user can fix.",
        "ambdiff: cause: ValueError: invalid literal for int() with base 10: '…'",
    ]
    assert "s3cr3t" not in err


# ---- Ctrl-C --------------------------------------------------------------------------


@pytest.fixture
def sigint() -> Iterator[None]:
    """Python's own SIGINT handler during the test, and whatever was there afterwards (main
    leaves SIGINT ignored after an interruption, so that the exit cannot be interrupted)."""
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("sigint")
def test_a_second_ctrl_c_during_the_shutdown_is_ignored(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cleaned_up = []

    def interrupted_twice(*args: Any, **kw: Any) -> int:
        try:
            os.kill(os.getpid(), signal.SIGINT)  # the first Ctrl-C
            pytest.fail("the first SIGINT did not interrupt")
        finally:
            os.kill(os.getpid(), signal.SIGINT)  # the second, while cleaning up
            cleaned_up.append(True)

    monkeypatch.setattr(diff_command, "run", interrupted_twice)
    code, _, err = diff(capsys, repo)
    assert code == 130 and cleaned_up == [True]
    assert err.strip() == "ambdiff: interrupted."
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


@pytest.mark.usefixtures("sigint")
def test_ctrl_c_while_an_error_is_reported_ends_as_interrupted(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: Any, **kw: Any) -> int:
        raise ConfigError("bad input.")

    real_echo = click.echo
    calls = []

    def echo(message: Any = None, *args: Any, **kw: Any) -> None:
        calls.append(message)
        if len(calls) <= 2:  # Ctrl-C while the error, then "interrupted.", is written
            raise KeyboardInterrupt
        real_echo(message, *args, **kw)

    monkeypatch.setattr(diff_command, "run", fail)
    monkeypatch.setattr(click, "echo", echo)
    code, _, err = diff(capsys, repo)
    assert code == 130
    assert err.strip() == "ambdiff: interrupted." and "Traceback" not in err


@pytest.mark.usefixtures("sigint")
def test_a_normal_run_gives_sigint_back(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert diff(capsys, repo)[0] == 1
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_broken_pipe_that_is_not_stdout_is_a_bug_not_a_quiet_exit(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def write_to_a_dead_helper(*args: Any, **kw: Any) -> int:
        raise BrokenPipeError(32, "Broken pipe")  # e.g. git's stdin, while stdout is fine

    monkeypatch.setattr(diff_command, "run", write_to_a_dead_helper)
    code, _, err = diff(capsys, repo)
    assert code == 3
    assert err.startswith("ambdiff: unexpected error (a bug in ambdiff): BrokenPipeError: ")


# ---- the output stream and the terminal (real processes) -----------------------------


def run_process(repo: Path, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "ambdiff",
        "diff",
        "--repo",
        str(repo),
        "--live-file",
        str(repo.parent / "snapshot.yaml"),
        *args,
    ]
    return subprocess.run(command, stderr=subprocess.PIPE, text=True, check=False, **kw)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("output", ["human", "json"])
def test_a_full_disk_is_one_sentence(repo: Path, output: str) -> None:
    with Path("/dev/full").open("w") as full:
        done = run_process(repo, "-o", output, stdout=full)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "ambdiff: error: cannot write the output: No space left on device. "
        "Free some space, or send the output elsewhere.\n"
    )


@pytest.mark.parametrize("output", ["human", "json", "diff"])
def test_a_reader_that_went_away_ends_the_run_quietly(repo: Path, output: str) -> None:
    read, write = os.pipe()
    os.close(read)  # `| head -1` that has already exited: every write fails with EPIPE
    try:
        done = run_process(repo, "-o", output, stdout=write)
    finally:
        os.close(write)
    assert done.returncode == BROKEN_PIPE == 141
    assert done.stderr == ""


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_a_terminal_that_cannot_show_the_text_gets_escapes(repo: Path, encoding: str) -> None:
    env = {**os.environ, "LC_ALL": "C", "PYTHONIOENCODING": encoding}
    done = run_process(repo, stdout=subprocess.PIPE, env=env)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and done.stderr == ""
    assert '~ data.a: "2" \\u2192 "1"' in done.stdout
    assert "\\u65e5\\u672c\\u8a9e" in done.stdout  # 日本語, escaped rather than a crash


@pytest.mark.parametrize("name", ["AMBDIFF_REV", "AMBDIFF_NAMESPACE", "AMBDIFF_OUTPUT"])
def test_an_empty_variable_is_refused_not_taken_as_unset(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # `env: AMBDIFF_REV: ${{ github.base_ref }}` on a push: the variable is set, and empty.
    monkeypatch.setenv(name, "")
    code, out, err = diff(capsys, repo)
    assert code == 2 and out == ""
    assert f"environment variable {name} is set but empty" in one_error(err)


def test_a_settings_file_linked_out_of_the_repository_is_not_read(
    repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    outside = tmp_path / "shadow"
    outside.write_text("root:Zq-HASH:20228:0:99999:7:::\n")
    (repo / ".ambdiff.yaml").symlink_to(outside)
    code, _, err = diff(capsys, repo)
    assert code == 2 and "Zq-HASH" not in err
    assert "is a link to a file outside the repository; it is not read" in one_error(err)


@pytest.mark.usefixtures("sigint")
def test_after_a_clean_stop_a_ctrl_c_while_the_process_exits_is_ignored(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """watch stops on the first Ctrl-C and exits 0; a second one while the interpreter joins
    its threads ended the process in a traceback and a status of -2. The process's own run
    (argv from sys.argv) leaves SIGINT ignored; a caller's run (argv given) leaves it as it was."""
    monkeypatch.setattr(diff_command, "run", lambda *args, **kw: 0)
    monkeypatch.setattr(sys, "argv", ["ambdiff", "diff", "--repo", str(repo), "--inventory", "x"])
    assert main() == 0
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    signal.signal(signal.SIGINT, signal.default_int_handler)
    assert main(["diff", "--repo", str(repo), "--inventory", "x"]) == 0
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
