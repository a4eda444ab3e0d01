"""Malformed CRDs, and fields of the wrong type under the reference and routing rules (issue
#14): a malformed CRD is one `crd-invalid` finding naming its field, its schema is never
used, and no rule trips over a value of the wrong type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ambdiff.check import Finding, Severity, check_resources
from ambdiff.check.grouping import _selector_matches, mapping_routes, shares
from ambdiff.check.references import parse_service
from ambdiff.kinds import crd_scopes, read_crd
from ambdiff.model import ObjectId, Resource
from ambdiff.schemas import _Validator, ambassador_schemas, crd_schemas
from ambdiff.yamlio import load_documents
from tests.harness.memory import check_texts

SECRET = "hunter2-do-not-print"


def findings(text: str) -> list[Finding]:
    return check_texts({"a.yaml": text})


def crd(spec: str) -> str:
    return (
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        f"metadata: {{name: widgets.example.com}}\nspec:\n{spec}"
    )


def schema_crd(schema: str) -> str:
    """A well-formed CRD of Widget (example.com/v1) whose schema of spec.size is `schema`."""
    return crd(
        "  group: example.com\n  names: {kind: Widget, plural: widgets}\n  scope: Namespaced\n"
        "  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n"
        "      openAPIV3Schema:\n        type: object\n        properties:\n"
        "          spec:\n            type: object\n            properties:\n"
        f"              size: {schema}\n"
    )


WIDGET = "---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: s}\n"
GOOD = "{type: integer, minimum: 1}"
IDENTITY = "  group: example.com\n  names: {kind: Widget, plural: widgets}\n  scope: Namespaced\n"


# ---- 1. the shape of a CRD ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (f"  {SECRET}\n", "spec must be a mapping, not a string"),
        ("  [1]\n", "spec must be a mapping, not a list"),
        ("  group: example.com\n  names: abc\n", "spec.names must be a mapping, not a string"),
        ("  group: [a]\n  names: {kind: Widget}\n", "spec.group must be a string, not a list"),
        (
            "  group: example.com\n  names: {kind: [Widget]}\n",
            "spec.names.kind must be a string, not a list",
        ),
        (
            "  group: example.com\n  names: {kind: Widget}\n  scope: [1]\n",
            "spec.scope must be a string, not a list",
        ),
        (
            "  group: example.com\n  names: {kind: Widget}\n  scope: Everywhere\n",
            "spec.scope must be Namespaced or Cluster",
        ),
        (IDENTITY + f"  versions: {SECRET}\n", "spec.versions must be a list, not a string"),
        (IDENTITY + "  versions: [abc]\n", "spec.versions[0] must be a mapping, not a string"),
        (
            IDENTITY + "  versions: [{name: [1]}]\n",
            "spec.versions[0].name must be a string, not a list",
        ),
        (
            IDENTITY + "  versions: [{name: v1, schema: abc}]\n",
            "spec.versions[0].schema must be a mapping, not a string",
        ),
        (
            IDENTITY + "  versions: [{name: v1, schema: {openAPIV3Schema: abc}}]\n",
            "spec.versions[0].schema.openAPIV3Schema must be a mapping (a schema), not a string",
        ),
    ],
    ids=[
        "spec-string",
        "spec-list",
        "names-string",
        "group-list",
        "kind-list",
        "scope-list",
        "scope-unknown",
        "versions-string",
        "version-string",
        "version-name-list",
        "schema-string",
        "openapi-string",
    ],
)
def test_a_malformed_crd_is_one_crd_invalid_finding_naming_the_field(spec: str, field: str) -> None:
    found = findings(crd(spec) + WIDGET + "spec: {size: 0}\n")
    invalid = [f for f in found if f.rule == "crd-invalid"]
    assert len(invalid) == 1, found
    assert invalid[0].severity is Severity.ERROR
    assert invalid[0].file == "a.yaml" and invalid[0].line >= 1
    assert f"CustomResourceDefinition widgets.example.com: {field}; the API server rejects" in (
        invalid[0].message
    )
    assert all(SECRET not in f.message for f in found)


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        ("{type: object, properties: abc}", "size.properties must be a mapping, not a string"),
        ("{type: integer, minimum: abc}", "size.minimum must be a number, not a string"),
        (
            "{type: string, maxLength: [1]}",
            "size.maxLength must be a whole number, 0 or more, not a list",
        ),
        ("{type: string, minLength: -1}", "size.minLength must be a whole number, 0 or more"),
        ("{type: 5}", "size.type must be a string, not a number"),
        ("{type: [integer]}", "size.type must be a string, not a list"),
        ("{type: integer, enum: 5}", "size.enum must be a list, not a number"),
        ("{oneOf: abc}", "size.oneOf must be a list, not a string"),
        ("{anyOf: [abc]}", "size.anyOf[0] must be a mapping (a schema), not a string"),
        ("{type: object, required: abc}", "size.required must be a list, not a string"),
        ("{type: object, required: [[a]]}", "size.required[0] must be a string, not a list"),
        (
            "{type: object, additionalProperties: 5}",
            "size.additionalProperties must be a schema or true or false, not a number",
        ),
        ("{type: array, items: abc}", "size.items must be a mapping (a schema), not a string"),
        (
            "{type: object, x-kubernetes-preserve-unknown-fields: abc}",
            "size.x-kubernetes-preserve-unknown-fields must be true or false, not a string",
        ),
        (
            "{'$ref': '#/definitions/x'}",
            'size["$ref"] is not allowed in a CustomResourceDefinition',
        ),
    ],
)
def test_a_malformed_schema_keyword_is_crd_invalid_and_the_schema_is_not_used(
    schema: str, field: str
) -> None:
    found = findings(schema_crd(schema) + WIDGET + "spec: {size: [not, a, number]}\n")
    assert [f.rule for f in found] == ["crd-invalid"], found
    assert f"spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.{field}" in (
        found[0].message
    )
    assert "check does not validate its objects against it" in found[0].message
    assert found[0].line > 1  # the field's line, not the CRD's first


def test_a_well_formed_crd_still_validates_its_objects() -> None:
    found = findings(schema_crd(GOOD) + WIDGET + "spec: {size: 0}\n")
    assert [(f.rule, f.object) for f in found] == [("schema", "Widget s/w")]
    assert "spec.size is 0, below the minimum 1" in found[0].message


def test_the_schema_finding_of_the_same_field_is_not_repeated() -> None:
    found = findings(schema_crd(f"{{type: integer, minimum: {SECRET}}}"))
    assert [f.rule for f in found] == ["crd-invalid"]
    assert SECRET not in found[0].message


def test_sync_preflight_refuses_a_malformed_crd() -> None:
    body = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": "abc",
    }
    oid = ObjectId("apiextensions.k8s.io", "CustomResourceDefinition", "", "widgets.example.com")
    report = check_resources(
        [Resource(oid, "apiextensions.k8s.io/v1", body)], default_namespace="default"
    )
    assert [(f.rule, f.severity) for f in report.findings] == [("crd-invalid", Severity.ERROR)]


def test_scope_is_kept_when_only_the_schema_is_malformed() -> None:
    def body(text: str) -> dict[str, Any]:
        data = load_documents(text, "a.yaml")[0].data
        assert isinstance(data, dict)
        return data

    broken_schema = body(schema_crd("{type: integer, minimum: abc}"))
    broken_kind = body(crd("  group: example.com\n  names: {kind: [Widget]}\n"))
    cluster = body(crd("  group: example.com\n  names: {kind: Gadget}\n  scope: Cluster\n"))
    assert crd_scopes([broken_schema, broken_kind, cluster]) == {
        ("example.com", "Widget"): True, ("example.com", "Gadget"): False,
    }  # fmt: skip
    assert crd_schemas(broken_schema) == {}
    assert crd_schemas(broken_kind) == {}


def test_real_crds_pass_the_shape_check(repo_root: Path) -> None:
    assert len(ambassador_schemas()) > 20
    files = [repo_root / "ambdiff/crds/ambassador.yaml"]
    files += sorted((repo_root / "tests/e2e/bundles").rglob("*.yaml"))
    seen = 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        if "CustomResourceDefinition" not in text:
            continue
        for doc in load_documents(text, str(path)):
            if isinstance(doc.data, dict) and (read := read_crd(doc.data)) is not None:
                seen += 1
                assert read.problem is None, (path, read.problem)
    assert seen > 20


@pytest.mark.parametrize(
    "schema",
    [
        {"type": 5},
        {"type": [5, "string"]},
        {"enum": 5},
        {"enum": "abc"},
        {"oneOf": "abc"},
        {"anyOf": [5, {"required": "abc"}]},
        {"oneOf": [{"type": 5}]},
        {"required": "abc"},
        {"required": [[1], 5]},
        {"properties": "abc"},
        {"properties": {"a": 5}},
        {"minimum": "abc", "maximum": [1]},
        {"maxLength": [1], "minLength": "a"},
        {"minItems": "a", "maxProperties": {}},
        {"$ref": [1]},
        {"items": 5},
        {"additionalProperties": 5},
        {"x-kubernetes-int-or-string": "yes"},
    ],
)
def test_the_schema_walker_ignores_malformed_keywords(schema: dict[str, Any]) -> None:
    for value in ("abc", 5, 1.5, True, [1, "a"], {"a": [1]}):
        _Validator().validate(schema, value, (), [])


# ---- 2. reference and routing rules on fields of the wrong type -----------------------------

M = "apiVersion: getambassador.io/v3alpha1\nkind: Mapping\nmetadata: {name: m, namespace: s}\n"
HOST = "apiVersion: getambassador.io/v3alpha1\nkind: Host\nmetadata: {name: h, namespace: s}\n"
POLICY = (
    "apiVersion: getambassador.io/v3alpha1\nkind: FilterPolicy\nmetadata: {name: p, namespace: s}\n"
)


@pytest.mark.parametrize(
    "text",
    [
        POLICY + "spec: {rules: 5}\n",
        POLICY + "spec: {rules: [{path: /a/, filters: 5}]}\n",
        POLICY + "spec: {rules: [{path: [1], filters: [{name: f, namespace: [1]}]}]}\n",
        HOST + "spec: {hostname: a.example.com, tlsSecret: {name: x, namespace: [1]}}\n",
        HOST
        + "spec: {hostname: a.example.com, mappingSelector: {matchExpressions: 5}}\n---\n"
        + M
        + "spec: {prefix: /a/, service: s}\n",
        HOST + "spec: {hostname: a.example.com, mappingSelector: {matchExpressions: "
        "[{key: a, operator: In, values: 5}]}}\n---\n"
        + M.replace("namespace: s", "namespace: s, labels: {a: b}")
        + "spec: {prefix: /a/, service: s}\n",
        "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: x, namespace: s}\n"
        "spec: {template: abc}\n---\napiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\n"
        "metadata: {name: sy, namespace: s}\nspec: {template: {metadata: [1]}}\n---\n"
        "apiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\n"
        "metadata: {name: sz, namespace: s}\nspec: {target: abc}\n",
    ],
    ids=[
        "rules-number",
        "filters-number",
        "namespace-list",
        "tls-secret-namespace-list",
        "match-expressions-number",
        "selector-values-number",
        "secret-makers",
    ],
)
def test_reference_rules_skip_fields_of_the_wrong_type(text: str) -> None:
    found = findings(text)  # no exception; the wrong type is the schema rule's finding
    allowed = {"schema", "unknown-field", "mapping-unbound", "filter-missing", "secret-missing"}
    assert {f.rule for f in found} <= allowed, found


def test_a_missing_filter_is_still_found_next_to_a_namespace_of_the_wrong_type() -> None:
    found = findings(
        POLICY + "spec: {rules: [{path: /a/, filters: [{name: f, namespace: [1]}, {name: g}]}]}\n"
    )
    missing = [f.message for f in found if f.rule == "filter-missing"]
    assert len(missing) == 2
    assert any("names Filter s/g (path /a/)" in m for m in missing)


def test_a_present_and_a_valued_header_of_one_name_are_grouped_without_error() -> None:
    routes = mapping_routes(
        [
            _resource(
                M + "spec: {prefix: /a/, service: s, hostname: '*', headers: {x: true}, "
                "regex_headers: {x: a}}\n"
            )
        ]
    )
    assert len(routes) == 1
    matchers = routes[0].key("default").matchers
    assert matchers.index(("x", None)) + 1 == matchers.index(("x", "a"))


def test_selector_parts_of_the_wrong_type_match_nothing_and_do_not_raise() -> None:
    assert _selector_matches({"matchExpressions": 5}, {"a": "b"})
    assert not _selector_matches(
        {"matchExpressions": [{"key": "a", "operator": "In", "values": "b"}]}, {"a": "b"}
    )


def test_a_service_port_that_is_no_ascii_number_is_no_port() -> None:
    assert parse_service("s:²") == ("s", None)
    assert parse_service("s:" + "9" * 5000) == ("s", None)
    assert parse_service("s.ns:8080") == ("s.ns", 8080)


def test_shares_stay_within_100_percent_when_a_weight_is_negative() -> None:
    routes = mapping_routes(
        [
            _resource(M + f"spec: {{prefix: /a/, service: s, hostname: '*', weight: {w}}}\n", n)
            for n, w in (("a", 80), ("b", -50), ("c", "1" + "0" * 400))
        ]
    )
    assert [r.weight for r in routes] == [80, -50, None]  # a 401-digit number is no int here
    assert shares(routes) == [80, 0, 20]


def _resource(text: str, name: str = "m") -> Resource:
    body = load_documents(text.replace("name: m,", f"name: {name},"), "a.yaml")[0].data
    assert isinstance(body, dict)
    return Resource(ObjectId("getambassador.io", "Mapping", "s", name), body["apiVersion"], body)
