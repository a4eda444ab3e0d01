"""Secret values never reach the terminal, a log or a file: only that they changed.

What is secret, by kind: every value of a Secret's `data` and `stringData`, and the OAuth2
client secret held inline in an Edge Stack Filter (`spec.OAuth2.secret`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ambdiff.model import JSON, MISSING, Change, ObjectId, Segment

MASK = "***"
ANY = "*"

Pattern = tuple[str, ...]
_SENSITIVE: dict[tuple[str, str], tuple[Pattern, ...]] = {
    ("", "Secret"): (("data", ANY), ("stringData", ANY)),
    ("getambassador.io", "Filter"): (("spec", "OAuth2", "secret"),),
}


def is_secret(oid: ObjectId) -> bool:
    """Whether objects of this kind hold values that must be masked."""
    return (oid.group, oid.kind) in _SENSITIVE


def _matches(segment: Segment, part: str) -> bool:
    return part == ANY or segment == part


def mask_change(oid: ObjectId, change: Change) -> Change:
    """The change with every secret value in it replaced by `***`: at a secret path, or
    inside a value added, changed or removed above one."""
    masked = False
    old, new = change.old, change.new
    for pattern in _SENSITIVE.get((oid.group, oid.kind), ()):
        depth = min(len(change.path), len(pattern))
        if not all(
            _matches(s, p) for s, p in zip(change.path[:depth], pattern[:depth], strict=True)
        ):
            continue
        rest = pattern[len(change.path) :]
        old, hit_old = _mask_in(old, rest)
        new, hit_new = _mask_in(new, rest)
        masked = masked or hit_old or hit_new
    if not masked:
        return change
    return Change(change.op, change.path, old=old, new=new, masked=True)


def _mask_in(value: JSON, rest: Pattern) -> tuple[JSON, bool]:
    """`value` with what `rest` names inside it masked (a copy), and whether anything was."""
    if value is MISSING:
        return value, False
    if not rest:
        return MASK, True
    if not isinstance(value, Mapping):
        return value, False
    out = dict(value)
    hit = False
    for key in list(out):
        if _matches(key, rest[0]):
            out[key], found = _mask_in(out[key], rest[1:])
            hit = hit or found
    return out, hit


def mask_bodies(
    oid: ObjectId, desired: Mapping[str, JSON] | None, live: Mapping[str, JSON] | None
) -> tuple[dict[str, JSON] | None, dict[str, JSON] | None]:
    """Masked copies for the unified-diff view: equal values show `***` on both sides,
    different ones `*** (live)` and `*** (git)`, so the diff still shows which changed."""
    want = copy.deepcopy(dict(desired)) if desired is not None else None
    have = copy.deepcopy(dict(live)) if live is not None else None
    for pattern in _SENSITIVE.get((oid.group, oid.kind), ()):
        _mask_pair(want, have, pattern)
    return want, have


def _mask_pair(want: Any, have: Any, pattern: Pattern) -> None:
    mine = want if isinstance(want, dict) else {}
    theirs = have if isinstance(have, dict) else {}
    head, rest = pattern[0], pattern[1:]
    keys = set(mine) | set(theirs) if head == ANY else {head}
    for key in keys:
        a, b = mine.get(key, MISSING), theirs.get(key, MISSING)
        if rest:
            _mask_pair(a, b, rest)
            continue
        same = a == b
        if a is not MISSING:
            mine[key] = MASK if same else f"{MASK} (git)"
        if b is not MISSING:
            theirs[key] = MASK if same else f"{MASK} (live)"
