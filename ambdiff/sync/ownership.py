"""What a run may call `removed` and prune: the rules that keep prune from deleting what
git still has, or what ambdiff never owned.

- Only members of the source's inventory record are candidates (ambdiff.sync.record).
- A narrowed run (PATHs inside a source) has no candidates: what it did not read is outside
  the paths you named, not removed.
- A record written by another repository or source stops the run before anything is written.
- Each candidate must still be the object recorded (same uid), still carry the inventory's
  label, and be listed in no other inventory's record.
- The mass-deletion guard: a prune of every member, or of more than a share of them (default
  half), stops before writing unless explicitly allowed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ambdiff.errors import ClusterError, ForbiddenError
from ambdiff.model import ObjectId, Resource
from ambdiff.normalize import INVENTORY_LABEL
from ambdiff.sync import record as records
from ambdiff.sync.record import Identity, Member, Record

DEFAULT_MASS_PRUNE_SHARE = 0.5


@dataclass
class Ownership:
    record: Record
    identity: Identity
    narrowed: bool = False
    adopt_labelled: bool = False
    other_owners: dict[str, str] | None = field(default_factory=dict)
    unreadable: str = ""  # why the record could not be read (read-only runs)
    # What the repository's other sources declare (object -> source), their inventories, and
    # why they could not be read: an object that moved to another source is handed over.
    claimed: Mapping[ObjectId, str] = field(default_factory=dict)
    siblings: frozenset[str] = frozenset()
    claims_unknown: str = ""

    @classmethod
    def open(
        cls,
        cluster: Any,
        *,
        inventory: str,
        namespace: str,
        identity: Identity,
        narrowed: bool = False,
        adopt_labelled: bool = False,
        read_only: bool = False,
        claimed: Mapping[ObjectId, str] | None = None,
        siblings: frozenset[str] = frozenset(),
        claims_unknown: str = "",
    ) -> Ownership:
        """The source's ownership, from its record. `read_only` (diff): a record this user may
        not read is no error; nothing is then reported `removed` (`unreadable` says why).
        `claimed`, `siblings`, `claims_unknown`: what the repository's other sources declare
        (see the fields)."""

        def make(record: Record, **more: Any) -> Ownership:
            return cls(
                record,
                identity,
                narrowed,
                claimed=dict(claimed or {}),
                siblings=siblings,
                claims_unknown=claims_unknown,
                **more,
            )

        try:
            found = records.read(cluster, inventory, namespace, identity)
        except ForbiddenError as e:
            if not read_only:
                raise
            empty = Record(inventory, namespace, identity, exists=False)
            return make(empty, unreadable=e.message)
        if found.exists and not found.owned_by(identity):
            last = (
                f" (last applied {found.revision or 'an unknown revision'} at {found.applied_at})"
            )
            raise ClusterError(
                f"the inventory {inventory} (record {namespace}/{found.name}) belongs to "
                f"{found.identity.describe()}{last}; this run is {identity.describe()}. Nothing "
                "was written.",
                hint="Give this one its own inventory (`inventory:` of a source in "
                ".ambdiff.yaml, or --inventory): ambdiff never writes over another's record.",
            )
        others = records.others_owning(cluster, found) if found.exists or adopt_labelled else {}
        return make(found, adopt_labelled=adopt_labelled, other_owners=others)

    @classmethod
    def offline(cls, identity: Identity, inventory: str, *, narrowed: bool) -> Ownership:
        """For --live-file: no record to read; the snapshot's labelled objects stand in."""
        return cls(Record(inventory, "", identity, exists=False), identity, narrowed, True)

    def stray_kinds(self) -> frozenset[tuple[str, str]] | None:
        """The (apiVersion, kind)s, besides those git names, in which objects carrying this
        inventory's label are looked for cluster-wide. With a record, the kinds it lists: what
        git dropped is found through the record, and a labelled object of a kind neither git
        nor the record names would be none of this run's business (it is never pruned). None,
        every kind ambdiff knows (INVENTORY_KINDS), without a readable record or with
        --adopt-labelled, where the label is what tells."""
        if not self.record.exists or self.adopt_labelled or self.unreadable:
            return None
        if any(not m.api_version for m in self.record.members):
            return None  # (a record from before members kept their apiVersion)
        return frozenset((m.api_version, m.id.kind) for m in self.record.members)

    # ---- what may be called removed ---------------------------------------------------------

    def members(self, live: Mapping[ObjectId, Resource]) -> frozenset[ObjectId]:
        """The objects this run may report as removed when git no longer has them."""
        if self.narrowed:
            return frozenset()
        ids = set(self.record.ids())
        if self.adopt_labelled:
            ids |= {
                oid
                for oid, r in live.items()
                if r.labels.get(INVENTORY_LABEL) == self.record.inventory
            }
        return frozenset(ids - set(self.claimed))

    def moved(self, desired: Iterable[ObjectId]) -> dict[ObjectId, str]:
        """Members git no longer has here because another source of the repository now
        declares them: handed over on that source's next sync, never pruned."""
        wanted = set(desired)
        return {
            m.id: self.claimed[m.id]
            for m in self.record.members
            if m.id in self.claimed and m.id not in wanted
        }

    def outside(
        self, desired: Iterable[ObjectId], live: Mapping[ObjectId, Resource]
    ) -> list[ObjectId]:
        """Narrowed runs: the source's objects this run did not read."""
        if not self.narrowed:
            return []
        wanted = set(desired)
        labelled = {
            oid for oid, r in live.items() if r.labels.get(INVENTORY_LABEL) == self.record.inventory
        }
        return sorted((self.record.ids() | labelled) - wanted)

    def unrecorded(
        self, desired: Iterable[ObjectId], live: Mapping[ObjectId, Resource]
    ) -> list[ObjectId]:
        """Objects carrying the inventory's label that no record lists and git does not have:
        left by an earlier ambdiff (before records) or a sync that died before recording.
        They are listed, never pruned, unless --adopt-labelled."""
        if self.narrowed or self.adopt_labelled:
            return []
        wanted = set(desired) | self.record.ids()
        return sorted(
            oid
            for oid, r in live.items()
            if r.labels.get(INVENTORY_LABEL) == self.record.inventory and oid not in wanted
        )

    def missing(self, live: Mapping[ObjectId, Resource]) -> list[Member]:
        """Record members the LISTs did not return: to be read one by one."""
        return [m for m in self.record.members if m.id not in live and m.api_version]

    # ---- vetting deletes ----------------------------------------------------------------------

    def veto(self, oid: ObjectId, live: Resource) -> str:
        """Why this candidate must not be deleted ("" when it may be)."""
        if oid in self.claimed:
            return f"source {self.claimed[oid]!r} of this repository declares it now"
        if self.claims_unknown:
            return f"{self.claims_unknown}, so a move between sources cannot be ruled out"
        if live.labels.get(INVENTORY_LABEL) != self.record.inventory:
            return "it no longer carries this inventory's label"
        uid = str((live.body.get("metadata") or {}).get("uid") or "")
        recorded = self.record.uid_of(oid)
        if recorded and uid != recorded:
            return "it was deleted and created again since ambdiff recorded it (another uid)"
        if self.other_owners is None and not oid.namespace:
            return "the other inventory records cannot be listed to check it is not shared"
        owner = (self.other_owners or {}).get(uid)
        if owner:
            return f"the inventory record {owner} lists it too"
        return ""

    def mass_prune(self, deletes: int, members: int, share: float) -> str:
        """The refusal, when a prune would delete all members or more than `share` of them."""
        if deletes == 0 or members == 0:
            return ""
        if deletes >= members:
            what = f"all {members} objects"
        elif deletes > share * members:
            what = f"{deletes} of its {members} objects (more than {share:.0%})"
        else:
            return ""
        return (
            f"the prune would delete {what} of inventory {self.record.inventory}: stopped before "
            "writing anything (a bad merge or a wrong PATH looks like this)."
        )

    # ---- the new record ----------------------------------------------------------------------

    def next_record(
        self,
        *,
        revision: str,
        kept: Iterable[Member],
        applied: Mapping[ObjectId, Member],
        deleted: Iterable[ObjectId],
    ) -> Record:
        """Old members, plus what this run applied or found in sync, less what it deleted.
        A narrowed run only adds: it never drops a member it did not read."""
        members = {m.id: m for m in self.record.members}
        members.update({m.id: m for m in kept})
        members.update(applied)
        for oid in deleted:
            members.pop(oid, None)
        return records.updated(
            self.record, identity=self.identity, revision=revision, members=members.values()
        )


def member_of(resource: Resource) -> Member:
    uid = str((resource.body.get("metadata") or {}).get("uid") or "")
    return Member(resource.id, uid, resource.api_version)
