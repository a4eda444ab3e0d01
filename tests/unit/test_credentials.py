"""Exec credential plugins (ambdiff.cluster.credentials), run for real: small plugin scripts
written to tmp_path, as a cloud CLI would be installed."""

from __future__ import annotations

import json
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ambdiff.cluster.credentials import ExecCredentials, ExecSpec
from ambdiff.errors import ClusterError

TOKEN = "tok-3f1b9c7e-never-shown"


def plugin(tmp_path: Path, body: str) -> str:
    """An executable Python script; it appends one line to runs.log per run."""
    script = tmp_path / "plugin.py"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"open({str(tmp_path / 'runs.log')!r}, 'a').write(os.environ.get('KUBERNETES_EXEC_INFO', '') + '\\n')\n"
        + textwrap.dedent(body)
    )
    script.chmod(0o755)
    return str(script)


def credential_json(
    expires: str | None = None, api: str = "client.authentication.k8s.io/v1"
) -> str:
    status: dict[str, Any] = {"token": TOKEN}
    if expires:
        status["expirationTimestamp"] = expires
    return json.dumps({"apiVersion": api, "kind": "ExecCredential", "status": status})


def spec(command: str, **extra: Any) -> ExecSpec:
    raw = {
        "command": command,
        "apiVersion": "client.authentication.k8s.io/v1",
        "interactiveMode": "Never",
        **extra,
    }
    return ExecSpec.parse(raw, where="user 'ci' in /k/config")


def runs(tmp_path: Path) -> list[dict[str, Any]]:
    lines = (tmp_path / "runs.log").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_a_token_is_fetched_once_and_kept_until_it_expires(tmp_path: Path) -> None:
    expires = "2030-01-01T00:00:00Z"
    command = plugin(tmp_path, f"print({credential_json(expires)!r})")
    now = [datetime(2029, 12, 31, 23, 0, tzinfo=UTC)]
    creds = ExecCredentials(spec(command), now=lambda: now[0])
    assert creds.get().token == TOKEN
    assert creds.get().token == TOKEN
    assert creds.runs == 1
    now[0] += timedelta(minutes=59, seconds=55)  # within REFRESH_BEFORE of the expiry
    creds.get()
    assert creds.runs == 2
    info = runs(tmp_path)[0]
    assert info == {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "spec": {"interactive": False},
    }


def test_a_401_invalidates_the_credential(tmp_path: Path) -> None:
    creds = ExecCredentials(spec(plugin(tmp_path, f"print({credential_json()!r})")))
    creds.get()
    creds.invalidate()
    creds.get()
    assert creds.runs == 2


def test_env_args_and_cluster_info_reach_the_plugin(tmp_path: Path) -> None:
    command = plugin(
        tmp_path,
        f"""
        assert sys.argv[1:] == ["token", "--cluster", "prod"], sys.argv
        assert os.environ["AWS_PROFILE"] == "prod"
        print({credential_json()!r})
    """,
    )
    raw = {
        "command": command,
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "args": ["token", "--cluster", "prod"],
        "env": [{"name": "AWS_PROFILE", "value": "prod"}],
        "provideClusterInfo": True,
    }
    parsed = ExecSpec.parse(raw, where="user 'ci'", cluster={"server": "https://prod:6443"})
    # v1beta1 without interactiveMode means IfAvailable; stdin is no terminal here.
    creds = ExecCredentials(parsed, stdin_is_terminal=lambda: False)
    with pytest.raises(ClusterError):  # the plugin answers in v1, not the v1beta1 asked for
        creds.get()
    assert runs(tmp_path)[0]["spec"] == {
        "interactive": False,
        "cluster": {"server": "https://prod:6443"},
    }


def test_a_failing_plugin_is_fatal_with_its_stderr_and_install_hint(tmp_path: Path) -> None:
    command = plugin(
        tmp_path,
        """
        sys.stderr.write("Error: the SSO session has expired; run aws sso login\\n")
        sys.exit(255)
    """,
    )
    creds = ExecCredentials(spec(command, installHint="Install the AWS CLI v2."))
    with pytest.raises(ClusterError) as e:
        creds.get()
    message = str(e.value)
    assert "failed (exit status 255)" in message
    assert "the SSO session has expired; run aws sso login" in message
    assert "Install the AWS CLI v2." in message
    assert "user 'ci' in /k/config" in message
    assert "\n" not in message


def test_a_missing_plugin_names_it_and_gives_the_install_hint(tmp_path: Path) -> None:
    creds = ExecCredentials(
        spec(
            "gke-gcloud-auth-plugin-not-here",
            installHint="Run gcloud components install gke-gcloud-auth-plugin.",
        )
    )
    with pytest.raises(
        ClusterError,
        match=r"'gke-gcloud-auth-plugin-not-here' .* was not found on PATH\. Run gcloud components install",
    ):
        creds.get()


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("not json " + TOKEN, "not an ExecCredential JSON object"),
        (json.dumps({"kind": "Other"}), "not an ExecCredential"),
        (
            json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential"}),
            "returned no status",
        ),
        (
            json.dumps(
                {
                    "apiVersion": "client.authentication.k8s.io/v1",
                    "kind": "ExecCredential",
                    "status": {"clientCertificateData": "x"},
                }
            ),
            "without its key",
        ),
        (
            json.dumps(
                {
                    "apiVersion": "client.authentication.k8s.io/v1",
                    "kind": "ExecCredential",
                    "status": {"token": TOKEN, "expirationTimestamp": "tomorrow"},
                }
            ),
            "not RFC 3339",
        ),
    ],
)
def test_bad_plugin_output_is_one_sentence_without_the_token(
    tmp_path: Path, output: str, message: str
) -> None:
    creds = ExecCredentials(spec(plugin(tmp_path, f"print({output!r})")))
    with pytest.raises(ClusterError, match=message) as e:
        creds.get()
    assert TOKEN not in str(e.value)


def test_interactive_always_without_a_terminal_fails_before_running(tmp_path: Path) -> None:
    command = plugin(tmp_path, f"print({credential_json()!r})")
    creds = ExecCredentials(
        spec(command, interactiveMode="Always"), stdin_is_terminal=lambda: False
    )
    with pytest.raises(ClusterError, match=r"needs a terminal .* stdin is not one"):
        creds.get()
    assert not (tmp_path / "runs.log").exists()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"apiVersion": "client.authentication.k8s.io/v1"}, "exec.command must name"),
        (
            {"command": "x", "apiVersion": "client.authentication.k8s.io/v1alpha1"},
            "exec.apiVersion must be",
        ),
        (
            {"command": "x", "apiVersion": "client.authentication.k8s.io/v1"},
            "interactiveMode is required",
        ),
        (
            {
                "command": "x",
                "apiVersion": "client.authentication.k8s.io/v1",
                "interactiveMode": "Sometimes",
            },
            "interactiveMode must be",
        ),
        (
            {
                "command": "x",
                "apiVersion": "client.authentication.k8s.io/v1",
                "interactiveMode": "Never",
                "env": [{"value": "no name"}],
            },
            r"exec.env\[0\].name must be a string, not null",
        ),
    ],
)
def test_a_malformed_exec_section_is_one_sentence(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ClusterError, match=message):
        ExecSpec.parse(raw, where="user 'ci' in /k/config")
