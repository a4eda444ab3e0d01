"""Schema validation: ambdiff's Ambassador CRDs as the API server applies a structural schema,
built-in kinds from the kubernetes-validate schemas."""

from __future__ import annotations

from collections.abc import Mapping

from ambdiff.model import JSON, ObjectId, Resource, split_api_version
from ambdiff.schemas import Schemas, ambassador_schemas


def issues(body: Mapping[str, JSON], *, flat: bool = False) -> list[tuple[str, str, str]]:
    group, _ = split_api_version(str(body["apiVersion"]))
    meta = body.get("metadata") or {}
    assert isinstance(meta, Mapping)
    oid = ObjectId(group, str(body["kind"]), str(meta.get("namespace", "")), str(meta.get("name")))
    resource = Resource(oid, str(body["apiVersion"]), body)
    return [
        (i.rule, ".".join(map(str, i.path)), i.message)
        for i in Schemas().issues(resource, flat_names=flat)
    ]


def mapping(version: str = "v3alpha1", **spec: JSON) -> dict[str, JSON]:
    return {
        "apiVersion": f"getambassador.io/{version}", "kind": "Mapping",
        "metadata": {"name": "api", "namespace": "default"},
        "spec": {"prefix": "/api/", "service": "api", **spec},
    }  # fmt: skip


def test_the_packaged_crds_cover_both_versions_of_the_ambassador_kinds() -> None:
    kinds = {(v, k) for g, v, k in ambassador_schemas() if g == "getambassador.io"}
    for kind in (
        "Mapping",
        "Host",
        "TLSContext",
        "Module",
        "AuthService",
        "Filter",
        "FilterPolicy",
    ):
        assert {("v2", kind), ("v3alpha1", kind)} <= kinds


def test_v3alpha1_is_strict_where_v2_was_lenient() -> None:
    assert issues(mapping("v2", ambassador_id="blue", headers={"x": True})) == []
    rules = issues(mapping(ambassador_id="blue", headers={"x": True}))
    assert [(r, p) for r, p, _ in rules] == [
        ("schema", "spec.ambassador_id"),
        ("schema", "spec.headers.x"),
    ]


def test_required_fields_enums_and_bounds() -> None:
    body = mapping(load_balancer={"policy": "random"})
    del body["spec"]["service"]  # type: ignore[attr-defined]
    found = issues(body)
    assert ("schema", "spec.service", "is required but missing") in found
    assert any(p == "spec.load_balancer.policy" and "allowed" in m for _, p, m in found)


def test_nulls_are_pruned_not_errors() -> None:
    assert issues(mapping(timeout_ms=None)) == []


def test_unknown_fields_nested_and_preserved() -> None:
    found = issues(mapping(cors={"origins": ["*"], "max_ages": "1"}))
    assert found[0][:2] == ("unknown-field", "spec.cors.max_ages")
    assert "did you mean max_age?" in found[0][2]
    # envoy_override keeps whatever it is given.
    assert issues(mapping(envoy_override={"anything": {"goes": 1}})) == []


def test_metadata_is_checked_as_object_meta() -> None:
    body = mapping()
    body["metadata"] = {"name": "api", "lables": {"a": "b"}, "annotations": {"n": 1}}
    found = {(r, p) for r, p, _ in issues(body)}
    assert found == {("unknown-field", "metadata.lables"), ("schema", "metadata.annotations.n")}


def test_crd_names_must_be_dns_subdomains_but_annotation_names_may_not() -> None:
    body = mapping()
    body["metadata"] = {"name": "api_mapping", "namespace": "default"}
    assert [p for _, p, _ in issues(body)] == ["metadata.name"]
    assert issues(body, flat=True) == []


def test_unknown_version_and_misspelt_kind() -> None:
    assert issues(mapping("v9"))[0][2].startswith("getambassador.io/v9 does not serve Mapping")
    body = mapping()
    body["kind"] = "Mappng"
    assert "did you mean Mapping?" in issues(body)[0][2]


def test_filter_needs_exactly_one_type() -> None:
    body = {
        "apiVersion": "getambassador.io/v3alpha1", "kind": "Filter",
        "metadata": {"name": "f", "namespace": "default"}, "spec": {},
    }  # fmt: skip
    assert any("must set exactly one of OAuth2" in m for _, _, m in issues(body))


def test_builtin_kinds_unknown_field_and_type() -> None:
    service = {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"ports": [{"port": 80, "targetPort": "http", "protocoll": "TCP"}]},
    }  # fmt: skip
    assert [(r, p) for r, p, _ in issues(service)] == [("unknown-field", "spec.ports.0.protocoll")]
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": "3", "selector": {}, "template": {}},
    }  # fmt: skip
    found = issues(deployment)
    assert ("schema", "spec.replicas", 'must be an integer, not the string "3"') in found


def test_builtin_removed_api_version_and_bad_names() -> None:
    old = {"apiVersion": "apps/v1beta1", "kind": "Deployment", "metadata": {"name": "web"}}
    assert "use apps/v1" in issues(old)[0][2]
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "9web"}, "spec": {}}
    assert [p for _, p, _ in issues(service)] == ["metadata.name"]
