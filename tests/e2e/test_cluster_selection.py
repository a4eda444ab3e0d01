"""The cluster ambdiff talks to is the one kubectl would, on the real API server: merged
`$KUBECONFIG` lists, relative certificate paths, exec credential plugins (success, failure, a
missing binary, a credential that expires during a long watch), TLS verification off."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml

from tests.e2e.diff_support import run_ambdiff
from tests.e2e.watch_support import commit, init_repo, start_watch, wait_for
from tests.harness import APIServer
from tests.harness.apiserver import free_port

TOKEN_SA = "ambdiff-exec-plugin"


@pytest.fixture
def repo(tmp_path: Path, namespace: str) -> Path:
    """A repository with one ConfigMap for the test's namespace."""
    root = tmp_path / "gitops"
    init_repo(root)
    commit(
        root,
        {
            "settings.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"
            f"  namespace: {namespace}\ndata:\n  mode: blue\n"
        },
    )
    return root


def admin_parts(server: APIServer) -> dict[str, bytes]:
    """The harness admin kubeconfig's CA, certificate and key, decoded."""
    config = yaml.safe_load(server.kubeconfig.read_text())
    cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
    return {
        "ca.crt": base64.b64decode(cluster["certificate-authority-data"]),
        "admin.crt": base64.b64decode(user["client-certificate-data"]),
        "admin.key": base64.b64decode(user["client-key-data"]),
    }


def kubeconfig(
    path: Path, current: str, contexts: dict[str, tuple[str, dict[str, Any], dict[str, Any]]]
) -> Path:
    """A kubeconfig whose contexts are name -> (server, cluster fields, user fields)."""
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": current,
        "clusters": [{"name": n, "cluster": {"server": s, **c}} for n, (s, c, _) in contexts.items()],
        "users": [{"name": n, "user": u} for n, (_, _, u) in contexts.items()],
        "contexts": [{"name": n, "context": {"cluster": n, "user": n}} for n in contexts],
    }  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    return path


def inline(server: APIServer) -> tuple[dict[str, Any], dict[str, Any]]:
    parts = admin_parts(server)
    b64 = {k: base64.b64encode(v).decode() for k, v in parts.items()}
    return (
        {"certificate-authority-data": b64["ca.crt"]},
        {"client-certificate-data": b64["admin.crt"], "client-key-data": b64["admin.key"]},
    )


def kubectl_current(env: dict[str, str]) -> tuple[str, int]:
    """kubectl's current context, and whether it can read the cluster (exit code)."""
    current = subprocess.run(
        ["kubectl", "config", "current-context"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    reach = subprocess.run(
        ["kubectl", "get", "--raw", "/version", "--request-timeout=5s"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    ).returncode
    return current, reach


def diff(repo: Path, *args: str) -> Any:
    return run_ambdiff("diff", "--repo", str(repo), "--color", "never", *args)


# ---- choosing the cluster ---------------------------------------------------------------


def test_a_merged_kubeconfig_uses_the_first_files_current_context_as_kubectl_does(
    apiserver: APIServer, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster, user = inline(apiserver)
    dead = f"https://127.0.0.1:{free_port()}"  # nothing listens there
    staging = kubeconfig(
        tmp_path / "staging.yaml", "staging", {"staging": (apiserver.url, cluster, user)}
    )
    # prod.yaml also defines a "staging" context (pointing elsewhere): the first file's wins.
    prod = kubeconfig(
        tmp_path / "prod.yaml",
        "prod",
        {"prod": (dead, cluster, user), "staging": (dead, cluster, user)},
    )
    for order, context, server, reachable in (
        ((staging, prod), "staging", apiserver.url, True),
        ((prod, staging), "prod", dead, False),
    ):
        listed = os.pathsep.join(str(p) for p in order)
        monkeypatch.setenv("KUBECONFIG", listed)
        assert kubectl_current({**os.environ}) == (context, 0 if reachable else 1)
        run = diff(repo, "-o", "json")
        first = run.err.splitlines()[0]
        assert first.startswith(
            f"Using context {context} at {server} (cluster {context}, user {context}"
        ), run.err
        if reachable:
            assert run.code == 1 and run.json()["cluster"]["context"] == "staging"
            assert run.json()["cluster"]["server"] == apiserver.url
        else:
            assert run.code == 2 and f"cannot reach the cluster at {dead} (context prod)" in run.err


def test_relative_certificate_paths_are_read_from_the_kubeconfigs_folder(
    apiserver: APIServer, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "team" / "kube"
    for name, content in admin_parts(apiserver).items():
        (folder / "pki").mkdir(parents=True, exist_ok=True)
        (folder / "pki" / name).write_bytes(content)
    path = kubeconfig(
        folder / "config",
        "team",
        {
            "team": (
                apiserver.url,
                {"certificate-authority": "pki/ca.crt"},
                {"client-certificate": "pki/admin.crt", "client-key": "pki/admin.key"},
            )
        },
    )
    monkeypatch.chdir(tmp_path)  # not the kubeconfig's folder: relative to the file, not here
    monkeypatch.setenv("KUBECONFIG", str(path))
    assert kubectl_current({**os.environ}) == ("team", 0)
    assert diff(repo).code == 1
    (folder / "pki" / "admin.key").unlink()
    run = diff(repo)
    assert run.code == 2
    assert (
        f"kubeconfig {path}: user 'team': client-key {folder / 'pki' / 'admin.key'} does not exist"
        in run.err
    )


def test_a_settings_file_cannot_choose_the_cluster(
    apiserver: APIServer, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(apiserver.kubeconfig))
    (repo / ".ambdiff.yaml").write_text("context: prod\n")
    run = diff(repo)
    assert run.code == 2
    assert "'context' is not read from the settings file" in run.err
    assert "Using context" not in run.err  # refused before any cluster was chosen


# ---- exec credential plugins ------------------------------------------------------------


@pytest.fixture(scope="module")
def sa_token(api_client: kubernetes.client.ApiClient) -> str:
    """A real bearer token (TokenRequest) for a ServiceAccount bound to cluster-admin."""
    core = kubernetes.client.CoreV1Api(api_client)
    rbac = kubernetes.client.RbacAuthorizationV1Api(api_client)
    namespace = f"exec-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": namespace}})
    core.create_namespaced_service_account(namespace, {"metadata": {"name": TOKEN_SA}})
    rbac.create_cluster_role_binding({
        "metadata": {"name": f"{namespace}-admin"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": TOKEN_SA, "namespace": namespace}],
    })  # fmt: skip
    answer = core.create_namespaced_service_account_token(
        TOKEN_SA, namespace, {"spec": {"expirationSeconds": 3600}}
    )
    return str(answer.status.token)


def exec_plugin(folder: Path, token: str, *, lifetime: float | None = None, fail: str = "") -> Path:
    """A credential plugin script: prints `token` (valid for `lifetime` seconds, if given), or
    fails saying `fail`; appends a line to runs.log on every run."""
    script = folder / "kube-login"
    expiry = (
        f"(datetime.now(UTC) + timedelta(seconds={lifetime})).strftime('%Y-%m-%dT%H:%M:%SZ')"
        if lifetime
        else "None"
    )
    script.write_text(
        f"#!{sys.executable}\n"
        + textwrap.dedent(f"""
        import json, sys
        from datetime import UTC, datetime, timedelta
        with open({str(folder / "runs.log")!r}, 'a') as log:
            log.write('run\\n')
        if {fail!r}:
            sys.stderr.write({fail!r} + '\\n')
            sys.exit(1)
        status = {{'token': {token!r}}}
        expiry = {expiry}
        if expiry:
            status['expirationTimestamp'] = expiry
        print(json.dumps({{'apiVersion': 'client.authentication.k8s.io/v1',
                          'kind': 'ExecCredential', 'status': status}}))
    """)
    )
    script.chmod(0o755)
    return script


def exec_kubeconfig(server: APIServer, folder: Path, command: str, hint: str = "") -> Path:
    cluster, _ = inline(server)
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": command,
            "interactiveMode": "Never",
            **({"installHint": hint} if hint else {}),
        }
    }
    return kubeconfig(folder / "config", "sso", {"sso": (server.url, cluster, user)})


def plugin_runs(folder: Path) -> int:
    log = folder / "runs.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_an_exec_plugin_token_is_used_and_fetched_once(
    apiserver: APIServer, repo: Path, tmp_path: Path, sa_token: str
) -> None:
    # A relative command with a slash is relative to the kubeconfig, as kubectl has it.
    exec_plugin(tmp_path, sa_token)
    path = exec_kubeconfig(apiserver, tmp_path, "./kube-login")
    run = diff(repo, "--kubeconfig", str(path), "-o", "json")
    assert run.code == 1, run.err
    assert run.json()["resources"][0]["status"] == "added"
    assert plugin_runs(tmp_path) == 1  # discovery, LISTs: one credential for all of them
    assert sa_token not in run.text
    env = {**os.environ, "KUBECONFIG": str(path)}
    assert kubectl_current(env) == ("sso", 0)


def test_a_failing_exec_plugin_is_fatal_with_its_message_not_a_403(
    apiserver: APIServer, repo: Path, tmp_path: Path
) -> None:
    exec_plugin(tmp_path, "unused", fail="Error loading SSO Token: Token for corp has expired")
    path = exec_kubeconfig(
        apiserver,
        tmp_path,
        str(tmp_path / "kube-login"),
        hint="Run `aws sso login --profile corp` and try again.",
    )
    run = diff(repo, "--kubeconfig", str(path))
    assert run.code == 2
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1, run.err
    assert "failed (exit status 1): Error loading SSO Token: Token for corp has expired" in lines[0]
    assert "Run `aws sso login --profile corp` and try again." in lines[0]
    assert "403" not in run.err and "anonymous" not in run.err and "Traceback" not in run.err


def test_a_missing_exec_plugin_says_so_with_its_install_hint(
    apiserver: APIServer, repo: Path, tmp_path: Path
) -> None:
    path = exec_kubeconfig(
        apiserver,
        tmp_path,
        "gke-gcloud-auth-plugin-absent",
        hint="Install gke-gcloud-auth-plugin: gcloud components install gke-gcloud-auth-plugin",
    )
    run = diff(repo, "--kubeconfig", str(path))
    assert run.code == 2
    assert "'gke-gcloud-auth-plugin-absent'" in run.err and "was not found on PATH" in run.err
    assert "gcloud components install gke-gcloud-auth-plugin" in run.err


def test_a_watch_refreshes_an_expiring_plugin_credential_and_reuses_a_lasting_one(
    apiserver: APIServer, tmp_path: Path, sa_token: str, namespace: str
) -> None:
    repo = tmp_path / "gitops"
    init_repo(repo)
    commit(
        repo,
        {
            "settings.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s\n"
            f"  namespace: {namespace}\ndata:\n  a: b\n"
        },
    )
    rounds = 'ambdiff_rounds_total{result="succeeded",trigger="interval"}'
    for name, lifetime, expect_runs in (
        ("short", 11.0, lambda n: n >= 3),
        ("long", 3600.0, lambda n: n == 1),
    ):
        folder = tmp_path / name
        folder.mkdir()
        # Valid for 11 s: within ambdiff's 10 s refresh margin after about a second.
        exec_plugin(folder, sa_token, lifetime=lifetime)
        path = exec_kubeconfig(apiserver, folder, str(folder / "kube-login"))
        w = start_watch(
            [
                "--repo",
                str(repo),
                "--branch",
                "main",
                "--kubeconfig",
                str(path),
                "--inventory",
                f"inv-{namespace}-{name}",
                "--interval",
                "1s",
            ],
            tmp_path,
            tmp_path / f"watch-{name}.log",
        )
        try:
            w.wait_ready()
            wait_for(lambda: w.metric(rounds) >= 4, f"four rounds ({name}-lived credential)")  # noqa: B023
            assert w.metric("ambdiff_consecutive_failed_rounds") == 0, w.describe()
            assert expect_runs(plugin_runs(folder)), (name, plugin_runs(folder), w.describe())
            assert sa_token not in w.log_text()
            said = [e for e in w.events() if e.get("event") == "cluster"]
            assert [(e["context"], e["server"]) for e in said] == [("sso", apiserver.url)]
            assert w.terminate() == 0, w.describe()
        finally:
            w.kill()


# ---- TLS verification off ---------------------------------------------------------------


def test_insecure_skip_tls_verify_warns_once_per_run_and_json_logs_stay_json(
    apiserver: APIServer, tmp_path: Path, namespace: str
) -> None:
    _, user = inline(apiserver)
    path = kubeconfig(
        tmp_path / "insecure.yaml",
        "lab",
        {"lab": (apiserver.url, {"insecure-skip-tls-verify": True}, user)},
    )
    repo = tmp_path / "gitops"
    init_repo(repo)
    commit(
        repo,
        {
            f"cm{i}.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm{i}\n"
            f"  namespace: {namespace}\ndata:\n  i: '{i}'\n"
            for i in range(30)
        },
    )
    run = run_ambdiff(
        "sync",
        "--yes",
        "--repo",
        str(repo),
        "--kubeconfig",
        str(path),
        "--inventory",
        f"inv-{namespace}",
        "--color",
        "never",
    )
    assert run.code == 0, run.err
    assert "InsecureRequestWarning" not in run.text
    warnings = [line for line in run.err.splitlines() if "TLS verification is off" in line]
    assert len(warnings) == 1, run.err
    assert f"cluster lab ({apiserver.url})" in warnings[0]
    # A watch in JSON mode: every line it logs is JSON, the warning too.
    w = start_watch(
        [
            "--repo",
            str(repo),
            "--branch",
            "main",
            "--kubeconfig",
            str(path),
            "--inventory",
            f"inv-{namespace}",
            "--interval",
            "1s",
        ],
        tmp_path,
        tmp_path / "watch.log",
    )
    try:
        w.wait_ready()
        wait_for(
            lambda: w.metric('ambdiff_rounds_total{result="succeeded",trigger="interval"}') >= 2,
            "two rounds",
        )
        assert w.terminate() == 0, w.describe()
    finally:
        w.kill()
    lines = [line for line in w.log_text().splitlines() if line.strip()]
    assert all(line.startswith("{") for line in lines), w.describe()
    assert sum("TLS verification is off" in json.loads(line)["message"] for line in lines) == 1


def test_a_rejected_token_says_log_in_again_not_ask_for_access(
    apiserver: APIServer, repo: Path, tmp_path: Path
) -> None:
    cluster, _ = inline(apiserver)
    path = kubeconfig(
        tmp_path / "stale.yaml",
        "stale",
        {"stale": (apiserver.url, cluster, {"token": "expired-token-never-shown"})},
    )
    run = diff(repo, "--kubeconfig", str(path))
    assert run.code == 2
    assert "HTTP 401" in run.err and "did not accept the credentials" in run.err
    assert "log in again" in run.err and "lack permission" not in run.err
    assert "expired-token-never-shown" not in run.text


def test_tls_is_verified_as_kubectl_verifies_it(
    apiserver: APIServer, repo: Path, tmp_path: Path
) -> None:
    """Every connection shares one TLS context (built once: docs/performance.md); what it
    trusts is still what kubectl trusts. kubectl is the oracle for each kubeconfig."""
    from tests.harness.pki import CertificateAuthority

    cluster, user = inline(apiserver)
    stranger = base64.b64encode(CertificateAuthority("someone-else").cert_pem).decode()
    cases = {
        "right-ca": (apiserver.url, cluster, True),
        "wrong-ca": (apiserver.url, {"certificate-authority-data": stranger}, False),
        "no-ca": (apiserver.url, {}, False),  # the system store does not know the test CA
        "insecure": (apiserver.url, {"insecure-skip-tls-verify": True}, True),
        # The serving certificate names localhost and kubernetes.default, not this one.
        "server-name": (apiserver.url, {**cluster, "tls-server-name": "kubernetes.default"}, True),
        "wrong-name": (apiserver.url, {**cluster, "tls-server-name": "elsewhere.example"}, False),
    }
    for name, (server, fields, trusted) in cases.items():
        path = kubeconfig(tmp_path / f"{name}.yaml", name, {name: (server, fields, user)})
        env = {**os.environ, "KUBECONFIG": str(path)}
        assert kubectl_current(env) == (name, 0 if trusted else 1), name
        run = diff(repo, "--kubeconfig", str(path), "--inventory", "tls")
        if trusted:
            assert run.code == 1, (name, run.err)  # the ConfigMap is not in the cluster yet
        else:
            assert run.code == 2, (name, run.err)
            assert "Traceback" not in run.err and "certificate" in run.err.lower(), (name, run.err)
