"""`--wait` and `--timeout`: the options' errors, before any cluster is read."""

from __future__ import annotations

import pytest

from ambdiff.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_a_bad_timeout_from_the_environment_is_named_as_the_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMBDIFF_TIMEOUT", "bogus")
    code, err = run(capsys, "sync", "--yes", "--wait")
    assert code == 2
    assert err.startswith(
        "ambdiff: error: environment variable AMBDIFF_TIMEOUT 'bogus' is not a duration."
    )


def test_a_bad_timeout_flag_is_named_as_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(capsys, "sync", "--yes", "--wait", "--timeout", "5x")
    assert code == 2 and "--timeout '5x' is not a duration" in err


def test_wait_with_dry_run_is_refused_but_settings_that_wait_are_not(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, err = run(capsys, "sync", "--dry-run", "--wait")
    assert code == 2
    assert "--wait follows what a sync writes, and --dry-run writes nothing." in err


def test_wait_and_timeout_are_for_watch_sync(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(capsys, "watch", "--timeout", "1m")
    assert code == 2
    assert "--timeout is for watch --sync" in err
