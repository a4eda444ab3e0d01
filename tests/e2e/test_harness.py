"""The local API server behaves like a real cluster with Ambassador's CRDs installed.

These pin the server behaviour ambdiff relies on: discovery, pruning, validation, version
conversion, server-side apply and dry run, RBAC, and data surviving a restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiClient, CustomObjectsApi
from kubernetes.client.exceptions import ApiException

from tests.harness import APIServer, iter_crd_kinds

GROUP = "getambassador.io"
MANAGER = "ambdiff-e2e"

Obj = dict[str, Any]


def mapping(name: str, version: str = "v3alpha1", **spec: Any) -> Obj:
    return {
        "apiVersion": f"{GROUP}/{version}",
        "kind": "Mapping",
        "metadata": {"name": name},
        "spec": {"prefix": f"/{name}/", "service": f"{name}.svc:8080", **spec},
    }


@pytest.fixture
def custom(api_client: ApiClient) -> CustomObjectsApi:
    return CustomObjectsApi(api_client)


@pytest.fixture
def create(custom: CustomObjectsApi, namespace: str) -> Callable[[Obj], Obj]:
    def create(obj: Obj) -> Obj:
        version = obj["apiVersion"].split("/")[1]
        return custom.create_namespaced_custom_object(GROUP, version, namespace, "mappings", obj)

    return create


def get_mapping(
    custom: CustomObjectsApi, namespace: str, name: str, version: str = "v3alpha1"
) -> Obj:
    return custom.get_namespaced_custom_object(GROUP, version, namespace, "mappings", name)


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


def test_v3alpha1_mapping_reads_back_as_written(
    create: Callable[[Obj], Obj], custom: CustomObjectsApi, namespace: str
) -> None:
    spec = {
        "hostname": "api.example.com",
        "ambassador_id": ["edge"],
        "headers": {"x-canary": "true"},
        "add_request_headers": {"x-a": "plain", "x-b": {"value": "v", "append": False}},
        "timeout_ms": 3000,
        "weight": 10,
        "cors": {"origins": ["https://example.com"], "credentials": True},
        "labels": {"ambassador": [{"by_remote": [{"remote_address": {"key": "remote_address"}}]}]},
        "envoy_override": {"per_filter_config": {"anything": {"goes": [1, 2]}}},
    }
    create(mapping("api", **spec))

    live = get_mapping(custom, namespace, "api")
    assert live["apiVersion"] == f"{GROUP}/v3alpha1"
    assert live["spec"] == mapping("api", **spec)["spec"]


def test_unknown_spec_fields_are_pruned(
    create: Callable[[Obj], Obj], custom: CustomObjectsApi, namespace: str
) -> None:
    created = create(mapping("pruned", no_such_field=1, cors={"origins": ["*"], "bogus": True}))

    live = get_mapping(custom, namespace, "pruned")
    for obj in (created, live):
        assert "no_such_field" not in obj["spec"]
        assert obj["spec"]["cors"] == {"origins": ["*"]}


def test_strict_field_validation_rejects_unknown_fields(
    custom: CustomObjectsApi, namespace: str
) -> None:
    with pytest.raises(ApiException) as err:
        custom.create_namespaced_custom_object(
            GROUP, "v3alpha1", namespace, "mappings",
            mapping("strict", no_such_field=1), field_validation="Strict",
        )  # fmt: skip
    assert err.value.status == 400
    assert 'unknown field "spec.no_such_field"' in str(err.value.body)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"weight": "heavy"}, "spec.weight"),
        ({"ambassador_id": "edge"}, "spec.ambassador_id"),
        ({"headers": {"x-canary": True}}, "spec.headers.x-canary"),
        ({"redirect_response_code": 305}, "spec.redirect_response_code"),
        ({"load_balancer": {"policy": "random"}}, "spec.load_balancer.policy"),
        ({"service": None}, "spec.service"),
    ],
    ids=["weight-string", "ambassador_id-string", "header-bool", "redirect-code", "lb-enum",
         "service-missing"],
)  # fmt: skip
def test_wrong_types_are_rejected_with_422(
    create: Callable[[Obj], Obj], spec: Obj, field: str
) -> None:
    obj = mapping("invalid", **spec)
    obj["spec"] = {k: v for k, v in obj["spec"].items() if v is not None}
    with pytest.raises(ApiException) as err:
        create(obj)
    assert err.value.status == 422
    assert field in str(err.value.body)


def test_v2_mapping_is_readable_as_v3alpha1(
    create: Callable[[Obj], Obj], custom: CustomObjectsApi, namespace: str
) -> None:
    create(mapping("legacy", version="v2", host="legacy.example.com", timeout_ms=5000))

    as_v3 = get_mapping(custom, namespace, "legacy", "v3alpha1")
    as_v2 = get_mapping(custom, namespace, "legacy", "v2")
    assert as_v3["apiVersion"] == f"{GROUP}/v3alpha1"
    assert as_v2["apiVersion"] == f"{GROUP}/v2"
    written = mapping("legacy", host="legacy.example.com", timeout_ms=5000)["spec"]
    assert as_v3["spec"] == as_v2["spec"] == written


def test_conversion_none_keeps_v2_shapes_that_v3alpha1_forbids(
    create: Callable[[Obj], Obj], custom: CustomObjectsApi, namespace: str
) -> None:
    # Emissary's webhook would turn ambassador_id "edge" into ["edge"]; with conversion
    # strategy None the server only relabels, so a v3alpha1 read returns what v3alpha1's own
    # schema would reject. Diffs must not trust live v3alpha1 shapes blindly.
    create(mapping("shapes", version="v2", ambassador_id="edge", tls=True))

    as_v3 = get_mapping(custom, namespace, "shapes", "v3alpha1")
    assert as_v3["spec"]["ambassador_id"] == "edge"
    assert as_v3["spec"]["tls"] is True


def test_server_side_apply_records_the_field_manager(
    custom: CustomObjectsApi, namespace: str
) -> None:
    applied = ssa(custom, namespace, mapping("applied", timeout_ms=100))

    entries = [m for m in applied["metadata"]["managedFields"] if m["manager"] == MANAGER]
    assert [e["operation"] for e in entries] == ["Apply"]
    owned = entries[0]["fieldsV1"]["f:spec"]
    assert {"f:prefix", "f:service", "f:timeout_ms"} <= set(owned)


def test_server_side_dry_run_writes_nothing(custom: CustomObjectsApi, namespace: str) -> None:
    preview = ssa(custom, namespace, mapping("dry"), dry_run="All")
    assert preview["spec"]["prefix"] == "/dry/"
    with pytest.raises(ApiException) as err:
        get_mapping(custom, namespace, "dry")
    assert err.value.status == 404

    ssa(custom, namespace, mapping("dry"))
    preview = ssa(custom, namespace, mapping("dry", prefix="/changed/"), dry_run="All")
    assert preview["spec"]["prefix"] == "/changed/"
    assert get_mapping(custom, namespace, "dry")["spec"]["prefix"] == "/dry/"


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
    assert 'User "e2e-viewer"' in str(err.value.body)

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
    apiserver: APIServer, create: Callable[[Obj], Obj], custom: CustomObjectsApi, namespace: str
) -> None:
    created = create(mapping("durable"))

    apiserver.stop_apiserver()
    with pytest.raises(OSError):
        apiserver.request("GET", "/readyz")
    apiserver.start_apiserver()

    live = get_mapping(custom, namespace, "durable")
    assert live["metadata"]["uid"] == created["metadata"]["uid"]
    assert live["spec"] == created["spec"]


def ssa(custom: CustomObjectsApi, namespace: str, obj: Obj, **kwargs: Any) -> Obj:
    return custom.patch_namespaced_custom_object(
        GROUP, "v3alpha1", namespace, "mappings", obj["metadata"]["name"], obj,
        field_manager=MANAGER, _content_type="application/apply-patch+yaml", **kwargs,
    )  # fmt: skip


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


def eventually(call: Callable[[], Obj], timeout: float = 10.0) -> Obj:
    """RBAC changes reach the authorizer through an informer: retry 403s briefly."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except ApiException as e:
            if e.status != 403 or time.monotonic() > deadline:
                raise
        time.sleep(0.1)
