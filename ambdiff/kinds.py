"""Facts about kinds that hold without a cluster: scope, and how lists are matched.

With a cluster, discovery is authoritative for scope (`cluster.Discovery`); offline this
table plus the CRDs found in the manifests stand in for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ambdiff.model import JSON

# Cluster-scoped built-in kinds, by (group, kind). Every other built-in kind is namespaced.
CLUSTER_SCOPED: frozenset[tuple[str, str]] = frozenset(
    {
        ("", "Namespace"),
        ("", "Node"),
        ("", "PersistentVolume"),
        ("", "ComponentStatus"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("apiregistration.k8s.io", "APIService"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "CSIDriver"),
        ("storage.k8s.io", "CSINode"),
        ("storage.k8s.io", "VolumeAttachment"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("node.k8s.io", "RuntimeClass"),
        ("networking.k8s.io", "IngressClass"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    }
)

BUILTIN_GROUPS: frozenset[str] = frozenset(
    {
        "", "apps", "batch", "autoscaling", "policy", "networking.k8s.io",
        "rbac.authorization.k8s.io", "storage.k8s.io", "apiextensions.k8s.io",
        "apiregistration.k8s.io", "scheduling.k8s.io", "node.k8s.io", "coordination.k8s.io",
        "discovery.k8s.io", "certificates.k8s.io", "admissionregistration.k8s.io",
        "flowcontrol.apiserver.k8s.io", "events.k8s.io", "resource.k8s.io",
    }
)  # fmt: skip

AMBASSADOR_GROUP = "getambassador.io"
AMBASSADOR_ANNOTATION = "getambassador.io/config"


def crd_scopes(objects: Sequence[Mapping[str, JSON]]) -> dict[tuple[str, str], bool]:
    """(group, kind) -> namespaced, for the CustomResourceDefinitions among `objects`."""
    scopes: dict[tuple[str, str], bool] = {}
    for obj in objects:
        if obj.get("kind") != "CustomResourceDefinition":
            continue
        spec = obj.get("spec") or {}
        kind = (spec.get("names") or {}).get("kind")
        if isinstance(kind, str) and isinstance(spec.get("group"), str):
            scopes[(spec["group"], kind)] = spec.get("scope", "Namespaced") == "Namespaced"
    return scopes


def offline_namespaced(group: str, kind: str, crds: Mapping[tuple[str, str], bool]) -> bool:
    """Scope without a cluster: the built-in table, then CRDs from the manifests; a kind
    known to neither is taken as namespaced, as nearly every custom resource is."""
    if (group, kind) in CLUSTER_SCOPED:
        return False
    return crds.get((group, kind), True)


# Strategic-merge keys of common list fields, by the list's field name (first that fits wins).
_MERGE_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "env": ("name",),
    "ports": ("containerPort", "port"),
    "volumes": ("name",),
    "volumeMounts": ("mountPath",),
    "volumeDevices": ("devicePath",),
    "imagePullSecrets": ("name",),
    "hostAliases": ("ip",),
    "conditions": ("type",),
    "resourceClaims": ("name",),
}


def merge_key(field: str | None, *lists: Sequence[JSON]) -> str | None:
    """The key that identifies items of these lists, or None to match by position.
    A key qualifies when every item of every list is a mapping holding it, uniquely."""
    candidates = (*_MERGE_KEYS.get(field or "", ()), "name")
    for key in candidates:
        if all(_unique_key(items, key) for items in lists):
            return key
    return None


def _unique_key(items: Sequence[JSON], key: str) -> bool:
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, Mapping) or key not in item:
            return False
        value = repr(item[key])
        if value in seen:
            return False
        seen.add(value)
    return True


# Where ambdiff looks for objects of an inventory that git no longer names at all (a last
# ConfigMap deleted from git): these kinds, plus every kind git names, are listed by label.
INVENTORY_KINDS: tuple[tuple[str, str], ...] = (
    ("v1", "Namespace"), ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("v1", "ServiceAccount"), ("v1", "Secret"), ("v1", "ConfigMap"), ("v1", "Service"),
    ("v1", "PersistentVolumeClaim"),
    ("rbac.authorization.k8s.io/v1", "Role"), ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet"),
    ("batch/v1", "Job"), ("batch/v1", "CronJob"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"), ("policy/v1", "PodDisruptionBudget"),
    ("networking.k8s.io/v1", "Ingress"), ("networking.k8s.io/v1", "NetworkPolicy"),
    *((f"{AMBASSADOR_GROUP}/v3alpha1", kind) for kind in (
        "Mapping", "Host", "Listener", "TLSContext", "Module", "AuthService",
        "RateLimitService", "TCPMapping", "Filter", "FilterPolicy",
    )),
)  # fmt: skip
