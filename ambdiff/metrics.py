"""Prometheus metrics of `ambdiff watch`, and its HTTP endpoint: `/metrics`, `/healthz`,
`/readyz`. The one home of prometheus_client. docs/watch.md lists every metric."""

from __future__ import annotations

import logging
import threading
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    make_wsgi_app,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from ambdiff.errors import ConfigError

log = logging.getLogger(__name__)

STATUSES = ("added", "changed", "unchanged", "removed")


class Stage(StrEnum):
    """Where a round failed: the `stage` label of `ambdiff_errors_total`."""

    GIT = "git"  # fetching the branch, reading a commit
    CONFIG = "config"  # the commit's .ambdiff.yaml
    MANIFESTS = "manifests"  # reading or rendering them
    CLUSTER = "cluster"  # talking to the API server
    LOCK = "lock"  # the inventory's Lease
    PRUNE_GUARD = "prune-guard"  # the mass-prune guard refused
    PREFLIGHT = "preflight"  # check's errors, or a server-side dry run refused
    APPLY = "apply"  # a write failed
    HEALTH = "health"  # what was applied failed or timed out (--wait)
    WATCH = "watch"  # an API watch between rounds
    INTERNAL = "internal"  # a bug in ambdiff


ROUND_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

# (kind, namespace, status) of every object the last round compared, kept current between
# rounds by the drift watch.
ObjectStatuses = Callable[[], Iterable[tuple[str, str, str]]]


class Metrics:
    """Every metric `ambdiff watch` exports, in its own registry; each source's series carry
    its name (`source`), so one process can serve many sources. `of(source, objects)` gives
    a source's view, whose attributes are the same metrics with `source` filled in."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        r = self.registry
        self.rounds = Counter(
            "ambdiff_rounds",
            "Rounds run, by what started them and how they ended.",
            ["source", "trigger", "result"],
            registry=r,
        )
        self.round_duration = Histogram(
            "ambdiff_round_duration_seconds",
            "Time a round takes: fetch, diff and, with --sync, apply.",
            ["source"],
            buckets=ROUND_BUCKETS,
            registry=r,
        )
        self.last_success = Gauge(
            "ambdiff_last_successful_round_timestamp_seconds",
            "When the last round that succeeded ended (Unix time).",
            ["source"],
            registry=r,
        )
        self.failing = Gauge(
            "ambdiff_consecutive_failed_rounds",
            "Rounds failed in a row (0 after a success).",
            ["source"],
            registry=r,
        )
        self.errors = Counter(
            "ambdiff_errors",
            "Errors, by the stage they happened in.",
            ["source", "stage"],
            registry=r,
        )
        self.commit = Info(
            "ambdiff_commit",
            "The commit being applied (with --sync) or compared: the branch head "
            "the latest round resolved.",
            ["source"],
            registry=r,
        )
        self.actions = Counter(
            "ambdiff_sync_actions",
            "Sync actions, by verb and outcome.",
            ["source", "verb", "state"],
            registry=r,
        )
        self.drift_events = Counter(
            "ambdiff_drift_events",
            "Changes seen through the API watch that took an object "
            "away from git, by kind and namespace.",
            ["source", "kind", "namespace"],
            registry=r,
        )
        self.watch_streams = Gauge(
            "ambdiff_watch_streams",
            "API watch streams open (one per resource type and namespace git names).",
            ["source"],
            registry=r,
        )
        self.leading = Gauge(
            "ambdiff_leading",
            "1 while this replica leads the inventory's Lease (watch --sync "
            "writes only then), 0 while it stands by.",
            ["source", "inventory"],
            registry=r,
        )
        self._objects: dict[str, ObjectStatuses] = {}
        self.registry.register(_ObjectsCollector(self._objects))

    def of(self, source: str, objects: ObjectStatuses) -> SourceMetrics:
        """The metrics of one source; `objects` says its objects' statuses at scrape time."""
        self._objects[source] = objects
        for stage in Stage:
            self.errors.labels(source, stage)  # every series exists from the start, at 0
        return SourceMetrics(self, source)


class _Bound:
    """A metric with its `source` label given: `.labels(*rest)` or the child's methods."""

    def __init__(self, family: Any, source: str) -> None:
        self._family, self._source = family, source

    def labels(self, *values: str) -> Any:
        return self._family.labels(self._source, *values)

    def __getattr__(self, name: str) -> Any:  # inc, set, observe, info, set_to_current_time
        return getattr(self._family.labels(self._source), name)


class SourceMetrics:
    """One source's view of Metrics (the attributes `ambdiff watch`'s loop uses)."""

    def __init__(self, metrics: Metrics, source: str) -> None:
        self.source = source
        self.rounds = _Bound(metrics.rounds, source)
        self.round_duration = _Bound(metrics.round_duration, source)
        self.last_success = _Bound(metrics.last_success, source)
        self.failing = _Bound(metrics.failing, source)
        self.errors = _Bound(metrics.errors, source)
        self.commit = _Bound(metrics.commit, source)
        self.actions = _Bound(metrics.actions, source)
        self.drift_events = _Bound(metrics.drift_events, source)
        self.watch_streams = _Bound(metrics.watch_streams, source)
        self.leading = _Bound(metrics.leading, source)


class _ObjectsCollector(Collector):
    """Both object gauges from one snapshot per source, so a scrape never sees half a round."""

    def __init__(self, sources: Mapping[str, ObjectStatuses]) -> None:
        self._sources = sources

    def collect(self) -> Iterator[GaugeMetricFamily]:
        by_status = GaugeMetricFamily(
            "ambdiff_objects",
            "Objects git names (and this inventory's strays), by status.",
            labels=["source", "status"],
        )
        drifted = GaugeMetricFamily(
            "ambdiff_drifted_objects",
            "Objects whose live state differs from git (added, changed or removed), by kind "
            "and namespace.",
            labels=["source", "kind", "namespace"],
        )
        for source, objects in sorted(self._sources.items()):
            snapshot = list(objects())
            counts = Tally(status for _, _, status in snapshot)
            for status in STATUSES:
                by_status.add_metric([source, status], counts.get(status, 0))
            for (kind, namespace), n in sorted(
                Tally((k, ns) for k, ns, status in snapshot if status != "unchanged").items()
            ):
                drifted.add_metric([source, kind, namespace], n)
        yield by_status
        yield drifted


# ---- the HTTP endpoint -----------------------------------------------------------------


@dataclass
class Health:
    """What /healthz and /readyz answer: alive while the loop runs; ready after the first
    successful round."""

    alive: bool = True
    ready: bool = False
    detail: str = "no round has succeeded yet"


class Healths:
    """The health of every source one process serves: alive and ready when each is; the
    detail names each source when there are several."""

    def __init__(self, by_source: Mapping[str, Health]) -> None:
        self._by_source = by_source

    @property
    def alive(self) -> bool:
        return all(h.alive for h in self._by_source.values())

    @property
    def ready(self) -> bool:
        return bool(self._by_source) and all(h.ready for h in self._by_source.values())

    @property
    def detail(self) -> str:
        if not self._by_source:
            return "starting: the branch has not been read yet"
        if len(self._by_source) == 1:
            return next(iter(self._by_source.values())).detail
        return "; ".join(f"{name}: {h.detail}" for name, h in sorted(self._by_source.items()))


class Endpoint:
    """`/metrics`, `/healthz` and `/readyz` on one port, served from a background thread."""

    def __init__(self, metrics: Metrics, health: Health | Healths, host: str, port: int) -> None:
        app = _app(make_wsgi_app(metrics.registry), health)
        try:
            self._server = make_server(host, port, app, _Server, handler_class=_QuietHandler)
        except OSError as e:
            raise ConfigError(
                f"cannot serve metrics on {host}:{port}: {e.strerror or e}.",
                hint="Choose another --metrics-port (0 turns the endpoint off).",
            ) from e
        self.port = int(self._server.server_port)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="metrics",
            daemon=True,
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _app(
    metrics_app: Callable[..., Any], health: Health | Healths
) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/healthz":
            ok, text = health.alive, "ok" if health.alive else "stopping"
        elif path == "/readyz":
            ok, text = health.ready and health.alive, health.detail
        elif path in ("/metrics", "/"):
            return metrics_app(environ, start_response)  # type: ignore[no-any-return]
        else:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found: try /metrics, /healthz or /readyz\n"]
        status = "200 OK" if ok else "503 Service Unavailable"
        start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
        return [(text + "\n").encode()]

    return app


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds are not news."""
