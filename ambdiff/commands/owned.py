"""The steps `diff`, `sync` and `watch` share for ownership: who this run is (the source's
identity), which inventory record it reads, and the live record members the LISTs missed."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from ambdiff.gitsource import head_sha
from ambdiff.live import MAX_CONCURRENT_REQUESTS, ClusterState
from ambdiff.model import ObjectId, Resource
from ambdiff.options import Common
from ambdiff.sync.ownership import Ownership
from ambdiff.sync.record import Identity, Member


def identity(common: Common, default_namespace: str) -> Identity:
    source = common.selection.source if common.selection else None
    return Identity(
        repository=common.repository,
        source=common.source_name,
        paths=source.paths if source else (),
        namespace=common.namespace or default_namespace,
    )


def revision(common: Common) -> str:
    """The commit applied: --rev's, else the working tree on top of HEAD."""
    if common.rev:
        return common.source().sha  # type: ignore[union-attr]
    head = head_sha(common.repo_root)
    return f"{head} (working tree)" if head else "working tree"


def open_ownership(
    common: Common, state: ClusterState, inventory: str, *, adopt_labelled: bool = False,
    read_only: bool = False,
) -> Ownership:  # fmt: skip
    return Ownership.open(
        state.cluster,
        inventory=inventory,
        namespace=common.settings.record_namespace,
        identity=identity(common, state.default_namespace),
        narrowed=common.narrowed,
        adopt_labelled=adopt_labelled,
        read_only=read_only,
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
        body = state.cluster.get(res, member.id.namespace or None, member.id.name)
        if body is None:
            return None
        body.setdefault("apiVersion", member.api_version)
        body.setdefault("kind", member.id.kind)
        return Resource(member.id, member.api_version, body)

    with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_REQUESTS) as pool:
        for found in pool.map(one, missing):
            if found is not None:
                live[found.id] = found
