"""Schemas of every kind `check` validates, and the validation itself.

- getambassador.io: ambdiff's own CRDs (package data `ambdiff/crds/ambassador.yaml`, the same
  file the end-to-end tests install), plus any other CRD found in the manifests. They are
  validated the way the API server treats a structural schema: `nullable`,
  `x-kubernetes-int-or-string`, `x-kubernetes-preserve-unknown-fields`. A field that no
  schema names is `unknown-field`, an error, because server-side apply (which sync uses)
  refuses it; where nothing refuses it (where the schema keeps unknown fields, as every
  getambassador.io/v2 spec does; below such a schema, where the API server prunes it;
  annotation documents) it is `unknown-field-ignored`, a warning.
- Built-in kinds: the JSON schemas shipped as data by the `kubernetes-validate` package (its
  "strict" variant, whose `additionalProperties: false` marks unknown fields; the newest
  Kubernetes version it has), read by the same validator: they use only type, $ref,
  properties, additionalProperties, items, required, enum and oneOf. (jsonschema was measured
  at 1.5-4 ms per object against ~0.05 ms here.)
"""

from __future__ import annotations

import base64
import binascii
import difflib
import importlib.resources
import importlib.util
import json
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ambdiff.forked import map_split
from ambdiff.kinds import AMBASSADOR_GROUP, BUILTIN_GROUPS, read_crd
from ambdiff.model import JSON, Resource, Sealed, Segment, format_path, split_api_version, type_name
from ambdiff.yamlio import load_documents

# Objects from which validation is split between two processes (below, the second process
# costs more than it saves; docs/performance.md).
PARALLEL_FROM = 2_000

# Emissary still reads these old versions (annotations mostly); they have v2's shape.
_LEGACY_VERSIONS = {"v0": "v2", "v1": "v2"}
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_IMPLICIT_ROOT_FIELDS = frozenset({"apiVersion", "kind", "metadata"})
_TYPE_NAMES = {
    "object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer",
    "number": "a number", "boolean": "true or false",
}  # fmt: skip


@dataclass(frozen=True)
class SchemaIssue:
    # "schema"; "unknown-field" (apply refuses it) or "unknown-field-ignored"; while validating
    # also "unknown-field-pruned" and "unknown-field-kept", which unknown_field() resolves
    rule: str
    path: tuple[Segment, ...]
    message: str  # a sentence fragment that follows the field's path


class Schemas:
    """Schemas by (group, version, kind): ambdiff's Ambassador CRDs, CRDs from the manifests
    and, lazily, the built-in kinds."""

    def __init__(self, extra_crds: Sequence[Mapping[str, JSON]] = ()) -> None:
        self._crd: dict[tuple[str, str, str], Mapping[str, JSON]] = dict(ambassador_schemas())
        for crd in extra_crds:
            for key, schema in crd_schemas(crd).items():
                if key[0] != AMBASSADOR_GROUP:
                    self._crd[key] = schema
        self._crd_kinds: dict[tuple[str, str], list[str]] = {}
        self._validator = _Validator()
        for group, version, kind in self._crd:
            self._crd_kinds.setdefault((group, kind), []).append(version)

    def issues_of(self, checked: Sequence[tuple[Resource, bool]]) -> list[list[SchemaIssue]]:
        """`issues` of each (resource, flat_names), in order; many are validated by two
        processes (`forked.map_split`: validation is most of `check`'s work after reading)."""

        def plain(item: tuple[Resource, bool]) -> list[tuple[str, tuple[Segment, ...], str]]:
            resource, flat = item
            return [(i.rule, i.path, i.message) for i in self.issues(resource, flat_names=flat)]

        found = map_split(plain, checked, sizes=[1] * len(checked), parallel_from=PARALLEL_FROM)
        return [[SchemaIssue(*issue) for issue in issues] for issues in found]

    def issues(self, resource: Resource, *, flat_names: bool = False) -> list[SchemaIssue]:
        """Everything wrong with `resource` against its schema. `flat_names`: an annotation
        document, whose names may hold underscores."""
        group, version = split_api_version(resource.api_version)
        kind = resource.id.kind
        out: list[SchemaIssue] = []
        # Emissary's v1 CRD keeps every field (its schema is one x-kubernetes-preserve-unknown-
        # fields); v0 is read from annotations only. Every other verdict comes from the schema.
        kept = group == AMBASSADOR_GROUP and version in ("v0", "v1")
        if not flat_names:
            out.extend(_name_issues(group, kind, resource.body))
        if group == AMBASSADOR_GROUP:
            version = _LEGACY_VERSIONS.get(version, version)
        schema = self._crd.get((group, version, kind))
        if schema is not None:
            # metadata is ObjectMeta whatever the CRD says; it is checked on its own. The API
            # server knows apiVersion and kind at the root even when a CRD's schema omits them.
            body = {k: v for k, v in resource.body.items() if k not in _IMPLICIT_ROOT_FIELDS}
            self._validator.validate(schema, body, (), out)
            if not flat_names:
                out.extend(_metadata_issues(resource.body.get("metadata")))
            if kind == "Module" and group == AMBASSADOR_GROUP:
                out.extend(_module_name(resource.id.name))
        elif (group, kind) in self._crd_kinds:
            served = ", ".join(sorted(self._crd_kinds[(group, kind)]))
            out.append(
                SchemaIssue(
                    "schema",
                    ("apiVersion",),
                    f"{resource.api_version} does not serve {kind} (served: {served})",
                )
            )
        elif group == AMBASSADOR_GROUP:
            known = sorted({k for g, k in self._crd_kinds if g == AMBASSADOR_GROUP})
            close = difflib.get_close_matches(kind, known, n=1, cutoff=0.8)
            if close:
                out.append(
                    SchemaIssue(
                        "schema",
                        ("kind",),
                        f"{kind} is not a getambassador.io kind; did you mean {close[0]}?",
                    )
                )
        elif group in BUILTIN_GROUPS or group == "extensions":
            out.extend(_builtin_issues(self._validator, group, version, kind, resource.body))
        if (group, kind) == ("", "Secret"):
            out.extend(secret_data_issues(resource.body))
        if kind == "CustomResourceDefinition" and group == "apiextensions.k8s.io":
            invalid = crd_issues(resource.body)  # says more than a schema issue of that field
            paths = {issue.path for issue in invalid}
            out = [issue for issue in out if issue.path not in paths] + invalid
        # A field kept where the schema keeps unknown fields is said only of a getambassador.io
        # spec: its schema names every field (it keeps unknown ones because the string-or-list
        # ambassador_id cannot be typed), and Emissary ignores the rest. Elsewhere (a free-form
        # Filter configuration, another group's CRD) the names listed need not be all.
        out = [
            issue
            for issue in out
            if issue.rule != "unknown-field-kept"
            or (group == AMBASSADOR_GROUP and len(issue.path) == 2 and issue.path[0] == "spec")
        ]
        where = "annotation" if flat_names else "kept" if kept else "applied"
        return [unknown_field(i, where) for i in out]


# What happens to a field no schema names, by where it is written: the one place that says
# how severe an unknown field is (RULES in ambdiff.check.findings holds the severities).
_UNKNOWN = {
    "applied": ("unknown-field", "server-side apply refuses it (`ambdiff sync` writes nothing "
                "while it is there)"),
    "kept": ("unknown-field-ignored", "the CRD keeps unknown fields there, so server-side "
             "apply accepts it, and Emissary ignores it"),
    "annotation": ("unknown-field-ignored", "Emissary ignores it"),
    # Below a schema that keeps unknown fields, server-side apply accepts the object and the
    # API server prunes the field (measured on the test API server).
    "pruned": ("unknown-field-ignored", "the API server drops it without an error (a schema "
               "above it keeps unknown fields, so server-side apply accepts it)"),
}  # fmt: skip


def unknown_field(issue: SchemaIssue, where: str = "applied") -> SchemaIssue:
    """An unknown-field issue with the rule and the consequence for `where` it is written:
    an object that sync applies, a getambassador.io/v2 object, an annotation document."""
    if not issue.rule.startswith("unknown-field"):
        return issue
    if issue.rule == "unknown-field-pruned" and where == "applied":
        where = "pruned"
    elif issue.rule == "unknown-field-kept" and where == "applied":
        where = "kept"
    rule, consequence = _UNKNOWN[where]
    text = issue.message.split("; ", 1)[0]
    return SchemaIssue(rule, issue.path, f"{text}; {consequence}")


def issue_text(path: Sequence[Segment], issue_message: str) -> str:
    return f"{format_path(tuple(path))} {issue_message}" if path else issue_message


def secret_data_issues(body: Mapping[str, JSON]) -> Iterator[SchemaIssue]:
    """`data` values of a Secret that are not base64, which the API server refuses (it
    decodes them as Go's base64.StdEncoding: padded, line breaks ignored). Only the key is
    named: the value is a secret."""
    data = body.get("data")
    data = data.reveal() if isinstance(data, Sealed) else data
    if not isinstance(data, Mapping):
        return  # not a map: the schema rule says so
    for key, value in data.items():
        text = value.reveal() if isinstance(value, Sealed) else value
        if not isinstance(text, str) or _is_base64(text):
            continue  # a number or a list: the schema rule says so
        yield SchemaIssue(
            "secret-data-base64",
            ("data", str(key)),
            "is not valid base64; the API server rejects the Secret (write the plain value "
            "under stringData instead, or encode it with `base64 -w0`)",
        )


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text.replace("\n", "").replace("\r", ""), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


# ---- CRD (structural) schemas ----------------------------------------------------------


@cache
def ambassador_schemas() -> dict[tuple[str, str, str], Mapping[str, JSON]]:
    """(group, version, kind) -> openAPIV3Schema, from ambdiff's packaged CRDs."""
    ref = importlib.resources.files("ambdiff").joinpath("crds/ambassador.yaml")
    schemas: dict[tuple[str, str, str], Mapping[str, JSON]] = {}
    for doc in load_documents(ref.read_text(encoding="utf-8"), "ambdiff/crds/ambassador.yaml"):
        if isinstance(doc.data, Mapping):
            schemas.update(crd_schemas(doc.data))
    return schemas


def crd_schemas(crd: Mapping[str, JSON]) -> dict[tuple[str, str, str], Mapping[str, JSON]]:
    """The schemas of one apiextensions.k8s.io/v1 CustomResourceDefinition, by version;
    none of a CRD whose shape is wrong (`crd-invalid`)."""
    read = read_crd(crd)
    if read is None or read.kind is None or read.problem is not None:
        return {}
    return {(read.group, version, read.kind): schema for version, schema in read.schemas.items()}


def crd_issues(body: Mapping[str, JSON]) -> list[SchemaIssue]:
    """What makes a CustomResourceDefinition unusable (kinds.read_crd), as `crd-invalid`."""
    read = read_crd(body)
    if read is None or read.problem is None:
        return []
    lost = (
        "so it defines no kind ambdiff knows of"
        if read.kind is None
        else "and check does not validate its objects against it"
    )
    return [
        SchemaIssue(
            "crd-invalid",
            read.problem.path,
            f"{read.problem.message}; the API server rejects this CustomResourceDefinition, {lost}",
        )
    ]


class _Node:
    """One schema, read once: the keywords the validator uses, of the right type (a CRD's
    own schema may hold any; the wrong type is ignored, never trusted)."""

    __slots__ = (
        "alternatives",
        "bounded",
        "done",
        "enum",
        "extra",
        "int_or_string",
        "items",
        "object_typed",
        "preserves",
        "properties",
        "required",
        "schema",
        "type_names",
        "types",
    )

    def __init__(self, schema: Mapping[str, Any]) -> None:
        if isinstance(schema.get("$ref"), str):
            schema = _resolve(schema["$ref"])
        self.schema = schema
        self.int_or_string = schema.get("x-kubernetes-int-or-string") is True
        expected = schema.get("type")
        self.types = tuple(_type_list(expected)) if expected is not None else ()
        self.type_names = " or ".join(_TYPE_NAMES.get(t, t) for t in self.types)
        enum = schema.get("enum")
        self.enum: list[Any] | None = enum if isinstance(enum, list) else None
        self.bounded = any(_is_number(schema.get(k)) for k in _BOUND_KEYWORDS)
        self.alternatives: tuple[tuple[str, list[Any]], ...] = tuple(
            (keyword, schema[keyword])
            for keyword in ("oneOf", "anyOf")
            if isinstance(schema.get(keyword), list)
        )
        properties = schema.get("properties")
        self.properties: Mapping[str, Any] = properties if isinstance(properties, Mapping) else {}
        self.extra = schema.get("additionalProperties")
        self.preserves = schema.get("x-kubernetes-preserve-unknown-fields") is True
        required = schema.get("required")
        self.required: tuple[Any, ...] = tuple(required) if isinstance(required, list) else ()
        self.object_typed = bool(self.properties) or expected == "object" or self.extra is False
        items = schema.get("items")
        self.items: Mapping[str, Any] | None = items if isinstance(items, Mapping) else None
        self.done = self._done()

    def _done(self) -> frozenset[type]:
        """The types of value (exact) that this schema passes with nothing to check but their
        type: null (pruned), and the scalars its type allows when it has no enum, bounds or
        alternatives. The validator skips the call for those (most fields are such leaves)."""
        if self.int_or_string:
            return frozenset((type(None), int, str))
        if self.enum is not None or self.bounded or self.alternatives:
            return frozenset((type(None),))
        allowed = [t for t in (str, int, float, bool) if _all_scalars_pass(self.types, t)]
        return frozenset((type(None), *allowed))


def _all_scalars_pass(types: Sequence[str], cls: type) -> bool:
    """Whether every value of type `cls` (str, int, float or bool) has one of `types`."""
    if not types:
        return True
    sample = {str: "", int: 0, float: 0.5, bool: False}[cls]
    return any(_has_type(sample, t) for t in types)


_BOUND_KEYWORDS = (
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
)


class _Validator:
    """Validates values against schemas, each schema node read once (`_Node`) and kept for
    as long as the validator: a `Schemas` holds one for all the objects of a run."""

    def __init__(self) -> None:
        # id() of a schema -> the schema (kept, so that its id stays its own) and its node
        self._nodes: dict[int, tuple[Mapping[str, Any], _Node]] = {}

    def validate(
        self,
        schema: Mapping[str, Any],
        value: JSON,
        path: tuple[Segment, ...],
        out: list[SchemaIssue],
        hidden: bool = False,
        loose: bool = False,
    ) -> None:
        """Issues of `value` against `schema`; `hidden`: inside a secret value, whose
        messages name types and sizes, never the value; `loose`: below a schema that keeps
        unknown fields (x-kubernetes-preserve-unknown-fields), where server-side apply accepts
        an unknown field and the API server prunes it."""
        known = self._nodes.get(id(schema))
        if known is None:
            known = self._nodes[id(schema)] = (schema, _Node(schema))
        node = known[1]
        if isinstance(value, Sealed):
            value, hidden = value.reveal(), True
        if value is None:
            return  # the API server prunes a null unless the schema says nullable
        if node.int_or_string:
            if isinstance(value, bool) or not isinstance(value, int | str):
                what = _what(value, hidden)
                out.append(
                    SchemaIssue("schema", path, f"must be an integer or a string, not {what}")
                )
            return
        if node.types and not any(_has_type(value, t) for t in node.types):
            what = _what(value, hidden)
            out.append(SchemaIssue("schema", path, f"must be {node.type_names}, not {what}"))
            return
        if node.enum is not None and value not in node.enum:
            allowed = ", ".join(json.dumps(v, default=str) for v in node.enum)
            found = (
                "not one of the allowed values"
                if hidden
                else f"is {json.dumps(value, default=str)}"
            )
            out.append(SchemaIssue("schema", path, f"{found}; allowed: {allowed}"))
        if node.bounded:
            _bounds(node.schema, value, path, out, hidden)
        for keyword, options in node.alternatives:
            self._alternatives(keyword, options, value, path, out, hidden, loose)
        # type() first: the abstract Mapping check is slow, and a loaded value is a dict.
        if type(value) is dict or (not isinstance(value, list) and isinstance(value, Mapping)):
            self._object(node, value, path, out, hidden, loose)
        elif node.items is not None and isinstance(value, list):
            loose = loose or node.preserves
            items = node.items
            known = self._nodes.get(id(items))
            done = known[1].done if known is not None else frozenset()
            for index, item in enumerate(value):
                if item.__class__ not in done:
                    self.validate(items, item, (*path, index), out, hidden, loose)

    def _object(
        self,
        node: _Node,
        value: Mapping[str, JSON],
        path: tuple[Segment, ...],
        out: list[SchemaIssue],
        hidden: bool,
        loose: bool,
    ) -> None:
        properties = node.properties
        extra = node.extra
        preserves = node.preserves
        keeps_unknown = preserves or extra is True
        below = loose or preserves
        for name in node.required:
            if isinstance(name, str) and name not in value:
                out.append(SchemaIssue("schema", (*path, name), "is required but missing"))
        nodes = self._nodes
        for key, item in value.items():
            sub = properties.get(key)
            if sub.__class__ is dict or isinstance(sub, Mapping):
                known = nodes.get(id(sub))
                if known is None or item.__class__ not in known[1].done:
                    self.validate(sub, item, (*path, key), out, hidden, below)
            elif sub is not None:
                continue  # a malformed schema of a known field
            elif isinstance(extra, Mapping):
                known = nodes.get(id(extra))
                if known is None or item.__class__ not in known[1].done:
                    self.validate(extra, item, (*path, key), out, hidden, below)
            elif preserves and properties:  # stored as written; a typo of a named field, likely
                out.append(
                    SchemaIssue(
                        "unknown-field-kept",
                        (*path, str(key)),
                        f"is not a known field{_did_you_mean(key, properties)}",
                    )
                )
            elif not keeps_unknown and node.object_typed:
                out.append(
                    SchemaIssue(
                        "unknown-field-pruned" if loose else "unknown-field",
                        (*path, str(key)),
                        f"is not a known field{_did_you_mean(key, properties)}",
                    )
                )

    def _alternatives(
        self,
        keyword: str,
        options: Sequence[Any],
        value: JSON,
        path: tuple[Segment, ...],
        out: list[SchemaIssue],
        hidden: bool,
        loose: bool,
    ) -> None:
        options = [o for o in options if isinstance(o, Mapping)]
        matching = 0
        for option in options:
            trial: list[SchemaIssue] = []
            self.validate(option, value, path, trial, hidden, loose)
            matching += not any(i.rule == "schema" for i in trial)
        if (keyword == "oneOf" and matching == 1) or (keyword == "anyOf" and matching >= 1):
            return
        required = [
            o["required"][0]
            for o in options
            if list(o) == ["required"]
            and isinstance(o["required"], list)
            and o["required"]
            and isinstance(o["required"][0], str)
        ]
        types = [t for o in options if list(o) == ["type"] for t in _type_list(o["type"])]
        if types and all(list(o) == ["type"] for o in options):
            names = " or ".join(_TYPE_NAMES.get(t, t) for t in dict.fromkeys(types))
            out.append(SchemaIssue("schema", path, f"must be {names}, not {_what(value, hidden)}"))
        elif len(required) == len(options):
            out.append(
                SchemaIssue("schema", path, f"must set exactly one of {', '.join(required)}")
            )
        else:
            out.append(
                SchemaIssue("schema", path, f"matches {matching} of the {keyword} alternatives")
            )


def _did_you_mean(key: object, properties: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(str(key), [str(p) for p in properties], n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def _bounds(
    schema: Mapping[str, Any],
    value: JSON,
    path: tuple[Segment, ...],
    out: list[SchemaIssue],
    hidden: bool,
) -> None:
    def fail(message: str) -> None:
        out.append(SchemaIssue("schema", path, message))

    if isinstance(value, int | float) and not isinstance(value, bool):
        found = "is" if hidden else f"is {value},"
        if _is_number(schema.get("minimum")) and value < schema["minimum"]:
            fail(f"{found} below the minimum {schema['minimum']}")
        if _is_number(schema.get("maximum")) and value > schema["maximum"]:
            fail(f"{found} above the maximum {schema['maximum']}")
    elif isinstance(value, list | Mapping):
        low, high = (
            ("minItems", "maxItems")
            if isinstance(value, list)
            else ("minProperties", "maxProperties")
        )
        if _is_number(schema.get(low)) and len(value) < schema[low]:
            fail(f"has {len(value)} entries; at least {schema[low]} needed")
        if _is_number(schema.get(high)) and len(value) > schema[high]:
            fail(f"has {len(value)} entries; at most {schema[high]} allowed")
    elif isinstance(value, str):
        if _is_number(schema.get("minLength")) and len(value) < schema["minLength"]:
            fail(f"is shorter than {schema['minLength']} characters")
        if _is_number(schema.get("maxLength")) and len(value) > schema["maxLength"]:
            fail(f"is longer than {schema['maxLength']} characters")


def _has_type(value: JSON, expected: str) -> bool:
    if expected == "object":
        return isinstance(value, Mapping)
    if expected == "array":
        return isinstance(value, list)
    if expected == "string":
        return isinstance(value, str)
    if expected == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if expected == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if expected == "number":
        return isinstance(value, int | float)
    return True


def _what(value: JSON, hidden: bool = False) -> str:
    """What `value` is, for a message; only its type when it is (inside) a secret."""
    if hidden or isinstance(value, Mapping | list):
        return type_name(value)
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, str):
        return f"the string {json.dumps(value)}"
    return json.dumps(value)


def _module_name(name: str) -> Iterator[SchemaIssue]:
    if name not in ("ambassador", "tls"):
        yield SchemaIssue(
            "schema",
            ("metadata", "name"),
            f"is {json.dumps(name)}, but Emissary "
            "reads only the Modules named ambassador and tls and ignores this one "
            "(authentication is configured with an AuthService)",
        )


# ---- names -------------------------------------------------------------------------------

_PATH_SEGMENT_NAMED_GROUPS = frozenset({"rbac.authorization.k8s.io"})


def _name_issues(group: str, kind: str, body: Mapping[str, JSON]) -> Iterator[SchemaIssue]:
    meta = body.get("metadata") or {}
    name, namespace = meta.get("name"), meta.get("namespace")
    if isinstance(name, str) and group not in _PATH_SEGMENT_NAMED_GROUPS:
        if (group, kind) == ("", "Service"):
            ok, rule = len(name) <= 63 and _DNS_1035_LABEL.match(name), "an RFC 1035 label"
        elif (group, kind) == ("", "Namespace"):
            ok, rule = len(name) <= 63 and _DNS_LABEL.match(name), "a DNS-1123 label"
        else:
            ok, rule = len(name) <= 253 and _DNS_SUBDOMAIN.match(name), "a DNS-1123 subdomain"
        if not ok:
            yield SchemaIssue(
                "schema",
                ("metadata", "name"),
                f"{json.dumps(name)} is not {rule} "
                "(lower-case letters, digits, '-'); the API server rejects it",
            )
    if isinstance(namespace, str) and not (len(namespace) <= 63 and _DNS_LABEL.match(namespace)):
        yield SchemaIssue(
            "schema", ("metadata", "namespace"), f"{json.dumps(namespace)} is not a DNS-1123 label"
        )


_COMMON_META = frozenset({"name", "namespace", "labels", "annotations"})


def _metadata_issues(meta: JSON) -> Iterator[SchemaIssue]:
    if not isinstance(meta, Mapping):
        return
    unusual = [k for k in meta if k not in _COMMON_META]
    if unusual:
        known = _object_meta_fields()
        for key in unusual:
            if known and key not in known:
                close = difflib.get_close_matches(str(key), sorted(known), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                yield SchemaIssue(
                    "unknown-field", ("metadata", str(key)), f"is not a field of ObjectMeta{hint}"
                )
    for field in ("labels", "annotations"):
        values = meta.get(field)
        if isinstance(values, Mapping):
            for key, value in values.items():
                hidden = isinstance(value, Sealed)  # a secret's last-applied-configuration
                if hidden:
                    value = value.reveal()
                if not isinstance(value, str):
                    yield SchemaIssue(
                        "schema",
                        ("metadata", field, str(key)),
                        f"must be a string, not {_what(value, hidden)} (quote it)",
                    )
        elif values is not None:
            yield SchemaIssue(
                "schema", ("metadata", field), f"must be a mapping, not {_what(values)}"
            )


# ---- built-in kinds ------------------------------------------------------------------------


@dataclass
class _Builtin:
    definitions: Mapping[str, Any]  # the "$defs" of kubernetes-validate's _definitions.json
    by_gvk: dict[tuple[str, str, str], str]
    kinds: dict[tuple[str, str], list[str]]
    version: str


@cache
def _builtin() -> _Builtin | None:
    # Located without importing kubernetes_validate: only its data is used.
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"
    strict = (
        [p for p in root.iterdir() if p.name.endswith("-local-strict")] if root.is_dir() else []
    )
    if not strict:
        return None
    latest = max(strict, key=lambda p: tuple(int(n) for n in re.findall(r"\d+", p.name)))
    definitions = json.loads((latest / "_definitions.json").read_text(encoding="utf-8"))["$defs"]
    by_gvk: dict[tuple[str, str, str], str] = {}
    kinds: dict[tuple[str, str], list[str]] = {}
    for name, schema in definitions.items():
        for gvk in schema.get("x-kubernetes-group-version-kind") or ():
            key = (gvk["group"], gvk["version"], gvk["kind"])
            if key not in by_gvk or not name.endswith("List"):
                by_gvk[key] = name
            kinds.setdefault((gvk["group"], gvk["kind"]), []).append(gvk["version"])
    version = re.sub(r"^v([\d.]+)-.*$", r"\1", latest.name)
    return _Builtin(definitions, by_gvk, kinds, version)


def _resolve(ref: str) -> Mapping[str, Any]:
    builtin = _builtin()
    name = ref.rsplit("/", 1)[-1]
    return builtin.definitions.get(name, {}) if builtin else {}


@cache
def _object_meta_fields() -> frozenset[str]:
    meta = _resolve("#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
    return frozenset(meta.get("properties", {}))


def _builtin_issues(
    validator: _Validator, group: str, version: str, kind: str, body: Mapping[str, JSON]
) -> list[SchemaIssue]:
    builtin = _builtin()
    if builtin is None:
        return []
    name = builtin.by_gvk.get((group, version, kind))
    if name is None:
        problem = builtin_kind_problem(group, version, kind)
        return [SchemaIssue("schema", ("apiVersion",), problem.text)] if problem else []
    out: list[SchemaIssue] = []
    validator.validate(builtin.definitions[name], body, (), out)
    return out


@dataclass(frozen=True)
class KindProblem:
    """Why no cluster serves a kind: `message`, and what to do (`suggestion`, may be "")."""

    message: str  # "apps/v1 has no kind Deploymnet"
    suggestion: str = ""  # "did you mean Deployment?"

    @property
    def text(self) -> str:
        return f"{self.message}; {self.suggestion}" if self.suggestion else self.message


def builtin_kind_problem(group: str, version: str, kind: str) -> KindProblem | None:
    """What is wrong with a kind of a built-in group, by the newest Kubernetes whose schemas
    ambdiff has; None when it is served there, or when there are no schemas to tell."""
    builtin = _builtin()
    if builtin is None or (group, version, kind) in builtin.by_gvk:
        return None
    served = builtin.kinds.get((group, kind))
    api = f"{group}/{version}" if group else version
    if served:
        use = ", ".join(f"{group}/{v}" if group else v for v in sorted(set(served)))
        return KindProblem(
            f"{api} no longer serves {kind} in Kubernetes {builtin.version}", f"use {use}"
        )
    known = sorted({k for g, k in builtin.kinds if g == group})
    close = difflib.get_close_matches(kind, known, n=1)
    return KindProblem(f"{api} has no kind {kind}", f"did you mean {close[0]}?" if close else "")


def offline_kind_problem(
    group: str, version: str, kind: str, defined: Collection[tuple[str, str]]
) -> KindProblem | None:
    """Why no cluster serves (group, version, kind), as far as ambdiff knows without one:
    the built-in kinds (builtin_kind_problem), ambdiff's own getambassador.io CRDs, and the
    (group, kind) pairs `defined` by CRDs found in the manifests or the `--live-file`
    snapshot (or by objects in it). None when it may well be served. Offline `diff` asks
    this; `check` asks builtin_kind_problem, which this ends in for built-in groups."""
    if (group, kind) in defined:
        return None
    if group in BUILTIN_GROUPS or group == "extensions":
        return builtin_kind_problem(group, version, kind)
    known = {k for g, k in defined if g == group}
    if group == AMBASSADOR_GROUP:
        known |= {k for g, _, k in ambassador_schemas() if g == group}
        if kind in known:
            return None
    api = f"{group}/{version}" if group else version
    close = difflib.get_close_matches(kind, sorted(known), n=1)
    return KindProblem(
        f"{api} has no kind {kind}: no CustomResourceDefinition in the manifests or the "
        "snapshot defines it",
        f"did you mean {close[0]}?"
        if close
        else "add its CustomResourceDefinition to the manifests, or fix the apiVersion and kind",
    )


def _type_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        return []
    return [t for t in value if isinstance(t, str) and t != "null"]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
