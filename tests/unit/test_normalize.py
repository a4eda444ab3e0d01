"""Each normalisation rule, pinned (docs/diff.md, "What counts as a difference")."""

from __future__ import annotations

import base64

from ambdiff.model import ObjectId
from ambdiff.normalize import as_applied, normalize, remove_pointer

DEPLOY = ObjectId("apps", "Deployment", "shop", "web")
SECRET = ObjectId("", "Secret", "shop", "db")


def live_deployment() -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "uid": "1234",
            "resourceVersion": "99",
            "generation": 4,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "managedFields": [{"manager": "kubectl"}],
            "selfLink": "/apis/apps/v1/...",
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": "{...}",
                "team": "storefront",
            },
            "labels": {
                "app": "web",
                "app.kubernetes.io/managed-by": "ambdiff",
                "ambdiff.io/inventory": "shop",
            },
        },
        "spec": {"replicas": 2},
        "status": {"readyReplicas": 2},
    }


def test_server_owned_fields_are_dropped() -> None:
    out = normalize(DEPLOY, live_deployment())
    assert "status" not in out
    assert set(out["metadata"]) == {"name", "namespace", "annotations", "labels"}


def test_last_applied_annotation_is_dropped_but_others_kept() -> None:
    out = normalize(DEPLOY, live_deployment())
    assert out["metadata"]["annotations"] == {"team": "storefront"}


def test_ambdiff_ownership_labels_are_not_part_of_the_comparison() -> None:
    out = normalize(DEPLOY, live_deployment())
    assert out["metadata"]["labels"] == {"app": "web"}


def test_managed_by_of_another_tool_is_kept() -> None:
    body = live_deployment()
    body["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "Helm"
    assert normalize(DEPLOY, body)["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"


def test_input_is_not_modified() -> None:
    body = live_deployment()
    normalize(DEPLOY, body)
    assert body["status"] == {"readyReplicas": 2}


def test_secret_string_data_is_folded_into_base64_data() -> None:
    body = {
        "kind": "Secret",
        "metadata": {"name": "db"},
        "data": {"user": "YWRtaW4="},
        "stringData": {"password": "hunter2"},
    }
    out = normalize(SECRET, body)
    assert "stringData" not in out
    assert out["data"] == {"user": "YWRtaW4=", "password": base64.b64encode(b"hunter2").decode()}


def test_string_data_wins_over_data_for_the_same_key() -> None:
    body = {"data": {"password": "b2xk"}, "stringData": {"password": "new"}}
    assert normalize(SECRET, body)["data"]["password"] == base64.b64encode(b"new").decode()


def test_string_data_is_only_folded_for_core_secrets() -> None:
    other = ObjectId("example.com", "Secret", "shop", "x")
    assert normalize(other, {"stringData": {"a": "b"}}) == {"stringData": {"a": "b"}}


def test_ignore_pointer_removes_a_field() -> None:
    out = normalize(DEPLOY, live_deployment(), ["/spec/replicas"])
    assert "replicas" not in out["spec"]


def test_ignore_pointer_with_wildcard_and_escapes() -> None:
    doc = {
        "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]},
        "metadata": {"annotations": {"a/b": "1", "c": "2"}},
    }
    remove_pointer(doc, "/spec/containers/*/image")
    remove_pointer(doc, "/metadata/annotations/a~1b")
    assert doc == {
        "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
        "metadata": {"annotations": {"c": "2"}},
    }


def test_ignore_pointer_naming_nothing_is_harmless() -> None:
    doc = {"spec": {}}
    remove_pointer(doc, "/spec/template/spec/containers/3/image")
    assert doc == {"spec": {}}


def test_as_applied_adds_namespace_and_ownership_labels() -> None:
    body = {"metadata": {"name": "web", "labels": {"app": "web"}}}
    out = as_applied(DEPLOY, body, "shop-repo")
    assert out["metadata"]["namespace"] == "shop"
    assert out["metadata"]["labels"] == {
        "app": "web",
        "app.kubernetes.io/managed-by": "ambdiff",
        "ambdiff.io/inventory": "shop-repo",
    }
    assert body == {"metadata": {"name": "web", "labels": {"app": "web"}}}


def test_the_servers_namespace_name_label_is_not_compared() -> None:
    ns = ObjectId("", "Namespace", "", "shop")
    body = {
        "metadata": {"name": "shop", "labels": {"kubernetes.io/metadata.name": "shop", "team": "a"}}
    }
    assert normalize(ns, body)["metadata"]["labels"] == {"team": "a"}
    only = {"metadata": {"name": "shop", "labels": {"kubernetes.io/metadata.name": "shop"}}}
    assert normalize(ns, only)["metadata"] == {"name": "shop"}


def test_as_applied_keeps_a_managed_by_that_git_sets() -> None:
    body = {"metadata": {"name": "web", "labels": {"app.kubernetes.io/managed-by": "Helm"}}}
    labels = as_applied(DEPLOY, body, "repo")["metadata"]["labels"]
    assert labels == {"app.kubernetes.io/managed-by": "Helm", "ambdiff.io/inventory": "repo"}


def test_a_cluster_scoped_object_is_compared_without_a_stray_namespace() -> None:
    role = ObjectId("rbac.authorization.k8s.io", "ClusterRole", "", "reader")
    body = {"kind": "ClusterRole", "metadata": {"name": "reader", "namespace": "oops"}}
    assert normalize(role, body)["metadata"] == {"name": "reader"}
    assert "namespace" not in as_applied(role, body, "inv")["metadata"]
    # A namespaced object keeps its namespace.
    cm = ObjectId("", "ConfigMap", "shop", "c")
    assert normalize(cm, {"metadata": {"name": "c", "namespace": "shop"}})["metadata"] == {
        "name": "c", "namespace": "shop",
    }  # fmt: skip


def test_an_empty_secret_value_is_the_same_written_as_null() -> None:
    secret = ObjectId("", "Secret", "shop", "s")
    assert normalize(secret, {"data": {"a": None}}) == normalize(secret, {"data": {"a": ""}})
