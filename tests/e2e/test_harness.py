"""The harness gives a real cluster: discovery of the CRDs, server-side apply and dry run,
client-certificate users under RBAC, the built version, and data surviving a restart.
(What the CRDs themselves accept, prune and convert: test_crds.py.)"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import kubernetes
import pytest
from kubernetes.client import ApiClient, CustomObjectsApi
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError

from tests.harness import APIServer, iter_crd_kinds

GROUP = "getambassador.io"
MANAGER = "ambdiff-e2e"

V3 = f"{GROUP}/v3alpha1"

Obj = dict[str, Any]
T = TypeVar("T")
Create = Callable[[Obj], Obj]
Read = Callable[[str, str, str], Obj]


def mapping(name: str, **spec: Any) -> Obj:
    base = {"prefix": f"/{name}/", "service": f"{name}.svc:8080"}
    return {"apiVersion": V3, "kind": "Mapping", "metadata": {"name": name}, "spec": base | spec}


def test_discovery_serves_every_crd_kind_in_every_version(
    api_client: ApiClient, crds_path: Path
) -> None:
    apis = kubernetes.client.ApisApi(api_client).get_api_versions()
    group = next(g for g in apis.groups if g.name == GROUP)
    served = {v.version for v in group.versions}
    assert served == {"v2", "v3alpha1"}
    # Kubernetes prefers GA-looking versions over alphas: clients that ask for "mappings"
    # without a version (kubectl get mappings) get v2, exactly as on a real Emissary cluster.
    assert group.preferred_version.version == "v2"

    custom = CustomObjectsApi(api_client)
    discovered = {
        version: {r.kind for r in custom.get_api_resources(GROUP, version).resources}
        for version in served
    }
    for version in ("v2", "v3alpha1"):
        assert {"Mapping", "Host", "Filter", "FilterPolicy", "TLSContext"} <= discovered[version]
    assert "Listener" in discovered["v3alpha1"]
    for _, kind, versions in iter_crd_kinds(crds_path):
        for version in versions:
            assert kind in discovered[version], f"{kind} missing from {GROUP}/{version}"


def test_server_side_apply_records_the_field_manager(
    dynamic_client: DynamicClient, namespace: str
) -> None:
    applied = ssa(dynamic_client, namespace, mapping("applied", timeout_ms=100))

    entries = [m for m in applied["metadata"]["managedFields"] if m["manager"] == MANAGER]
    assert [e["operation"] for e in entries] == ["Apply"]
    owned = entries[0]["fieldsV1"]["f:spec"]
    assert {"f:prefix", "f:service", "f:timeout_ms"} <= set(owned)


def test_server_side_dry_run_writes_nothing(
    dynamic_client: DynamicClient, namespace: str, read: Read
) -> None:
    preview = ssa(dynamic_client, namespace, mapping("dry"), dry_run="All")
    assert preview["spec"]["prefix"] == "/dry/"
    with pytest.raises(NotFoundError):
        read(V3, "Mapping", "dry")

    ssa(dynamic_client, namespace, mapping("dry"))
    preview = ssa(dynamic_client, namespace, mapping("dry", prefix="/changed/"), dry_run="All")
    assert preview["spec"]["prefix"] == "/changed/"
    assert read(V3, "Mapping", "dry")["spec"]["prefix"] == "/dry/"


def test_a_minted_user_without_rbac_is_forbidden(
    apiserver: APIServer, api_client: ApiClient, namespace: str
) -> None:
    kubeconfig = apiserver.mint_user("e2e-viewer", groups=["e2e:viewers"])
    viewer = CustomObjectsApi(
        kubernetes.config.new_client_from_config(str(kubeconfig), context=apiserver.context)
    )
    with pytest.raises(ApiException) as err:
        viewer.list_namespaced_custom_object(GROUP, "v3alpha1", namespace, "mappings")
    assert err.value.status == 403
    assert 'User "e2e-viewer"' in message(err.value)

    grant_list_mappings(api_client, namespace, group="e2e:viewers")
    listed = eventually(
        lambda: viewer.list_namespaced_custom_object(GROUP, "v3alpha1", namespace, "mappings")
    )
    assert listed["items"] == []


def test_version_reports_the_built_kubernetes_version(
    api_client: ApiClient, testbin: ModuleType, testbin_assets: Any
) -> None:
    info = kubernetes.client.VersionApi(api_client).get_code()
    if testbin_assets.source.startswith("cache"):
        assert info.git_version == testbin.KUBERNETES_VERSION
    else:
        assert info.git_version.startswith("v1.")


def test_restarting_the_api_server_keeps_data(
    apiserver: APIServer, create: Create, read: Read
) -> None:
    created = create(mapping("durable"))

    apiserver.stop_apiserver()
    with pytest.raises(OSError):
        apiserver.request("GET", "/readyz")
    apiserver.start_apiserver()

    live = read(V3, "Mapping", "durable")
    assert live["metadata"]["uid"] == created["metadata"]["uid"]
    assert live["spec"] == created["spec"]


def ssa(dynamic: DynamicClient, namespace: str, obj: Obj, **kwargs: Any) -> Obj:
    # DynamicClient rather than CustomObjectsApi: the generated client maps only a 200
    # response of patch to a body, and an apply that creates the object answers 201.
    resource = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    applied = resource.server_side_apply(
        body=obj, namespace=namespace, field_manager=MANAGER, **kwargs
    )
    return dict(applied.to_dict())


def grant_list_mappings(api_client: ApiClient, namespace: str, group: str) -> None:
    rbac = kubernetes.client.RbacAuthorizationV1Api(api_client)
    rule = {"apiGroups": [GROUP], "resources": ["mappings"], "verbs": ["get", "list"]}
    rbac.create_namespaced_role(namespace, {"metadata": {"name": "viewer"}, "rules": [rule]})
    rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": "viewer"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "viewer"},
            "subjects": [{"kind": "Group", "name": group, "apiGroup": "rbac.authorization.k8s.io"}],
        },
    )


def message(error: ApiException) -> str:
    return str(json.loads(error.body or "{}").get("message", ""))


def eventually(call: Callable[[], T], timeout: float = 10.0) -> T:
    """RBAC changes reach the authorizer through an informer: retry 403s briefly."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except ApiException as e:
            if e.status != 403 or time.monotonic() > deadline:
                raise
        time.sleep(0.1)
