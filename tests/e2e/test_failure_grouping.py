"""One cause, said once: when many objects fail for the same reason (the API server died
during preflight, RBAC refuses a verb), the report says the cause in one line and lists the
objects on the next, instead of a line per object."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from ambdiff.cli import main
from ambdiff.sync.engine import Sync
from tests.harness import APIServer

COUNT = 30  # objects that all fail for one reason


@pytest.fixture
def ns() -> str:
    return f"group-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def repo(tmp_path: Path, ns: str) -> Path:
    root = tmp_path / "gitops"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    docs = [
        f"apiVersion: getambassador.io/v3alpha1\nkind: Mapping\nmetadata: {{name: m{i:02d}, "
        f"namespace: {ns}}}\nspec: {{hostname: '*', prefix: /m{i}/, service: web}}\n"
        for i in range(COUNT)
    ]
    (root / "routes.yaml").write_text("---\n".join(docs))
    return root


def sync(
    apiserver: APIServer,
    repo: Path,
    ns: str,
    capsys: pytest.CaptureFixture[str],
    *args: str,
    kubeconfig: Path | None = None,
) -> tuple[int, str, str]:
    code = main(
        [
            "sync",
            "--yes",
            *args,
            "--repo",
            str(repo),
            "--kubeconfig",
            str(kubeconfig or apiserver.kubeconfig),
            "--inventory",
            f"inv-{ns}",
        ]
    )
    out, err = capsys.readouterr()
    return code, out, err


def test_an_api_server_that_dies_in_preflight_is_said_once(
    apiserver: APIServer,
    repo: Path,
    ns: str,
    capsys: pytest.CaptureFixture[str],
    api_client: kubernetes.client.ApiClient,
) -> None:
    # The Namespace exists (and is not in git), so every Mapping is dry-run in preflight.
    kubernetes.client.CoreV1Api(api_client).create_namespace({"metadata": {"name": ns}})
    with _dying(apiserver):
        code, out, err = sync(apiserver, repo, ns, capsys)
    assert code == 2, out + err
    cause = [line for line in err.splitlines() if "cannot reach the cluster" in line]
    assert len(cause) == 1, err
    assert cause[0].startswith(f"  ✗ {COUNT} objects: cannot reach the cluster at ")
    assert "connection refused (nothing listens there, or the server is down)" in cause[0]
    assert (
        f"Mapping {ns}/m00, Mapping {ns}/m01" in err and "and 20 more (-o json lists each)" in err
    )
    assert "Connection aborted" not in err and "NewConnectionError" not in err
    failed_lines = [line for line in err.splitlines() if line.lstrip().startswith("✗")]
    assert len(failed_lines) == 1


def test_json_keeps_every_object_with_its_cause(
    apiserver: APIServer,
    repo: Path,
    ns: str,
    capsys: pytest.CaptureFixture[str],
    api_client: kubernetes.client.ApiClient,
) -> None:
    kubernetes.client.CoreV1Api(api_client).create_namespace({"metadata": {"name": ns}})
    with _dying(apiserver):
        code, out, _ = sync(apiserver, repo, ns, capsys, "-o", "json")
    assert code == 2
    preflight = json.loads(out)["preflight"]
    assert len(preflight) == COUNT
    assert len({p["cause"] for p in preflight}) == 1


def test_a_read_only_identity_is_told_once_what_it_may_not_do(
    apiserver: APIServer,
    repo: Path,
    ns: str,
    capsys: pytest.CaptureFixture[str],
    api_client: kubernetes.client.ApiClient,
) -> None:
    user = f"reader-{ns}"
    kubernetes.client.CoreV1Api(api_client).create_namespace({"metadata": {"name": ns}})
    rbac = kubernetes.client.RbacAuthorizationV1Api(api_client)
    rbac.create_cluster_role(
        {
            "metadata": {"name": user},
            "rules": [
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]},
                {
                    "apiGroups": ["coordination.k8s.io"],
                    "resources": ["leases"],
                    "verbs": ["get", "create", "update"],
                },
            ],
        }
    )
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": user},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": user,
            },
            "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}],
        }
    )
    code, out, err = sync(apiserver, repo, ns, capsys, kubeconfig=apiserver.mint_user(user))
    assert code == 2, out + err
    failed = [line for line in err.splitlines() if line.lstrip().startswith("✗")]
    assert failed == [
        f"  ✗ {COUNT} objects: user '{user}' may not patch mappings.getambassador.io in namespace {ns} "
        "(HTTP 403, context envtest). Your credentials lack permission for this; "
        "ask for access to these resources, or use another --context."
    ]


class _dying:
    """The API server stops as preflight begins and is started again afterwards."""

    def __init__(self, apiserver: APIServer) -> None:
        self.apiserver = apiserver
        self.patch = pytest.MonkeyPatch()

    def __enter__(self) -> None:
        real = Sync.preflight
        server = self.apiserver

        def preflight(engine: Sync, *args: Any, **kw: Any) -> Any:
            server.stop_apiserver()
            return real(engine, *args, **kw)

        self.patch.setattr(Sync, "preflight", preflight)

    def __exit__(self, *exc: object) -> None:
        self.patch.undo()
        self.apiserver.start_apiserver()
