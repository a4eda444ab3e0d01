"""The folders (and cluster states) the docs' sessions run in: tests/docs/test_docs.py.

Each scenario makes a working folder and returns it; `cluster` scenarios get the test API
server (context `envtest`) and leave what they create in namespaces of their own. `hooks`
are steps a page's prose describes but does not show as a command (a file edited by hand),
run before the block that names them (`<!-- docs-test: run NAME then=HOOK -->`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness import APIServer
from tests.helm_binary import require_helm  # at collection: it reads the real environment

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
Setup = Callable[[Path, APIServer | None], Path]
Hook = Callable[[Path, APIServer | None], None]


@dataclass(frozen=True)
class Scenario:
    setup: Setup
    cluster: bool = False
    hooks: dict[str, Hook] = field(default_factory=dict)


def environment(home: Path, server: APIServer | None) -> dict[str, str]:
    """A CI job's environment: no terminal, no colour, this venv's ambdiff first on PATH, a
    home of its own, the test API server's kubeconfig (or none)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AMBDIFF_", "KUBECONFIG"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(home),
        NO_COLOR="1",
        COLUMNS="250",
        TERM="dumb",
        PYTHONUNBUFFERED="1",
        KUBECONFIG=str(server.kubeconfig) if server else str(home / "no-kubeconfig"),
        GIT_AUTHOR_NAME="docs",
        GIT_AUTHOR_EMAIL="docs@example.com",
        GIT_COMMITTER_NAME="docs",
        GIT_COMMITTER_EMAIL="docs@example.com",
    )
    env.pop("CI", None)
    env["PATH"] = f"{Path(require_helm()).parent}{os.pathsep}{env['PATH']}"
    return env


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)


def repository(
    folder: Path,
    files: dict[str, str] | None = None,
    *,
    copy: Path | None = None,
    commit: bool = True,
) -> Path:
    if copy is not None:
        shutil.copytree(copy, folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    git(folder, "init", "-q", "-b", "main")
    if commit:
        git(folder, "add", "-A")
        git(
            folder,
            "-c",
            "user.name=docs",
            "-c",
            "user.email=docs@example.com",
            "commit",
            "-qm",
            "docs",
            "--allow-empty",
        )
    return folder


CONFIGMAP = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web, namespace: shop}\ndata: {a: b}\n"
)


def _root(work: Path, server: APIServer | None) -> Path:
    return ROOT


def _plain(work: Path, server: APIServer | None) -> Path:
    return repository(work, {"k8s/web.yaml": CONFIGMAP})


def _settings(text: str) -> Setup:
    def setup(work: Path, server: APIServer | None) -> Path:
        return repository(work, {"k8s/web.yaml": CONFIGMAP, ".ambdiff.yaml": text})

    return setup


def _empty(work: Path, server: APIServer | None) -> Path:
    return repository(work, commit=False)


def _check_examples(work: Path, server: APIServer | None) -> Path:
    """The page's own example files are written into it (`file` blocks), and one that a page
    cannot show: a file in Latin-1, its é at byte offset 61."""
    folder = repository(work, commit=False)
    (folder / "r").mkdir()
    latin1 = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\ndata: {a: é}\n"
    (folder / "r" / "latin1.yaml").write_bytes(latin1.encode("latin-1"))
    return folder


def _shop_mapping(name: str, host: str, prefix: str, service: str, extra: str = "") -> str:
    return (
        f"---\napiVersion: getambassador.io/v3alpha1\nkind: Mapping\nmetadata: {{name: "
        f'{name}, namespace: shop}}\nspec:\n  hostname: "{host}"\n  prefix: {prefix}\n'
        f"  service: {service}\n{extra}"
    )


def _change_shop(work: Path, server: APIServer | None) -> None:
    """docs/routes.md: commit the files, then re-weight the canary to 50%, point the
    catch-all at a new frontend, add /checkout/ and remove /search/, uncommitted."""
    git(work, "add", "-A")
    git(
        work, "-c", "user.name=docs", "-c", "user.email=docs@example.com", "commit", "-qm", "routes"
    )
    (work / "apps" / "shop.yaml").write_text(
        _shop_mapping("cart-v1", "shop.example.com", "/cart/", "cart-v1")
        + _shop_mapping("cart-v2", "shop.example.com", "/cart/", "cart-v2", "  weight: 50\n")
        + _shop_mapping("frontend", "*", "/", "frontend")
        + _shop_mapping("checkout", "shop.example.com", "/checkout/", "checkout")
    )


def _gitops(work: Path, server: APIServer | None) -> Path:
    """docs/sources.md: examples/gitops in a repository of its own, as the page says."""
    return repository(work / "shop-gitops", copy=EXAMPLES / "gitops")


def _break_dev(work: Path, server: APIServer | None) -> None:
    """docs/sources.md, "When rendering fails": the dev overlay names a folder that is gone."""
    kustomization = work / "overlays" / "dev" / "kustomization.yaml"
    text = kustomization.read_text()
    kustomization.write_text(text.replace("resources:\n", "resources:\n  - ../../missing\n", 1))


SCENARIOS: dict[str, Scenario] = {
    "gitops": Scenario(_gitops, cluster=True, hooks={"break-dev": _break_dev}),
    "routes": Scenario(_empty, hooks={"change-shop": _change_shop}),
    "root": Scenario(_root),
    "plain": Scenario(_plain),
    "settings-typo": Scenario(_settings("namespce: shop\n")),
    "settings-context": Scenario(_settings("context: prod-eu\n")),
    "check-examples": Scenario(_check_examples),
}


def ambdiff(work: Path, server: APIServer | None, *args: str) -> None:
    """Run ambdiff in a scenario's setup, as its sessions run it."""
    home = work.parent / "setup-home"
    home.mkdir(exist_ok=True)
    subprocess.run(
        ["ambdiff", *args],
        cwd=work,
        env=environment(home, server),
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )


def kubectl(server: APIServer | None, *args: str, stdin: str | None = None) -> None:
    assert server is not None
    subprocess.run(
        ["kubectl", "--kubeconfig", str(server.kubeconfig), *args],
        check=True,
        capture_output=True,
        input=stdin,
        text=True,
    )


def _snapshot(work: Path, server: APIServer | None) -> Path:
    """docs/install.md: the quickstart manifests (in a namespace of their own) synced as k8s/,
    for the snapshot recipe."""
    folder = repository(work / "gitops", commit=False)
    shutil.copytree(EXAMPLES / "quickstart" / "manifests", folder / "k8s")
    for path in (folder / "k8s").glob("*.yaml"):
        path.write_text(
            path.read_text()
            .replace("namespace: shop", "namespace: snapshot")
            .replace("name: shop\n", "name: snapshot\n")
            .replace(".shop:", ".snapshot:")
        )
    git(folder, "add", "-A")
    git(folder, "commit", "-qm", "k8s")
    ambdiff(folder, server, "sync", "--yes", "k8s/")
    return folder


STOREFRONT_QUOTE = """apiVersion: apps/v1
kind: Deployment
metadata: {{name: quote, namespace: storefront}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: quote}}}}
  template:
    metadata: {{labels: {{app: quote}}}}
    spec:
      containers: [{{name: backend, image: docker.io/datawire/quote:0.5.0}}]
"""
STOREFRONT_MAPPING = """---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {{name: {name}, namespace: storefront}}
spec:
  hostname: shop.example.com
  prefix: {prefix}
  service: quote.storefront:80
  timeout_ms: 3000
"""


def _storefront(work: Path, server: APIServer | None) -> Path:
    """docs/sync.md, "A session": synced once; then git raised the replica count and deleted
    the quote-admin Mapping, and someone raised the quote Mapping's timeout with kubectl."""
    folder = repository(work / "gitops", {
        ".ambdiff.yaml": "paths: [k8s]\n",
        "k8s/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: storefront}\n",
        "k8s/quote.yaml": STOREFRONT_QUOTE.format(replicas=3),
        "k8s/ambassador.yaml": STOREFRONT_MAPPING.format(name="quote", prefix="/quote/")
        + STOREFRONT_MAPPING.format(name="quote-admin", prefix="/admin/"),
    })  # fmt: skip
    ambdiff(folder, server, "sync", "--yes", "k8s/")
    kubectl(
        server,
        "patch",
        "-n",
        "storefront",
        "mapping.v3alpha1.getambassador.io/quote",
        "--type",
        "merge",
        "-p",
        '{"spec": {"timeout_ms": 10000}}',
    )
    (folder / "k8s" / "quote.yaml").write_text(STOREFRONT_QUOTE.format(replicas=4))
    (folder / "k8s" / "ambassador.yaml").write_text(
        STOREFRONT_MAPPING.format(name="quote", prefix="/quote/")
    )
    git(folder, "commit", "-qam", "scale up, drop quote-admin")
    return folder


def _teams(work: Path, server: APIServer | None) -> Path:
    """docs/sync.md, inventories: two sources; api's four ConfigMaps synced."""
    files = {
        ".ambdiff.yaml": "sources:\n  - {name: api, paths: [teams/api]}\n"
        "  - {name: web, paths: [teams/web]}\n",
        "teams/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web, "
        "namespace: api}\ndata: {a: b}\n",
    }
    for i in range(4):
        files[f"teams/api/cm{i}.yaml"] = (
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: api-{i}, namespace: api}}\n"
            "data: {a: b}\n"
        )
    folder = repository(work / "gitops", files)
    kubectl(server, "create", "namespace", "api")
    ambdiff(folder, server, "sync", "--yes", "api")
    return folder


def _drop_three(work: Path, server: APIServer | None) -> None:
    """docs/sync.md, the mass-deletion guard: a merge that deletes three of four files."""
    for i in (1, 2, 3):
        (work / "teams" / "api" / f"cm{i}.yaml").unlink()
    git(work, "commit", "-qam", "a bad merge")


def _shop(work: Path, server: APIServer | None) -> Path:
    """docs/sync.md, "Progress": a Namespace, a Deployment and Service, a Mapping."""
    from tests.e2e.sample_repo import web_app

    files = {f"{name}": text for name, text in web_app("shop").items()}
    return repository(work / "gitops", {**files, ".ambdiff.yaml": "inventory: shop\n"})


SCENARIOS.update({
    "snapshot": Scenario(_snapshot, cluster=True),
    "storefront": Scenario(_storefront, cluster=True),
    "teams": Scenario(_teams, cluster=True, hooks={"drop-three": _drop_three}),
    "shop": Scenario(_shop, cluster=True),
})  # fmt: skip


WAIT_HOST = """apiVersion: getambassador.io/v3alpha1
kind: Host
metadata: {name: shop, namespace: store}
spec:
  hostname: shop.example.com
  acmeProvider: {authority: "https://acme-v02.api.letsencrypt.org/directory", email: ops@example.com}
  tlsSecret: {name: shop-tls}
"""


def _wait(work: Path, server: APIServer | None) -> Path:
    """docs/sync.md, "Waiting for health": a rollout and an ACME Host. A thread plays the
    Deployment controller and Edge Stack's ACME client (there are none in the test API
    server): each step comes once the one before it is in the cluster, a little apart so
    that the session shows it. The page's session leaves the order of the lines open (`…`)."""
    import threading
    import time

    import kubernetes

    from tests.e2e.sample_repo import web_app

    assert server is not None
    files = {
        name: text.replace("namespace: shop", "namespace: store")
        .replace("name: shop\n", "name: store\n")
        .replace(".shop:", ".store:")
        for name, text in web_app("shop", replicas=3).items()
    }
    files["host.yaml"] = WAIT_HOST
    folder = repository(work / "gitops", {**files, ".ambdiff.yaml": "inventory: store\n"})
    api = kubernetes.config.new_client_from_config(config_file=str(server.kubeconfig))
    apps, core = kubernetes.client.AppsV1Api(api), kubernetes.client.CoreV1Api(api)
    custom = kubernetes.client.CustomObjectsApi(api)

    def controllers() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                generation = apps.read_namespaced_deployment("web", "store").metadata.generation
                break
            except kubernetes.client.ApiException:
                time.sleep(0.2)
        else:
            return
        rollout = {"observedGeneration": generation, "replicas": 3}
        for status in (
            {"updatedReplicas": 1, "availableReplicas": 0},
            {"updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3},
        ):
            time.sleep(2.5)
            apps.patch_namespaced_deployment_status(
                "web", "store", {"status": {**rollout, **status}}
            )
        time.sleep(2.5)
        core.create_namespaced_secret(
            "store",
            {
                "metadata": {"name": "shop-tls"},
                "type": "kubernetes.io/tls",
                "data": {"tls.crt": "", "tls.key": ""},
            },
        )
        for status in (
            {
                "state": "Pending",
                "phaseCompleted": "ACMEUserRegistered",
                "phasePending": "ACMECertificateChallenge",
            },
            {"state": "Ready", "tlsCertificateSource": "ACME"},
        ):
            custom.patch_namespaced_custom_object_status(
                "getambassador.io", "v3alpha1", "store", "hosts", "shop", {"status": status}
            )
            time.sleep(2.5)

    threading.Thread(target=controllers, daemon=True).start()
    return folder


SCENARIOS["wait"] = Scenario(_wait, cluster=True)
