"""Facts about kinds that hold without a cluster: scope, and how lists are matched.

With a cluster, discovery is authoritative for scope (`cluster.Discovery`); offline this
table plus the CRDs found in the manifests stand in for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ambdiff.model import JSON, Segment, type_name

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
        "",
        "apps",
        "batch",
        "autoscaling",
        "policy",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "storage.k8s.io",
        "apiextensions.k8s.io",
        "apiregistration.k8s.io",
        "scheduling.k8s.io",
        "node.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "certificates.k8s.io",
        "admissionregistration.k8s.io",
        "flowcontrol.apiserver.k8s.io",
        "events.k8s.io",
        "resource.k8s.io",
    }
)

AMBASSADOR_GROUP = "getambassador.io"
AMBASSADOR_ANNOTATION = "getambassador.io/config"


def crd_scopes(objects: Sequence[Mapping[str, JSON]]) -> dict[tuple[str, str], bool]:
    """(group, kind) -> namespaced, for the CustomResourceDefinitions among `objects` whose
    group, kind and scope are readable (see read_crd)."""
    scopes: dict[tuple[str, str], bool] = {}
    for obj in objects:
        crd = read_crd(obj)
        if crd is not None and crd.kind is not None:
            scopes[(crd.group, crd.kind)] = crd.namespaced
    return scopes


@dataclass(frozen=True)
class CrdProblem:
    """The first thing wrong with a CustomResourceDefinition's shape: the field, and a
    sentence fragment that follows it. Values are named by their type only."""

    path: tuple[Segment, ...]
    message: str  # "must be a mapping, not a string"


@dataclass(frozen=True)
class Crd:
    """What ambdiff reads of one CustomResourceDefinition, its shape checked once.

    `kind` is None when spec.group, spec.names.kind or spec.scope cannot be read: then it
    defines no kind that ambdiff knows of. `schemas` (version -> openAPIV3Schema) is empty
    whenever `problem` is set: a malformed schema is never used."""

    group: str
    kind: str | None
    namespaced: bool
    schemas: Mapping[str, Mapping[str, JSON]]
    problem: CrdProblem | None


def read_crd(obj: Mapping[str, JSON]) -> Crd | None:
    """`obj` read as an apiextensions.k8s.io/v1 CustomResourceDefinition; None when it is
    none. Everything ambdiff reads of it is checked here, so that nothing after this can
    trip over a CRD written with the wrong types."""
    if not isinstance(obj, Mapping) or obj.get("kind") != "CustomResourceDefinition":
        return None
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        return _broken(("spec",), _expected("a mapping", spec))
    group, names, scope = spec.get("group"), spec.get("names"), spec.get("scope", "Namespaced")
    kind = names.get("kind") if isinstance(names, Mapping) else None
    identity = (
        _field(("spec", "group"), group, str)
        or _field(("spec", "names"), names, Mapping, "a mapping")
        or _field(("spec", "names", "kind"), kind, str)
        or _field(("spec", "scope"), scope, str)
    )
    if identity is None and scope not in ("Namespaced", "Cluster"):
        identity = CrdProblem(("spec", "scope"), "must be Namespaced or Cluster")
    if identity is not None:
        return _broken(identity.path, identity.message)
    assert isinstance(group, str) and isinstance(kind, str)
    schemas: dict[str, Mapping[str, JSON]] = {}
    problem = _versions(spec.get("versions"), schemas)
    return Crd(group, kind, scope == "Namespaced", {} if problem else schemas, problem)


def _broken(path: tuple[Segment, ...], message: str) -> Crd:
    return Crd("", None, True, {}, CrdProblem(path, message))


def _versions(versions: JSON, schemas: dict[str, Mapping[str, JSON]]) -> CrdProblem | None:
    where: tuple[Segment, ...] = ("spec", "versions")
    if versions is None:
        return None
    if not isinstance(versions, list):
        return CrdProblem(where, _expected("a list", versions))
    for index, version in enumerate(versions):
        at = (*where, index)
        if not isinstance(version, Mapping):
            return CrdProblem(at, _expected("a mapping", version))
        name, schema = version.get("name"), version.get("schema")
        problem = _field((*at, "name"), name, str) or _field(
            (*at, "schema"), schema, Mapping, "a mapping", optional=True
        )
        if problem is not None:
            return problem
        root = schema.get("openAPIV3Schema") if isinstance(schema, Mapping) else None
        if root is None:
            continue
        problem = schema_problem(root, (*at, "schema", "openAPIV3Schema"))
        if problem is not None:
            return problem
        assert isinstance(name, str) and isinstance(root, Mapping)
        schemas[name] = root
    return None


# What each keyword of a structural schema must be, for the keywords ambdiff's validator
# reads (https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/
# custom-resource-definitions/#specifying-a-structural-schema); other keywords are left to
# the API server.
_COUNTS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties")
_FLAGS = ("nullable", "x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields")


def schema_problem(root: JSON, path: tuple[Segment, ...]) -> CrdProblem | None:
    """The first keyword of the OpenAPI schema `root` (at `path`) that has the wrong type,
    walked without recursion, so that no depth of nesting can overflow the stack."""
    stack: list[tuple[tuple[Segment, ...], JSON]] = [(path, root)]
    while stack:
        at, schema = stack.pop()
        if not isinstance(schema, Mapping):
            return CrdProblem(at, _expected("a mapping (a schema)", schema))
        if "$ref" in schema:
            return CrdProblem((*at, "$ref"), "is not allowed in a CustomResourceDefinition")
        problem = (
            _field((*at, "type"), schema.get("type"), str, optional=True)
            or _field((*at, "enum"), schema.get("enum"), list, "a list", optional=True)
            or _field((*at, "required"), schema.get("required"), list, "a list", optional=True)
            or _strings((*at, "required"), schema.get("required"))
            or _numbers(at, schema)
        )
        if problem is not None:
            return problem
        for flag in _FLAGS:
            value = schema.get(flag)
            if value is not None and not isinstance(value, bool):
                return CrdProblem((*at, flag), _expected("true or false", value))
        extra = schema.get("additionalProperties")
        if extra is not None and not isinstance(extra, bool | Mapping):
            return CrdProblem(
                (*at, "additionalProperties"), _expected("a schema or true or false", extra)
            )
        if isinstance(extra, Mapping):
            stack.append(((*at, "additionalProperties"), extra))
        items = schema.get("items")
        if isinstance(items, list):
            stack.extend(((*at, "items", i), item) for i, item in enumerate(items))
        elif items is not None:
            stack.append(((*at, "items"), items))
        if schema.get("not") is not None:
            stack.append(((*at, "not"), schema["not"]))
        for keyword in ("properties", "patternProperties", "definitions"):
            values = schema.get(keyword)
            if values is None:
                continue
            if not isinstance(values, Mapping):
                return CrdProblem((*at, keyword), _expected("a mapping", values))
            stack.extend(((*at, keyword, str(k)), v) for k, v in values.items())
        for keyword in ("allOf", "anyOf", "oneOf"):
            options = schema.get(keyword)
            if options is None:
                continue
            if not isinstance(options, list):
                return CrdProblem((*at, keyword), _expected("a list", options))
            stack.extend(((*at, keyword, i), o) for i, o in enumerate(options))
    return None


def _numbers(at: tuple[Segment, ...], schema: Mapping[str, JSON]) -> CrdProblem | None:
    for keyword in ("minimum", "maximum"):
        value = schema.get(keyword)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            return CrdProblem((*at, keyword), _expected("a number", value))
    for keyword in _COUNTS:
        value = schema.get(keyword)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            return CrdProblem((*at, keyword), _expected("a whole number, 0 or more", value))
    return None


def _strings(at: tuple[Segment, ...], values: JSON) -> CrdProblem | None:
    for index, value in enumerate(values if isinstance(values, list) else ()):
        if not isinstance(value, str):
            return CrdProblem((*at, index), _expected("a string", value))
    return None


def _field(
    path: tuple[Segment, ...],
    value: JSON,
    expected: type | tuple[type, ...],
    name: str = "a string",
    *,
    optional: bool = False,
) -> CrdProblem | None:
    if value is None or (value == "" and not optional):
        return None if optional else CrdProblem(path, "is missing")
    return None if isinstance(value, expected) else CrdProblem(path, _expected(name, value))


def _expected(expected: str, value: JSON) -> str:
    return f"must be {expected}, not {_shown_type(value)}"


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
    ("v1", "Namespace"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("v1", "ServiceAccount"),
    ("v1", "Secret"),
    ("v1", "ConfigMap"),
    ("v1", "Service"),
    ("v1", "PersistentVolumeClaim"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("batch/v1", "Job"),
    ("batch/v1", "CronJob"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("policy/v1", "PodDisruptionBudget"),
    ("networking.k8s.io/v1", "Ingress"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    *(
        (f"{AMBASSADOR_GROUP}/v3alpha1", kind)
        for kind in (
            "Mapping",
            "Host",
            "Listener",
            "TLSContext",
            "Module",
            "AuthService",
            "RateLimitService",
            "TCPMapping",
            "Filter",
            "FilterPolicy",
        )
    ),
)


def _shown_type(value: JSON) -> str:
    return "an empty string" if value == "" else type_name(value)
