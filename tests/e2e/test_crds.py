"""ambdiff/crds/ambassador.yaml in a real API server: what it accepts, prunes, rejects and
converts. `ambdiff check` validates offline against the same schemas, so these pin both."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes.client import ApiClient, CustomObjectsApi
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

Obj = dict[str, Any]
Create = Callable[[Obj], Obj]
Read = Callable[[str, str, str], Obj]

V2 = "getambassador.io/v2"
V3 = "getambassador.io/v3alpha1"


def resource(kind: str, name: str, spec: Obj, api_version: str = V3) -> Obj:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, "spec": spec}


def mapping(name: str, api_version: str = V3, **spec: Any) -> Obj:
    base = {"prefix": f"/{name}/", "service": f"{name}.svc:8080"}
    return resource("Mapping", name, {**base, **spec}, api_version)


# Manifests as users write them (after Emissary's and Edge Stack's documentation), one or more
# per kind: each must be stored exactly as written, so nothing here may be pruned.
REALISTIC = [
    mapping(
        "everything",
        hostname="api.example.com",
        ambassador_id=["edge"],
        headers={"x-canary": "true"},
        regex_headers={"x-user": "^[a-z]+$"},
        query_parameters={"debug": "1"},
        add_request_headers={"x-a": "plain", "x-b": {"value": "v", "append": False}},
        remove_response_headers=["server"],
        timeout_ms=3000,
        weight=10,
        precedence=2,
        rewrite="/",
        regex_rewrite={"pattern": "/v1/(.*)", "substitution": "/\\1"},
        cors={"origins": ["https://example.com"], "methods": ["GET"], "credentials": True},
        retry_policy={"retry_on": "5xx", "num_retries": 3, "per_try_timeout": "1s"},
        circuit_breakers=[{"priority": "default", "max_connections": 100}],
        load_balancer={"policy": "ring_hash", "cookie": {"name": "sticky", "ttl": "60s"}},
        labels={"ambassador": [{"by_ip": [{"remote_address": {"key": "remote_address"}}]}]},
        error_response_overrides=[{"on_status_code": 404, "body": {"text_format": "gone"}}],
        docs={"path": "/openapi.json", "display_name": "API"},
        envoy_override={"per_filter_config": {"anything": {"goes": [1, 2]}}},
        allow_upgrade=["websocket"],
        stats_name="api",
    ),
    mapping(
        "legacy",
        V2,
        host="legacy.example.com",
        ambassador_id="edge",
        tls=True,
        headers={"x-present": True},
        add_request_headers={"x-a": "plain"},
        cors={"origins": "https://a.example,https://b.example", "credentials": True},
        remove_request_headers="x-secret",
    ),
    resource(
        "Host",
        "wildcard",
        {
            "hostname": "*.example.com",
            "acmeProvider": {"authority": "none"},
            "tlsSecret": {"name": "example-cert"},
            "requestPolicy": {"insecure": {"action": "Redirect", "additionalPort": 8080}},
            "mappingSelector": {"matchLabels": {"host": "example"}},
            "tls": {"min_tls_version": "v1.2", "alpn_protocols": "h2,http/1.1"},
        },
    ),
    resource(
        "Listener",
        "https",
        {
            "port": 8443,
            "protocol": "HTTPS",
            "securityModel": "XFP",
            "hostBinding": {"namespace": {"from": "ALL"}},
        },
    ),
    resource(
        "Module",
        "ambassador",
        {
            "config": {
                "diagnostics": {"enabled": False},
                "use_remote_address": True,
                "error_response_overrides": [{"on_status_code": 503, "body": {}}],
            }
        },
    ),
    resource(
        "TLSContext",
        "example",
        {
            "hosts": ["a.example.com"],
            "secret": "example-cert",
            "min_tls_version": "v1.2",
            "alpn_protocols": "h2",
            "redirect_cleartext_from": 8080,
        },
    ),
    resource(
        "AuthService",
        "auth",
        {
            "auth_service": "auth:3000",
            "proto": "http",
            "path_prefix": "/extauth",
            "allowed_request_headers": ["x-user"],
            "include_body": {"max_bytes": 4096, "allow_partial": True},
            "status_on_error": {"code": 503},
            "protocol_version": "v3",
        },
    ),
    resource(
        "RateLimitService",
        "ratelimit",
        {"service": "ratelimit:5000", "protocol_version": "v3", "failure_mode_deny": True},
    ),
    resource("TCPMapping", "ssh", {"port": 2222, "service": "ssh:22", "idle_timeout_ms": "500"}),
    resource("KubernetesEndpointResolver", "endpoint", {"ambassador_id": ["edge"]}),
    resource("ConsulResolver", "consul", {"address": "consul:8500", "datacenter": "dc1"}),
    resource("LogService", "als", {"service": "als:3000", "driver": "http", "grpc": True}),
    resource(
        "TracingService",
        "zipkin",
        {"service": "zipkin:9411", "driver": "zipkin", "sampling": {"overall": 100}},
    ),
    resource(
        "Filter",
        "jwt",
        {
            "JWT": {
                "jwksURI": "https://id.example.com/jwks",
                "requireAudience": False,
                "injectRequestHeaders": [{"name": "X-Sub", "value": "{{ .token.Claims.sub }}"}],
                "errorResponse": {"headers": [{"name": "X-Why", "value": "jwt"}]},
            }
        },
    ),
    resource(
        "Filter",
        "login",
        {
            "OAuth2": {
                "authorizationURL": "https://id.example.com",
                "clientID": "app",
                "secretName": "app-secret",
                "protectedOrigins": [{"origin": "https://a"}],
            }
        },
        V2,
    ),
    resource("Filter", "plugin", {"Plugin": {"name": "param-plugin"}}),
    resource(
        "FilterPolicy",
        "policy",
        {
            "rules": [
                {
                    "host": "*",
                    "path": "/api/*",
                    "filters": [
                        {
                            "name": "jwt",
                            "onDeny": "break",
                            "arguments": {"scope": ["read"]},
                            "ifRequestHeader": {"name": "x-skip", "negate": True},
                        }
                    ],
                },
                {"host": "*", "path": "/healthz", "filters": None},
            ]
        },
    ),
]


@pytest.mark.parametrize("obj", REALISTIC, ids=lambda o: f"{o['kind']}-{o['metadata']['name']}")
def test_realistic_manifests_are_stored_exactly_as_written(
    create: Create, read: Read, obj: Obj
) -> None:
    create(obj)

    assert read(obj["apiVersion"], obj["kind"], obj["metadata"]["name"])["spec"] == obj["spec"]


def test_unknown_fields_are_pruned_at_every_level(create: Create, read: Read) -> None:
    sent = mapping("pruned", no_such_field=1, cors={"origins": ["*"], "bogus": True})
    created = create(sent)

    live = read(V3, "Mapping", "pruned")
    for obj in (created, live):
        assert "no_such_field" not in obj["spec"]
        assert obj["spec"]["cors"] == {"origins": ["*"]}


def test_free_form_values_keep_unknown_fields(create: Create, read: Read) -> None:
    sent = resource("Filter", "ext", {"External": {"auth_service": "a:1", "new_knob": {"x": 1}}})
    create(sent)

    assert read(V3, "Filter", "ext")["spec"] == sent["spec"]


def test_strict_field_validation_rejects_unknown_fields(
    api_client: ApiClient, namespace: str
) -> None:
    # CustomObjectsApi: DynamicClient.create silently drops a field_validation argument.
    with pytest.raises(ApiException) as err:
        CustomObjectsApi(api_client).create_namespaced_custom_object(
            "getambassador.io",
            "v3alpha1",
            namespace,
            "mappings",
            mapping("strict", no_such_field=1),
            field_validation="Strict",
        )
    assert err.value.status == 400
    assert 'unknown field "spec.no_such_field"' in message(err.value)


REJECTED = [
    (mapping("m", weight="heavy"), "spec.weight"),
    (mapping("m", ambassador_id="edge"), "spec.ambassador_id"),
    (mapping("m", headers={"x-canary": True}), "spec.headers.x-canary"),
    (mapping("m", redirect_response_code=305), "spec.redirect_response_code"),
    (mapping("m", load_balancer={"policy": "random"}), "spec.load_balancer.policy"),
    (resource("Mapping", "m", {"prefix": "/m/"}), "spec.service"),
    (mapping("m", V2, weight="heavy"), "spec.weight"),
    (resource("Host", "h", {"requestPolicy": {"insecure": {"action": "Allow"}}}),
     "spec.requestPolicy.insecure.action"),
    (resource("Listener", "l", {"port": 70000, "securityModel": "XFP", "hostBinding": {}}),
     "spec.port"),
    (resource("Listener", "l", {"port": 8080, "securityModel": "XFP"}), "spec.hostBinding"),
    (resource("Filter", "f", {"JWT": {}, "Plugin": {"name": "p"}}), "spec"),
    (resource("Filter", "f", {}), "spec"),
    (resource("FilterPolicy", "fp", {"rules": [{"host": "*", "path": "/",
                                                "filters": [{"name": "f", "onDeny": "stop"}]}]}),
     "spec.rules[0].filters[0].onDeny"),
    (resource("Module", "ambassador", {"config": "debug"}), "spec.config"),
    (resource("TLSContext", "t", {"min_tls_version": "1.2"}), "spec.min_tls_version"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("obj", "field"),
    REJECTED,
    ids=[f"{o['kind']}-{o['apiVersion'].split('/')[1]}-{f}" for o, f in REJECTED],
)
def test_invalid_manifests_are_rejected_with_422(create: Create, obj: Obj, field: str) -> None:
    with pytest.raises(ApiException) as err:
        create(obj)
    assert err.value.status == 422
    assert field in message(err.value)


def test_v2_mapping_reads_back_as_v3alpha1(create: Create, read: Read) -> None:
    sent = mapping("legacy", V2, host="legacy.example.com", timeout_ms=5000)
    create(sent)

    as_v3, as_v2 = read(V3, "Mapping", "legacy"), read(V2, "Mapping", "legacy")
    assert (as_v3["apiVersion"], as_v2["apiVersion"]) == (V3, V2)
    assert as_v3["spec"] == as_v2["spec"] == sent["spec"]


def test_conversion_none_keeps_v2_shapes_that_v3alpha1_forbids(create: Create, read: Read) -> None:
    # Emissary's webhook would turn ambassador_id "edge" into ["edge"]; with conversion
    # strategy None the server only relabels, so a v3alpha1 read returns what v3alpha1's own
    # schema rejects on write. Do not trust the shape of a live object read in another version.
    create(mapping("shapes", V2, ambassador_id="edge", tls=True))

    spec = read(V3, "Mapping", "shapes")["spec"]
    assert (spec["ambassador_id"], spec["tls"]) == ("edge", True)


def test_v2_only_spellings_are_pruned_at_storage(create: Create, read: Read) -> None:
    created = create(mapping("stats", V2, v3StatsName="legacy"))

    assert "v3StatsName" not in created["spec"]
    assert "v3StatsName" not in read(V2, "Mapping", "stats")["spec"]


def test_v3alpha1_fields_survive_a_round_trip_through_v2(
    dynamic_client: DynamicClient, namespace: str, create: Create, read: Read
) -> None:
    create(mapping("modern", hostname="api.example.com", stats_name="modern"))

    via_v2 = read(V2, "Mapping", "modern")
    assert via_v2["spec"]["hostname"] == "api.example.com"
    via_v2["spec"]["timeout_ms"] = 100
    dynamic_client.resources.get(api_version=V2, kind="Mapping").replace(
        body=via_v2, namespace=namespace
    )

    spec = read(V3, "Mapping", "modern")["spec"]
    assert (spec["hostname"], spec["stats_name"], spec["timeout_ms"]) == (
        "api.example.com",
        "modern",
        100,
    )


def message(error: ApiException) -> str:
    return str(json.loads(error.body or "{}").get("message", ""))
