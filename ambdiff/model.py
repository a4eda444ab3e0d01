"""The data every part of ambdiff reads: object identity, origins, field changes, diffs.

Small immutable types. Third-party result objects (API responses, YAML nodes, deepdiff
trees) are converted into these at their module's edge and never travel further.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

JSON = Any  # a decoded JSON/YAML value: dict, list, str, int, float, bool or None


@dataclass(frozen=True, order=True)
class ObjectId:
    """Identity of a Kubernetes object: (API group, kind, namespace, name)."""

    group: str
    kind: str
    namespace: str  # "" for cluster-scoped objects
    name: str

    def __str__(self) -> str:
        return (
            f"{self.kind} {self.namespace}/{self.name}"
            if self.namespace
            else (f"{self.kind} {self.name}")
        )

    @property
    def group_kind(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind


def split_api_version(api_version: str) -> tuple[str, str]:
    """`apps/v1` -> ("apps", "v1"); `v1` -> ("", "v1")."""
    group, _, version = api_version.rpartition("/")
    return group, version


@dataclass(frozen=True)
class Origin:
    """Where a desired object came from: a file (relative to the repository), the index of
    the YAML document in it and the document's first line (1-based); for a rendered object,
    the source file it was made from and the folder that was rendered."""

    file: str
    line: int = 1  # 0: not known (a Helm template's output has no line of its own)
    document: int = 0
    via: str = ""  # the folder rendered (kustomize, helm) to make it from `file`, if any

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where} via {self.via}" if self.via else where

    def as_json(self) -> dict[str, str | int]:
        return {"file": self.file, "line": self.line, **({"via": self.via} if self.via else {})}


@dataclass(frozen=True)
class Resource:
    """One Kubernetes object, from git (with an origin) or from the cluster (without)."""

    id: ObjectId
    api_version: str
    body: Mapping[str, JSON]
    origin: Origin | None = None

    @property
    def labels(self) -> Mapping[str, str]:
        """The labels; only those whose key and value are strings (a snapshot or a manifest
        that is not checked yet may hold others)."""
        meta = self.body.get("metadata")
        labels = meta.get("labels") if isinstance(meta, Mapping) else None
        if not isinstance(labels, Mapping):
            return {}
        if all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
            return labels
        return {k: v for k, v in labels.items() if isinstance(k, str) and isinstance(v, str)}


# ---- field paths -----------------------------------------------------------------------

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-]+")
# A list key's value is quoted (as a JSON string) when it would read as part of the path.
_QUOTED_VALUE = re.compile(r'[\x00-\x1f\x7f"\\\[\],=]|^$')


@dataclass(frozen=True)
class ListKey:
    """A list item matched by its merge key(s), e.g. `[name=web]` or `[kind=Mapping,name=api]`."""

    keys: tuple[tuple[str, JSON], ...]

    def __str__(self) -> str:
        return "[" + ",".join(f"{k}={_scalar(v)}" for k, v in self.keys) + "]"


Segment = str | int | ListKey


def _scalar(value: JSON) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if _QUOTED_VALUE.search(text) else text


def format_path(segments: tuple[Segment, ...]) -> str:
    """Render a path as the contract's dotted form:
    `spec.template.spec.containers[name=web].image`, `metadata.annotations["a/b"]`."""
    out: list[str] = []
    for segment in segments:
        if isinstance(segment, int):
            out.append(f"[{segment}]")
        elif isinstance(segment, ListKey):
            out.append(str(segment))
        elif _PLAIN_KEY.fullmatch(segment):
            out.append(f".{segment}" if out else segment)
        else:
            out.append(f"[{json.dumps(segment, ensure_ascii=False)}]")
    return "".join(out)


# ---- diffs -----------------------------------------------------------------------------


class Op(StrEnum):
    ADD = "add"
    CHANGE = "change"
    REMOVE = "remove"


MASK = "***"


class Sealed:
    """A secret value (ambdiff.secrets says which): equal to its value, shown as `***`.

    str, repr and format give `***`, copies share it, and json cannot encode it, so no
    message, log line or report can show one by mistake; `reveal` opens it."""

    __slots__ = ("_value",)

    def __init__(self, value: JSON) -> None:
        self._value = reveal(value)

    def reveal(self) -> JSON:
        return self._value

    def __eq__(self, other: object) -> bool:
        return bool(self._value == (other._value if isinstance(other, Sealed) else other))

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        try:
            return hash(self._value)
        except TypeError:  # a map or a list where a string belongs
            return hash(type(self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return MASK

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return MASK

    def __copy__(self) -> Sealed:
        return self

    def __deepcopy__(self, memo: object) -> Sealed:
        return self

    def __reduce__(self) -> Any:
        raise TypeError("a sealed value cannot be pickled")


def type_name(value: JSON) -> str:
    """What a value is, for a message (`a string`, `a list`, `null`), never the value itself:
    it may be a secret."""
    if isinstance(value, Sealed):
        value = value.reveal()
    for kind, name in (
        (bool, "a boolean"),
        (int, "a number"),
        (float, "a number"),
        (str, "a string"),
        (list, "a list"),
        (Mapping, "a mapping"),
    ):
        if isinstance(value, kind):
            return name
    return "null" if value is None else f"a {type(value).__name__}"


def reveal(value: JSON) -> JSON:
    """`value` with every sealed value in it opened: a plain copy."""
    if isinstance(value, Sealed):
        return value.reveal()
    if isinstance(value, Mapping):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Change:
    """One field that differs. `old` is the live value, `new` the value from git."""

    op: Op
    path: tuple[Segment, ...]
    old: JSON = MISSING
    new: JSON = MISSING
    masked: bool = False

    @property
    def path_str(self) -> str:
        return format_path(self.path)


class Status(StrEnum):
    ADDED = "added"  # in git, not live
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    REMOVED = "removed"  # live with this inventory's label, gone from git


@dataclass(frozen=True)
class ObjectDiff:
    id: ObjectId
    api_version: str
    status: Status
    origin: Origin | None
    changes: tuple[Change, ...] = ()
    # Normalised, masked bodies, for the unified-diff view; None where the side is absent,
    # and for an unchanged object (no view shows its bodies).
    desired: Mapping[str, JSON] | None = None
    live: Mapping[str, JSON] | None = None


@dataclass(frozen=True)
class DiffReport:
    objects: tuple[ObjectDiff, ...]
    # Objects that could not be compared, one sentence each (why, and what to do).
    errors: tuple[str, ...] = field(default=())

    @property
    def summary(self) -> dict[str, int]:
        counts = Counter(o.status for o in self.objects)
        return {status.value: counts.get(status, 0) for status in Status}

    @property
    def differs(self) -> bool:
        return any(o.status is not Status.UNCHANGED for o in self.objects)

    def __iter__(self) -> Iterator[ObjectDiff]:
        return iter(self.objects)
