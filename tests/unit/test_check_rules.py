"""Every rule of `ambdiff check`: a manifest that triggers it and a near miss that must not."""

from __future__ import annotations

import pytest

from ambdiff.check import RULES, Finding
from tests.harness.memory import check_texts


def findings(**files: str) -> list[Finding]:
    texts = {
        name.replace("__", "/").replace("_yaml", ".yaml"): text for name, text in files.items()
    }
    return check_texts(texts)


def rules(**files: str) -> list[str]:
    return [f.rule for f in findings(**files)]


def mapping(name: str, prefix: str = "/api/", ns: str = "default", extra: str = "") -> str:
    return f"""---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {{name: {name}, namespace: {ns}}}
spec:
  hostname: "*"
  prefix: {prefix}
  service: {name}
{extra}"""


def test_every_rule_of_the_design_exists() -> None:
    assert set(RULES) == {
        "yaml-syntax", "missing-field", "duplicate-object", "schema", "unknown-field",
        "annotation-yaml", "route-collision", "route-group-conflict", "invalid-regex",
        "filter-missing", "secret-missing", "dangling-reference", "mapping-unbound",
        "namespace-ignored", "unreadable-file", "secret-data-base64", "crd-invalid", "render-failed",
        "unknown-field-ignored",
    }  # fmt: skip


def test_clean_manifests_have_no_findings() -> None:
    assert findings(a_yaml=mapping("a"), b_yaml=mapping("b", prefix="/b/")) == []


# ---- yaml-syntax, missing-field, duplicate-object -----------------------------------------


def test_yaml_syntax_with_line_and_duplicate_keys() -> None:
    found = findings(a_yaml="kind: Service\nmetadata:\n  name: a\n  name: b\n")
    assert [(f.rule, f.line) for f in found] == [("yaml-syntax", 4)]
    assert "duplicate key 'name'" in found[0].message
    assert rules(a_yaml="a: [1, 2\n") == ["yaml-syntax"]


def test_missing_field() -> None:
    assert rules(a_yaml="apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n") == ["missing-field"]
    assert rules(a_yaml="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n") == []


def test_duplicate_object_across_files_and_versions() -> None:
    v2 = mapping("api").replace("v3alpha1", "v2").replace('hostname: "*"', "host: x")
    found = findings(a_yaml=mapping("api"), b_yaml=v2)
    assert [(f.rule, f.file) for f in found] == [("duplicate-object", "b.yaml")]
    assert "first at a.yaml:2" in found[0].message
    other_ns = mapping("api", prefix="/other/", ns="other")
    assert rules(a_yaml=mapping("api"), b_yaml=other_ns) == []


def test_duplicate_object_between_a_crd_and_an_annotation() -> None:
    service = """apiVersion: v1
kind: Service
metadata:
  name: api
  annotations:
    getambassador.io/config: |
      apiVersion: ambassador/v2
      kind: Mapping
      name: api
      prefix: /other/
      service: api
spec: {ports: [{port: 80}]}
"""
    found = findings(a_yaml=mapping("api"), svc_yaml=service)
    assert [(f.rule, f.file, f.line) for f in found] == [("duplicate-object", "svc.yaml", 7)]


def test_annotation_documents_for_other_ambassadors_are_not_duplicates() -> None:
    service = """apiVersion: v1
kind: Service
metadata:
  name: api
  annotations:
    getambassador.io/config: |
      ---
      apiVersion: ambassador/v1
      kind: Mapping
      name: api_mapping
      ambassador_id: blue
      prefix: /api/
      service: api
      ---
      apiVersion: ambassador/v1
      kind: Mapping
      name: api_mapping
      ambassador_id: [green]
      prefix: /api/
      service: api
spec: {ports: [{port: 80}]}
"""
    assert rules(svc_yaml=service) == []
    assert rules(svc_yaml=service.replace("[green]", "[green, blue]")) == ["duplicate-object"]


# ---- schema, unknown-field, annotation-yaml ------------------------------------------------


def test_schema_v3alpha1_ambassador_id_must_be_a_list() -> None:
    found = findings(a_yaml=mapping("a", extra="  ambassador_id: blue\n"))
    assert [(f.rule, f.line) for f in found] == [("schema", 9)]
    assert "spec.ambassador_id must be a list" in found[0].message
    assert rules(a_yaml=mapping("a", extra="  ambassador_id: [blue]\n")) == []


def test_schema_v3alpha1_header_values_are_strings() -> None:
    assert rules(a_yaml=mapping("a", extra="  headers: {x-canary: true}\n")) == ["schema"]
    assert rules(a_yaml=mapping("a", extra='  headers: {x-canary: "true"}\n')) == []


def test_unknown_field_is_an_error_because_server_side_apply_refuses_it() -> None:
    """sync applies with server-side apply, which answers `field not declared in schema`
    (tests/e2e/test_check_sync_agree.py): check fails the same manifest."""
    found = findings(a_yaml=mapping("a", extra="  hosname: api.example.com\n"))
    assert [(f.rule, f.severity.value, f.line) for f in found] == [("unknown-field", "error", 9)]
    assert found[0].message == (
        "Mapping default/a: spec.hosname is not a known field (did you "
        "mean hostname?); server-side apply refuses it (`ambdiff sync` "
        "writes nothing while it is there)"
    )
    assert rules(a_yaml=mapping("a", extra="  timeout_ms: 3000\n")) == []


def test_unknown_field_where_emissary_keeps_it_is_a_warning() -> None:
    """Emissary's own getambassador.io/v2 CRDs keep unknown fields (Emissary ignores them),
    and so does Emissary with an annotation document: no API server refuses those."""
    v2 = mapping("a", extra="  hosname: api.example.com\n").replace("v3alpha1", "v2")
    found = findings(a_yaml=v2)
    assert [(f.rule, f.severity.value) for f in found] == [("unknown-field-ignored", "warning")]
    assert found[0].message.endswith(
        "the CRD keeps unknown fields there, so server-side apply "
        "accepts it, and Emissary ignores it"
    )
    # Nested below a v2 spec, in an object whose schema names its fields, the API server prunes
    # it (server-side apply still accepts it): a warning that says so.
    nested = mapping("a", extra="  circuit_breakers: [{max_retries: 1, bogus: 1}]\n")
    nested = nested.replace("v3alpha1", "v2")
    found = findings(a_yaml=nested)
    assert [(f.rule, f.severity.value) for f in found] == [("unknown-field-ignored", "warning")]
    assert "spec.circuit_breakers[0].bogus is not a known field; the API server drops it" in (
        found[0].message
    )
    service = """apiVersion: v1
kind: Service
metadata:
  name: api
  annotations:
    getambassador.io/config: |
      apiVersion: getambassador.io/v3alpha1
      kind: Mapping
      name: api
      hostname: "*"
      prefix: /api/
      service: api
      timeout_msec: 5
spec: {ports: [{port: 80}]}
"""
    found = [f for f in findings(s_yaml=service) if f.rule.startswith("unknown")]
    assert [(f.rule, f.severity.value) for f in found] == [("unknown-field-ignored", "warning")]
    assert "timeout_msec is not a known field (did you mean timeout_ms?); Emissary ignores it" in (
        found[0].message
    )


def test_annotation_yaml_error_drops_the_whole_annotation() -> None:
    service = """apiVersion: v1
kind: Service
metadata:
  name: api
  annotations:
    getambassador.io/config: |
      apiVersion: ambassador/v2
      kind: Mapping
      name: good
      prefix: /api/
      service: api
      ---
      kind: Mapping
      name: bad: here
spec: {ports: [{port: 80}]}
"""
    found = findings(svc_yaml=service)
    assert [(f.rule, f.line) for f in found] == [("annotation-yaml", 14)]
    fine = service.replace(
        "name: bad: here",
        "name: also_good\n      apiVersion: ambassador/v2\n      prefix: /b/\n      service: api",
    )
    assert rules(svc_yaml=fine) == []


def test_annotation_holding_a_non_mapping() -> None:
    service = """apiVersion: v1
kind: Service
metadata:
  name: api
  annotations:
    getambassador.io/config: |
      - just
      - a list
"""
    assert rules(svc_yaml=service) == ["annotation-yaml"]


# ---- route-collision, route-group-conflict, mapping-unbound -------------------------------


def test_route_collision_across_files_names_every_member() -> None:
    found = findings(a_yaml=mapping("a"), b_yaml=mapping("b"))
    assert [(f.rule, f.file, f.line) for f in found] == [
        ("route-collision", "a.yaml", 7), ("route-collision", "b.yaml", 7),
    ]  # fmt: skip
    assert "Mapping default/b (b.yaml:2, 50%)" in found[0].message


def test_route_collision_across_namespaces_in_one_file() -> None:
    assert rules(a_yaml=mapping("a") + mapping("b", ns="team")) == ["route-collision"] * 2


def test_a_canary_in_one_file_is_not_a_collision() -> None:
    canary = mapping("api") + mapping("api-canary", extra="  weight: 10\n")
    assert rules(a_yaml=canary) == []


def test_same_prefix_on_different_hosts_is_not_a_collision() -> None:
    other = mapping("b").replace('hostname: "*"', "hostname: shop.example.com")
    assert rules(a_yaml=mapping("a"), b_yaml=other) == []


def test_other_methods_headers_or_precedence_are_other_routes() -> None:
    for extra in (
        "  method: POST\n",
        "  headers: {x-v: '2'}\n",
        "  precedence: 10\n",
        "  query_parameters: {v: '2'}\n",
    ):
        assert rules(a_yaml=mapping("a"), b_yaml=mapping("b", extra=extra)) == [], extra


def test_route_group_conflict_weights_over_100() -> None:
    group = mapping("a", extra="  weight: 60\n") + mapping("b", extra="  weight: 50\n")
    found = findings(a_yaml=group)
    assert [f.rule for f in found] == ["route-group-conflict"] * 2
    assert "add up to 110" in found[0].message
    fine = mapping("a", extra="  weight: 60\n") + mapping("b", extra="  weight: 40\n")
    assert rules(a_yaml=fine) == []


def test_route_group_conflict_two_shadows_or_redirect_mixed() -> None:
    shadows = (
        mapping("a")
        + mapping("s1", extra="  shadow: true\n")
        + mapping("s2", extra="  shadow: true\n")
    )
    assert rules(a_yaml=shadows) == ["route-group-conflict"]
    assert rules(a_yaml=mapping("a") + mapping("s1", extra="  shadow: true\n")) == []
    mixed = mapping("a") + mapping("r", extra="  host_redirect: true\n")
    assert rules(a_yaml=mixed) == ["route-group-conflict"]


def test_route_group_conflict_mismatched_core_settings() -> None:
    canary = mapping("api", extra="  bypass_auth: true\n") + mapping(
        "canary", extra="  weight: 10\n"
    )
    found = findings(a_yaml=canary)
    assert [f.rule for f in found] == ["route-group-conflict"]
    assert "bypass_auth: unset" in found[0].message
    same = mapping("api", extra="  timeout_ms: 10\n") + mapping("canary", extra="  weight: 10\n")
    assert rules(a_yaml=same) == []


def test_mapping_unbound_without_hostname_or_selecting_host() -> None:
    bare = mapping("a").replace('  hostname: "*"\n', "")
    assert rules(a_yaml=bare) == ["mapping-unbound"]
    host = """---
apiVersion: getambassador.io/v3alpha1
kind: Host
metadata: {name: main}
spec:
  hostname: api.example.com
  mappingSelector: {matchLabels: {team: api}}
"""
    labelled = bare.replace(
        "metadata: {name: a, namespace: default}",
        "metadata: {name: a, namespace: default, labels: {team: api}}",
    )
    assert rules(a_yaml=labelled + host) == []
    assert rules(a_yaml=bare + host) == ["mapping-unbound"]
    v2 = bare.replace("v3alpha1", "v2")
    assert rules(a_yaml=v2) == []


# ---- invalid-regex -----------------------------------------------------------------------


def test_invalid_regex_is_checked_as_re2() -> None:
    # Python's re accepts a lookbehind; RE2 (and so Envoy) does not.
    found = findings(a_yaml=mapping("a", prefix="'/(?<=a)b'", extra="  prefix_regex: true\n"))
    assert [f.rule for f in found] == ["invalid-regex"]
    assert "not valid RE2" in found[0].message
    assert (
        rules(a_yaml=mapping("a", prefix="'/api/v[0-9]+/.*'", extra="  prefix_regex: true\n")) == []
    )
    # The same text is no regex without prefix_regex.
    assert rules(a_yaml=mapping("a", prefix="'/(?<=a)b'")) == []


def test_invalid_regex_in_regex_headers(capfd: pytest.CaptureFixture[str]) -> None:
    assert rules(a_yaml=mapping("a", extra="  regex_headers: {x-id: '[0-9'}\n")) == [
        "invalid-regex"
    ]
    assert capfd.readouterr().err == ""  # RE2's own stderr logging is off


# ---- filter-missing ----------------------------------------------------------------------

POLICY = """---
apiVersion: getambassador.io/v3alpha1
kind: FilterPolicy
metadata: {{name: policy, namespace: web}}
spec:
  rules:
  - host: "*"
    path: /api/*
    filters:
    - {{name: auth{ref_ns}}}
"""
FILTER = """---
apiVersion: getambassador.io/v3alpha1
kind: Filter
metadata: {{name: auth, namespace: {ns}}}
spec:
  External: {{auth_service: "auth:3000", proto: http}}
"""


def test_filter_missing_defaults_to_the_policys_namespace() -> None:
    found = findings(a_yaml=POLICY.format(ref_ns="") + FILTER.format(ns="security"))
    assert [(f.rule, f.line) for f in found] == [("filter-missing", 10)]
    assert "Filter web/auth" in found[0].message and "namespace: security" in found[0].message
    assert rules(a_yaml=POLICY.format(ref_ns="") + FILTER.format(ns="web")) == []


def test_filter_in_another_namespace_named_explicitly() -> None:
    explicit = POLICY.format(ref_ns=", namespace: security") + FILTER.format(ns="security")
    assert rules(a_yaml=explicit) == []


# ---- secret-missing ----------------------------------------------------------------------

SECRET = """---
apiVersion: v1
kind: Secret
metadata: {{name: {name}, namespace: {ns}}}
type: kubernetes.io/tls
data: {{tls.crt: eA==, tls.key: eA==}}
"""


def test_secret_missing_tlscontext_splits_on_the_last_dot() -> None:
    context = """---
apiVersion: getambassador.io/v3alpha1
kind: TLSContext
metadata: {name: tls, namespace: edge}
spec:
  hosts: ["*"]
  secret: wildcard.cert.certs
"""
    assert rules(a_yaml=context + SECRET.format(name="wildcard.cert", ns="certs")) == []
    found = findings(a_yaml=context + SECRET.format(name="wildcard", ns="cert"))
    assert [f.rule for f in found] == ["secret-missing"]
    assert "Secret certs/wildcard.cert" in found[0].message


def test_secret_missing_host_tlssecret_is_not_split() -> None:
    host = """---
apiVersion: getambassador.io/v3alpha1
kind: Host
metadata: {name: main, namespace: edge}
spec:
  hostname: example.com
  tlsSecret: {name: example.com}
"""
    assert rules(a_yaml=host + SECRET.format(name="example.com", ns="edge")) == []
    found = findings(a_yaml=host + SECRET.format(name="example", ns="com"))
    assert [f.rule for f in found] == ["secret-missing"]
    assert "Secret edge/example.com" in found[0].message


# ---- dangling-reference ------------------------------------------------------------------

SERVICE = """---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: default}}
spec: {{ports: [{{port: 80}}]}}
"""


def test_dangling_resolver_and_tls_context() -> None:
    used = mapping("a", extra="  resolver: endpoint\n  tls: upstream\n")
    assert rules(a_yaml=used) == ["dangling-reference", "dangling-reference"]
    defined = (
        used
        + """---
apiVersion: getambassador.io/v3alpha1
kind: KubernetesEndpointResolver
metadata: {name: endpoint, namespace: ambassador}
---
apiVersion: getambassador.io/v3alpha1
kind: TLSContext
metadata: {name: upstream, namespace: ambassador}
spec: {secret: upstream-cert}
"""
        + SECRET.format(name="upstream-cert", ns="ambassador")
    )
    assert rules(a_yaml=defined) == []
    assert rules(a_yaml=mapping("a", extra="  resolver: kubernetes-endpoint\n")) == []


def test_dangling_service_where_the_manifests_define_services() -> None:
    found = findings(a_yaml=mapping("a") + SERVICE.format(name="b"))
    assert [f.rule for f in found] == ["dangling-reference"]
    assert "Service default/a" in found[0].message
    assert rules(a_yaml=mapping("a") + SERVICE.format(name="a")) == []
    # No Service in that namespace here at all: it may live outside git.
    assert rules(a_yaml=mapping("a")) == []
    external = mapping("a").replace("service: a", "service: https://api.example.com:443")
    assert rules(a_yaml=external + SERVICE.format(name="b")) == []


def test_dangling_service_port() -> None:
    wrong_port = mapping("a").replace("service: a", "service: a.default:8080")
    found = findings(a_yaml=wrong_port + SERVICE.format(name="a"))
    assert [f.rule for f in found] == ["dangling-reference"]
    assert (
        "port 8080 of Service default/a" in found[0].message and "(ports: 80)" in found[0].message
    )
    right_port = mapping("a").replace("service: a", "service: a.default:80")
    assert rules(a_yaml=right_port + SERVICE.format(name="a")) == []


# ---- namespace-ignored ----------------------------------------------------------------------


def test_namespace_on_a_cluster_scoped_kind_is_a_warning_at_its_line() -> None:
    role = """apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: reader
  namespace: oops
rules: []
"""
    [finding] = findings(r_yaml=role)
    assert (finding.rule, finding.line, finding.severity.value) == (
        "namespace-ignored",
        5,
        "warning",
    )
    assert "'oops' is ignored: ClusterRole is cluster-scoped" in finding.message
    # A namespaced kind with a namespace is fine.
    assert rules(r_yaml=role.replace("ClusterRole", "Role")) == []
