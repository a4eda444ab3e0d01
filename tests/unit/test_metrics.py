"""The metrics endpoint of `ambdiff watch`: /metrics, /healthz, /readyz."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ambdiff.errors import ConfigError
from ambdiff.metrics import Endpoint, Health, Healths, Metrics, SourceMetrics, Stage

OBJECTS = [
    ("Deployment", "shop", "changed"),
    ("Mapping", "shop", "unchanged"),
    ("Mapping", "shop", "added"),
    ("Secret", "shop", "unchanged"),
]


@pytest.fixture
def served() -> Iterator[tuple[SourceMetrics, Health, int]]:
    metrics, health = Metrics(), Health()
    view = metrics.of("default", lambda: OBJECTS)
    endpoint = Endpoint(metrics, health, "127.0.0.1", 0)
    yield view, health, endpoint.port
    endpoint.close()


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_objects_by_status_and_drift_by_kind_and_namespace(
    served: tuple[SourceMetrics, Health, int],
) -> None:
    metrics, _, port = served
    metrics.commit.info({"repository": "r", "branch": "main", "commit": "abc"})
    status, text = get(port, "/metrics")
    assert status == 200
    found = samples(text)
    src = ("source", "default")
    assert found[("ambdiff_objects", (src, ("status", "unchanged")))] == 2
    assert found[("ambdiff_objects", (src, ("status", "removed")))] == 0
    assert (
        found[("ambdiff_drifted_objects", (("kind", "Mapping"), ("namespace", "shop"), src))] == 1
    )
    assert (
        "ambdiff_drifted_objects",
        (("kind", "Secret"), ("namespace", "shop"), src),
    ) not in found
    info = (
        "ambdiff_commit_info",
        (("branch", "main"), ("commit", "abc"), ("repository", "r"), src),
    )
    assert found[info] == 1
    # Every error series exists from the start, so rate() and increase() work at once.
    for stage in Stage:
        assert found[("ambdiff_errors_total", (src, ("stage", stage)))] == 0
    assert any(name == "process_resident_memory_bytes" for name, _ in found)


def test_ready_only_after_a_successful_round_and_alive_until_stopping(
    served: tuple[SourceMetrics, Health, int],
) -> None:
    _, health, port = served
    assert get(port, "/healthz") == (200, "ok\n")
    assert get(port, "/readyz") == (503, "no round has succeeded yet\n")
    health.ready, health.detail = True, "ok: round 1 at abc"
    assert get(port, "/readyz") == (200, "ok: round 1 at abc\n")
    health.alive = False
    assert get(port, "/healthz")[0] == 503
    assert get(port, "/readyz")[0] == 503
    assert get(port, "/nope")[0] == 404


def test_a_busy_port_is_a_plain_error(served: tuple[SourceMetrics, Health, int]) -> None:
    _, _, port = served
    with pytest.raises(ConfigError, match=f"cannot serve metrics on 127.0.0.1:{port}"):
        Endpoint(Metrics(), Health(), "127.0.0.1", port)


def test_each_source_has_its_own_series_and_readiness() -> None:
    """One process, several sources: every series names its source; ready when all are."""
    metrics = Metrics()
    api, web = metrics.of("api", lambda: OBJECTS[:1]), metrics.of("web", lambda: OBJECTS)
    api.rounds.labels("start", "succeeded").inc()
    web.errors.labels("git").inc()
    healths = {"api": Health(ready=True, detail="ok: round 1"), "web": Health()}
    endpoint = Endpoint(metrics, Healths(healths), "127.0.0.1", 0)
    try:
        found = samples(get(endpoint.port, "/metrics")[1])
        assert (
            found[
                (
                    "ambdiff_rounds_total",
                    (("result", "succeeded"), ("source", "api"), ("trigger", "start")),
                )
            ]
            == 1
        )
        assert found[("ambdiff_errors_total", (("source", "web"), ("stage", "git")))] == 1
        assert found[("ambdiff_errors_total", (("source", "api"), ("stage", "git")))] == 0
        assert found[("ambdiff_objects", (("source", "api"), ("status", "changed")))] == 1
        assert found[("ambdiff_objects", (("source", "web"), ("status", "unchanged")))] == 2
        assert get(endpoint.port, "/readyz") == (
            503,
            "api: ok: round 1; web: no round has succeeded yet\n",
        )
        healths["web"].ready = True
        assert get(endpoint.port, "/readyz")[0] == 200
    finally:
        endpoint.close()
