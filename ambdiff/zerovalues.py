"""Which fields of the built-in kinds the API server drops when they hold their zero value.

A field whose Go type is a non-pointer bool, number or string with `omitempty` is never
stored or returned at its zero value: git's `minReadySeconds: 0` or `hostNetwork: false`
comes back as no field at all. Pointer fields (`replicas`, PodSpec's
`automountServiceAccountToken`) keep their zero, so an absent field there is a real
difference. The table in `ambdiff/data/zero-omitted.json` is generated from the Go types of
the pinned Kubernetes version by `tools/zero-fields`; kinds it does not name (custom
resources) have no such fields here.

Table format: `kinds` maps "<group>/<version>/<Kind>" (group "" for core) to a type name;
`types` maps a type name to its fields, each `true` (dropped at zero), a type name (descend),
`{"[]": ...}` (list items) or `{"{}": ...}` (map values).
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from ambdiff.model import split_api_version

_DATA = "zero-omitted.json"
_LIST_ITEMS = "[]"
_MAP_VALUES = "{}"


@cache
def _table() -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """The packaged table: (kinds, types)."""
    raw = files("ambdiff").joinpath("data", _DATA).read_text(encoding="utf-8")
    data = json.loads(raw)
    return data["kinds"], data["types"]


def dropped_at_zero(api_version: str, kind: str, path: tuple[str | int | object, ...]) -> bool:
    """True when `path` (as the differ builds it: str for mapping keys, an int or a ListKey
    for a list item) ends at a field the API server omits when it holds its zero value.

    A str segment under a map-typed field is a map key. Unknown kinds, versions and paths
    (custom resources included) answer False."""
    kinds, types = _table()
    group, version = split_api_version(api_version)
    node: Any = kinds.get(f"{group}/{version}/{kind}")
    if node is None or not path:
        return False
    for segment in path:
        if isinstance(node, str):  # a struct: the segment names one of its fields
            fields = types.get(node)
            if fields is None or not isinstance(segment, str):
                return False
            node = fields.get(segment)
        elif isinstance(node, dict) and _LIST_ITEMS in node:
            if isinstance(segment, str):
                return False
            node = node[_LIST_ITEMS]
        elif isinstance(node, dict) and _MAP_VALUES in node:
            if not isinstance(segment, str):
                return False
            node = node[_MAP_VALUES]
        else:  # a leaf (or nothing): the path goes on below it
            return False
        if node is None:
            return False
    return node is True


def zero_value(value: object) -> bool:
    """True for the zero values such a field loses: False, 0, 0.0 and "".

    None is not a zero value (null is handled as an absent field elsewhere). The check does
    not compare the value's type with the field's Go type: a `0` where a bool belongs (or
    `False` where a number belongs) counts as zero too, since the table already says the
    field is a scalar and the API server would reject the wrong type anyway."""
    if isinstance(value, bool):
        return value is False
    if isinstance(value, int | float):
        return value == 0
    return isinstance(value, str) and value == ""
