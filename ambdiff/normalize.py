"""The one normalisation applied to both sides of every comparison. Pure functions.

Each rule is pinned by a test in tests/unit/test_normalize.py.
"""

from __future__ import annotations

import base64
import copy
import marshal
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from ambdiff.model import JSON, ObjectId, Sealed, reveal

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MANAGED_BY = "app.kubernetes.io/managed-by"
INVENTORY_LABEL = "ambdiff.io/inventory"
FIELD_MANAGER = "ambdiff"

_SERVER_METADATA = frozenset(
    (
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "managedFields",
        "selfLink",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    )
)


def without_server_fields(body: Mapping[str, JSON]) -> dict[str, JSON]:
    """`body` without what `normalize` drops first (status, managedFields and the other
    server metadata), shallow: the body itself is left as it was."""
    out: dict[str, JSON] = {k: v for k, v in body.items() if k != "status"}
    meta = out.get("metadata")
    if isinstance(meta, Mapping):
        out["metadata"] = {k: v for k, v in meta.items() if k not in _SERVER_METADATA}
    return out


def normalize(
    oid: ObjectId, body: Mapping[str, JSON], ignore: Sequence[str] = ()
) -> dict[str, JSON]:
    """A deep copy of `body` without what the server owns, ambdiff's own ownership labels,
    and the fields the user's ignore rules name (JSON pointers; `*` matches any key or item).
    Secret `stringData` is folded into base64 `data`, as the API server stores it."""
    # Leave out what is dropped anyway before copying: managedFields is often the bulk of a
    # live object (docs/performance.md).
    out = json_copy(without_server_fields(body))
    _tame_huge_ints(out)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        if not oid.namespace:
            # Cluster-scoped: the API server drops a namespace git sets by mistake.
            meta.pop("namespace", None)
        _drop_key(meta, "annotations", LAST_APPLIED)
        labels = meta.get("labels")
        if isinstance(labels, dict):
            labels.pop(INVENTORY_LABEL, None)
            if labels.get(MANAGED_BY) == FIELD_MANAGER:
                labels.pop(MANAGED_BY)
        for key in ("annotations", "labels"):
            if meta.get(key) == {}:
                meta.pop(key)
    if oid.group == "" and oid.kind == "Secret":
        _fold_string_data(out)
    if oid.group == "" and oid.kind == "Namespace" and isinstance(meta, dict):
        # The API server sets this label on every Namespace, recorded under whichever
        # manager wrote last; it is never git's to set or remove.
        _drop_key(meta, "labels", "kubernetes.io/metadata.name")
        if meta.get("labels") == {}:
            meta.pop("labels")
    for pointer in ignore:
        remove_pointer(out, pointer)
    return out


def json_copy(value: dict[str, JSON]) -> dict[str, JSON]:
    """A deep copy of JSON-like data (dicts, lists, str, int, float, bool, None), through
    marshal: about four times faster than copy.deepcopy. Anything else is deep-copied."""
    try:
        copied: dict[str, JSON] = marshal.loads(marshal.dumps(value))
    except ValueError:  # a type marshal does not know
        return copy.deepcopy(value)
    return copied


# Python refuses str() of an int longer than 4300 digits (sys.get_int_max_str_digits), and
# so does every renderer and json.dumps; no Kubernetes field holds one (int64 at most).
_HUGE_INT_BITS = 14_000


def _tame_huge_ints(node: JSON) -> None:
    """Replace, in place, each int too long for str() with its decimal digits as a string
    (exact, so both sides still compare equal when they hold the same number)."""
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, value in items:
        kind = type(value)
        if kind is dict or kind is list:
            _tame_huge_ints(value)
        elif kind is int and value.bit_length() > _HUGE_INT_BITS:
            node[key] = format(Decimal(value), "f")


def _drop_key(meta: dict[str, Any], field: str, key: str) -> None:
    values = meta.get(field)
    if isinstance(values, dict):
        values.pop(key, None)


def _fold_string_data(secret: dict[str, JSON]) -> None:
    data = secret.get("data")
    if isinstance(data, dict):
        # An empty value is stored as "" and older dumps show it as null: the same bytes.
        for key, value in data.items():
            if value is None:
                data[key] = ""
    string_data = secret.pop("stringData", None)
    if not isinstance(string_data, Mapping) or not string_data:
        return
    data = secret.get("data")
    merged = dict(data) if isinstance(data, Mapping) else {}
    for key, value in string_data.items():
        plain = base64.b64encode(str(reveal(value)).encode()).decode()
        merged[key] = Sealed(plain) if isinstance(value, Sealed) else plain
    secret["data"] = merged


def remove_pointer(doc: JSON, pointer: str) -> None:
    """Remove what a JSON pointer (RFC 6901, plus `*` for any key or item) names, in place.
    A pointer that names nothing is not an error: the field may be absent on one side."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("/").split("/")]
    if parts == [""]:
        return
    _remove(doc, parts)


def _remove(node: JSON, parts: list[str]) -> None:
    head, rest = parts[0], parts[1:]
    if isinstance(node, dict):
        keys = list(node) if head == "*" else [head] if head in node else []
        for key in keys:
            if rest:
                _remove(node[key], rest)
            else:
                del node[key]
    elif isinstance(node, list):
        if head == "*":
            indexes = list(range(len(node)))
        elif head.isdigit() and int(head) < len(node):
            indexes = [int(head)]
        else:
            indexes = []
        for index in reversed(indexes):
            if rest:
                _remove(node[index], rest)
            else:
                del node[index]


def as_applied(oid: ObjectId, body: Mapping[str, JSON], inventory: str) -> dict[str, JSON]:
    """The object exactly as `sync` sends it: namespace filled in, ownership labels added.
    The server-side diff dry-runs this same body, so both agree on what a sync does."""
    out = json_copy(dict(body))
    meta = out.setdefault("metadata", {})
    if oid.namespace:
        meta["namespace"] = oid.namespace
    else:
        meta.pop("namespace", None)  # cluster-scoped: the server would drop it
    labels = meta.get("labels") or {}
    # A managed-by that git sets itself is git's to say; ownership is the inventory label.
    meta["labels"] = {MANAGED_BY: FIELD_MANAGER, **labels, INVENTORY_LABEL: inventory}
    return out
