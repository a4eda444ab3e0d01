"""The inventory record: what a source's syncs applied, kept in the cluster.

Prune deletes only members of this record, never objects found by a guess (a label, a
folder name). It is a ConfigMap in the record namespace (`sync.record_namespace`, default
`default`, a namespace every cluster has), written
by server-side apply as the last step of every sync that wrote something, and it follows
kubectl's ApplySet conventions (KEP-3659) for the parent object so kubectl users recognise it:
an `applyset.kubernetes.io/id` label, the `tooling` and `contains-group-kinds` annotations.
Its members keep ambdiff's inventory label; they are not labelled `part-of`, so kubectl's own
ApplySet prune never acts on them.

Data: the source's identity (repository, source name and paths), the revision applied, when,
and the exact member list (group, kind, namespace, name, uid), gzip-compressed so that ten
thousand members fit in a ConfigMap.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import ambdiff
from ambdiff.errors import ClusterError
from ambdiff.model import ObjectId

RECORD_LABEL = "ambdiff.io/record-of"
APPLYSET_ID = "applyset.kubernetes.io/id"
TOOLING = "applyset.kubernetes.io/tooling"
GROUP_KINDS = "applyset.kubernetes.io/contains-group-kinds"
MEMBERS_KEY = "members.json.gz"
# The member list, unpacked. A ConfigMap holds at most 1 MiB, and a member's uid does not
# compress, so a record ambdiff wrote unpacks to well under 10 MiB; anything bigger is a
# gzip bomb, refused before it fills the memory.
MEMBERS_LIMIT = 32 * 1024 * 1024


class RecordCluster(Protocol):
    """The cluster calls the record needs (ambdiff.cluster.Cluster has them)."""

    def get(self, res: Any, namespace: str | None, name: str) -> dict[str, Any] | None: ...

    def apply(
        self,
        res: Any,
        body: Mapping[str, Any],
        *,
        manager: str,
        dry_run: bool = False,
        force: bool = False,
    ) -> dict[str, Any]: ...

    def resource(self, api_version: str, kind: str) -> Any: ...

    def list(
        self, res: Any, namespace: str | None, label_selector: str = "", field_selector: str = ""
    ) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Member:
    id: ObjectId
    uid: str
    api_version: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "group": self.id.group,
            "kind": self.id.kind,
            "namespace": self.id.namespace,
            "name": self.id.name,
            "uid": self.uid,
            "apiVersion": self.api_version,
        }


@dataclass(frozen=True)
class Identity:
    """Whose record it is: the repository (normalised origin URL or first commit), the
    source (name and paths) and the default namespace its manifests were applied with (the
    same folder applied with another `-n` is another deployment; "" when every manifest names
    its namespace, so that the default changed nothing)."""

    repository: str
    source: str
    paths: tuple[str, ...]
    namespace: str = ""

    def describe(self) -> str:
        where = f", default namespace {self.namespace}" if self.namespace else ""
        return f"source {self.source!r} of {self.repository or 'an unnamed repository'}{where}"

    def key(self) -> tuple[str, str, str]:
        return (self.repository, self.source, self.namespace)


@dataclass(frozen=True)
class Record:
    inventory: str
    namespace: str
    identity: Identity
    revision: str = ""
    applied_at: str = ""
    members: tuple[Member, ...] = ()
    exists: bool = field(default=True, compare=False)

    @property
    def name(self) -> str:
        return record_name(self.inventory)

    def ids(self) -> frozenset[ObjectId]:
        return frozenset(m.id for m in self.members)

    def uid_of(self, oid: ObjectId) -> str:
        return next((m.uid for m in self.members if m.id == oid), "")

    def owned_by(self, identity: Identity) -> bool:
        """Same repository and source, and no two different default namespaces ("" is a
        run whose manifests all name their namespace: the default changed nothing)."""
        mine, theirs = self.identity, identity
        if (mine.repository, mine.source) != (theirs.repository, theirs.source):
            return False
        return not (mine.namespace and theirs.namespace and mine.namespace != theirs.namespace)


def record_name(inventory: str) -> str:
    return f"ambdiff-inventory-{inventory}".lower()[:253]


def applyset_id(name: str, namespace: str) -> str:
    """KEP-3659: applyset-<base64url(sha256(<name>.<namespace>.<kind>.<group>))>-v1."""
    digest = hashlib.sha256(f"{name}.{namespace}.ConfigMap.".encode()).digest()
    return f"applyset-{base64.urlsafe_b64encode(digest).decode().rstrip('=')}-v1"


def read(cluster: RecordCluster, inventory: str, namespace: str, identity: Identity) -> Record:
    """The record of `inventory` in `namespace`, or an empty one (exists=False)."""
    res = _configmaps(cluster)
    body = cluster.get(res, namespace, record_name(inventory))
    if body is None:
        return Record(inventory, namespace, identity, exists=False)
    return parse(body, inventory, namespace)


def parse(body: Mapping[str, Any], inventory: str, namespace: str) -> Record:
    data = body.get("data") or {}
    where = f"the inventory record ConfigMap {namespace}/{record_name(inventory)}"
    try:
        source = json.loads(data.get("source") or "{}")
        raw = base64.b64decode((body.get("binaryData") or {}).get(MEMBERS_KEY) or "")
        members = json.loads(_unpacked(raw, where)) if raw else []
        parsed = tuple(
            Member(
                ObjectId(m["group"], m["kind"], m["namespace"], m["name"]),
                str(m.get("uid", "")),
                str(m.get("apiVersion", "")),
            )
            for m in members
        )
        identity = Identity(
            str(source.get("repository", "")),
            str(source.get("source", "")),
            tuple(source.get("paths") or ()),
            str(source.get("namespace", "")),
        )
    except (ValueError, KeyError, TypeError, OSError, EOFError) as e:
        raise ClusterError(
            f"{where} cannot be read ({type(e).__name__}): it was edited by hand or by another tool.",
            hint="Restore it, or delete it to start a new record (nothing is pruned without one).",
        ) from e
    return Record(
        inventory,
        namespace,
        identity,
        str(data.get("revision", "")),
        str(data.get("appliedAt", "")),
        parsed,
    )


def _unpacked(packed: bytes, where: str) -> bytes:
    """gzip.decompress, reading at most MEMBERS_LIMIT bytes of output."""
    unpacker = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip framing
    try:
        data = unpacker.decompress(packed, MEMBERS_LIMIT + 1)
    except zlib.error as e:
        raise ValueError("not gzip data") from e
    if len(data) > MEMBERS_LIMIT:
        raise ClusterError(
            f"{where} holds a member list that unpacks to more than "
            f"{MEMBERS_LIMIT // (1024 * 1024)} MiB, far more than ambdiff writes: it was edited "
            "by hand or by another tool.",
            hint="Delete it to start a new record (nothing is pruned without one).",
        )
    if not unpacker.eof:
        raise EOFError("the gzip data is cut short")
    return data


def body_of(record: Record) -> dict[str, Any]:
    """The ConfigMap to apply for `record`."""
    members = sorted(
        (m.to_json() for m in record.members),
        key=lambda m: (m["group"], m["kind"], m["namespace"], m["name"]),
    )
    packed = base64.b64encode(gzip.compress(json.dumps(members).encode(), mtime=0)).decode()
    kinds = sorted(
        {f"{m.id.kind}.{m.id.group}" if m.id.group else m.id.kind for m in record.members}
    )
    source = {
        "repository": record.identity.repository,
        "source": record.identity.source,
        "paths": list(record.identity.paths),
        "namespace": record.identity.namespace,
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": record.name,
            "namespace": record.namespace,
            "labels": {
                RECORD_LABEL: record.inventory,
                APPLYSET_ID: applyset_id(record.name, record.namespace),
            },
            "annotations": {
                TOOLING: f"ambdiff/v{ambdiff.__version__}",
                GROUP_KINDS: ",".join(kinds),
            },
        },
        "data": {
            "source": json.dumps(source, sort_keys=True),
            "revision": record.revision,
            "appliedAt": record.applied_at,
            "namespace": record.namespace,
            "count": str(len(members)),
        },
        "binaryData": {MEMBERS_KEY: packed},
    }


def write(cluster: RecordCluster, record: Record, manager: str) -> None:
    cluster.apply(_configmaps(cluster), body_of(record), manager=manager, force=True)


def updated(
    record: Record, *, identity: Identity, revision: str, members: Iterable[Member]
) -> Record:
    return Record(
        record.inventory,
        record.namespace,
        identity,
        revision,
        datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        tuple(members),
    )


def others_owning(cluster: RecordCluster, record: Record) -> dict[str, str] | None:
    """uid -> `namespace/name` of every *other* inventory record that lists that uid: an
    object two records own (a ClusterRole two environments share) is never pruned by one.
    None when the records cannot be listed cluster-wide (then the caller must assume the
    worst for cluster-scoped members)."""
    res = _configmaps(cluster)
    try:
        bodies = cluster.list(res, None, label_selector=RECORD_LABEL)
    except ClusterError:
        return None
    owners: dict[str, str] = {}
    for body in bodies:
        meta = body.get("metadata") or {}
        inventory = (meta.get("labels") or {}).get(RECORD_LABEL, "")
        namespace = meta.get("namespace", "")
        if (inventory, namespace) == (record.inventory, record.namespace):
            continue
        try:
            other = parse(body, inventory, namespace)
        except ClusterError:
            continue
        for member in other.members:
            owners[member.uid] = f"{namespace}/{meta.get('name', '')}"
    return owners


def _configmaps(cluster: RecordCluster) -> Any:
    res = cluster.resource("v1", "ConfigMap")
    if res is None:
        raise ClusterError(
            "the cluster does not serve ConfigMaps (v1): no inventory record can be kept."
        )
    return res
