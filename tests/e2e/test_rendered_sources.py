"""The three repository shapes on the real API server: examples/gitops (plain YAML, a
Kustomize base with two overlays, a Helm chart with values per environment), synced source
by source with the real kustomize and helm, then diffed clean in both modes; a change to an
overlay or to a values file is a field-level change naming the source file; prune stays
within each source's inventory."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import kubernetes
import pytest

from ambdiff.cli import main
from tests.e2e.watch_support import start_watch, wait_for
from tests.harness import APIServer
from tests.helm_binary import require_helm

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gitops"
SOURCES = ["platform", "shop-dev", "shop-prod", "quote-dev", "quote-prod"]
Cli = Callable[..., tuple[int, str, str]]


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def names() -> dict[str, str]:
    """The example's namespaces, made unique: every test shares one API server."""
    tag = uuid.uuid4().hex[:6]
    return {"shop-dev": f"shop-dev-{tag}", "shop-prod": f"shop-prod-{tag}"}


@pytest.fixture
def repo(tmp_path: Path, names: dict[str, str]) -> Path:
    root = tmp_path / "gitops"
    shutil.copytree(EXAMPLE, root)
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in (".yaml", ".yml"):
            text = path.read_text()
            for old, new in names.items():
                # Namespaces only: a source's name (`name: shop-dev`) stays as it is.
                text = text.replace(f"namespace: {old}", f"namespace: {new}")
                text = (
                    text.replace(f"name: {old}\n", f"name: {new}\n")
                    if "Namespace" in text
                    else text
                )
            path.write_text(text)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "the example")
    return root


@pytest.fixture
def cli(apiserver: APIServer, repo: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    helm = require_helm()

    def run(*args: str) -> tuple[int, str, str]:
        code = main(
            [
                *args,
                "--repo",
                str(repo),
                "--kubeconfig",
                str(apiserver.kubeconfig),
                "--context",
                apiserver.context,
                "--helm",
                helm,
            ]
        )
        out, err = capsys.readouterr()
        return code, out, err

    return run


def commit(repo: Path, message: str) -> None:
    git(repo, "commit", "-qam", message)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new))


def sync_all(cli: Cli) -> None:
    for source in SOURCES:
        code, out, err = cli("sync", source, "--yes", "--prune")
        assert code == 0, f"{source}: {err}{out}"


def test_each_shape_syncs_then_diffs_clean_in_both_modes(
    cli: Cli, api_client: kubernetes.client.ApiClient, names: dict[str, str]
) -> None:
    sync_all(cli)
    apps = kubernetes.client.AppsV1Api(api_client)
    assert apps.read_namespaced_deployment("web", names["shop-prod"]).spec.replicas == 3
    assert apps.read_namespaced_deployment("quote", names["shop-prod"]).spec.replicas == 2
    assert apps.read_namespaced_deployment("quote", names["shop-dev"]).spec.replicas == 1
    web = apps.read_namespaced_deployment("web", names["shop-prod"])
    assert "config.kubernetes.io/origin" not in (web.metadata.annotations or {})
    for source in SOURCES:
        for mode in ((), ("--server-side",)):
            code, out, err = cli("diff", source, *mode)
            assert code == 0, f"{source} {mode}: {out}{err}"
    code, out, _ = cli("sync", "shop-prod", "--yes")
    assert code == 0 and "nothing to do" in out.lower(), out


def test_an_overlay_or_values_change_is_a_field_change_naming_its_source_file(
    cli: Cli, repo: Path, names: dict[str, str]
) -> None:
    sync_all(cli)
    edit(repo / "overlays/prod/web-replicas.yaml", "replicas: 3", "replicas: 4")
    edit(repo / "environments/prod/quote-values.yaml", "replicaCount: 2", "replicaCount: 5")
    commit(repo, "scale prod")
    prod = names["shop-prod"]
    for mode in ((), ("--server-side",)):
        code, out, err = cli("diff", "shop-prod", "--rev", "HEAD", *mode)
        assert code == 1, err
        assert f"~ Deployment {prod}/web  (apps/v1)  base/web.yaml:" in out
        assert "via overlays/prod" in out and "~ spec.replicas: 3 → 4" in out
        code, out, err = cli("diff", "quote-prod", *mode)
        assert code == 1, err
        assert (
            f"~ Deployment {prod}/quote  (apps/v1)  charts/quote/templates/deployment.yaml "
            "via charts/quote"
        ) in out
        assert "~ spec.replicas: 2 → 5" in out
        # The same chart for dev is untouched by prod's values.
        assert cli("diff", "quote-dev", *mode)[0] == 0


def test_prune_stays_within_each_sources_inventory(
    cli: Cli, repo: Path, names: dict[str, str], api_client: kubernetes.client.ApiClient
) -> None:
    sync_all(cli)
    core = kubernetes.client.CoreV1Api(api_client)

    def config_maps(ns: str) -> set[str]:
        return {
            c.metadata.name
            for c in core.list_namespaced_config_map(ns).items
            if c.metadata.name.startswith("web-config")
        }

    dev_before, prod_before = config_maps(names["shop-dev"]), config_maps(names["shop-prod"])
    assert len(dev_before) == 1 and len(prod_before) == 1
    # A new web.properties: kustomize's generator names a new ConfigMap (a new hash) in both
    # overlays. Syncing dev with --prune replaces dev's; prod's old one is another inventory's.
    with (repo / "base/web.properties").open("a") as f:
        f.write("feature.banner=on\n")
    commit(repo, "a banner")
    code, out, err = cli("sync", "shop-dev", "--yes", "--prune")
    assert code == 0, err + out
    dev_after = config_maps(names["shop-dev"])
    assert len(dev_after) == 1 and dev_after != dev_before
    assert config_maps(names["shop-prod"]) == prod_before
    # quote-prod's sync with --prune, from the same chart folder, never touches quote-dev.
    code, out, err = cli("sync", "quote-prod", "--yes", "--prune")
    assert code == 0, err + out
    apps = kubernetes.client.AppsV1Api(api_client)
    assert apps.read_namespaced_deployment("quote", names["shop-dev"])
    # Prod still has its old ConfigMap, reported as git's no longer, until its own prune.
    code, out, _ = cli("diff", "shop-prod")
    assert code == 1
    assert f"- ConfigMap {names['shop-prod']}/{next(iter(prod_before))}" in out
    code, out, err = cli("sync", "shop-prod", "--yes", "--prune")
    assert code == 0, err + out
    assert config_maps(names["shop-prod"]) != prod_before


def test_watch_applies_an_overlay_commit_within_an_interval(
    cli: Cli,
    repo: Path,
    names: dict[str, str],
    api_client: kubernetes.client.ApiClient,
    apiserver: APIServer,
    tmp_path: Path,
) -> None:
    assert cli("sync", "platform", "--yes")[0] == 0
    watcher = start_watch(
        [
            "shop-prod",
            "--sync",
            "--interval",
            "2s",
            "--repo",
            f"file://{repo}",
            "--branch",
            "main",
            "--kubeconfig",
            str(apiserver.kubeconfig),
            "--context",
            apiserver.context,
            "--helm",
            require_helm(),
        ],
        tmp_path,
        tmp_path / "watch.log",
    )
    apps = kubernetes.client.AppsV1Api(api_client)

    def replicas() -> int | None:
        try:
            return int(apps.read_namespaced_deployment("web", names["shop-prod"]).spec.replicas)
        except kubernetes.client.ApiException:
            return None

    try:
        watcher.wait_ready()
        wait_for(lambda: replicas() == 3, "the overlay's 3 replicas to be applied")
        edit(repo / "overlays/prod/web-replicas.yaml", "replicas: 3", "replicas: 4")
        commit(repo, "scale prod")
        wait_for(lambda: replicas() == 4, "the new overlay's 4 replicas to be applied")
        assert watcher.terminate() == 0, watcher.describe()
        assert "ambdiff-rev-" not in watcher.log_text()
    finally:
        watcher.kill()
