"""Taking over objects that `kubectl apply` wrote: most clusters were filled
that way. Pure functions on live bodies.

kubectl's client-side apply records its fields in managedFields under the Update manager
`kubectl-client-side-apply`, and what it applied in the `last-applied-configuration`
annotation. A server-side apply by ambdiff neither owns those fields (so a field git drops
stays live forever) nor may change them without a conflict. Before its first write of such
an object, ambdiff rewrites managedFields as client-go's csaupgrade does: kubectl's fields
become ambdiff's Apply fields and kubectl's entry goes. Unlike csaupgrade, only the fields
the last-applied annotation records are taken (what the user wrote, the fields kubectl itself
would delete when git drops them), not those kubectl's entry holds because the server
defaulted them at creation: ambdiff never removes a default it did not write. `diff`
predicts the same removals before any write (docs/sync.md, "Objects applied with kubectl").

Objects applied with `kubectl apply --server-side` (the Apply manager `kubectl`) are taken
over the same way, whole: a server-side apply owns exactly what it applied. Without that the
first sync conflicts with `kubectl` on every field the server stores differently from how
git writes it (a dropped zero, a defaulted atomic struct such as an env var's `fieldRef`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ambdiff.differ import CLIENT_SIDE_APPLY, kubectls_apply, managed_fields, resolve_field
from ambdiff.model import JSON, Segment, reveal
from ambdiff.normalize import LAST_APPLIED


@dataclass(frozen=True)
class Takeover:
    """What ambdiff takes over from kubectl's client-side apply on its next write."""

    api_version: str  # of the fields below (managedFields entries are per version)
    fields: Mapping[str, Any]  # fieldsV1: kubectl's fields that last-applied records


def pending(body: Mapping[str, JSON]) -> Takeover | None:
    """The takeover a live object needs before ambdiff writes it; None when `kubectl apply`
    (client-side or server-side) owns nothing in it."""
    meta = body.get("metadata")
    if not isinstance(meta, Mapping):
        return None
    entries = [e for e in managed_fields(body) if kubectls_apply(e)]
    if not entries:
        return None
    # managedFields lists the most recent first; fields are per apiVersion.
    api_version = str(entries[0].get("apiVersion") or "")
    client_side: dict[str, Any] = {}
    server_side: dict[str, Any] = {}
    for entry in entries:
        if entry.get("apiVersion") == api_version and isinstance(entry.get("fieldsV1"), Mapping):
            _union(
                client_side if entry["manager"] == CLIENT_SIDE_APPLY else server_side,
                entry["fieldsV1"],
            )
    # A server-side apply owns exactly what it applied; a client-side one, also defaults.
    fields = _within(client_side, _last_applied(meta), ())
    _union(fields, server_side)
    return Takeover(api_version, fields)


def upgraded_managed_fields(
    body: Mapping[str, JSON], takeover: Takeover, manager: str
) -> list[dict[str, Any]]:
    """`body`'s managedFields with kubectl's client-side entries gone and the fields they
    recorded in `manager`'s Apply entry (created when it has none)."""
    entries = [dict(e) for e in managed_fields(body) if isinstance(e, Mapping)]
    kept = [e for e in entries if not kubectls_apply(e)]
    ours = next(
        (
            e
            for e in kept
            if e.get("manager") == manager
            and e.get("operation") == "Apply"
            and not e.get("subresource")
        ),
        None,
    )
    if not takeover.fields:
        return kept
    if ours is None:
        kept.insert(
            0,
            {
                "manager": manager,
                "operation": "Apply",
                "apiVersion": takeover.api_version,
                "fieldsType": "FieldsV1",
                "fieldsV1": dict(takeover.fields),
            },
        )
    elif ours.get("apiVersion") == takeover.api_version:
        fields = json.loads(json.dumps(ours.get("fieldsV1") or {}))
        _union(fields, takeover.fields)
        ours["fieldsV1"] = fields
    # (Fields of another version cannot be merged into ours; kubectl's entry goes anyway, so
    # they conflict no more, and ambdiff owns what it applies from now on.)
    return kept


def takeover_patch(body: Mapping[str, JSON], takeover: Takeover, manager: str) -> list[JSON]:
    """The JSON patch that performs the takeover; it carries the resourceVersion read, so
    the server refuses it (HTTP 409) if the object changed since (as csaupgrade does)."""
    meta = body.get("metadata") or {}
    return [
        {
            "op": "replace",
            "path": "/metadata/managedFields",
            "value": upgraded_managed_fields(body, takeover, manager),
        },
        {
            "op": "replace",
            "path": "/metadata/resourceVersion",
            "value": meta.get("resourceVersion", ""),
        },
    ]


def _last_applied(meta: Mapping[str, Any]) -> JSON:
    annotations = meta.get("annotations")
    # Only which fields it names is read here; on a Secret the annotation is sealed.
    text = reveal(annotations.get(LAST_APPLIED)) if isinstance(annotations, Mapping) else None
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _item(raw: str, path: tuple[Segment, ...], applied: JSON) -> tuple[Segment, JSON] | None:
    """A keyed list item of the applied configuration: the key fields it sets match (a key
    field the server defaults, such as a port's `protocol`, is not in what kubectl applied)."""
    if not isinstance(applied, list):
        return None
    keys = json.loads(raw[2:])
    for item in applied:
        if not isinstance(item, Mapping):
            continue
        given = [k for k in keys if k in item]
        if given and all(item[k] == keys[k] for k in given):
            found = resolve_field(raw, path, [{**item, **keys}])
            # Walk on in the item as applied: a defaulted key field is not taken over.
            return (found[0], item) if found else None
    return None


def _union(into: dict[str, Any], fields: Mapping[str, Any]) -> None:
    """Union of two fieldsV1 tries, in place."""
    for key, children in fields.items():
        if isinstance(children, Mapping):
            _union(into.setdefault(key, {}), children)
        else:
            into.setdefault(key, children)


def _within(fields: Mapping[str, Any], applied: JSON, path: tuple[Segment, ...]) -> dict[str, Any]:
    """The part of a fieldsV1 trie that names fields present in `applied` (kubectl's
    last-applied configuration)."""
    out: dict[str, Any] = {}
    for raw, children in fields.items():
        if raw == ".":
            out["."] = children
            continue
        found = _item(raw, path, applied) if raw.startswith("k:") else None
        found = found or resolve_field(raw, path, applied)
        if found is None:
            continue
        segment, value = found
        if isinstance(children, Mapping) and any(k != "." for k in children):
            inner = _within(children, value, (*path, segment))
            if inner:
                out[raw] = inner
        else:
            out[raw] = children
    return out
