"""Hostile and broken kubeconfigs, exec plugins and inventory records (issue #14): one
sentence and exit 2, never a traceback, never a credential in any output, nothing unbounded.

The cluster in these kubeconfigs is 127.0.0.1:1, where nothing listens: a connection is
refused at once."""

from __future__ import annotations

import base64
import gzip
import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ambdiff.cli import main
from ambdiff.cluster import connection as connection_module
from ambdiff.cluster.client import Cluster
from ambdiff.cluster.connection import configure, identity_of
from ambdiff.cluster.credentials import STDOUT_LIMIT, ExecCredentials, ExecSpec
from ambdiff.cluster.errors import first_line, shown_url
from ambdiff.cluster.kubeconfig import Selection, load, select
from ambdiff.errors import ClusterError
from ambdiff.model import ObjectId
from ambdiff.sync import record

SECRET = "Zq9SECRETtoken77"
ORIGIN = Path("/home/me/.kube/config")

KUBECONFIG = """\
apiVersion: v1
kind: Config
current-context: c
contexts: [{name: c, context: {cluster: k, user: u, namespace: s}}]
clusters: [{name: k, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: TOKEN}}]
"""


def kubeconfig(tmp_path: Path, *, server: str = '"https://127.0.0.1:1"', user: str = "") -> Path:
    path = tmp_path / "kc"
    text = KUBECONFIG.replace('"https://127.0.0.1:1"', server)
    path.write_text(text.replace("token: TOKEN", user or f"token: {SECRET}"))
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "gitops"
    (root / "k").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "k" / "a.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: s}\n"
    )
    return root


def diff(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    repo: Path,
    config: Path,
    *flags: str,
) -> tuple[int, str, str]:
    monkeypatch.chdir(repo)
    code = main(["diff", *flags, "--inventory", "x", "--kubeconfig", str(config), "k"])
    out, err = capsys.readouterr()
    return code, out, err


def selection(cluster: dict[str, Any], user: dict[str, Any] | None = None) -> Selection:
    return Selection(
        context="prod",
        cluster_name="prod-eu",
        user_name="ci",
        namespace="default",
        cluster={"server": "https://prod:6443", **cluster},
        user=user or {},
        cluster_origin=ORIGIN,
        user_origin=ORIGIN,
    )


def refused(cluster: dict[str, Any], user: dict[str, Any] | None = None) -> str:
    with pytest.raises(ClusterError) as e:
        configure(selection(cluster, user))
    message = str(e.value)
    assert SECRET not in message and "\n" not in message
    assert str(ORIGIN) in message
    return message


# ---- 1. a URL is shown without its credentials -------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://host:6443/k8s/clusters/c-1", "https://host:6443/k8s/clusters/c-1"),
        (f"https://admin:{SECRET}@host:6443", "https://host:6443"),
        (f"https://host:6443/?token={SECRET}", "https://host:6443/"),
        (f"https://host:6443/#{SECRET}", "https://host:6443/"),
        (f"https://admin:a/b?{SECRET}@host", "https://host"),  # a password with / and ?
        (f"socks5://u:{SECRET}@proxy:1080", "socks5://proxy:1080"),
        (f"admin:{SECRET}@host", "host"),
        (f"http://u:{SECRET}@[bad", "http://[bad"),
    ],
)
def test_a_url_is_shown_without_user_password_query_or_fragment(url: str, shown: str) -> None:
    assert shown_url(url) == shown


def test_a_library_error_quoting_a_url_is_shown_without_its_credentials() -> None:
    error = ValueError(f"Failed to parse: https://admin:{SECRET}@h:99999/api?token={SECRET}")
    assert first_line(error) == "Failed to parse: https://h:99999/api"


def test_a_server_with_a_password_is_not_shown_when_the_cluster_cannot_be_reached(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = kubeconfig(tmp_path, server=f'"https://admin:{SECRET}@127.0.0.1:1"')
    code, out, err = diff(capsys, monkeypatch, repo, config, "-v")
    assert code == 2
    assert "ambdiff: error: cannot reach the cluster at https://127.0.0.1:1 (context c)" in err
    assert SECRET not in out + err
    assert "Traceback" not in err


def test_the_identity_shows_the_server_without_credentials_and_connects_with_it_whole(
    tmp_path: Path,
) -> None:
    server = f"https://admin:{SECRET}@127.0.0.1:1/k8s"
    cluster = Cluster.connect(str(kubeconfig(tmp_path, server=f'"{server}"')))
    assert cluster.identity["server"] == cluster.server == "https://127.0.0.1:1/k8s"
    assert SECRET not in str(dict(cluster.identity))  # sync -o json and watch's log line
    assert cluster._api.configuration.host == server  # what is used to connect is untouched


def test_the_tls_warning_shows_the_server_without_credentials(
    caplog: pytest.LogCaptureFixture,
) -> None:
    chosen = selection(
        {"server": f"https://u:{SECRET}@prod:6443", "insecure-skip-tls-verify": True}
    )
    connection_module._warned_insecure.clear()
    with caplog.at_level("WARNING"):
        configure(chosen)
    assert "https://prod:6443" in caplog.text and SECRET not in caplog.text
    assert identity_of(chosen)["server"] == "https://prod:6443"


def test_a_server_with_a_query_is_refused_without_showing_it() -> None:
    message = refused({"server": f"https://prod:6443/?token={SECRET}"})
    assert "cluster 'prod-eu': server 'https://prod:6443/' ends in a query" in message


# ---- 2. URLs that do not parse -------------------------------------------------------------


@pytest.mark.parametrize(
    ("cluster", "message"),
    [
        (
            {"server": "https://[::1"},
            "server 'https://[::1' is not a valid URL: its IPv6 address is not closed with ]",
        ),
        (
            {"server": "https://prod:99999"},
            "server 'https://prod:99999' is not a valid URL: its port is not a number from 0 to 65535",
        ),
        (
            {"proxy-url": f"http://u:{SECRET}@[bad"},
            "proxy-url 'http://[bad' is not a valid URL: its IPv6 address is not closed with ]",
        ),
    ],
)
def test_a_url_that_does_not_parse_names_the_file_cluster_and_field(
    cluster: dict[str, Any], message: str
) -> None:
    assert f"kubeconfig {ORIGIN}: cluster 'prod-eu': {message}." in refused(cluster)


def test_a_broken_ipv6_server_is_exit_2_not_a_bug(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = diff(capsys, monkeypatch, repo, kubeconfig(tmp_path, server='"https://[::1"'))
    assert code == 2
    assert err.startswith(f"ambdiff: error: kubeconfig {tmp_path / 'kc'}: cluster 'k': server ")
    assert "unexpected error" not in err and "Traceback" not in err


@pytest.mark.skipif(importlib.util.find_spec("socks") is not None, reason="PySocks installed")
def test_a_socks_proxy_without_pysocks_is_one_sentence() -> None:
    message = refused({"proxy-url": f"socks5://u:{SECRET}@proxy:1080"})
    assert "proxy-url 'socks5://proxy:1080' is a SOCKS proxy, which needs the PySocks" in message


# ---- 3. values of the wrong type -------------------------------------------------------------


@pytest.mark.parametrize(
    ("cluster", "user", "message"),
    [
        ({}, {"token": 12345678987654}, "users[ci].user.token must be a string, not a number"),
        ({}, {"token": [SECRET]}, "users[ci].user.token must be a string, not a list"),
        ({}, {"token": {"a": SECRET}}, "users[ci].user.token must be a string, not a mapping"),
        (
            {},
            {"username": "a", "password": 123456789},
            "users[ci].user.password must be a string, not a number",
        ),
        ({"server": 5}, {}, "clusters[prod-eu].cluster.server must be a string, not a number"),
        # "false" in quotes would have turned TLS verification off
        (
            {"insecure-skip-tls-verify": "false"},
            {},
            "clusters[prod-eu].cluster.insecure-skip-tls-verify must be true or false, not a string",
        ),
        (
            {"tls-server-name": ["a"]},
            {},
            "clusters[prod-eu].cluster.tls-server-name must be a string, not a list",
        ),
        ({}, {"exec": "abc"}, "users[ci].user.exec must be a mapping, not a string"),
        ({}, {"as-groups": ["a", 1]}, "users[ci].user.as-groups must be a list of strings"),
    ],
)
def test_a_value_of_the_wrong_type_names_the_field_and_the_type(
    cluster: dict[str, Any], user: dict[str, Any], message: str
) -> None:
    said = refused(cluster, user)
    assert f"kubeconfig {ORIGIN}: {message}." in said
    assert "123456789" not in said


def test_a_password_that_is_a_number_is_exit_2_with_the_field(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = kubeconfig(tmp_path, user="username: a, password: 123456789")
    code, _, err = diff(capsys, monkeypatch, repo, config)
    assert code == 2
    assert err == (
        f"ambdiff: error: kubeconfig {config}: users[u].user.password must be a string, not a "
        'number. Put it in quotes if it is text (password: "…").\n'
    )


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ({"token": f"{SECRET}\u2603"}, "user 'ci': token holds a character that is not ASCII"),
        (
            {"username": "a", "password": f"{SECRET}\u2603"},
            "user 'ci': password holds a control character or one that basic authentication cannot",
        ),
    ],
)
def test_a_credential_no_http_header_can_carry_is_refused(
    user: dict[str, Any], message: str
) -> None:
    assert message in refused({}, user)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "current-context: c",
            "current-context: [c]",
            r"current-context must be a string \(a context's name\), not a list",
        ),
        (
            "namespace: s",
            "namespace: [s]",
            r"contexts\[c\]\.context\.namespace must be a string, not a list",
        ),
        (
            "cluster: k, user",
            "cluster: 5, user",
            r"contexts\[c\]\.context\.cluster must be a string, not a number",
        ),
    ],
)
def test_a_context_field_of_the_wrong_type_is_named(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    (tmp_path / "kc").write_text(KUBECONFIG.replace(old, new))
    with pytest.raises(ClusterError, match=message):
        select(load(str(tmp_path / "kc")))


def test_a_cluster_entry_that_is_not_a_mapping_says_so(tmp_path: Path) -> None:
    (tmp_path / "kc").write_text(KUBECONFIG.replace('{server: "https://127.0.0.1:1"}', "abc"))
    with pytest.raises(
        ClusterError, match=r"clusters\[k\]\.cluster must be a mapping, not a string"
    ):
        select(load(str(tmp_path / "kc")))


@pytest.mark.parametrize(
    ("exec_", "message"),
    [
        ({"command": True}, "exec.command must be a string (the plugin to run), not a boolean"),
        ({"command": ["a"]}, "exec.command must be a string (the plugin to run), not a list"),
        ({"command": "x", "args": "abc"}, "exec.args must be a list of strings, not a string"),
        ({"command": "x", "args": ["a", 1]}, "exec.args[1] must be a string, not a number"),
        (
            {"command": "x", "env": ["abc"]},
            "exec.env[0] must be a mapping with a name and a value, not a string",
        ),
        (
            {"command": "x", "env": [{"name": "A", "value": 5}]},
            "exec.env[0].value must be a string, not a number",
        ),
        (
            {"command": "x", "env": [{"name": "A=B", "value": "v"}]},
            "exec.env[0].name must be a variable name",
        ),
        ({"command": "x", "args": ["a\0b"]}, "exec.args[0] holds a NUL character"),
        ({"command": "x", "installHint": ["a"]}, "exec.installHint must be a string, not a list"),
    ],
)
def test_a_malformed_exec_field_is_named_with_the_type_expected(
    exec_: dict[str, Any], message: str
) -> None:
    raw = {"apiVersion": "client.authentication.k8s.io/v1", "interactiveMode": "Never", **exec_}
    with pytest.raises(ClusterError) as e:
        ExecSpec.parse(raw, where="user 'ci' in /k/config")
    assert str(e.value).startswith(f"user 'ci' in /k/config: {message}")


def test_an_env_entry_without_a_value_is_empty_as_in_kubectl() -> None:
    raw = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "interactiveMode": "Never",
        "command": "x",
        "env": [{"name": "A"}, {"name": "B", "value": None}],
    }
    assert ExecSpec.parse(raw, where="w").env == (("A", ""), ("B", ""))


# ---- 4. the exec plugin's output is bounded ------------------------------------------------


def plugin(tmp_path: Path, body: str, **extra: Any) -> ExecCredentials:
    script = tmp_path / "plugin.py"
    script.write_text(f"#!{sys.executable}\nimport sys\n" + textwrap.dedent(body))
    script.chmod(0o755)
    raw = {
        "command": str(script),
        "apiVersion": "client.authentication.k8s.io/v1",
        "interactiveMode": "Never",
        **extra,
    }
    return ExecCredentials(ExecSpec.parse(raw, where="user 'ci' in /k/config"))


def test_a_plugin_that_prints_more_than_the_cap_is_stopped_with_one_sentence(
    tmp_path: Path,
) -> None:
    creds = plugin(tmp_path, f"sys.stdout.buffer.write(b'x' * {STDOUT_LIMIT + 1})")
    with pytest.raises(ClusterError) as e:
        creds.get()
    assert str(e.value).startswith(
        f"the exec credential plugin '{tmp_path / 'plugin.py'}' of user 'ci' in /k/config printed "
        "more than 1 MiB, far more than any credential, and was stopped."
    )


def test_a_plugin_killed_at_the_cap_is_not_waited_for(tmp_path: Path) -> None:
    # It would block forever on a full pipe if the reading stopped without killing it.
    creds = plugin(
        tmp_path, f"sys.stdout.buffer.write(b'x' * {4 * STDOUT_LIMIT}); sys.stdin.read()"
    )
    with pytest.raises(ClusterError, match="printed more than 1 MiB"):
        creds.get()


def test_a_failing_plugins_stderr_is_quoted_from_its_end_and_bounded(tmp_path: Path) -> None:
    creds = plugin(
        tmp_path,
        """
        sys.stderr.write("noise " * 200000 + "\\n\\x1b[31mError: run sso login\\x1b[0m\\n")
        sys.exit(1)
        """,
    )
    with pytest.raises(ClusterError) as e:
        creds.get()
    message = str(e.value)
    assert "failed (exit status 1): …" in message
    assert "Error: run sso login" in message
    assert "\x1b" not in message and "\n" not in message
    assert len(message) < 2300


# ---- 5. the inventory record is unpacked with a cap ----------------------------------------


def record_body(packed: bytes) -> dict[str, Any]:
    return {
        "data": {"source": "{}"},
        "binaryData": {record.MEMBERS_KEY: base64.b64encode(packed).decode()},
    }


def test_a_gzip_bomb_in_the_record_is_refused_by_its_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(record, "MEMBERS_LIMIT", 1024 * 1024)
    bomb = gzip.compress(b"[" + b" " * (8 * 1024 * 1024) + b"]")
    with pytest.raises(ClusterError) as e:
        record.parse(record_body(bomb), "shop", "default")
    assert str(e.value).startswith(
        "the inventory record ConfigMap default/ambdiff-inventory-shop holds a member list that "
        "unpacks to more than 1 MiB, far more than ambdiff writes"
    )


def test_the_default_cap_is_far_above_a_full_record() -> None:
    assert record.MEMBERS_LIMIT == 32 * 1024 * 1024


@pytest.mark.parametrize(
    "packed",
    [b"not gzip at all", gzip.compress(b'[{"group": ""}]')[:-12], gzip.compress(b"[1")],
    ids=["not-gzip", "cut-short", "not-json"],
)
def test_a_corrupt_record_is_one_sentence_naming_the_configmap(packed: bytes) -> None:
    with pytest.raises(
        ClusterError,
        match=r"^the inventory record ConfigMap default/"
        r"ambdiff-inventory-shop cannot be read \(",
    ):
        record.parse(record_body(packed), "shop", "default")


def test_a_record_ambdiff_wrote_still_reads_back() -> None:
    identity = record.Identity("repo", "src", ("k",))
    members = (record.Member(ObjectId("", "ConfigMap", "s", "a"), "uid-1", "v1"),)
    written = record.Record("shop", "default", identity, "abc", "now", members)
    assert record.parse(record.body_of(written), "shop", "default").members == members


# ---- a tokenFile is read as kubectl reads it -----------------------------------------------


def test_a_token_files_final_line_break_is_trimmed(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(f"{SECRET}\n")  # as `echo $TOKEN > token` writes it
    chosen = configure(selection({}, {"tokenFile": str(tmp_path / "token")}))
    header = chosen.configuration.auth_settings()["BearerToken"]["value"]
    assert header == f"Bearer {SECRET}"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (f"{SECRET}\nX-Evil: 1\n".encode(), "holds a line break or another control character"),
        (f"{SECRET}\u2603".encode(), "holds a character that is not ASCII"),
        (b"\xff\xfe" + SECRET.encode(), "is not UTF-8 text"),
        (b"x" * (1024 * 1024 + 1), "larger than 1 MiB, the most ambdiff reads from one file"),
    ],
)
def test_a_token_file_that_cannot_be_a_token_is_one_sentence(
    tmp_path: Path, content: bytes, message: str
) -> None:
    (tmp_path / "token").write_bytes(content)
    said = refused({}, {"tokenFile": str(tmp_path / "token")})
    assert f"user 'ci': tokenFile {tmp_path / 'token'}" in said and message in said


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_kubeconfig_that_is_no_regular_file_is_refused_unopened(
    tmp_path: Path, kind: str
) -> None:
    # KUBECONFIG=/dev/zero read 9 GB before this; a FIFO blocked forever.
    path = Path("/dev/zero") if kind == "device" else tmp_path / "kc"
    if kind == "fifo":
        os.mkfifo(path)
    with pytest.raises(
        ClusterError, match=r"kubeconfig .*: a (named pipe \(FIFO\)|device), not a regular file"
    ):
        load(str(path))


def test_the_cluster_edge_names_no_commands_flags_when_no_cluster_can_be_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """watch logs a cluster error as it is: it has no --live-file to suggest."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    with pytest.raises(ClusterError) as no_config:
        Cluster.connect(None, None)
    config = kubeconfig(tmp_path, server='"https://127.0.0.1:1"')
    with pytest.raises(ClusterError) as unreachable:
        Cluster.connect(str(config), None).version()
    for error in (no_config.value, unreachable.value):
        assert error.unreadable and "--live-file" not in str(error)
    assert unreachable.value.cause.startswith("cannot reach the cluster at https://127.0.0.1:1")
