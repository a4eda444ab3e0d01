"""Drift between rounds of `ambdiff watch`: one API watch per type and namespace that git
names, started at the resourceVersion of the round's LIST so that no change is missed. Each
changed object is compared with git as it arrives; one that no longer matches is recorded in
the book (the metrics read it) and reported, and the loop runs a round soon after."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ambdiff.cluster import ApiResource, Cluster, EventStream, WatchExpired
from ambdiff.compare import CompareOptions, build_report
from ambdiff.errors import AmbdiffError
from ambdiff.model import JSON, DiffReport, ObjectDiff, ObjectId, Resource, Status
from ambdiff.schedule import Backoff

log = logging.getLogger(__name__)

STREAM_BACKOFF_CAP = 30.0


@dataclass(frozen=True)
class Target:
    """One watch: a type, a namespace (None: cluster-wide) and where to start."""

    res: ApiResource
    namespace: str | None
    resource_version: str


class DriftBook:
    """Every object the last round compared, with its status and changes, kept current
    between rounds by the watch. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._diffs: dict[ObjectId, ObjectDiff] = {}

    def reset(self, report: DiffReport) -> None:
        with self._lock:
            self._diffs = {o.id: o for o in report}

    def record(self, diff: ObjectDiff) -> bool:
        """Keep `diff`; True when it says something new (another status or other changes)."""
        with self._lock:
            before = self._diffs.get(diff.id)
            self._diffs[diff.id] = diff
        return before is None or (before.status, before.changes) != (diff.status, diff.changes)

    def forget(self, oid: ObjectId) -> None:
        with self._lock:
            self._diffs.pop(oid, None)

    def statuses(self) -> list[tuple[str, str, str]]:
        """(kind, namespace, status) of each object."""
        with self._lock:
            return [(o.id.kind, o.id.namespace, o.status.value) for o in self._diffs.values()]


@dataclass(frozen=True)
class _View:
    desired: Mapping[ObjectId, Resource]
    options: CompareOptions


class DriftWatch:
    """The watches of one `ambdiff watch`. `update` after each round's LIST (the desired
    state and the targets it implies), `close` at the end. Callbacks run on watch threads."""

    def __init__(
        self,
        book: DriftBook,
        connect: Callable[[], Cluster],
        *,
        on_drift: Callable[[ObjectDiff], None],
        on_expired: Callable[[], None],
        on_error: Callable[[AmbdiffError], None],
        on_streams: Callable[[int], None] = lambda n: None,
    ) -> None:
        self.book = book
        self._connect = connect
        self._on_drift = on_drift
        self._on_expired = on_expired
        self._on_error = on_error
        self._on_streams = on_streams
        self._lock = threading.Lock()
        self._view = _View({}, CompareOptions(inventory=""))
        self._streams: dict[tuple[ApiResource, str | None], _Stream] = {}
        self._open: set[_Stream] = set()

    def update(
        self, desired: Sequence[Resource], targets: Sequence[Target], options: CompareOptions
    ) -> None:
        """Compare changes with this desired state from now on; watch exactly `targets`
        (streams already open stay open: they are ahead of the round's LIST)."""
        wanted = {(t.res, t.namespace): t for t in targets if t.resource_version}
        with self._lock:
            self._view = _View({r.id: r for r in desired}, options)
            for key, stream in list(self._streams.items()):
                if key not in wanted or stream.finished:
                    stream.stop()
                    del self._streams[key]
            for key, target in wanted.items():
                if key not in self._streams:
                    self._streams[key] = _Stream(self, target)
                    self._streams[key].start()

    def close(self) -> None:
        with self._lock:
            streams, self._streams = list(self._streams.values()), {}
        for stream in streams:
            stream.stop()

    # ---- called from the streams' threads -----------------------------------------------

    def _handle(self, res: ApiResource, type_: str, obj: dict[str, JSON]) -> None:
        meta = obj.get("metadata") or {}
        namespace = (meta.get("namespace") or "") if res.namespaced else ""
        oid = ObjectId(res.group, res.kind, namespace, str(meta.get("name", "")))
        view = self._view
        want = view.desired.get(oid)
        if want is not None and want.api_version != res.api_version:
            return
        if want is None:
            if not view.options.inventory or not view.options.owns(
                oid, Resource(oid, res.api_version, obj)
            ):
                return
            if type_ == "DELETED":
                self.book.forget(oid)
                return
        live = {} if type_ == "DELETED" else {oid: Resource(oid, res.api_version, obj)}
        report = build_report([want] if want else [], live, view.options)
        if not report.objects:
            return  # an ignore rule leaves the whole object out
        diff = report.objects[0]
        if self.book.record(diff) and diff.status is not Status.UNCHANGED:
            self._on_drift(diff)

    def _opened(self, stream: _Stream, is_open: bool) -> None:
        with self._lock:
            if is_open:
                self._open.add(stream)
            else:
                self._open.discard(stream)
            count = len(self._open)
        self._on_streams(count)


class _Stream(threading.Thread):
    """One watch, reopened from the last version it saw whenever the server ends it or the
    connection drops (with backoff); it ends when the version expired (the next round lists
    again and starts a new one) or when stopped."""

    def __init__(self, owner: DriftWatch, target: Target) -> None:
        where = target.namespace or "all namespaces"
        super().__init__(name=f"watch {target.res.plural} in {where}", daemon=True)
        self.owner = owner
        self.res = target.res
        self.namespace = target.namespace
        self.version = target.resource_version
        self.finished = False
        self._stopped = threading.Event()
        self._events: EventStream | None = None

    def stop(self) -> None:
        self._stopped.set()
        events = self._events
        if events is not None:
            events.close()

    def run(self) -> None:
        backoff = Backoff(base=1.0, cap=STREAM_BACKOFF_CAP)
        cluster: Cluster | None = None
        try:
            while not self._stopped.is_set():
                try:
                    cluster = cluster or self.owner._connect()
                    self._follow(cluster, backoff)
                except WatchExpired:
                    log.debug(
                        "%s: resourceVersion %s expired; the next round lists again",
                        self.name,
                        self.version,
                    )
                    self.finished = True
                    self.owner._on_expired()
                    return
                except AmbdiffError as e:
                    if self._stopped.is_set():
                        return
                    if backoff.failures == 0:
                        self.owner._on_error(e)
                    self._stopped.wait(backoff.next())
        finally:
            self.finished = True

    def _follow(self, cluster: Cluster, backoff: Backoff) -> None:
        events = cluster.watch(self.res, self.namespace, resource_version=self.version)
        self._events = events
        if self._stopped.is_set():
            events.close()
        self.owner._opened(self, True)
        try:
            for type_, obj in events:
                backoff.reset()
                if type_ != "BOOKMARK":
                    try:
                        self.owner._handle(self.res, type_, obj)
                    except Exception:  # one odd object must not end the watch
                        log.exception("%s: could not compare a %s event", self.name, type_)
                version = (obj.get("metadata") or {}).get("resourceVersion")
                if version:
                    self.version = str(version)
        finally:
            self._events = None
            self.owner._opened(self, False)
