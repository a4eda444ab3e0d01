"""Objects the API server cannot give: a CRD whose conversion webhook is down (the common state
of an Emissary cluster: Mappings stored as v2, converted by emissary-apiext), and a dry run
the server refuses for one object. The rest is still compared; what was not is one sentence."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import CRDS
from tests.e2e.diff_support import Run, cluster_args, git, kubectl, run_ambdiff, write
from tests.harness import APIServer, start

WEBHOOK = {
    "strategy": "Webhook",
    "webhook": {
        "conversionReviewVersions": ["v1"],
        "clientConfig": {
            "service": {"namespace": "emissary-system", "name": "emissary-apiext",
                        "port": 443, "path": "/webhooks/crd-convert"},
        },
    },
}  # fmt: skip

CONFIGMAP = """
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: settings
      namespace: shop
    data: {color: blue}
    """

V3_MAPPING = """
    apiVersion: getambassador.io/v3alpha1
    kind: Mapping
    metadata:
      name: quote
      namespace: shop
    spec:
      prefix: /quote/
      service: quote:80
    """


@pytest.fixture(scope="module")
def emissary_like(
    testbin_assets: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[APIServer]:
    """Its own API server: Mappings stored as v2 and converted by a webhook that is not
    running (its Service does not exist), as with Emissary's published CRDs."""
    docs = [d for d in yaml.safe_load_all(CRDS.read_text()) if d]
    for crd in docs:
        if crd["metadata"]["name"] == "mappings.getambassador.io":
            crd["spec"]["conversion"] = WEBHOOK
            for version in crd["spec"]["versions"]:
                version["storage"] = version["name"] == "v2"
    crds = tmp_path_factory.mktemp("crds") / "emissary-like.yaml"
    crds.write_text(yaml.safe_dump_all(docs))
    server = start(testbin_assets.kube_apiserver, testbin_assets.etcd)
    try:
        server.install_crds(crds)
        yield server
    finally:
        server.close()


def stored_v2_mapping(server: APIServer, home: Path, label: str) -> None:
    """A Mapping written as v2 (the storage version: no conversion needed), labelled as if an
    inventory owned it; then prove that reading Mappings as v3alpha1 does fail."""
    kubectl(server, home, "create", "namespace", "shop", check=False)
    mapping = {
        "apiVersion": "getambassador.io/v2", "kind": "Mapping",
        "metadata": {"name": "legacy", "namespace": "shop",
                     "labels": {"ambdiff.io/inventory": label}},
        "spec": {"prefix": "/legacy/", "service": "legacy:80"},
    }  # fmt: skip
    kubectl(server, home, "apply", "-f", "-", stdin=yaml.safe_dump(mapping))
    read = kubectl(server, home, "get", "mappings.v3alpha1.getambassador.io", "-A", check=False)
    assert read.returncode != 0 and "conversion webhook" in read.stderr, read.stderr


def repo(tmp_path: Path, *manifests: tuple[str, str]) -> Path:
    root = tmp_path / "repo"
    for name, text in manifests:
        write(root, name, text)
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-qm", "manifests")
    return root


def diff(server: APIServer, root: Path, inventory: str, *args: str) -> Run:
    return run_ambdiff("diff", *cluster_args(server, root, inventory), "-o", "json", *args)


def test_a_kind_git_does_not_name_never_fails_a_run(
    emissary_like: APIServer, home: Path, tmp_path: Path
) -> None:
    stored_v2_mapping(emissary_like, home, "stray-scan")
    root = repo(tmp_path, ("k/settings.yaml", CONFIGMAP))
    run = diff(emissary_like, root, "stray-scan")
    assert run.code == 1, run.err  # the ConfigMap is new; no Mapping in git, no failure
    report = run.json()
    assert [(r["kind"], r["status"]) for r in report["resources"]] == [("ConfigMap", "added")]
    assert report["errors"] == []
    assert "Traceback" not in run.err


def test_a_named_kind_that_cannot_be_read_is_one_sentence_and_the_rest_is_compared(
    emissary_like: APIServer, home: Path, tmp_path: Path
) -> None:
    stored_v2_mapping(emissary_like, home, "named")
    root = repo(tmp_path, ("k/settings.yaml", CONFIGMAP), ("k/quote.yaml", V3_MAPPING))
    run = diff(emissary_like, root, "named")
    assert run.code == 2 and run.out, run.err
    report = json.loads(run.out)
    assert [(r["kind"], r["status"]) for r in report["resources"]] == [("ConfigMap", "added")]
    [error] = report["errors"]
    assert error.startswith(
        "Mapping objects (getambassador.io/v3alpha1) in namespace shop cannot be read: the API "
        "server cannot convert them, because the conversion webhook of "
        "CustomResourceDefinition mappings.getambassador.io (service "
        "emissary-system/emissary-apiext) does not answer ("
    ), error
    assert f"Not compared: {error}" in run.err
    assert "Traceback" not in run.err

    human = run_ambdiff("diff", *cluster_args(emissary_like, root, "named"))
    assert human.code == 2
    assert "+ ConfigMap shop/settings" in human.out
    assert "Not compared: Mapping objects" in human.err


def test_sync_changes_nothing_when_a_named_kind_cannot_be_read(
    emissary_like: APIServer, home: Path, tmp_path: Path
) -> None:
    stored_v2_mapping(emissary_like, home, "named-sync")
    root = repo(
        tmp_path,
        ("k/other.yaml", CONFIGMAP.replace("settings", "other")),
        ("k/quote.yaml", V3_MAPPING),
    )
    run = run_ambdiff("sync", *cluster_args(emissary_like, root, "named-sync"), "--yes")
    assert run.code == 2, run.text
    assert (
        "ambdiff: error: Mapping objects (getambassador.io/v3alpha1) in namespace shop cannot "
        "be read: the API server cannot convert them" in run.err
    )
    assert run.err.rstrip().endswith("Nothing was changed.")
    got = kubectl(emissary_like, home, "get", "configmap", "-n", "shop", "other", check=False)
    assert got.returncode != 0 and "NotFound" in got.stderr


def test_server_side_reports_a_refused_dry_run_and_still_compares_the_rest(
    apiserver: APIServer, home: Path, tmp_path: Path, namespace: str
) -> None:
    deployment = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: {ns}}
        spec:
          selector: {matchLabels: {app: {app}}}
          template:
            metadata: {labels: {app: {app}}}
            spec: {containers: [{name: web, image: "nginx:1.27"}]}
        """
    config = CONFIGMAP.replace("shop", "{ns}")
    live = tmp_path / "live"
    write(live, "web.yaml", deployment, ns=namespace, app="web")
    write(live, "settings.yaml", config, ns=namespace)
    kubectl(apiserver, home, "apply", "--server-side", "-f", str(live))
    # git changes the Deployment's selector, which the API server refuses (immutable), and
    # the ConfigMap's data, which it accepts.
    root = repo(
        tmp_path,
        ("k/web.yaml", deployment.replace("{ns}", namespace).replace("{app}", "web2")),
        ("k/settings.yaml", config.replace("{ns}", namespace).replace("blue", "green")),
    )
    run = diff(apiserver, root, "refused", "--server-side")
    assert run.code == 2, run.err
    report = json.loads(run.out)
    [compared] = report["resources"]
    assert (compared["kind"], compared["status"]) == ("ConfigMap", "changed")
    assert [c["path"] for c in compared["changes"]] == ["data.color"]
    [error] = report["errors"]
    assert error.startswith(
        f"Deployment {namespace}/web (k/web.yaml:1): the server-side dry run was refused: "
    ), error
    assert "HTTP 422" in error and "field is immutable" in error
