"""How `sync --wait` is shown: the CI lines, the live table, the final report."""

from __future__ import annotations

import io

import pytest

from ambdiff.model import ObjectId
from ambdiff.render.console import make_consoles
from ambdiff.render.health import Watching, duration, report
from ambdiff.sync.wait import ObjectHealth, Target, Verdict, WaitReport


def target(kind: str, name: str) -> Target:
    group = "getambassador.io" if kind == "Host" else ""
    return Target(ObjectId(group, kind, "shop", name), "v1")


def printed(statuses: list[ObjectHealth], **kw: object) -> str:
    out = io.StringIO()
    consoles = make_consoles("never", out=out, err=io.StringIO())
    report(WaitReport(tuple(statuses), 300.0, 12.0, **kw), consoles)  # type: ignore[arg-type]
    return out.getvalue()


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.5, "0.5s"), (12, "12s"), (300, "5m00s"), (3600, "1h00m"), (7500, "2h05m")],
)
def test_durations_read_as_people_write_them(seconds: float, shown: str) -> None:
    assert duration(seconds, exact=True) == shown
    assert duration(4.1) == "4s"  # an elapsed time: whole seconds


def test_an_interrupted_wait_counts_the_failed_too() -> None:
    statuses = [
        ObjectHealth(target("Deployment", "a"), Verdict.FAILED, "deadline"),
        ObjectHealth(target("Deployment", "b"), Verdict.HEALTHY),
        ObjectHealth(target("Deployment", "c"), Verdict.PROGRESSING, "1 of 2"),
    ]
    text = printed(statuses, interrupted=True)
    assert "(interrupted): 1 healthy, 1 failed, 1 still on their way." in text


def test_many_healthy_objects_are_counted_and_the_rest_listed() -> None:
    statuses = [ObjectHealth(target("Namespace", f"n{i}"), Verdict.HEALTHY) for i in range(30)]
    statuses.append(ObjectHealth(target("Deployment", "web"), Verdict.TIMED_OUT, "1 of 2 updated"))
    text = printed(statuses)
    assert "✓ 30 object(s) healthy: 30 Namespace" in text
    assert "Namespace n0" not in text
    assert "✗ timed out    Deployment shop/web: 1 of 2 updated" in text


def test_nothing_with_health_says_so() -> None:
    text = printed([ObjectHealth(target("ConfigMap", "c"), Verdict.NONE)])
    assert "Done: none of the 1 object(s) reports health to wait for." in text


def test_the_ci_lines_say_when_an_object_waited_for_stops_needing_a_wait() -> None:
    """An object that reports nothing at once gets no line; one that was on its way (a Host
    waiting for its Secret) gets one when it no longer is."""
    err = io.StringIO()
    consoles = make_consoles("never", out=io.StringIO(), err=err)
    w = Watching(consoles, 300.0)
    w.change(ObjectHealth(target("ConfigMap", "c"), Verdict.NONE), 0.0)
    w.change(
        ObjectHealth(target("Host", "h"), Verdict.PROGRESSING, "waiting for its TLS Secret"), 0.0
    )
    w.change(ObjectHealth(target("Host", "h"), Verdict.NONE, "only Edge Stack reports"), 6.0)
    lines = err.getvalue().splitlines()
    assert len(lines) == 2
    assert "ConfigMap" not in err.getvalue()
    assert lines[1].startswith("  · not reported Host shop/h: only Edge Stack reports  [6s]")


def test_the_live_table_puts_what_is_not_healthy_first() -> None:
    consoles = make_consoles("never", out=io.StringIO(), err=io.StringIO())
    w = Watching(consoles, 300.0)
    statuses = [ObjectHealth(target("Namespace", f"n{i}"), Verdict.HEALTHY) for i in range(25)]
    statuses.append(ObjectHealth(target("Deployment", "web"), Verdict.PROGRESSING, "1 of 2"))
    table = w._table(statuses, 4.0)
    rendered = io.StringIO()
    make_consoles("never", out=rendered).out.print(table)
    text = rendered.getvalue()
    assert "Deployment shop/web" in text and "25 healthy" in text and "Namespace" not in text
