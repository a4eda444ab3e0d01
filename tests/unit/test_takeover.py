"""Taking over what `kubectl apply` (client-side) owned (ambdiff.takeover; docs/sync.md,
"Objects applied with kubectl"). The managedFields below are shaped as kube-apiserver v1.36
records a `kubectl apply` of a Deployment: it owns the fields it sent and those defaulted."""

from __future__ import annotations

import json

from ambdiff.differ import owned_removals
from ambdiff.takeover import pending, takeover_patch, upgraded_managed_fields

APPLIED = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default", "annotations": {"team": "a"}},
    "spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "nginx", "ports": [{"containerPort": 80}],
         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
    ]}}},
}  # fmt: skip
CONTAINER = {
    ".": {}, "f:name": {}, "f:image": {}, "f:imagePullPolicy": {},
    "f:terminationMessagePath": {},
    "f:env": {".": {}, 'k:{"name":"A"}': {".": {}, "f:name": {}, "f:value": {}},
              'k:{"name":"B"}': {".": {}, "f:name": {}, "f:value": {}}},
    "f:ports": {".": {}, 'k:{"containerPort":80,"protocol":"TCP"}': {
        ".": {}, "f:containerPort": {}, "f:protocol": {}}},
}  # fmt: skip
CLIENT_SIDE = {
    "manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "apps/v1",
    "fieldsType": "FieldsV1",
    "fieldsV1": {
        "f:metadata": {"f:annotations": {
            ".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}, "f:team": {}}},
        "f:spec": {"f:progressDeadlineSeconds": {}, "f:replicas": {}, "f:template": {"f:spec": {
            "f:dnsPolicy": {}, "f:containers": {'k:{"name":"web"}': CONTAINER}}}},
    },
}  # fmt: skip


def live(*entries: dict, applied: dict = APPLIED) -> dict:
    body = json.loads(json.dumps(applied))
    body["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = (
        json.dumps(applied)
    )
    body["metadata"]["managedFields"] = list(entries)
    body["metadata"]["resourceVersion"] = "42"
    spec = body["spec"]
    spec["replicas"], spec["progressDeadlineSeconds"] = 1, 600
    container = spec["template"]["spec"]["containers"][0]
    container["ports"][0]["protocol"] = "TCP"
    container["imagePullPolicy"] = "Always"
    return body


def test_only_what_kubectl_applied_is_taken_over_not_the_defaults() -> None:
    takeover = pending(live(CLIENT_SIDE))
    assert takeover is not None and takeover.api_version == "apps/v1"
    spec = takeover.fields["f:spec"]
    assert "f:replicas" not in spec and "f:progressDeadlineSeconds" not in spec
    container = spec["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']
    assert "f:imagePullPolicy" not in container and "f:image" in container
    # A port is keyed by (containerPort, protocol); kubectl applied no protocol (defaulted).
    assert 'k:{"containerPort":80,"protocol":"TCP"}' in container["f:ports"]
    annotations = takeover.fields["f:metadata"]["f:annotations"]
    assert "f:team" in annotations
    assert "f:kubectl.kubernetes.io/last-applied-configuration" not in annotations


def test_nothing_pending_without_kubectl_apply() -> None:
    # kubectl edit / scale / patch are changes by hand: their conflicts are reported.
    for manager in ("kubectl-edit", "kubectl-scale", "kubectl-patch", "helm"):
        assert pending(live({**CLIENT_SIDE, "manager": manager})) is None
    assert pending(live({**CLIENT_SIDE, "manager": "kubectl"})) is None  # an Update
    assert pending({"metadata": {}}) is None


def test_a_server_side_kubectl_apply_is_taken_over_whole() -> None:
    # `kubectl apply --server-side` owns exactly what it applied: no last-applied filter.
    ssa = {
        **CLIENT_SIDE,
        "manager": "kubectl",
        "operation": "Apply",
        "fieldsV1": {"f:spec": {"f:minReadySeconds": {}, "f:replicas": {}}},
    }
    takeover = pending(live(ssa))
    assert takeover is not None
    assert takeover.fields == {"f:spec": {"f:minReadySeconds": {}, "f:replicas": {}}}
    assert upgraded_managed_fields(live(ssa), takeover, "ambdiff")[0]["manager"] == "ambdiff"


def test_what_git_dropped_from_a_kubectl_applied_object_is_a_removal() -> None:
    body = live(CLIENT_SIDE)
    takeover = pending(body)
    assert takeover is not None
    want = json.loads(json.dumps(APPLIED))
    del want["spec"]["template"]["spec"]["containers"][0]["env"][1]  # B
    del want["metadata"]["annotations"]
    removals = owned_removals(
        want, body, body["metadata"]["managedFields"], taken_over=[takeover.fields]
    )
    assert sorted(c.path_str for c in removals) == [
        "metadata.annotations.team",
        "spec.template.spec.containers[name=web].env[name=B]",
    ]
    # Without the takeover ambdiff owns none of it: nothing would be removed.
    assert owned_removals(want, body, body["metadata"]["managedFields"]) == []


def test_the_upgrade_replaces_kubectls_entry_with_ambdiffs_and_keeps_the_others() -> None:
    other = {
        "manager": "hpa",
        "operation": "Update",
        "apiVersion": "apps/v1",
        "fieldsV1": {"f:spec": {"f:replicas": {}}},
    }
    ours = {
        "manager": "ambdiff",
        "operation": "Apply",
        "apiVersion": "apps/v1",
        "fieldsV1": {"f:metadata": {"f:labels": {"f:ambdiff.io/inventory": {}}}},
    }
    body = live(CLIENT_SIDE, other, ours)
    takeover = pending(body)
    assert takeover is not None
    entries = upgraded_managed_fields(body, takeover, "ambdiff")
    assert [e["manager"] for e in entries] == ["hpa", "ambdiff"]
    fields = entries[1]["fieldsV1"]
    assert "f:labels" in fields["f:metadata"] and "f:team" in fields["f:metadata"]["f:annotations"]
    patch = takeover_patch(body, takeover, "ambdiff")
    assert patch[1] == {"op": "replace", "path": "/metadata/resourceVersion", "value": "42"}
    # Without an entry of its own ambdiff gets a new Apply entry.
    [created] = upgraded_managed_fields(live(CLIENT_SIDE), takeover, "ambdiff")
    assert (created["manager"], created["operation"]) == ("ambdiff", "Apply")
