"""`ambdiff diff --live-file` on the quickstart example: offline, no server. The snapshot was
made by examples/quickstart/make-snapshot.sh (an earlier revision applied the way `sync`
applies, then drifted by hand), so this is the drift a user really sees."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from ambdiff.cli import main

ROOT = Path(__file__).resolve().parents[2]
README_COMMAND = [
    "diff", "--inventory", "quickstart", "--live-file",
    "examples/quickstart/cluster-snapshot.yaml", "examples/quickstart/manifests",
]  # fmt: skip
GIT_PASSWORD = "correct-horse-battery-staple"  # manifests/quote-db-secret.yaml
LIVE_PASSWORD = "rotated-by-hand"  # the snapshot's, set by make-snapshot.sh


@pytest.fixture(autouse=True)
def at_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's command is typed at the repository root."""
    monkeypatch.chdir(ROOT)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_quickstart_drift_is_exit_1_with_every_expected_path(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, *README_COMMAND, "-o", "json")
    assert code == 1, err
    report = json.loads(out)
    found = {
        (r["kind"], r["name"], r["status"], c["op"] if c else "", c["path"] if c else "")
        for r in report["resources"]
        for c in (r["changes"] or [None])
    }
    annotation = 'metadata.annotations["getambassador.io/config"]'
    assert found == {
        ("Namespace", "shop", "unchanged", "", ""),
        ("Host", "shop", "unchanged", "", ""),
        ("Mapping", "quote", "changed", "change", "spec.timeout_ms"),  # kubectl patch
        ("Mapping", "quote-admin", "changed", "remove", "spec.timeout_ms"),  # dropped from git
        ("Filter", "admin-jwt", "added", "", ""),
        ("FilterPolicy", "admin-auth", "added", "", ""),
        ("Secret", "quote-db", "changed", "change", "data.password"),  # rotated by hand
        ("Deployment", "quote", "changed", "change", "spec.replicas"),  # kubectl scale
        ("Deployment", "quote", "changed", "change",
         "spec.template.spec.containers[name=backend].image"),  # kubectl set image
        ("Service", "quote", "changed", "change",
         f"{annotation}[kind=Mapping,name=quote-legacy].prefix"),  # kubectl annotate
        ("Mapping", "quote-v1", "removed", "", ""),  # labelled quickstart, gone from git
    }  # fmt: skip
    assert report["summary"] == {"added": 2, "changed": 5, "unchanged": 2, "removed": 1}
    by_path = {c["path"]: c for r in report["resources"] for c in r["changes"]}
    assert by_path["spec.replicas"] == {"op": "change", "path": "spec.replicas", "old": 5, "new": 3}
    assert by_path["spec.timeout_ms"]["old"] == 10000
    assert by_path["data.password"] == {
        "op": "change", "path": "data.password", "old": "***", "new": "***", "masked": True
    }  # fmt: skip


def test_other_inventories_are_not_removed(capsys: pytest.CaptureFixture[str]) -> None:
    args = [a if a != "quickstart" else "someone-else" for a in README_COMMAND]
    code, out, _ = run(capsys, *args, "-o", "json")
    assert code == 1
    assert "quote-v1" not in out
    assert json.loads(out)["summary"]["removed"] == 0


def test_the_readme_shows_what_the_first_command_really_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    readme = (ROOT / "README.md").read_text()
    shown = re.search(
        r"## What the first command shows\s+(?:<!--.*?-->\s+)?```text\n(.*?)```", readme, re.S
    )
    assert shown, "README.md has no 'What the first command shows' block"
    code, out, _ = run(capsys, *README_COMMAND, "--color", "never")
    assert code == 1
    assert out == shown.group(1)


@pytest.mark.parametrize("fmt", ["human", "json", "diff", "markdown"])
def test_secret_values_appear_in_no_format(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    code, out, err = run(capsys, *README_COMMAND, "-o", fmt, "-v")
    assert code == 1
    assert "password" in out
    for value in (GIT_PASSWORD, LIVE_PASSWORD):
        assert value not in out + err
        assert base64.b64encode(value.encode()).decode() not in out + err


def test_show_secrets_reveals_them_so_the_search_above_can_fail(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, *README_COMMAND, "-o", "json", "--show-secrets")
    assert code == 1
    assert base64.b64encode(LIVE_PASSWORD.encode()).decode() in out
    assert base64.b64encode(GIT_PASSWORD.encode()).decode() in out
