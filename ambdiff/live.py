"""Live state: fetch the objects git names from the cluster (one paginated LIST per type
and namespace, concurrent and bounded), or read them from a saved dump (`--live-file`)."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from ambdiff.cluster import ApiResource, Cluster
from ambdiff.errors import ClusterError, ForbiddenError, ManifestError
from ambdiff.gitsource import MAX_SNAPSHOT_BYTES, SourceFile, read_file
from ambdiff.kinds import BUILTIN_GROUPS, INVENTORY_KINDS, crd_scopes, offline_namespaced
from ambdiff.manifests import RawObject, parse_file
from ambdiff.model import JSON, ObjectId, Resource, split_api_version
from ambdiff.normalize import INVENTORY_LABEL
from ambdiff.schemas import offline_kind_problem

log = logging.getLogger(__name__)

MAX_CONCURRENT_REQUESTS = 8
# Up to this many namespaces are left out of an inventory's cluster-wide LIST by a field
# selector (longer selectors make long URLs); past it, the LIST reads them again.
MAX_EXCLUDED_NAMESPACES = 100

ListJob = tuple[ApiResource, str | None, str, str]  # type, namespace, label and field selectors

Progress = Callable[[int, int], None]  # (done, total)


class LiveState(Protocol):
    """What `diff` needs of the other side."""

    default_namespace: str
    description: str

    def namespaced(self, group: str, version: str, kind: str) -> bool: ...

    def fetch(
        self,
        desired: Sequence[Resource],
        progress: Progress | None = None,
        inventory: str = "",
        strays: Collection[tuple[str, str]] | None = None,
    ) -> dict[ObjectId, Resource]: ...


def _identity(body: Mapping[str, JSON], namespaced: bool) -> ObjectId:
    group, _ = split_api_version(body["apiVersion"])
    meta = body["metadata"]
    return ObjectId(
        group, body["kind"], meta.get("namespace", "") if namespaced else "", meta["name"]
    )


class ClusterState:
    def __init__(self, cluster: Cluster, desired_raw: Sequence[RawObject]) -> None:
        self.cluster = cluster
        self.default_namespace = cluster.default_namespace
        self.description = f"context {cluster.context} ({cluster.server})"
        # CRDs in git whose kinds the server may not serve yet (a first sync).
        self._crds = crd_scopes([o.body for o in desired_raw])
        self._unserved: set[tuple[str, str]] = set()
        # (type, namespace) -> resourceVersion of the last fetch's LIST: where a watch of the
        # same objects starts (`ambdiff watch`).
        self.list_versions: dict[tuple[ApiResource, str | None], str] = {}
        # (apiVersion, kind, namespace) -> why its objects could not be read: the API server
        # answered a LIST or GET with an error of its own (a dead conversion webhook, an
        # aggregated API that is down). Those objects are not compared; the others are.
        self.unread: dict[tuple[str, str, str], str] = {}
        self._skipped: dict[str, str] = {}  # kind -> why its strays were not looked for
        self._webhooks: dict[str, str] = {}  # CRD name -> its conversion webhook, described

    def unread_reason(self, resource: Resource) -> str | None:
        """Why `resource` could not be read from the cluster, or None when it was."""
        r = resource
        return self.unread.get((r.api_version, r.id.kind, r.id.namespace)) or self.unread.get(
            (r.api_version, r.id.kind, "")
        )

    def require_complete(self) -> None:
        """Raise when some objects could not be read: a sync must not plan without them."""
        if self.unread:
            first, *rest = sorted(self.unread.values())
            more = (
                f" {len(rest)} more type(s) or namespace(s) cannot be read either." if rest else ""
            )
            raise ClusterError(f"{first}{more}", hint="Nothing was changed.")

    def note_unreadable(self, res: ApiResource, namespace: str | None, error: ClusterError) -> None:
        key = (res.api_version, res.kind, namespace or "")
        if key not in self.unread:
            self.unread[key] = self._why(res, namespace, error)

    def namespaced(self, group: str, version: str, kind: str) -> bool:
        api_version = f"{group}/{version}" if group else version
        res = self.cluster.resource(api_version, kind)
        if res is not None:
            return res.namespaced
        if (group, kind) in self._crds:
            self._unserved.add((api_version, kind))
            return self._crds[(group, kind)]
        close = difflib.get_close_matches(kind, self.cluster.kinds(api_version), n=1)
        suggestion = f"Did you mean kind {close[0]}? " if close else ""
        if group and group not in BUILTIN_GROUPS:
            hint = (
                f"{suggestion}{'If not, is' if close else 'Is'} its CustomResourceDefinition "
                "installed? Add it to the manifests or install it first."
            )
        else:
            hint = suggestion or "Check the apiVersion and kind for a typo."
        raise ManifestError(
            f"kind {kind} in apiVersion {api_version} is not served by the cluster of "
            f"{self.description}.",
            hint=hint.strip(),
        )

    def fetch(
        self,
        desired: Sequence[Resource],
        progress: Progress | None = None,
        inventory: str = "",
        strays: Collection[tuple[str, str]] | None = None,
    ) -> dict[ObjectId, Resource]:
        """Live objects of the types and namespaces git names, keyed by identity (a type
        whose CRD is not installed yet has none); with `inventory`, also the objects carrying
        its label anywhere, of any kind git names or `strays` lists ((apiVersion, kind)s;
        None: every kind ambdiff knows, INVENTORY_KINDS), so that one deleted from git is found
        even when git no longer names its kind or namespace (Ownership.stray_kinds)."""
        self.unread = {}
        self._skipped = {}
        lists: dict[ListJob, None] = {}
        listed: dict[tuple[str, str], set[str | None]] = {}  # (group, kind) -> namespaces
        for r in desired:
            if (r.api_version, r.id.kind) in self._unserved:
                continue
            res = self.cluster.resource(r.api_version, r.id.kind)
            if res is not None:
                lists[(res, r.id.namespace or None, "", "")] = None
                listed.setdefault((res.group, res.kind), set()).add(r.id.namespace or None)
        if inventory:
            selector = f"{INVENTORY_LABEL}={inventory}"
            named = {(r.api_version, r.id.kind) for r in desired}
            others = INVENTORY_KINDS if strays is None else sorted(strays)
            for api_version, kind in [*named, *others]:
                res = (
                    None
                    if (api_version, kind) in self._unserved
                    else self.cluster.resource(api_version, kind)
                )
                if res is None:
                    continue
                # The namespaces listed in full above hold no strays we could miss: leave
                # them out, or a repository whose objects all carry the label is read twice.
                done_already = listed.get((res.group, res.kind), set())
                if None in done_already:
                    continue  # listed cluster-wide already
                fields = ""
                if len(done_already) <= MAX_EXCLUDED_NAMESPACES:
                    fields = ",".join(f"metadata.namespace!={ns}" for ns in sorted(done_already))  # type: ignore[type-var]
                lists[(res, None, selector, fields)] = None
        jobs = list(lists)
        by_version: dict[tuple[str, ObjectId], Resource] = {}
        done = 0
        with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_REQUESTS) as pool:
            for (res, *_), items in zip(jobs, pool.map(self._list, jobs), strict=True):
                for body in items:
                    # (Items of one LIST share its group and kind: no need to parse each.)
                    meta = body["metadata"]
                    namespace = meta.get("namespace", "") if res.namespaced else ""
                    oid = ObjectId(res.group, res.kind, namespace, meta["name"])
                    by_version.setdefault(
                        (res.api_version, oid), Resource(oid, res.api_version, body)
                    )
                done += 1
                if progress:
                    progress(done, len(jobs))
        if self._skipped:
            kinds = ", ".join(sorted(self._skipped))
            log.warning(
                "inventory objects of kind %s are not looked for outside what git names: %s",
                kinds,
                next(iter(self._skipped.values())),
            )
        # One object may have been listed in two versions (v2 and v3alpha1 Mappings in git):
        # each desired object is compared with the version it is written in.
        found = {oid: r for (_, oid), r in by_version.items()}
        for r in desired:
            if (r.api_version, r.id) in by_version:
                found[r.id] = by_version[(r.api_version, r.id)]
        return found

    def _list(self, job: ListJob) -> list[dict[str, Any]]:
        res, namespace, selector, fields = job
        try:
            items, version = self.cluster.list_with_version(
                res, namespace, label_selector=selector, field_selector=fields
            )
        except ForbiddenError:
            if not selector:
                raise
            # Looking for an inventory's strays cluster-wide is a bonus, not a requirement.
            log.info(
                "cannot list %s cluster-wide; inventory objects of that kind outside the "
                "namespaces git names are not looked for",
                res.plural,
            )
            return []
        except ClusterError as e:
            if not server_failed(e):
                raise
            if selector:
                # A kind git does not name must never fail a run (Emissary's CRDs with their
                # conversion webhook down are the common case). Said once, after the LISTs.
                if res.kind not in self._skipped:
                    self._skipped[res.kind] = self._why(res, None, e)
                return []
            self.note_unreadable(res, namespace, e)
            return []
        if not selector:
            self.list_versions[(res, namespace)] = version
        return items

    def _why(self, res: ApiResource, namespace: str | None, error: ClusterError) -> str:
        where = f" in namespace {namespace}" if namespace else ""
        what = f"{res.kind} objects ({res.api_version}){where} cannot be read"
        message = error.server_message or error.message
        if "conversion webhook" not in message:
            return f"{what}: the API server answered HTTP {error.status}: {message}."
        crd = f"{res.plural}.{res.group}"
        return (
            f"{what}: the API server cannot convert them, because the conversion webhook of "
            f"CustomResourceDefinition {crd}{self._webhook(crd)} does not answer "
            f"({_cause(message)}). Check that the webhook runs (for Emissary, the "
            "emissary-apiext Deployment)."
        )

    def _webhook(self, crd: str) -> str:
        """` (service ns/name)` or ` (url)` of a CRD's conversion webhook, when readable
        (each CRD read once: every type and namespace of it fails alike)."""
        if crd not in self._webhooks:
            self._webhooks[crd] = self._read_webhook(crd)
        return self._webhooks[crd]

    def _read_webhook(self, crd: str) -> str:
        res = self.cluster.resource("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        try:
            body = self.cluster.get(res, None, crd) if res is not None else None
        except ClusterError:
            return ""
        conversion = ((body or {}).get("spec") or {}).get("conversion") or {}
        config = (conversion.get("webhook") or {}).get("clientConfig") or {}
        service = config.get("service") or {}
        if service.get("name"):
            return f" (service {service.get('namespace', 'default')}/{service['name']})"
        return f" ({config['url']})" if config.get("url") else ""


def server_failed(error: ClusterError) -> bool:
    """The API server answered, with an error of its own for this type (HTTP 5xx, or 429
    still after the client's retries: "storage is (re)initializing" is how a CRD whose
    conversion webhook is down answers): others may still be readable. (401/403 and an
    unreachable server fail the whole run.)"""
    return error.status >= 500 or error.status == 429


def _cause(message: str) -> str:
    """The end of a conversion failure's message: `connection refused`, `service ... not
    found`, `context deadline exceeded`."""
    tail = message.rsplit(": ", 1)[-1].strip().rstrip(".")
    return tail or message


class FileState:
    """A `kubectl get -o yaml` dump (a List, or several documents) standing in for a cluster."""

    def __init__(
        self, path: Path, default_namespace: str | None, desired_raw: Sequence[RawObject] = ()
    ) -> None:
        text = read_file(path, f"--live-file {path}", limit=MAX_SNAPSHOT_BYTES)
        raw = parse_file(SourceFile(str(path), text))
        bodies = [o.body for o in raw]
        self._crds = crd_scopes([*bodies, *(o.body for o in desired_raw)])
        self._dumped_scopes = {
            (split_api_version(b["apiVersion"])[0], b["kind"]): bool(b["metadata"].get("namespace"))
            for b in bodies
        }
        self.default_namespace = default_namespace or "default"
        self.description = f"the snapshot {path}"
        self._objects: dict[ObjectId, Resource] = {}
        for body in bodies:
            group, _ = split_api_version(body["apiVersion"])
            oid = _identity(body, self._scope(group, body["kind"]))
            self._objects[oid] = Resource(oid, body["apiVersion"], body)

    def namespaced(self, group: str, version: str, kind: str) -> bool:
        """The scope of a kind git names; a kind no cluster serves is refused, as a cluster's
        discovery would refuse it (the knowledge `check` has: built-in kinds, ambdiff's
        Ambassador CRDs, and the CRDs in git or in the snapshot)."""
        if (group, kind) in self._dumped_scopes:
            return self._dumped_scopes[(group, kind)]
        defined = self._crds.keys() | self._dumped_scopes.keys()
        problem = offline_kind_problem(group, version, kind, defined)
        if problem is not None:
            hint = problem.suggestion or "check the apiVersion and kind for a typo"
            hint = f"{hint[:1].upper()}{hint[1:]}"
            raise ManifestError(
                f"{problem.message}.", hint=hint if hint[-1] in ".?" else hint + "."
            )
        return self._scope(group, kind)

    def _scope(self, group: str, kind: str) -> bool:
        if (group, kind) in self._dumped_scopes:
            return self._dumped_scopes[(group, kind)]
        return offline_namespaced(group, kind, self._crds)

    def fetch(
        self,
        desired: Sequence[Resource],
        progress: Progress | None = None,
        inventory: str = "",
        strays: Collection[tuple[str, str]] | None = None,
    ) -> dict[ObjectId, Resource]:
        wanted = _types_and_namespaces(desired)
        return {
            oid: r
            for oid, r in self._objects.items()
            if (oid.group, oid.kind, oid.namespace) in wanted
            or (inventory and r.labels.get(INVENTORY_LABEL) == inventory)
        }


def _types_and_namespaces(desired: Iterable[Resource]) -> set[tuple[str, str, str]]:
    return {(r.id.group, r.id.kind, r.id.namespace) for r in desired}
