"""Schemas of every kind `check` validates, and the validation itself.

- getambassador.io: ambdiff's own CRDs (package data `ambdiff/crds/ambassador.yaml`, the same
  file the end-to-end tests install), plus any other CRD found in the manifests. They are
  validated the way the API server treats a structural schema: `nullable`,
  `x-kubernetes-int-or-string`, `x-kubernetes-preserve-unknown-fields`, and a field that no
  schema names is pruned silently, which `check` reports as `unknown-field`.
- Built-in kinds: the JSON schemas shipped as data by the `kubernetes-validate` package (its
  "strict" variant, whose `additionalProperties: false` marks unknown fields; the newest
  Kubernetes version it has), read by the same validator: they use only type, $ref,
  properties, additionalProperties, items, required, enum and oneOf. (jsonschema was measured
  at 1.5-4 ms per object against ~0.05 ms here.)
"""

from __future__ import annotations

import difflib
import importlib.resources
import importlib.util
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ambdiff.kinds import AMBASSADOR_GROUP, BUILTIN_GROUPS
from ambdiff.model import JSON, Resource, Segment, format_path, split_api_version
from ambdiff.yamlio import load_documents

# Emissary still reads these old versions (annotations mostly); they have v2's shape.
_LEGACY_VERSIONS = {"v0": "v2", "v1": "v2"}
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_TYPE_NAMES = {
    "object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer",
    "number": "a number", "boolean": "true or false",
}  # fmt: skip


@dataclass(frozen=True)
class SchemaIssue:
    rule: str  # "schema" or "unknown-field"
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
        for group, version, kind in self._crd:
            self._crd_kinds.setdefault((group, kind), []).append(version)

    def issues(self, resource: Resource, *, flat_names: bool = False) -> list[SchemaIssue]:
        """Everything wrong with `resource` against its schema. `flat_names`: an annotation
        document, whose names may hold underscores."""
        group, version = split_api_version(resource.api_version)
        kind = resource.id.kind
        out: list[SchemaIssue] = []
        if not flat_names:
            out.extend(_name_issues(group, kind, resource.body))
        if group == AMBASSADOR_GROUP:
            version = _LEGACY_VERSIONS.get(version, version)
        schema = self._crd.get((group, version, kind))
        if schema is not None:
            # metadata is ObjectMeta whatever the CRD says; it is checked on its own.
            _validate(schema, {k: v for k, v in resource.body.items() if k != "metadata"}, (), out)
            if not flat_names:
                out.extend(_metadata_issues(resource.body.get("metadata")))
            if kind == "Module" and group == AMBASSADOR_GROUP:
                out.extend(_module_name(resource.id.name))
        elif (group, kind) in self._crd_kinds:
            served = ", ".join(sorted(self._crd_kinds[(group, kind)]))
            out.append(SchemaIssue("schema", ("apiVersion",), f"{resource.api_version} does not "
                                   f"serve {kind} (served: {served})"))  # fmt: skip
        elif group == AMBASSADOR_GROUP:
            known = sorted({k for g, k in self._crd_kinds if g == AMBASSADOR_GROUP})
            close = difflib.get_close_matches(kind, known, n=1, cutoff=0.8)
            if close:
                out.append(SchemaIssue("schema", ("kind",), f"{kind} is not a getambassador.io "
                                       f"kind; did you mean {close[0]}?"))  # fmt: skip
        elif group in BUILTIN_GROUPS or group == "extensions":
            out.extend(_builtin_issues(group, version, kind, resource.body))
        return out


def describe(path: Sequence[Segment], issue_message: str) -> str:
    return f"{format_path(tuple(path))} {issue_message}" if path else issue_message


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
    """The schemas of one apiextensions.k8s.io/v1 CustomResourceDefinition, by version."""
    if crd.get("kind") != "CustomResourceDefinition":
        return {}
    spec = crd.get("spec") or {}
    group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
    out: dict[tuple[str, str, str], Mapping[str, JSON]] = {}
    for version in spec.get("versions") or ():
        schema = ((version or {}).get("schema") or {}).get("openAPIV3Schema")
        if isinstance(schema, Mapping) and isinstance(version.get("name"), str):
            out[(str(group), version["name"], str(kind))] = schema
    return out


def _validate(schema: Mapping[str, Any], value: JSON, path: tuple[Segment, ...],
              out: list[SchemaIssue]) -> None:  # fmt: skip
    if "$ref" in schema:
        schema = _resolve(schema["$ref"])
    if value is None:
        return  # the API server prunes a null unless the schema says nullable
    if schema.get("x-kubernetes-int-or-string"):
        if isinstance(value, bool) or not isinstance(value, int | str):
            out.append(
                SchemaIssue("schema", path, f"must be an integer or a string, not {_what(value)}")
            )
        return
    expected = schema.get("type")
    if expected is not None:
        types = [expected] if isinstance(expected, str) else [t for t in expected if t != "null"]
        if types and not any(_has_type(value, t) for t in types):
            names = " or ".join(_TYPE_NAMES.get(t, t) for t in types)
            out.append(SchemaIssue("schema", path, f"must be {names}, not {_what(value)}"))
            return
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(json.dumps(v) for v in schema["enum"])
        out.append(SchemaIssue("schema", path, f"is {json.dumps(value)}; allowed: {allowed}"))
    _bounds(schema, value, path, out)
    for keyword in ("oneOf", "anyOf"):
        if keyword in schema:
            _alternatives(keyword, schema[keyword], value, path, out)
    if isinstance(value, Mapping):
        _validate_object(schema, value, path, out)
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            _validate(schema["items"], item, (*path, index), out)


def _validate_object(schema: Mapping[str, Any], value: Mapping[str, JSON],
                     path: tuple[Segment, ...], out: list[SchemaIssue]) -> None:  # fmt: skip
    properties: Mapping[str, Any] = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    keeps_unknown = bool(schema.get("x-kubernetes-preserve-unknown-fields")) or extra is True
    for name in schema.get("required") or ():
        if name not in value:
            out.append(SchemaIssue("schema", (*path, name), "is required but missing"))
    for key, item in value.items():
        sub = properties.get(key)
        if sub is not None:
            _validate(sub, item, (*path, key), out)
        elif isinstance(extra, Mapping):
            _validate(extra, item, (*path, key), out)
        elif not keeps_unknown and (properties or schema.get("type") == "object" or extra is False):
            close = difflib.get_close_matches(str(key), list(properties), n=1, cutoff=0.75)
            hint = f" (did you mean {close[0]}?)" if close else ""
            out.append(SchemaIssue("unknown-field", (*path, str(key)),
                                   f"is not a known field{hint}; the API server drops it silently"))  # fmt: skip


def _alternatives(keyword: str, options: Sequence[Mapping[str, Any]], value: JSON,
                  path: tuple[Segment, ...], out: list[SchemaIssue]) -> None:  # fmt: skip
    matching = 0
    for option in options:
        trial: list[SchemaIssue] = []
        _validate(option, value, path, trial)
        matching += not any(i.rule == "schema" for i in trial)
    if (keyword == "oneOf" and matching == 1) or (keyword == "anyOf" and matching >= 1):
        return
    required = [o["required"][0] for o in options if list(o) == ["required"] and o["required"]]
    types = [t for o in options if list(o) == ["type"] for t in _type_list(o["type"])]
    if types and all(list(o) == ["type"] for o in options):
        names = " or ".join(_TYPE_NAMES.get(t, t) for t in dict.fromkeys(types))
        out.append(SchemaIssue("schema", path, f"must be {names}, not {_what(value)}"))
    elif len(required) == len(options):
        out.append(SchemaIssue("schema", path, f"must set exactly one of {', '.join(required)}"))
    else:
        out.append(SchemaIssue("schema", path, f"matches {matching} of the {keyword} alternatives"))


def _bounds(schema: Mapping[str, Any], value: JSON, path: tuple[Segment, ...],
            out: list[SchemaIssue]) -> None:  # fmt: skip
    def fail(message: str) -> None:
        out.append(SchemaIssue("schema", path, message))

    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            fail(f"is {value}, below the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            fail(f"is {value}, above the maximum {schema['maximum']}")
    elif isinstance(value, list | Mapping):
        low, high = (
            ("minItems", "maxItems")
            if isinstance(value, list)
            else ("minProperties", "maxProperties")
        )
        if low in schema and len(value) < schema[low]:
            fail(f"has {len(value)} entries; at least {schema[low]} needed")
        if high in schema and len(value) > schema[high]:
            fail(f"has {len(value)} entries; at most {schema[high]} allowed")
    elif isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            fail(f"is shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
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


def _what(value: JSON) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {json.dumps(value)}"
    return json.dumps(value)


def _module_name(name: str) -> Iterator[SchemaIssue]:
    if name not in ("ambassador", "tls"):
        yield SchemaIssue("schema", ("metadata", "name"), f"is {json.dumps(name)}, but Emissary "
                          "reads only the Modules named ambassador and tls and ignores this one "
                          "(authentication is configured with an AuthService)")  # fmt: skip


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
            yield SchemaIssue("schema", ("metadata", "name"), f"{json.dumps(name)} is not {rule} "
                              "(lower-case letters, digits, '-'); the API server rejects it")  # fmt: skip
    if isinstance(namespace, str) and not (len(namespace) <= 63 and _DNS_LABEL.match(namespace)):
        yield SchemaIssue("schema", ("metadata", "namespace"),
                          f"{json.dumps(namespace)} is not a DNS-1123 label")  # fmt: skip


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
                yield SchemaIssue("unknown-field", ("metadata", str(key)),
                                  f"is not a field of ObjectMeta{hint}; the API server drops it silently")  # fmt: skip
    for field in ("labels", "annotations"):
        values = meta.get(field)
        if isinstance(values, Mapping):
            for key, value in values.items():
                if not isinstance(value, str):
                    yield SchemaIssue("schema", ("metadata", field, str(key)),
                                      f"must be a string, not {_what(value)} (quote it)")  # fmt: skip
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
    group: str, version: str, kind: str, body: Mapping[str, JSON]
) -> list[SchemaIssue]:
    builtin = _builtin()
    if builtin is None:
        return []
    name = builtin.by_gvk.get((group, version, kind))
    if name is None:
        served = builtin.kinds.get((group, kind))
        api = f"{group}/{version}" if group else version
        if served:
            use = ", ".join(f"{group}/{v}" if group else v for v in sorted(set(served)))
            message = f"{api} no longer serves {kind} in Kubernetes {builtin.version}; use {use}"
        else:
            known = sorted({k for g, k in builtin.kinds if g == group})
            close = difflib.get_close_matches(kind, known, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            message = f"{api} has no kind {kind}{hint}"
        return [SchemaIssue("schema", ("apiVersion",), message)]
    out: list[SchemaIssue] = []
    _validate(builtin.definitions[name], body, (), out)
    return out


def _type_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [t for t in value if t != "null"]
