"""Secret values never reach the terminal, a log or a file: only that they changed."""

from __future__ import annotations

import copy
from collections.abc import Mapping

from ambdiff.model import JSON, MISSING, Change, ObjectId

MASK = "***"
_SECRET_FIELDS = ("data", "stringData")


def is_secret(oid: ObjectId) -> bool:
    return oid.group == "" and oid.kind == "Secret"


def mask_change(change: Change) -> Change:
    """Replace the values of a change under `data`/`stringData` (or of the whole field)."""
    if not change.path or change.path[0] not in _SECRET_FIELDS:
        return change
    return Change(
        change.op, change.path,
        old=MISSING if change.old is MISSING else _masked(change.old),
        new=MISSING if change.new is MISSING else _masked(change.new),
        masked=True,
    )  # fmt: skip


def _masked(value: JSON) -> JSON:
    if isinstance(value, Mapping):
        return dict.fromkeys(value, MASK)
    return MASK


def mask_bodies(
    desired: Mapping[str, JSON] | None, live: Mapping[str, JSON] | None
) -> tuple[dict[str, JSON] | None, dict[str, JSON] | None]:
    """Masked copies for the unified-diff view: equal values show `***` on both sides,
    different ones `*** (live)` and `*** (git)`, so the diff still shows which changed."""
    want = copy.deepcopy(dict(desired)) if desired is not None else None
    have = copy.deepcopy(dict(live)) if live is not None else None
    for field in _SECRET_FIELDS:
        mine = want.get(field) if want else None
        theirs = have.get(field) if have else None
        keys = set(mine or {}) | set(theirs or {})
        for key in keys:
            a = (mine or {}).get(key, MISSING)
            b = (theirs or {}).get(key, MISSING)
            same = a == b
            if want is not None and isinstance(mine, dict) and a is not MISSING:
                mine[key] = MASK if same else f"{MASK} (git)"
            if have is not None and isinstance(theirs, dict) and b is not MISSING:
                theirs[key] = MASK if same else f"{MASK} (live)"
    return want, have
