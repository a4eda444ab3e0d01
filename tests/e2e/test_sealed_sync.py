"""Secret values are sealed inside ambdiff and opened only on the way to the API server: a
sync stores exactly git's values, and nothing printed — sync, diff, -vv logs, the plan file —
holds one."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from ambdiff.cli import main
from tests.e2e.sample_repo import web_app
from tests.harness import APIServer


def extra(ns: str, secret: str) -> str:
    return f"""apiVersion: getambassador.io/v3alpha1
kind: Filter
metadata: {{name: sso, namespace: {ns}}}
spec:
  OAuth2: {{authorizationURL: "https://idp.example.com", clientID: shop, secret: {secret}-crd}}
---
apiVersion: v1
kind: Service
metadata:
  name: sso
  namespace: {ns}
  annotations:
    getambassador.io/config: |
      apiVersion: getambassador.io/v3alpha1
      kind: Filter
      name: sso-inline
      OAuth2:
        authorizationURL: https://idp.example.com
        clientID: shop
        secret: {secret}-inline
spec: {{ports: [{{port: 80}}]}}
"""


def write(repo: Path, ns: str, secret: str) -> None:
    files = web_app(ns, secret=f"{secret}-password")
    files["sso.yaml"] = extra(ns, secret)
    for name, text in files.items():
        (repo / name).write_text(text)


@pytest.fixture
def ns() -> str:
    return f"sealed-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def cli(
    apiserver: APIServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], ns: str
) -> Callable[..., tuple[int, str]]:
    (tmp_path / "gitops").mkdir()

    def run(*args: str) -> tuple[int, str]:
        code = main(
            [
                *args,
                "--repo",
                str(tmp_path / "gitops"),
                "--kubeconfig",
                str(apiserver.kubeconfig),
                "--context",
                apiserver.context,
                "--inventory",
                f"inv-{ns}",
            ]
        )
        out, err = capsys.readouterr()
        return code, out + err

    return run


def live_values(api: Any, ns: str) -> tuple[str, str, str]:
    core = kubernetes.client.CoreV1Api(api)
    password = base64.b64decode(core.read_namespaced_secret("db", ns).data["password"]).decode()
    annotation = core.read_namespaced_service("sso", ns).metadata.annotations
    custom = kubernetes.client.CustomObjectsApi(api)
    crd = custom.get_namespaced_custom_object("getambassador.io", "v3alpha1", ns, "filters", "sso")
    return password, annotation["getambassador.io/config"], crd["spec"]["OAuth2"]["secret"]


def test_sync_stores_gits_secret_values_and_prints_none(
    cli: Callable[..., tuple[int, str]], tmp_path: Path, ns: str, api_client: Any
) -> None:
    repo = tmp_path / "gitops"
    write(repo, ns, "Zq-FIRST")
    code, text = cli("sync", "--yes", "-vv")
    assert code == 0, text
    assert "Zq-FIRST" not in text
    password, annotation, crd = live_values(api_client, ns)
    assert password == "Zq-FIRST-password" and crd == "Zq-FIRST-crd"
    assert "secret: Zq-FIRST-inline" in annotation

    write(repo, ns, "Zq-SECOND")
    for output in ("human", "diff", "json"):
        code, text = cli("diff", "-o", output)
        assert code == 1, text
        assert "Zq-FIRST" not in text and "Zq-SECOND" not in text
        assert base64.b64encode(b"Zq-SECOND-password").decode() not in text
    code, text = cli("diff")
    assert "data.password: (secret value changed; hidden)" in text
    assert ".OAuth2.secret: (secret value changed; hidden)" in text
    plan = tmp_path / "plan.json"
    code, text = cli("sync", "--yes", "-vv", "--plan-out", str(plan))
    assert code == 0, text
    assert "Zq-" not in text + plan.read_text()
    password, annotation, crd = live_values(api_client, ns)
    assert password == "Zq-SECOND-password" and crd == "Zq-SECOND-crd"
    assert "secret: Zq-SECOND-inline" in annotation
    code, text = cli("diff")
    assert code == 0, text
