"""The steps `diff`, `sync` and `watch` share for ownership: who this run is (the source's
identity), which inventory record it reads, and the live record members the LISTs missed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from ambdiff import manifests
from ambdiff.errors import AmbdiffError, ClusterError
from ambdiff.gitsource import head_sha
from ambdiff.live import MAX_CONCURRENT_REQUESTS, ClusterState, server_failed
from ambdiff.model import ObjectId, Resource
from ambdiff.normalize import INVENTORY_LABEL
from ambdiff.options import Common
from ambdiff.sources import Selection
from ambdiff.sync.ownership import Ownership
from ambdiff.sync.record import Identity, Member
from ambdiff.takeover import pending


def identity(common: Common, default_namespace: str, desired: Sequence[Resource] = ()) -> Identity:
    """Who this run is. The default namespace is part of it only when it placed an object
    (a manifest without `metadata.namespace`): the same folder applied with another `-n` is
    then another deployment."""
    source = common.selection.source if common.selection else None
    defaulted = any(r.id.namespace and not _namespace_written(r) for r in desired)
    return Identity(
        repository=common.repository,
        source=common.source_name,
        paths=source.paths if source else (),
        namespace=common.default_namespace(default_namespace) if defaulted else "",
    )


def _namespace_written(resource: Resource) -> bool:
    meta = resource.body.get("metadata")
    return isinstance(meta, Mapping) and bool(meta.get("namespace"))


def revision(common: Common) -> str:
    """The commit applied: --rev's, else the working tree on top of HEAD."""
    if common.rev:
        return common.source().sha  # type: ignore[union-attr]
    head = head_sha(common.repo_root)
    return f"{head} (working tree)" if head else "working tree"


def open_ownership(
    common: Common,
    state: ClusterState,
    inventory: str,
    desired: Sequence[Resource],
    *,
    adopt_labelled: bool = False,
    read_only: bool = False,
) -> Ownership:
    claimed, siblings, claims_unknown = sibling_claims(common, state)
    return Ownership.open(
        state.cluster,
        inventory=inventory,
        namespace=common.settings.record_namespace,
        identity=identity(common, state.default_namespace, desired),
        narrowed=common.narrowed,
        adopt_labelled=adopt_labelled,
        read_only=read_only,
        claimed=claimed,
        siblings=siblings,
        claims_unknown=claims_unknown,
    )


def add_missing_members(
    state: ClusterState, ownership: Ownership, live: dict[ObjectId, Resource]
) -> None:
    """Read the record members that no LIST returned (a kind git no longer names), so that
    what git dropped is found whatever its kind."""
    missing: Sequence[Member] = ownership.missing(live)

    def one(member: Member) -> Resource | None:
        res = state.cluster.resource(member.api_version, member.id.kind)
        if res is None:
            return None
        try:
            body = state.cluster.get(res, member.id.namespace or None, member.id.name)
        except ClusterError as e:
            if not server_failed(e):
                raise
            state.note_unreadable(res, member.id.namespace or None, e)
            return None
        if body is None:
            return None
        body.setdefault("apiVersion", member.api_version)
        body.setdefault("kind", member.id.kind)
        return Resource(member.id, member.api_version, body)

    with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_REQUESTS) as pool:
        for found in pool.map(one, missing):
            if found is not None:
                live[found.id] = found


def sibling_claims(
    common: Common, state: ClusterState
) -> tuple[dict[ObjectId, str], frozenset[str], str]:
    """What the repository's other declared sources declare at this revision: object ->
    source name; their inventories (an object moving to this source from one of them is
    handed over, not refused); and, when one of them cannot be read, why (then no prune can
    rule out that an object merely moved, and none is made)."""
    if common.selection is None or len(common.settings.sources) < 2:
        return {}, frozenset(), ""
    claims: dict[ObjectId, str] = {}
    inventories = set()
    for other in common.settings.sources:
        if other.name == common.source_name:
            continue
        theirs = replace(
            common,
            selection=Selection(other, other.paths, False),
            paths=other.paths,
            namespace=other.namespace or common.settings.namespace,
        )
        inventories.add(theirs.inventory)
        try:
            raw = theirs.read().objects
            found = manifests.identify(
                raw,
                namespaced=state.namespaced,
                default_namespace=other.namespace
                or common.settings.namespace
                or state.default_namespace,
            )
        except AmbdiffError as e:
            return (
                claims,
                frozenset(inventories),
                f"source {other.name!r} cannot be read ({e.message})",
            )
        claims.update({r.id: other.name for r in found})
    return claims, frozenset(inventories), ""


def ownership_notes(
    ownership: Ownership,
    desired: Sequence[ObjectId],
    live: Mapping[ObjectId, Resource],
    common: Common,
    *,
    inventory: str,
    prune: bool,
    verb: str,
) -> list[str]:
    """What a diff or plan leaves out on purpose, or what sync will refuse, and why: one
    sentence each."""
    notes = []
    outside = ownership.outside(desired, live)
    if outside:
        notes.append(
            f"{len(outside)} object(s) of inventory {inventory} are outside the paths you named "
            f"({', '.join(common.paths)}): not compared, never reported as removed, and a "
            "narrowed run never prunes."
        )
    elif common.narrowed and prune:
        notes.append("Prune is off: the paths you named are narrower than the source.")
    first = not ownership.record.exists and not ownership.unreadable
    if first and not common.narrowed and verb == "sync":
        notes.append(
            f"Inventory {inventory} has no record in the cluster yet: nothing is pruned; this "
            "sync records its objects."
        )
    moved = ownership.moved(desired)
    if moved:
        notes.append(
            f"{len(moved)} object(s) moved to another source of this repository "
            f"({', '.join(sorted(set(moved.values())))}): not pruned; that source takes them "
            "over on its next sync."
        )
    unrecorded = ownership.unrecorded(desired, live)
    if unrecorded:
        notes.append(
            f"{len(unrecorded)} object(s) carry the label of inventory {inventory} but are in no "
            f"record and not in git ({_some(unrecorded)}): not pruned; `ambdiff sync "
            "--adopt-labelled --prune` deletes them."
        )
    foreign: dict[str, list[ObjectId]] = {}
    for oid in desired:
        owner = live[oid].labels.get(INVENTORY_LABEL) if oid in live else None
        if isinstance(owner, str) and owner and owner != inventory:
            foreign.setdefault(owner, []).append(oid)
    for owner, ids in sorted(foreign.items()):
        if owner in ownership.siblings:
            notes.append(
                f"{len(ids)} object(s) move here from inventory {owner}, another "
                f"source of this repository ({_some(ids)}): sync takes them over."
            )
        else:
            notes.append(
                f"{len(ids)} object(s) in git belong to inventory {owner} ({_some(ids)}): "
                "`ambdiff sync` refuses to take them over; give them back or rename them."
            )
    return notes


def takeover_notes(
    changed: Sequence[ObjectId], live: Mapping[ObjectId, Resource], verb: str
) -> list[str]:
    """A sentence for the changed objects that `kubectl apply` wrote (none when none did)."""
    ids = [o for o in changed if o in live and pending(live[o].body) is not None]
    if not ids:
        return []
    when = "this sync takes" if verb == "sync" else "`ambdiff sync` takes"
    return [
        f"{len(ids)} object(s) were applied with `kubectl apply` ({_some(ids)}): {when} over "
        "the fields kubectl applied before writing each, so the fields git dropped from them "
        "are removed and kubectl's ownership conflicts with nothing (docs/sync.md, \"Objects "
        'applied with kubectl").'
    ]


def _some(ids: Sequence[ObjectId]) -> str:
    return ", ".join(str(o) for o in ids[:5]) + (" …" if len(ids) > 5 else "")
