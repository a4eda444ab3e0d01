"""Build the diff report from desired objects and live objects. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ambdiff.differ import (
    align,
    compare,
    graft,
    managed_fields,
    owned_removals,
    project,
    remove_at,
    sort_changes,
)
from ambdiff.model import JSON, DiffReport, ObjectDiff, ObjectId, Resource, Segment, Status
from ambdiff.normalize import INVENTORY_LABEL, normalize
from ambdiff.secrets import may_hold_secrets, shown_bodies, shown_change
from ambdiff.settings import IgnoreRule
from ambdiff.takeover import pending
from ambdiff.zerovalues import dropped_at_zero


@dataclass(frozen=True)
class CompareOptions:
    inventory: str
    ignore: Sequence[IgnoreRule] = ()
    show_secrets: bool = False
    # The objects that may be reported `removed` (the inventory record's members); None: any
    # live object carrying the inventory's label (a --live-file snapshot has no record).
    members: frozenset[ObjectId] | None = None

    def owns(self, oid: ObjectId, resource: Resource) -> bool:
        if self.members is not None:
            return oid in self.members
        return resource.labels.get(INVENTORY_LABEL) == self.inventory


def build_report(
    desired: Sequence[Resource],
    live: Mapping[ObjectId, Resource],
    options: CompareOptions,
    compared: Mapping[ObjectId, ObjectDiff | None] | None = None,
) -> DiffReport:
    """Compare every desired object with its live counterpart; live objects this inventory
    owns (options.owns) that git no longer has are `removed`. `compared`: objects compared
    already (server-side mode compares each dry-run answer as it arrives, compare_answer),
    used as they are."""
    diffs: list[ObjectDiff] = []
    wanted = set()
    for resource in desired:
        wanted.add(resource.id)
        if compared is not None and resource.id in compared:
            done = compared[resource.id]
            if done is not None:
                diffs.append(done)
            continue
        pointers = _ignored_pointers(resource.id, options.ignore)
        if pointers is None:
            continue
        current = live.get(resource.id)
        diffs.append(_diff_one(resource, current, pointers, options, None))
    for oid, resource in sorted(live.items()):
        if oid in wanted or not options.owns(oid, resource):
            continue
        if _ignored_pointers(oid, options.ignore) is None:
            continue
        _, masked_live = _bodies(oid, None, normalize(oid, resource.body), options)
        diffs.append(ObjectDiff(oid, resource.api_version, Status.REMOVED, None, live=masked_live))
    return DiffReport(tuple(diffs))


def compare_answer(
    resource: Resource, current: Resource, answer: Mapping[str, JSON], options: CompareOptions
) -> ObjectDiff | None:
    """`resource` compared with live as the API server's answer to its dry-run apply shows it
    (server-side mode: both ways); None when an ignore rule drops the whole object. Called
    as each answer arrives, so that no answer is held until the report is built."""
    pointers = _ignored_pointers(resource.id, options.ignore)
    if pointers is None:
        return None
    return _diff_one(resource, current, pointers, options, answer)


def _ignored_pointers(oid: ObjectId, rules: Sequence[IgnoreRule]) -> list[str] | None:
    """The pointers to drop for this object; None when a rule ignores the whole object."""
    pointers: list[str] = []
    for rule in rules:
        if rule.matches(oid):
            if not rule.paths:
                return None
            pointers.extend(rule.paths)
    return pointers


def _diff_one(
    resource: Resource,
    current: Resource | None,
    pointers: Sequence[str],
    options: CompareOptions,
    answer: Mapping[str, JSON] | None,
) -> ObjectDiff:
    oid = resource.id
    if current is None:
        masked_want, _ = _bodies(oid, normalize(oid, resource.body, pointers), None, options)
        return ObjectDiff(
            oid, resource.api_version, Status.ADDED, resource.origin, desired=masked_want
        )
    have = normalize(oid, current.body, pointers)
    managed = managed_fields(current.body)
    takeover = pending(current.body)
    taken = [takeover.fields] if takeover else []
    if answer is not None:
        # (the server's answer stands for git's object: git's own is needed for a takeover)
        want = normalize(oid, answer, pointers)
        if taken:
            # The dry run cannot show the takeover sync does first: what kubectl's client-side
            # apply set and git dropped is removed too.
            written = normalize(oid, resource.body, pointers)
            for removal in owned_removals(written, have, managed, taken_over=taken):
                remove_at(want, removal.path)
        changes = compare(want, have, symmetric=True)
        view = align(have, want)
    else:
        want = normalize(oid, resource.body, pointers)

        def omitted(path: tuple[Segment, ...]) -> bool:
            return dropped_at_zero(resource.api_version, oid.kind, path)

        changes = compare(want, have, symmetric=False, omitted=omitted)
        removals = owned_removals(want, have, managed, taken_over=taken)
        changes += removals
        view = project(have, want, omitted=omitted)
        for removal in removals:
            graft(view, have, removal.path)
    changes = sort_changes(changes)  # the same order in both modes
    if not changes:
        # Nothing shows an unchanged object's bodies: held for 10,000 objects they were
        # most of a diff's memory (docs/performance.md).
        return ObjectDiff(oid, resource.api_version, Status.UNCHANGED, resource.origin)
    if may_hold_secrets(oid.group, oid.kind):
        changes = [shown_change(c, reveal_secrets=options.show_secrets) for c in changes]
    masked_want, masked_have = _bodies(oid, want, view, options)
    return ObjectDiff(
        oid,
        resource.api_version,
        Status.CHANGED,
        resource.origin,
        tuple(changes),
        desired=masked_want,
        live=masked_have,
    )


def _bodies(
    oid: ObjectId,
    want: Mapping[str, JSON] | None,
    have: Mapping[str, JSON] | None,
    options: CompareOptions,
) -> tuple[Mapping[str, JSON] | None, Mapping[str, JSON] | None]:
    if may_hold_secrets(oid.group, oid.kind):
        return shown_bodies(want, have, reveal_secrets=options.show_secrets)
    return want, have
