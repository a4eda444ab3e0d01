"""Ambassador resources inside the `getambassador.io/config` annotation."""

from __future__ import annotations

from ambdiff.ambassador import (
    ambassador_ids,
    flatten,
    normalize_api_version,
    reads_annotation,
)
from ambdiff.check.annotations import expand
from ambdiff.manifests import RawObject
from ambdiff.model import Origin

SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: web
  annotations:
    getambassador.io/config: |
      ---
      apiVersion: ambassador/v1
      kind: Mapping
      name: web_mapping
      prefix: /web/
      service: web:8080
      ---
      apiVersion: getambassador.io/v2
      kind: Mapping
      name: web-admin
      namespace: admin
      prefix: /admin/
      service: web:9090
"""


def owner(annotation: object) -> RawObject:
    body = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "annotations": {"getambassador.io/config": annotation}},
    }
    return RawObject(body, Origin("svc.yaml", 1))


def test_only_services_and_ingresses_carry_ambassador_config() -> None:
    assert reads_annotation("v1", "Service")
    assert reads_annotation("networking.k8s.io/v1", "Ingress")
    assert not reads_annotation("apps/v1", "Deployment")


def test_documents_are_flattened_into_crd_shape() -> None:
    text = SERVICE.split("|\n", 1)[1].replace("      ", "")
    expanded = expand(owner(text), namespace="shop", file_lines=SERVICE.splitlines())
    assert expanded.problems == ()
    first, second = (o.body for o in expanded.objects)
    assert first == {
        "apiVersion": "getambassador.io/v1", "kind": "Mapping",
        "metadata": {"name": "web_mapping", "namespace": "shop"},
        "spec": {"prefix": "/web/", "service": "web:8080"},
    }  # fmt: skip
    assert second["metadata"] == {"name": "web-admin", "namespace": "admin"}
    # Origins point at each document's first line in the file.
    assert [o.origin.line for o in expanded.objects] == [8, 14]


def test_a_yaml_error_drops_the_whole_annotation() -> None:
    expanded = expand(owner("kind: Mapping\nname: a\n---\nname: [b\n"), namespace="default")
    assert expanded.objects == ()
    assert [p.rule for p in expanded.problems] == ["annotation-yaml"]


def test_not_a_string_or_missing_fields() -> None:
    assert [p.rule for p in expand(owner({"kind": "Mapping"}), namespace="d").problems] == [
        "annotation-yaml"
    ]
    missing = expand(owner("apiVersion: ambassador/v2\nkind: Mapping\nprefix: /\n"), namespace="d")
    assert [p.rule for p in missing.problems] == ["missing-field"]
    assert "has no name" in missing.problems[0].problem


def test_api_versions_and_ambassador_ids() -> None:
    assert normalize_api_version("ambassador/v0") == "getambassador.io/v0"
    assert normalize_api_version("getambassador.io/v3alpha1") == "getambassador.io/v3alpha1"
    doc = flatten(
        {
            "apiVersion": "ambassador/v1",
            "kind": "Module",
            "name": "ambassador",
            "ambassador_id": "blue",
        },
        "default",
    )
    assert ambassador_ids(doc) == {"blue"}
    assert ambassador_ids({"spec": {"ambassador_id": ["a", "b"]}}) == {"a", "b"}
    assert ambassador_ids({"spec": {}}) == {"default"}
