"""Secret values never reach the terminal, a log, a message or a file: only that they changed.

What is secret: every value of a Secret's `data` and `stringData` (the whole field when it is
not a map); the OAuth2 client secret held inline in an Edge Stack Filter (`spec.OAuth2.secret`,
or the `secret` of an `OAuth2` map anywhere in a Filter), also when the Filter is written in a
Service's or Ingress's `getambassador.io/config` annotation (then that annotation is secret as
a whole); and kubectl's last-applied-configuration annotation on any of these (it copies the
same values).

Redaction holds by construction. `seal` runs where objects enter ambdiff — a manifest or
`--live-file` as it is parsed (ambdiff.manifests, ambdiff.ambassador), an API answer as it is
decoded (ambdiff.cluster) — and wraps each secret value in a `Sealed`: it compares as its value
but prints, formats and reprs as `***`, and json cannot encode it. So no message, finding, log
line or renderer can show one. Only two places open them: the cluster client as it sends a
body to the API server, and `diff --show-secrets` (`reveal_secrets=True`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ambdiff.ambassador import parse_annotation
from ambdiff.kinds import AMBASSADOR_ANNOTATION, AMBASSADOR_GROUP
from ambdiff.model import JSON, MASK, MISSING, Change, Sealed, reveal, split_api_version
from ambdiff.normalize import LAST_APPLIED
from ambdiff.yamlio import YamlSyntaxError, dump, load_documents

Pattern = tuple[str, ...]
# (group, kind) -> where its secret values are. A map at the end of a pattern is sealed value
# by value (a diff then says which key changed); anything else is sealed whole.
_SENSITIVE: dict[tuple[str, str], tuple[Pattern, ...]] = {
    ("", "Secret"): (("data",), ("stringData",)),
    # and the `secret` of every `OAuth2` map, at any depth (see _seal_oauth2)
    (AMBASSADOR_GROUP, "Filter"): (),
}
_MAP_OF_SECRETS = frozenset({("data",), ("stringData",)})
# Emissary reads the annotation only on these (ambdiff.ambassador.ANNOTATED_KINDS).
_ANNOTATED = frozenset(
    {("", "Service"), ("networking.k8s.io", "Ingress"), ("extensions", "Ingress")}
)


def may_hold_secrets(group: str, kind: str) -> bool:
    """Whether objects of this kind can carry sealed values (cheap; no look inside)."""
    return (group, kind) in _SENSITIVE or (group, kind) in _ANNOTATED


def seal(body: JSON, group: str | None = None, kind: str | None = None) -> JSON:
    """`body` with every secret value in it sealed: a copy along the changed paths, the
    same object when it holds none. `group` and `kind` default to the body's own."""
    if not isinstance(body, Mapping):
        return body
    if kind is None:
        kind = body.get("kind") if isinstance(body.get("kind"), str) else ""
        api_version = body.get("apiVersion")
        group = split_api_version(api_version)[0] if isinstance(api_version, str) else ""
    key = (group or "", kind)
    if key in _SENSITIVE:
        out = dict(body)
        for pattern in _SENSITIVE[key]:
            _seal_at(out, pattern, whole=pattern not in _MAP_OF_SECRETS)
        if kind == "Filter":
            out, _ = _seal_oauth2(out)
        return _seal_last_applied(out)
    if key in _ANNOTATED:
        return _seal_annotated(body)
    return body


def seal_response(data: JSON) -> JSON:
    """An API answer with every object in it sealed: an object, or a List of them (whose
    items name no kind of their own)."""
    if not isinstance(data, Mapping):
        return data
    kind = data.get("kind")
    items = data.get("items")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
        api_version = data.get("apiVersion")
        group = split_api_version(api_version)[0] if isinstance(api_version, str) else ""
        item_kind = kind.removesuffix("List")
        if not may_hold_secrets(group, item_kind):
            return data
        return {**data, "items": [seal(item, group, item_kind) for item in items]}
    return seal(data)


def seal_flat(doc: Mapping[str, JSON]) -> Mapping[str, JSON]:
    """An annotation document (flat form) with its secret values sealed: a Filter's OAuth2
    secret, and a Secret's data (Emissary reads no Secret there, but the text holds it)."""
    if doc.get("kind") == "Secret":
        out = dict(doc)
        hits = [_seal_at(out, pattern, whole=False) for pattern in _SENSITIVE[("", "Secret")]]
        return out if any(hits) else doc
    if doc.get("kind") != "Filter":
        return doc
    out, hit = _seal_oauth2(doc)
    return out if hit else doc


class SealedText(Sealed):
    """A `getambassador.io/config` annotation that holds a secret: shown as its documents
    with the secret values masked."""

    __slots__ = ()

    def shown(self, tag: str = "") -> str:
        try:
            docs = load_documents(str(self.reveal()), "annotation")
        except YamlSyntaxError:
            return f"{MASK} (not valid YAML, and it may hold a secret){tag}"
        parts = []
        for doc in docs:
            data = seal_flat(doc.data) if isinstance(doc.data, Mapping) else doc.data
            parts.append(dump(_masked(data, tag)))
        return "---\n".join(parts)


# ---- what a report may show ----------------------------------------------------------


def shown(value: JSON, *, reveal_secrets: bool = False) -> JSON:
    """`value` fit to print: sealed values as `***`, or (--show-secrets) as they are."""
    return reveal(value) if reveal_secrets else _masked(value, "")


def shown_change(change: Change, *, reveal_secrets: bool = False) -> Change:
    """The change fit to print; `masked` when a secret value in it is hidden."""
    if not (_holds_sealed(change.old) or _holds_sealed(change.new)):
        return change
    if reveal_secrets:
        return Change(change.op, change.path, old=reveal(change.old), new=reveal(change.new))
    return Change(
        change.op,
        change.path,
        old=_masked(change.old, ""),
        new=_masked(change.new, ""),
        masked=True,
    )


def shown_bodies(
    desired: Mapping[str, JSON] | None,
    live: Mapping[str, JSON] | None,
    *,
    reveal_secrets: bool = False,
) -> tuple[Mapping[str, JSON] | None, Mapping[str, JSON] | None]:
    """Both sides fit for the unified-diff view: equal secret values show `***` on both
    sides, different ones `*** (git)` and `*** (live)`, so the diff still shows which
    changed."""
    if reveal_secrets:
        return reveal(desired), reveal(live)
    want = _view(desired, live, " (git)") if desired is not None else None
    have = _view(live, desired, " (live)") if live is not None else None
    return want, have


def _view(value: JSON, other: Any, tag: str) -> JSON:
    if isinstance(value, Sealed):
        return _shown_one(value, "" if value == other else tag)
    if isinstance(value, Mapping):
        theirs = other if isinstance(other, Mapping) else {}
        return {k: _view(v, theirs.get(k, MISSING), tag) for k, v in value.items()}
    if isinstance(value, list):
        same = isinstance(other, list) and len(other) == len(value)
        return [_view(v, other[i] if same else MISSING, tag) for i, v in enumerate(value)]
    return value


def _masked(value: JSON, tag: str) -> JSON:
    if isinstance(value, Sealed):
        return _shown_one(value, tag)
    if isinstance(value, Mapping):
        return {k: _masked(v, tag) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, tag) for v in value]
    return value


def _shown_one(value: Sealed, tag: str) -> str:
    return value.shown(tag) if isinstance(value, SealedText) else f"{MASK}{tag}"


def _holds_sealed(value: JSON) -> bool:
    if isinstance(value, Sealed):
        return True
    if isinstance(value, Mapping):
        return any(_holds_sealed(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_sealed(v) for v in value)
    return False


# ---- sealing -------------------------------------------------------------------------


def _seal_at(node: dict[str, JSON], pattern: Pattern, *, whole: bool) -> bool:
    """Seal what `pattern` names below `node` (a copy of each map on the way, in place);
    whether there was anything to seal."""
    head, rest = pattern[0], pattern[1:]
    if head not in node:
        return False
    value = node[head]
    if rest:
        if not isinstance(value, Mapping):
            return False
        node[head] = inner = dict(value)
        return _seal_at(inner, rest, whole=whole)
    if value is None:
        return False
    if not whole and isinstance(value, Mapping):
        node[head] = {k: v if v is None else _sealed(v) for k, v in value.items()}
    else:
        node[head] = _sealed(value)
    return True


def _seal_oauth2(value: JSON) -> tuple[JSON, bool]:
    """`value` with the `secret` of every `OAuth2` map in it sealed, wherever it is written
    (`spec.OAuth2` in a CRD, `OAuth2` or `spec.OAuth2` in an annotation document), and
    whether there was one."""
    if isinstance(value, Mapping):
        out: dict[str, JSON] = {}
        hit = False
        for key, item in value.items():
            if key == "OAuth2" and isinstance(item, Mapping) and item.get("secret") is not None:
                item = {**item, "secret": _sealed(item["secret"])}
                hit = True
            item, found = _seal_oauth2(item)
            out[key] = item
            hit = hit or found
        return (out, True) if hit else (value, False)
    if isinstance(value, list):
        items = [_seal_oauth2(v) for v in value]
        if any(found for _, found in items):
            return [v for v, _ in items], True
        return value, False
    return value, False


def _sealed(value: JSON) -> Sealed:
    return value if isinstance(value, Sealed) else Sealed(value)


def _seal_last_applied(body: dict[str, JSON]) -> dict[str, JSON]:
    meta = body.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    if not isinstance(annotations, Mapping) or annotations.get(LAST_APPLIED) is None:
        return body
    if isinstance(annotations[LAST_APPLIED], Sealed):
        return body
    assert isinstance(meta, Mapping)
    sealed = {**annotations, LAST_APPLIED: Sealed(annotations[LAST_APPLIED])}
    return {**body, "metadata": {**meta, "annotations": sealed}}


def _seal_annotated(body: Mapping[str, JSON]) -> JSON:
    meta = body.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    if not isinstance(annotations, Mapping):
        return body
    text = annotations.get(AMBASSADOR_ANNOTATION)
    applied = annotations.get(LAST_APPLIED)
    config_secret = isinstance(text, str) and _annotation_holds_secret(text)
    # kubectl's copy holds the annotation text as JSON: a Filter in it is secret too.
    applied_secret = isinstance(applied, str) and _may_name_secret(applied)
    if not (config_secret or applied_secret):
        return body
    assert isinstance(meta, Mapping)
    sealed = dict(annotations)
    if config_secret:
        sealed[AMBASSADOR_ANNOTATION] = SealedText(text)
    if applied_secret:
        sealed[LAST_APPLIED] = Sealed(applied)
    return {**body, "metadata": {**meta, "annotations": sealed}}


def _may_name_secret(text: str) -> bool:
    """Whether annotation text can hold a secret at all (decided without parsing)."""
    return "OAuth2" in text or "Secret" in text


def _annotation_holds_secret(text: str) -> bool:
    if not _may_name_secret(text):
        return False  # the common case, decided without parsing
    try:
        docs = parse_annotation(text, "annotation")
    except YamlSyntaxError:
        return True  # cannot tell which part is the secret: hide it all
    return any(isinstance(d.data, Mapping) and seal_flat(d.data) is not d.data for d in docs)
