"""Public install bundles that ambdiff did not write (tests/e2e/bundles, sources and licences
in each file's header), applied to a real API server three ways — kubectl client-side apply,
kubectl server-side apply, ambdiff sync — are in sync in both diff modes, a second sync plans
nothing, and a drift made with kubectl is found with exact paths in both modes, on the same
objects `kubectl diff --server-side` names."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ambdiff.yamlio import load_documents
from tests.e2e.diff_support import Run, git, isolate, kubectl, run_ambdiff
from tests.harness import APIServer, start

BUNDLES = Path(__file__).resolve().parent / "bundles"
INVENTORY = "bundles"


@dataclass(frozen=True)
class Installed:
    server: APIServer
    repo: Path
    home: Path
    way: str


def crd_files(root: Path) -> list[Path]:
    """Files that define CRDs or Namespaces: applied (and waited for) first, as a person does."""
    return sorted(
        p
        for p in root.rglob("*.yaml")
        if "kind: CustomResourceDefinition" in p.read_text() or p.name.endswith("namespace.yaml")
    )


TOO_LONG = re.compile(
    r'CustomResourceDefinition.apiextensions.k8s.io "([^"]+)" is invalid: metadata.annotations: '
    r"Too long"
)


def kubectl_apply(installed: Installed, *flags: str) -> None:
    first = crd_files(installed.repo / "bundles")
    rest = sorted(set((installed.repo / "bundles").rglob("*.yaml")) - set(first))
    args = [a for p in first for a in ("-f", str(p))]
    done = kubectl(installed.server, installed.home, "apply", *flags, *args, check=False)
    too_long = set(TOO_LONG.findall(done.stderr))
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == len(too_long), done.stderr
    if too_long:
        # A CRD too big for kubectl's last-applied annotation cannot be applied client-side;
        # its project says to apply it with --server-side, and so does a person.
        crds = [
            d.data for p in first for d in load_documents(p.read_text(), p.name)
            if d.data.get("kind") == "CustomResourceDefinition"
            and d.data["metadata"]["name"] in too_long
        ]  # fmt: skip
        listed = json.dumps({"apiVersion": "v1", "kind": "List", "items": crds})
        kubectl(installed.server, installed.home, "apply", "--server-side", "-f", "-", stdin=listed)
    wait_established(installed)
    kubectl(
        installed.server,
        installed.home,
        "apply",
        *flags,
        *[a for p in rest for a in ("-f", str(p))],
    )


def wait_established(installed: Installed, timeout: float = 60.0) -> None:
    """Until every CRD is Established (polling the condition, not sleeping on a guess)."""
    deadline = time.monotonic() + timeout
    while True:
        crds = json.loads(
            kubectl(installed.server, installed.home, "get", "crd", "-o", "json").stdout
        )
        pending = [
            c["metadata"]["name"] for c in crds["items"]
            if not any(k["type"] == "Established" and k["status"] == "True"
                       for k in (c.get("status") or {}).get("conditions") or ())
        ]  # fmt: skip
        if not pending:
            return
        assert time.monotonic() < deadline, f"CRDs not Established within {timeout}s: {pending}"
        time.sleep(0.2)


@pytest.fixture(
    scope="module", params=["kubectl-client-side", "kubectl-server-side", "ambdiff-sync"]
)
def installed(
    request: pytest.FixtureRequest, testbin_assets: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Installed]:
    """A fresh API server holding every bundle, applied one way."""
    root = tmp_path_factory.mktemp(request.param)
    repo, home = root / "repo", root / "home"
    home.mkdir()
    shutil.copytree(BUNDLES, repo / "bundles")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "public bundles")
    server = start(testbin_assets.kube_apiserver, testbin_assets.etcd)
    try:
        installed = Installed(server, repo, home, request.param)
        if request.param == "kubectl-client-side":
            kubectl_apply(installed)
        elif request.param == "kubectl-server-side":
            kubectl_apply(installed, "--server-side")
        else:
            with pytest.MonkeyPatch.context() as patch:
                isolate(patch, home)
                first = ambdiff(installed, "sync", "--yes")
            assert first.code == 0, first.text
        yield installed
    finally:
        server.close()


def ambdiff(installed: Installed, command: str, *args: str) -> Run:
    return run_ambdiff(
        command,
        "--kubeconfig",
        str(installed.server.kubeconfig),
        "--context",
        installed.server.context,
        "--repo",
        str(installed.repo),
        "--inventory",
        INVENTORY,
        "--color",
        "never",
        *args,
        "bundles",
    )


@pytest.fixture(autouse=True)
def isolated(installed: Installed, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(monkeypatch, installed.home)


def report(installed: Installed, *mode: str) -> dict[str, Any]:
    run = ambdiff(installed, "diff", "-o", "json", *mode)
    assert run.code in (0, 1), run.text
    data: dict[str, Any] = json.loads(run.out)
    return data


def differences(data: dict[str, Any]) -> dict[str, list[str]]:
    """`Kind namespace/name` -> its status or changed paths, for every object not unchanged."""
    return {
        f"{r['kind']} {r['namespace'] or ''}/{r['name']}": [
            f"{c['op']} {c['path']}" for c in r["changes"]
        ] or [r["status"]]
        for r in data["resources"]
        if r["status"] != "unchanged"
    }  # fmt: skip


@pytest.mark.parametrize("mode", [(), ("--server-side",)], ids=["default", "server-side"])
def test_every_object_is_unchanged(installed: Installed, mode: tuple[str, ...]) -> None:
    data = report(installed, *mode)
    assert data["errors"] == []
    assert differences(data) == {}
    # Every object of every bundle was compared: nothing was left out or unreadable.
    assert data["summary"]["unchanged"] == len(data["resources"]) > 60


def test_a_second_sync_plans_nothing(installed: Installed) -> None:
    if installed.way != "ambdiff-sync":
        # The first sync of what kubectl applied adopts it: labels only, no field changes.
        first = ambdiff(installed, "sync", "--yes", "-o", "json")
        assert first.code == 0, first.text
        plan = json.loads(first.out)["plan"]["actions"]
        assert {a["action"] for a in plan} <= {"update"}, plan
        assert all(a["reason"] == "take ownership (add inventory labels)" for a in plan), plan
        assert differences(report(installed)) == {}
        assert differences(report(installed, "--server-side")) == {}
    run = ambdiff(installed, "sync", "--yes")
    assert run.code == 0, run.text
    assert "Nothing to do" in run.text, run.text


NGINX = "ingress-nginx"


def drift(installed: Installed) -> None:
    """Changes a person makes with kubectl, one of each kind; the comments say what ambdiff
    must report (nothing, for a field git does not set)."""
    k = lambda *a: kubectl(installed.server, installed.home, *a)  # noqa: E731
    n = ["-n", NGINX]
    k("-n", "monitoring", "scale", "deployment/prometheus-operator", "--replicas=3")  # replicas
    k(
        *n,
        "set",
        "image",
        "deployment/ingress-nginx-controller",
        "controller=registry.example/nginx:drift",
    )  # image
    k(*n, "set", "env", "deployment/ingress-nginx-controller", "DRIFT=1")  # not git's: nothing
    k(
        "patch",
        "configmap",
        "argocd-ssh-known-hosts-cm",
        "--type=merge",
        "-p",
        '{"data": {"ssh_known_hosts": "drift"}}',
    )  # a value
    k(
        *n,
        "label",
        "--overwrite",
        "configmap",
        "ingress-nginx-controller",
        "app.kubernetes.io/version=drift",
    )  # a label git sets
    k(*n, "label", "serviceaccount", "ingress-nginx", "team=drift")  # not git's: nothing
    k(
        *n,
        "patch",
        "service",
        "ingress-nginx-controller",
        "--type=json",
        "-p",
        '[{"op": "replace", "path": "/spec/ports/0/targetPort", "value": 8080}]',
    )  # a port
    # A Mapping's prefix (git's) and timeout (not git's: nothing).
    k(
        "patch",
        "mappings.v2.getambassador.io",
        "cqrs-get",
        "--type=merge",
        "-p",
        '{"spec": {"prefix": "/drift/", "timeout_ms": 1234}}',
    )
    # The same quantity written differently: nothing.
    k(
        *n,
        "patch",
        "deployment",
        "ingress-nginx-controller",
        "--type=json",
        "-p",
        '[{"op": "replace", "path": "/spec/template/spec/containers/0/resources/requests/cpu", '
        '"value": "0.1"}]',
    )
    k(*n, "delete", "role", "ingress-nginx-admission")  # deleted


EXPECTED_DRIFT = {
    "Deployment monitoring/prometheus-operator": ["change spec.replicas"],
    f"Deployment {NGINX}/ingress-nginx-controller": [
        "change spec.template.spec.containers[name=controller].image",
    ],
    "ConfigMap default/argocd-ssh-known-hosts-cm": ["change data.ssh_known_hosts"],
    f"ConfigMap {NGINX}/ingress-nginx-controller": [
        'change metadata.labels["app.kubernetes.io/version"]',
    ],
    f"Service {NGINX}/ingress-nginx-controller": ["change spec.ports[port=80].targetPort"],
    "Mapping default/cqrs-get": ["change spec.prefix"],
    f"Role {NGINX}/ingress-nginx-admission": ["added"],
}


def test_drift_made_with_kubectl_is_found_in_both_modes_as_kubectl_diff_finds_it(
    installed: Installed,
) -> None:
    drift(installed)
    found = {
        " ".join(mode) or "default": differences(report(installed, *mode))
        for mode in ((), ("--server-side",))
    }
    assert found == {"default": EXPECTED_DRIFT, "--server-side": EXPECTED_DRIFT}
    # The oracle: kubectl's server-side diff of the same files, as a field manager of its own
    # (so it removes nothing), names the same objects.
    files = [
        a for p in sorted((installed.repo / "bundles").rglob("*.yaml")) for a in ("-f", str(p))
    ]
    oracle = kubectl(
        installed.server,
        installed.home,
        "diff",
        "--server-side",
        "--force-conflicts",
        "--field-manager=oracle",
        *files,
        check=False,
    )
    assert oracle.returncode == 1, oracle.stderr
    named = {
        line.split()[-1].rsplit("/", 1)[-1]
        for line in oracle.stdout.splitlines()
        if line.startswith("diff -u")
    }
    assert named == {
        "apps.v1.Deployment.monitoring.prometheus-operator",
        f"apps.v1.Deployment.{NGINX}.ingress-nginx-controller",
        "v1.ConfigMap.default.argocd-ssh-known-hosts-cm",
        f"v1.ConfigMap.{NGINX}.ingress-nginx-controller",
        f"v1.Service.{NGINX}.ingress-nginx-controller",
        "getambassador.io.v2.Mapping.default.cqrs-get",
        f"rbac.authorization.k8s.io.v1.Role.{NGINX}.ingress-nginx-admission",
    }, oracle.stdout
