"""Compare a desired object with its live counterpart, field by field, into `Change`s.

Semantics (docs/diff.md, "What counts as a difference"): every field git sets is compared with the live
value; lists are matched by merge key; quantities and int-or-string values compare by
meaning; fields only live are server defaults, except those ambdiff's field manager owns
(from managedFields) but git no longer sets; the `getambassador.io/config` annotation is
compared document by document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal, localcontext
from typing import Any

from ambdiff.ambassador import parse_annotation
from ambdiff.kinds import AMBASSADOR_ANNOTATION, merge_key
from ambdiff.model import JSON, MISSING, Change, ListKey, Op, Sealed, Segment
from ambdiff.normalize import FIELD_MANAGER
from ambdiff.secrets import seal_flat
from ambdiff.yamlio import YamlSyntaxError
from ambdiff.zerovalues import zero_value

Path = tuple[Segment, ...]
Omitted = Callable[[Path], bool]


def compare(
    desired: Mapping[str, JSON],
    live: Mapping[str, JSON],
    *,
    symmetric: bool,
    omitted: Omitted | None = None,
) -> list[Change]:
    """Changes that turn `live` into `desired`. With `symmetric`, fields only live are
    removals too (used to compare live with a server-side dry-run result). `omitted(path)`:
    the field is one the API server drops at its zero value (`minReadySeconds: 0`), so git's
    zero and no field live are the same."""
    changes: list[Change] = []
    _walk((), desired, live, changes, symmetric, omitted)
    return changes


def sort_changes(changes: Iterable[Change]) -> list[Change]:
    """Changes ordered by path (keys by name, list items by index or merge key): one stable
    order, whichever way they were found."""
    return sorted(changes, key=lambda c: tuple(_segment_order(s) for s in c.path))


def _segment_order(segment: Segment) -> tuple[int, str, int]:
    if isinstance(segment, str):
        return (0, segment, 0)
    if isinstance(segment, int):
        return (1, "", segment)
    return (2, str(segment), 0)


def _walk(
    path: Path,
    want: JSON,
    have: JSON,
    out: list[Change],
    symmetric: bool,
    omitted: Omitted | None,
) -> None:
    if want == have:
        return  # the common case, decided in C (docs/performance.md)
    if _empty(want) and _empty(have):
        return  # `rules: []` in git is read back as `rules: null` (docs/diff.md)
    if isinstance(want, Mapping) and isinstance(have, Mapping):
        for key, value in want.items():
            sub = (*path, key)
            if key not in have:
                if not _empty(value) and not _dropped(value, sub, omitted):
                    out.append(Change(Op.ADD, sub, new=value))
            elif path == ("metadata", "annotations") and key == AMBASSADOR_ANNOTATION:
                _compare_annotation(sub, value, have[key], out)
            else:
                _walk(sub, value, have[key], out, symmetric, omitted)
        if symmetric:
            out.extend(
                Change(Op.REMOVE, (*path, k), old=v)
                for k, v in have.items()
                if k not in want and not _empty(v)
            )
    elif isinstance(want, list) and isinstance(have, list):
        _walk_list(path, want, have, out, symmetric, omitted)
    elif want is not None and want != have and not same_meaning(want, have, path):
        out.append(Change(Op.CHANGE, path, old=have, new=want))


def _walk_list(
    path: Path,
    want: list[JSON],
    have: list[JSON],
    out: list[Change],
    symmetric: bool,
    omitted: Omitted | None,
) -> None:
    pairs = pair_items(path, want, have)
    if pairs is None:
        # The API server keeps an empty list as no field at all (as the server-side dry run
        # shows): applying it removes the live value. Otherwise the list changes whole.
        out.append(
            Change(Op.REMOVE, path, old=have)
            if not want
            else Change(Op.CHANGE, path, old=have, new=want)
        )
        return
    for segment, w, h in pairs:
        if h is MISSING:
            out.append(Change(Op.ADD, (*path, segment), new=w))
        elif w is MISSING:
            if symmetric:
                out.append(Change(Op.REMOVE, (*path, segment), old=h))
        else:
            _walk((*path, segment), w, h, out, symmetric, omitted)


def pair_items(
    path: Path, want: list[JSON], have: list[JSON]
) -> list[tuple[Segment, JSON, JSON]] | None:
    """The items of git's list and the live one, paired as the API server merges them: the
    one list matcher of `compare`, `project` and `align`. A list with a merge key (kinds.
    merge_key) pairs items by it: git's items in git's order, each with its live item or
    MISSING, then the items only live (desired MISSING); the segment names the item by its
    key (`ports[port=80]`); keys are unique on each side (or the list has no merge key). Any other list pairs items by position when the lengths agree;
    None when they do not (such a list is replaced whole)."""
    field = path[-1] if path and isinstance(path[-1], str) else None
    key = merge_key(field, want, have)
    if key is None:
        if len(want) != len(have):
            return None
        return [(index, w, h) for index, (w, h) in enumerate(zip(want, have, strict=True))]
    live = {json.dumps(item[key]): item for item in have}
    wanted = set()
    pairs: list[tuple[Segment, JSON, JSON]] = []
    for item in want:
        ident = json.dumps(item[key])
        wanted.add(ident)
        pairs.append((ListKey(((key, item[key]),)), item, live.get(ident, MISSING)))
    pairs.extend(
        (ListKey(((key, item[key]),)), MISSING, item)
        for ident, item in live.items()
        if ident not in wanted
    )
    return pairs


def _dropped(value: JSON, path: Path, omitted: Omitted | None) -> bool:
    return omitted is not None and zero_value(value) and omitted(path)


def _empty(value: JSON) -> bool:
    """An empty map, list or null in git is the same as the field being absent live."""
    return value is None or value == {} or value == []


# ---- the Ambassador annotation -------------------------------------------------------


def annotation_documents(text: JSON) -> dict[tuple[str, str], JSON] | None:
    """The documents of a `getambassador.io/config` annotation by (kind, name), their
    secret values sealed; None when it is not YAML holding mappings (then it is compared as
    a plain string)."""
    if isinstance(text, Sealed):
        text = text.reveal()
    if not isinstance(text, str):
        return None
    try:
        docs = parse_annotation(text, "annotation")
    except YamlSyntaxError:
        return None
    out: dict[tuple[str, str], JSON] = {}
    for doc in docs:
        if not isinstance(doc.data, Mapping):
            return None
        out[(str(doc.data.get("kind", "")), str(doc.data.get("name", "")))] = seal_flat(doc.data)
    return out


def _compare_annotation(path: Path, want: JSON, have: JSON, out: list[Change]) -> None:
    if want == have:
        return
    mine = annotation_documents(want)
    theirs = annotation_documents(have)
    if mine is None or theirs is None:
        out.append(Change(Op.CHANGE, path, old=have, new=want))
        return
    for (kind, name), doc in mine.items():
        sub = (*path, ListKey((("kind", kind), ("name", name))))
        if (kind, name) in theirs:
            # Nothing defaults fields inside an annotation: compare both ways.
            _walk(sub, doc, theirs[(kind, name)], out, True, None)
        else:
            out.append(Change(Op.ADD, sub, new=doc))
    out.extend(
        Change(Op.REMOVE, (*path, ListKey((("kind", kind), ("name", name)))), old=doc)
        for (kind, name), doc in theirs.items()
        if (kind, name) not in mine
    )


# ---- equality by meaning -------------------------------------------------------------

_QUANTITY_CONTEXT = frozenset(
    {
        "limits",
        "requests",
        "hard",
        "capacity",
        "overhead",
        "sizeLimit",
        "storage",
        "averageValue",
        "divisor",
    }
)
_QUANTITY = re.compile(
    r"^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$"
)
_SUFFIX = {
    "": Decimal(1), "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
    "P": Decimal("1e15"), "E": Decimal("1e18"),
    "Ki": Decimal(2**10), "Mi": Decimal(2**20), "Gi": Decimal(2**30), "Ti": Decimal(2**40),
    "Pi": Decimal(2**50), "Ei": Decimal(2**60),
}  # fmt: skip


# Kubernetes caps a quantity at 2^63-1 and three decimals (resource.Quantity); a longer text
# or a larger exponent is compared as text, not computed with (`1e9999999` would overflow).
MAX_QUANTITY_CHARS = 64
MAX_QUANTITY_EXPONENT = 64
_QUANTITY_CONTEXT_PRECISION = 2 * MAX_QUANTITY_CHARS + MAX_QUANTITY_EXPONENT


def parse_quantity(value: JSON) -> Decimal | None:
    """A Kubernetes resource quantity (`500m`, `1Gi`, `2e3`, 1.5) as a finite number, else
    None (also for one too long or too large to be a real quantity)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    text = safe_text(value)
    if text is None or len(text) > MAX_QUANTITY_CHARS:
        return None
    match = _QUANTITY.match(text.strip())
    if not match:
        return None
    number, suffix = match.group(1), match.group(2) or ""
    with localcontext() as context:
        context.prec = _QUANTITY_CONTEXT_PRECISION
        try:
            if suffix in _SUFFIX:
                result = Decimal(number) * _SUFFIX[suffix]
            else:
                exponent = int(suffix[1:])
                if abs(exponent) > MAX_QUANTITY_EXPONENT:
                    return None
                result = Decimal(number).scaleb(exponent)
        except (ArithmeticError, ValueError):
            return None
    return result if result.is_finite() else None


def safe_text(value: JSON) -> str | None:
    """`str(value)` for a str, int or float; None for an int too long for str() (Python
    refuses to convert more than sys.get_int_max_str_digits() digits)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > _INT_BITS:
        return None
    try:
        return str(value)
    except ValueError:
        return None


# Below this many bits an int always converts to str (4300 digits, Python's default limit).
_INT_BITS = 14_000


def same_meaning(want: JSON, have: JSON, path: Path = ()) -> bool:
    """int-or-string (`8080` and "8080") and, under resource fields, quantities
    (`1000m` and `1`, `1Gi` and `1024Mi`) are equal by meaning."""
    if isinstance(want, bool) or isinstance(have, bool):
        return False
    if isinstance(want, (int, str)) and isinstance(have, (int, str)):
        text = safe_text(want)
        if text is not None and text == safe_text(have):
            return True
    # A HorizontalPodAutoscaler's metric `target.value` is a quantity too.
    if path[-2:] == ("target", "value") or any(
        isinstance(s, str) and s in _QUANTITY_CONTEXT for s in path
    ):
        a, b = parse_quantity(want), parse_quantity(have)
        return a is not None and a == b
    return False


# ---- removals ambdiff owns -----------------------------------------------------------


def owned_removals(
    desired: Mapping[str, JSON],
    live: Mapping[str, JSON],
    managed_fields: Sequence[Any],
    manager: str = FIELD_MANAGER,
    *,
    taken_over: Sequence[Mapping[str, Any]] = (),
) -> list[Change]:
    """Fields that `manager` applied (per managedFields) and git no longer sets: what the
    next server-side apply removes. `live` is the normalised live object. `taken_over`:
    field sets ambdiff takes over before it applies (`kubectl apply`'s, see
    ambdiff.takeover); their entries in managedFields are not another manager's. A field that
    another manager also owns stays: it is not reported."""
    ours: list[Mapping[str, Any]] = list(taken_over)
    others: list[Mapping[str, Any]] = []
    for entry in managed_fields or ():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("fieldsV1"), Mapping):
            continue
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            ours.append(entry["fieldsV1"])
        elif not (taken_over and kubectls_apply(entry)):
            others.append(entry["fieldsV1"])
    seen: set[Path] = set()
    changes: list[Change] = []
    for fields in ours:
        for path, value in _owned_missing(fields, others, (), desired, live):
            if path not in seen and not any(path[: len(p)] == p for p in seen):
                seen.add(path)
                changes.append(Change(Op.REMOVE, path, old=value))
    return changes


# The manager `kubectl apply` (client-side) records its fields under: ambdiff takes them
# over (ambdiff.takeover), so with a takeover pending it is not "another manager".
CLIENT_SIDE_APPLY = "kubectl-client-side-apply"
# ... and the one `kubectl apply --server-side` applies as (Flux strips both the same way).
KUBECTL_APPLY = "kubectl"


def managed_fields(body: Mapping[str, Any]) -> list[Any]:
    """A live object's metadata.managedFields: a list, or nothing (a hand-made `--live-file`
    may hold anything there)."""
    meta = body.get("metadata")
    entries = meta.get("managedFields") if isinstance(meta, Mapping) else None
    return entries if isinstance(entries, list) else []


def kubectls_apply(entry: Any) -> bool:
    """A managedFields entry of `kubectl apply`: client-side (an Update by
    kubectl-client-side-apply) or server-side (an Apply by kubectl). Not `kubectl edit`,
    `scale` or `patch`: those are changes by hand, whose conflicts ambdiff reports."""
    if not isinstance(entry, Mapping) or entry.get("subresource"):
        return False
    manager, operation = entry.get("manager"), entry.get("operation")
    return (manager, operation) in ((CLIENT_SIDE_APPLY, "Update"), (KUBECTL_APPLY, "Apply"))


def _owned_missing(
    fields: Mapping[str, Any],
    others: Sequence[Mapping[str, Any]],
    path: Path,
    want: JSON,
    have: JSON,
) -> Iterator[tuple[Path, JSON]]:
    """Walk a fieldsV1 tree alongside the live and desired objects (and the same level of
    the other managers' trees); yield the first owned level that live has, git lacks and no
    other manager owns any part of. A map git dropped whole is walked into, as the server
    removes only the keys it owned."""
    for raw, children in fields.items():
        if raw == ".":
            continue
        found = resolve_field(raw, path, have)
        if found is None:
            continue  # not live (normalised away or already gone)
        segment, live_value = found
        desired_value = _lookup(want, segment)
        theirs = [o[raw] for o in others if isinstance(o, Mapping) and raw in o]
        deeper = isinstance(children, Mapping) and any(k != "." for k in children)
        # A list item owned itself ("." under `k:`/`v:`/`i:`) goes whole; a map or struct
        # (`f:`) loses only the keys owned inside it.
        whole = not deeper or (not raw.startswith("f:") and "." in children)
        if desired_value is MISSING and not theirs and whole:
            yield (*path, segment), live_value
        elif deeper and desired_value != live_value:
            # (Equal subtrees lack nothing: skip the walk.)
            subs = [t for t in theirs if isinstance(t, Mapping)]
            yield from _owned_missing(children, subs, (*path, segment), desired_value, live_value)


def resolve_field(raw: str, path: Path, have: JSON) -> tuple[Segment, JSON] | None:
    """The path segment and value that one fieldsV1 key (`f:name`, `k:{...}`, `v:...`,
    `i:N`) names in `have`, found at `path`; None when `have` has nothing there."""
    prefix, _, rest = raw.partition(":")
    if prefix == "f" and isinstance(have, Mapping) and rest in have:
        return rest, have[rest]
    if not isinstance(have, list):
        return None
    if prefix == "k":
        keys = json.loads(rest)
        for index, item in enumerate(have):
            if isinstance(item, Mapping) and all(item.get(k) == v for k, v in keys.items()):
                return _item_segment(path, have, index), item
    elif prefix == "v":
        value = json.loads(rest)
        if value in have:
            return have.index(value), value
    elif prefix == "i" and rest.isdigit() and int(rest) < len(have):
        return int(rest), have[int(rest)]
    return None


def _item_segment(path: Path, items: list[JSON], index: int) -> Segment:
    """Name a list item the way `compare` does (pair_items), so both modes report the same
    path. (managedFields name items themselves, `k:{"port":80}`: resolve_field finds the
    live item, and this its segment.)"""
    field = path[-1] if path and isinstance(path[-1], str) else None
    key = merge_key(field, items)
    return ListKey(((key, items[index][key]),)) if key else index


def _lookup(node: JSON, segment: Segment) -> JSON:
    if isinstance(segment, str):
        return node.get(segment, MISSING) if isinstance(node, Mapping) else MISSING
    if not isinstance(node, list):
        return MISSING
    if isinstance(segment, int):
        return node[segment] if segment < len(node) else MISSING
    (key, value), *_ = segment.keys
    for item in node:
        if isinstance(item, Mapping) and item.get(key) == value:
            return item
    return MISSING


# ---- the unified-diff view -----------------------------------------------------------


def project(live: JSON, desired: JSON, path: Path = (), omitted: Omitted | None = None) -> JSON:
    """`live` cut down to the fields `desired` sets (lists matched as `compare` does), so a
    unified diff shows what git manages rather than every server default. A zero the
    server drops (`omitted`) shows as git has it: it is no difference."""
    if live == desired:
        return live
    if isinstance(live, Mapping) and isinstance(desired, Mapping):
        return {
            k: project(live[k], w, (*path, k), omitted) if k in live else w
            for k, w in desired.items()
            if k in live or _dropped(w, (*path, k), omitted)
        }
    if isinstance(live, list) and isinstance(desired, list):
        pairs = pair_items(path, desired, live)
        if pairs is None:
            return live
        return [
            project(h, w, (*path, segment), omitted)
            for segment, w, h in pairs
            if w is not MISSING and h is not MISSING
        ]
    if live != desired and same_meaning(desired, live, path):
        return desired  # `1000m` live and `1` in git are not a difference: show them alike
    return live


def align(live: JSON, desired: JSON, path: Path = ()) -> JSON:
    """`live` whole, its keyed lists in `desired`'s order (items only live last), so that a
    unified diff of live and a dry-run result shows no reordering `compare` ignores."""
    if isinstance(live, Mapping) and isinstance(desired, Mapping):
        return {k: align(v, desired[k], (*path, k)) if k in desired else v for k, v in live.items()}
    if isinstance(live, list) and isinstance(desired, list):
        pairs = pair_items(path, desired, live)
        if pairs is None:
            return live
        return [
            h if w is MISSING else align(h, w, (*path, segment))
            for segment, w, h in pairs
            if h is not MISSING
        ]
    return live


def remove_at(doc: JSON, path: Path) -> None:
    """Remove the field or list item at `path` from `doc`, in place (nothing when absent)."""
    node = doc
    for segment in path[:-1]:
        node = _lookup(node, segment)
        if node is MISSING:
            return
    last = path[-1]
    if isinstance(last, str):
        if isinstance(node, dict):
            node.pop(last, None)
    elif isinstance(node, list):
        item = _lookup(node, last)
        if item is not MISSING:
            node.remove(item)


def graft(target: dict[str, JSON], source: Mapping[str, JSON], path: Path) -> None:
    """Copy the value at `path` in `source` into `target` (creating parents), so removals
    show in the projected view."""
    node: Any = target
    src: Any = source
    for depth, segment in enumerate(path):
        value = _lookup(src, segment)
        if value is MISSING:
            return
        last = depth == len(path) - 1
        if isinstance(segment, str):
            if last or segment not in node:
                node[segment] = value if last else ({} if isinstance(value, Mapping) else [])
            node = node[segment]
        else:
            if last:
                node.append(value)
                return
            existing = _lookup(node, segment)
            if existing is MISSING:
                existing = dict(segment.keys) if isinstance(segment, ListKey) else {}
                if not isinstance(value, Mapping):
                    existing = []
                node.append(existing)
            node = existing
        src = value
