"""Each command offers the options it uses, and no other: `--help` lists exactly those, and a
shared option a command has no use for is refused in one sentence (exit 2), never ignored."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ambdiff.cli import main
from ambdiff.options import Given, Settled, settle
from ambdiff.settings import FileSettings
from ambdiff.sources import Source

SOURCE = {
    "--repo",
    "--config",
    "--kustomize",
    "--helm",
    "-n",
    "--namespace",
    "-v",
    "--verbose",
    "-h",
    "--help",
}
CLUSTER = {"--kubeconfig", "--context", "--cluster", "--user"}
REPORT = {"-o", "--output", "--color"}
EXPECTED = {
    "diff": SOURCE | CLUSTER | REPORT | {"--rev", "--live-file", "--server-side",
                                         "--show-secrets", "--inventory"},
    "sync": SOURCE | CLUSTER | REPORT | {"--rev", "-y", "--yes", "--dry-run", "--prune",
                                         "--prune-namespaces-and-crds", "--force-conflicts",
                                         "--plan-out", "--allow-mass-prune", "--lock-timeout",
                                         "--adopt-labelled", "--inventory", "--wait",
                                         "--no-wait", "--timeout"},
    "check": SOURCE | REPORT | {"--rev", "--strict", "--with-repo"},
    "routes": SOURCE | CLUSTER | REPORT | {"--rev", "--live-file", "--live"},
    "watch": SOURCE | CLUSTER | {"--branch", "--interval", "--sync", "--prune", "--no-prune",
                                 "--force-conflicts", "--no-force-conflicts", "--inventory",
                                 "--metrics-port", "--metrics-address", "--log-format",
                                 "--cache-dir", "--wait", "--no-wait", "--timeout",
                                 "--lease-duration", "--renew-deadline", "--retry-period"},
}  # fmt: skip
OUTPUTS = {
    "diff": "human|diff|markdown|json",
    "sync": "human|json",
    "check": "human|json|github",
    "routes": "human|json",
}


def help_of(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main([command, "--help"]) == 0
    return capsys.readouterr().out


def listed_flags(text: str) -> set[str]:
    """The flags `--help` lists: each option line starts with its flags."""
    options = text[text.index("Options:") :]
    flags: set[str] = set()
    for line in options.splitlines():
        match = re.match(r"^  (-[^ ].*?)(?:  |$)", line)
        if match:
            for part in re.split(r",\s*|\s*/\s*", match.group(1)):
                flags.add(part.split()[0])
    return flags


@pytest.mark.parametrize("command", sorted(EXPECTED))
def test_help_lists_exactly_the_options_of_the_command(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = help_of(command, capsys)
    assert listed_flags(text) == EXPECTED[command]
    if command in OUTPUTS:
        assert f"[{OUTPUTS[command]}]" in text


def test_routes_help_says_rev_is_the_base(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(help_of("routes", capsys).split())
    assert "--rev REV The base: compare the working tree's routes with this commit's" in text


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    monkeypatch.chdir(tmp_path)
    for name in ("AMBDIFF_LIVE_FILE", "AMBDIFF_REV", "AMBDIFF_CONTEXT", "AMBDIFF_OUTPUT"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["check", "--live-file", "/nope"],
            "ambdiff check has no --live-file option: check reads no cluster.",
        ),
        (
            ["check", "--kubeconfig", "/nope"],
            "ambdiff check has no --kubeconfig option: check reads no cluster.",
        ),
        (
            ["check", "--context=nope"],
            "ambdiff check has no --context option: check reads no cluster.",
        ),
        (["check", "-o", "diff"], "'diff' is not one of 'human', 'json', 'github'."),
        (["watch", "--rev", "main"], "ambdiff watch has no --rev option: watch follows a branch"),
        (["watch", "-o", "json"], "ambdiff watch has no -o option: watch writes logs"),
        (["watch", "--live-file", "x.yaml"], "ambdiff watch has no --live-file option"),
        (
            ["sync", "--live-file", "x.yaml"],
            "ambdiff sync has no --live-file option: sync writes to a cluster",
        ),
        (["sync", "-o", "markdown"], "'markdown' is not one of 'human', 'json'."),
        (["sync", "--strict"], "ambdiff sync has no --strict option; it is an option of check."),
        (["sync", "--bogus"], "No such option '--bogus'"),
        (["routes", "-o", "markdown"], "'markdown' is not one of 'human', 'json'."),
        (
            ["routes", "--context", "prod"],
            "routes reads a cluster only with --live, and --context names one.",
        ),
        (
            ["routes", "--live-file", "x.yaml"],
            "routes reads a cluster only with --live, and --live-file names one.",
        ),
        (["diff", "-o", "github"], "'github' is not one of 'human', 'diff', 'markdown', 'json'."),
        (["diff", "--yes"], "ambdiff diff has no --yes option; it is an option of sync."),
        (
            ["diff", "--prune"],
            "ambdiff diff has no --prune option; it is an option of sync, watch.",
        ),
        (
            ["check", "--server-side"],
            "ambdiff check has no --server-side option; it is an option of diff.",
        ),
        (["watch", "--dry-run"], "ambdiff watch has no --dry-run option; it is an option of sync."),
        (["watch", "--prune"], "--prune is for watch --sync; without --sync watch only diffs"),
        (["watch", "--no-force-conflicts"], "--no-force-conflicts is for watch --sync;"),
    ],
)
def test_an_option_the_command_cannot_use_is_refused_in_one_sentence(
    repo: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 2
    assert out == "" and len(err.splitlines()) == 1, err
    assert err.startswith("ambdiff: error: ") and message in err


@pytest.mark.parametrize(
    ("command", "variable"),
    [("sync", "AMBDIFF_LIVE_FILE"), ("watch", "AMBDIFF_LIVE_FILE"), ("watch", "AMBDIFF_REV")],
)
def test_a_variable_that_would_change_what_the_command_does_is_refused(
    repo: Path,
    command: str,
    variable: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A sync that ignored AMBDIFF_LIVE_FILE would write to the real cluster."""
    monkeypatch.setenv(variable, "snapshot.yaml")
    code = main([command, "--dry-run"] if command == "sync" else [command, "--metrics-port", "0"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1, err
    assert f"{variable} is set, and ambdiff {command} has no" in err


def test_a_variable_for_other_commands_does_not_stop_check(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """AMBDIFF_CONTEXT set for diff and sync in a CI job: check, which reads no cluster, runs."""
    monkeypatch.setenv("AMBDIFF_CONTEXT", "prod")
    monkeypatch.setenv("AMBDIFF_LIVE_FILE", "snapshot.yaml")
    assert main(["check", "cm.yaml"]) == 0, capsys.readouterr().err


def test_a_settings_file_output_is_used_by_the_commands_that_write_it(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`output: markdown` is meant for diff: check prints as usual; `output: json` is check's too."""
    (repo / ".ambdiff.yaml").write_text("output: markdown\n")
    assert main(["check", "cm.yaml"]) == 0
    assert capsys.readouterr().out.startswith("check passed: 0 errors")
    (repo / ".ambdiff.yaml").write_text("output: json\n")
    assert main(["check", "cm.yaml"]) == 0
    assert json.loads(capsys.readouterr().out)["findings"] == []


def test_settle_is_the_one_rule_flag_then_source_then_settings_file_then_default() -> None:
    settings = FileSettings(
        namespace="team", output="markdown", color="never", prune=True, check_strict=True
    )
    source = Source("api", ("api",), namespace="api-ns")
    assert settle("diff", Given(), settings, source) == Settled(
        namespace="api-ns", output="markdown", color="never", prune=True, strict=True
    )
    assert settle("sync", Given(), settings, None) == Settled(
        namespace="team", output="human", color="never", prune=True, strict=True
    )
    given = Given(namespace="cli", output="json", color="always", prune=False)
    assert settle("sync", given, settings, source) == Settled(
        namespace="cli", output="json", color="always", prune=False, strict=True
    )
    assert settle("check", Given(), FileSettings(), None) == Settled(
        namespace=None, output="human", color="auto", prune=False, strict=False
    )


def test_shell_completion_offers_the_options_of_the_command_only(repo: Path) -> None:
    """docs/install.md: `eval "$(_AMBDIFF_COMPLETE=bash_source ambdiff)"`."""
    env = {
        **os.environ,
        "COMP_WORDS": "ambdiff check --",
        "COMP_CWORD": "2",
        "_AMBDIFF_COMPLETE": "bash_complete",
    }
    done = subprocess.run(
        [sys.executable, "-m", "ambdiff"], env=env, capture_output=True, text=True, check=True
    )
    offered = {line.split(",", 1)[1] for line in done.stdout.splitlines()}
    assert {"--strict", "--with-repo", "--rev", "--output"} <= offered
    assert not offered & {"--context", "--kubeconfig", "--live-file"}
