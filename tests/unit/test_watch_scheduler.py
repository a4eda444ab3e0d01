"""When `ambdiff watch` runs its rounds: the Scheduler driven by a fake clock, so that the
interval, the debounce of drift, the backoff after failures, the standby's retry and the
stop are checked to the second without waiting for any of them."""

from __future__ import annotations

import heapq
import itertools
import random
import re
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from ambdiff.commands.watch.lead import Deferral
from ambdiff.commands.watch.scheduler import (
    DRIFT_MAX_DELAY,
    DRIFT_QUIET,
    MIN_GAP,
    Result,
    Scheduler,
    Trigger,
)
from ambdiff.metrics import Stage
from ambdiff.schedule import Backoff


class FakeClock:
    """Time passes only while the scheduler waits: up to the next thing planned with `at`
    (which then happens, as another thread's poke would) or to the end of the wait."""

    def __init__(self) -> None:
        self.time = 0.0
        self._planned: list[tuple[float, int, Callable[[], None]]] = []
        self.waits: list[float] = []

    def now(self) -> float:
        return self.time

    def at(self, when: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._planned, (when, len(self._planned), action))

    def wait(self, event: threading.Event, timeout: float) -> None:
        assert timeout > 0, "the scheduler waited for nothing: it would spin"
        self.waits.append(timeout)
        end = self.time + timeout
        while self._planned and self._planned[0][0] <= end and not event.is_set():
            when, _, action = heapq.heappop(self._planned)
            self.time = max(self.time, when)
            action()
        if not event.is_set():
            self.time = end


def scheduler(
    interval: float = 60.0, *, jitter: float = 0.0, retry_period: float = 2.0
) -> tuple[Scheduler, FakeClock]:
    clock = FakeClock()
    backoff = Backoff(base=1.0, cap=10.0, jitter=jitter, _random=random.Random(3))
    s = Scheduler(
        interval, retry_period=retry_period, stop=threading.Event(), clock=clock, backoff=backoff
    )
    return s, clock


def rounds(s: Scheduler, clock: FakeClock, results: list[Result]) -> list[tuple[float, Trigger]]:
    """Run a round per result, each ending as it says at once: (start time, trigger)."""
    seen = []
    for result in results:
        trigger = s.next()
        assert trigger is not None
        seen.append((clock.time, trigger))
        s.ended(result)
    return seen


def test_the_first_round_starts_at_once_and_the_next_after_the_interval() -> None:
    s, clock = scheduler(interval=60.0)
    assert rounds(s, clock, [Result.SUCCEEDED] * 3) == [
        (0.0, Trigger.START), (60.0, Trigger.INTERVAL), (120.0, Trigger.INTERVAL),
    ]  # fmt: skip


def test_an_interrupted_round_waits_the_interval_like_a_successful_one() -> None:
    s, clock = scheduler(interval=30.0)
    assert rounds(s, clock, [Result.INTERRUPTED, Result.SUCCEEDED]) == [
        (0.0, Trigger.START), (30.0, Trigger.INTERVAL),
    ]  # fmt: skip


def test_failures_back_off_exponentially_up_to_the_cap_and_a_success_starts_over() -> None:
    s, clock = scheduler(interval=60.0)
    starts = rounds(s, clock, [Result.FAILED] * 6 + [Result.SUCCEEDED, Result.FAILED])
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(starts)]
    assert gaps == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 60.0]
    assert [t for _, t in starts][1:7] == [Trigger.RETRY] * 6
    assert s.ended(Result.FAILED) == 2.0  # the second failure after the success


def test_the_backoff_delay_is_said_only_after_a_failure() -> None:
    s, _ = scheduler()
    s.next()
    assert s.ended(Result.SUCCEEDED) is None
    s.next()
    assert s.ended(Result.STANDBY) is None
    s.next()
    assert s.ended(Result.FAILED) == 1.0


def test_jittered_retries_never_come_sooner_than_the_plain_backoff() -> None:
    s, clock = scheduler(jitter=0.1)
    starts = rounds(s, clock, [Result.FAILED] * 5)
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(starts)]
    for attempt, gap in enumerate(gaps):
        plain = min(10.0, 2.0**attempt)
        assert plain <= gap <= min(10.0, plain * 1.1)


def test_a_standby_looks_at_the_lease_again_every_retry_period() -> None:
    s, clock = scheduler(interval=60.0, retry_period=2.0)
    assert rounds(s, clock, [Result.STANDBY] * 3 + [Result.SUCCEEDED]) == [
        (0.0, Trigger.START), (2.0, Trigger.STANDBY), (4.0, Trigger.STANDBY),
        (6.0, Trigger.STANDBY),
    ]  # fmt: skip
    assert s.next() is Trigger.INTERVAL and clock.time == 66.0


def test_drift_starts_a_round_once_the_burst_has_been_quiet() -> None:
    s, clock = scheduler(interval=60.0)
    rounds(s, clock, [Result.SUCCEEDED])
    clock.at(10.0, s.poke)
    clock.at(10.5, s.poke)
    assert s.next() is Trigger.DRIFT
    assert clock.time == 10.5 + DRIFT_QUIET
    s.ended(Result.SUCCEEDED)
    assert s.next() is Trigger.INTERVAL and clock.time == 11.5 + 60.0  # the interval restarts


def test_a_burst_that_never_quiets_is_served_at_its_maximum_delay() -> None:
    s, clock = scheduler(interval=600.0)
    rounds(s, clock, [Result.SUCCEEDED])
    for tenth in range(100, 400, 5):  # a poke every half second from t=10 to t=40
        clock.at(tenth / 10, s.poke)
    assert s.next() is Trigger.DRIFT
    assert clock.time == 10.0 + DRIFT_MAX_DELAY


def test_drift_right_after_a_round_waits_for_the_minimum_gap() -> None:
    s, clock = scheduler(interval=60.0)
    s.next()
    clock.time = 20.0  # the first round took 20 s
    s.ended(Result.SUCCEEDED)
    s.poke()  # at once: due at 21.0 by the debounce, and MIN_GAP after the end
    assert s.next() is Trigger.DRIFT
    assert clock.time == 20.0 + max(DRIFT_QUIET, MIN_GAP)


def test_drift_seen_while_a_round_runs_gets_a_round_of_its_own_after_it() -> None:
    s, clock = scheduler(interval=60.0)
    assert s.next() is Trigger.START
    s.poke()  # during the round: its LISTs may have been read before the change
    clock.time = 0.5
    s.ended(Result.SUCCEEDED)
    assert s.next() is Trigger.DRIFT and clock.time == 0.5 + MIN_GAP
    s.ended(Result.SUCCEEDED)
    assert s.next() is Trigger.INTERVAL and clock.time == 1.5 + 60.0


def test_drift_before_a_round_that_is_due_anyway_is_served_by_that_round() -> None:
    s, clock = scheduler(interval=60.0)
    s.poke()
    assert s.next() is Trigger.START and clock.time == 0.0  # no second round for it
    s.ended(Result.SUCCEEDED)
    assert s.next() is Trigger.INTERVAL and clock.time == 60.0


def test_an_expired_watch_asks_for_a_relist_and_drift_wins_over_it() -> None:
    s, clock = scheduler(interval=60.0)
    rounds(s, clock, [Result.SUCCEEDED])
    clock.at(5.0, lambda: s.poke(drift=False))
    assert s.next() is Trigger.RELIST and clock.time == 6.0
    s.ended(Result.SUCCEEDED)
    clock.at(10.0, lambda: s.poke(drift=False))
    clock.at(10.2, s.poke)
    assert s.next() is Trigger.DRIFT and clock.time == pytest.approx(11.2)


def test_drift_while_backing_off_does_not_cut_the_backoff_short() -> None:
    s, clock = scheduler(interval=60.0)
    s.next()
    for _ in range(4):
        s.ended(Result.FAILED)
        assert s.next() is Trigger.RETRY
    s.ended(Result.FAILED)  # the fifth failure: 10 s (the cap) until the next try
    start = clock.time
    clock.at(start + 0.1, s.poke)
    assert s.next() is Trigger.DRIFT  # the drift is served, but not before the backoff ends
    assert clock.time == start + 10.0


def test_a_source_interval_read_later_takes_effect_from_the_next_round() -> None:
    s, clock = scheduler(interval=60.0)
    s.next()
    s.interval = 5.0  # the round read the source's `interval: 5s`
    s.ended(Result.SUCCEEDED)
    assert s.next() is Trigger.INTERVAL and clock.time == 5.0


def test_a_stop_ends_the_wait_at_once_even_during_a_long_backoff() -> None:
    s, clock = scheduler(interval=3600.0)
    s.next()
    s.ended(Result.SUCCEEDED)

    def stop() -> None:
        s.stop.set()
        s.wake()

    clock.at(7.0, stop)
    assert s.next() is None
    assert clock.time == 7.0  # no waiting out the hour


def test_a_stop_asked_before_the_first_round_runs_none() -> None:
    s, _ = scheduler()
    s.stop.set()
    assert s.next() is None


def _documented(metric: str, label: str) -> list[str]:
    """The values docs/watch.md's metrics table gives `label` of `metric`, in order."""

    text = (Path(__file__).parents[2] / "docs" / "watch.md").read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith(f"| `{metric}` |"))
    described = row.split(" | ")[-1]
    if label in ("trigger", "result"):  # "by `trigger` (`a`, `b`) and `result` (...)"
        described = described.split(f"`{label}` (", 1)[1].split(")", 1)[0]
    return re.findall(r"`([a-z-]+)`", described.replace("(`--wait`)", ""))


def test_the_docs_list_every_trigger_result_and_stage_the_metrics_can_carry() -> None:
    assert sorted(_documented("ambdiff_rounds_total", "trigger")) == sorted(Trigger)
    assert sorted(_documented("ambdiff_rounds_total", "result")) == sorted(Result)
    assert _documented("ambdiff_errors_total", "stage") == list(Stage)


def test_a_replica_that_leads_k_sources_leaves_a_free_lease_for_k_retry_periods() -> None:
    clock = FakeClock()
    deferral = Deferral(retry_period=2.0, clock=clock)
    assert not deferral.waiting(0)  # leading nothing: take a free Lease at once
    assert deferral.waiting(3)  # leads three: wait 3 x 2 s from now
    clock.time = 5.9
    assert deferral.waiting(3)
    clock.time = 6.0
    assert not deferral.waiting(3)
    deferral.reset()  # the Lease was taken; the next free one counts afresh
    assert deferral.waiting(1)
    clock.time = 8.0
    assert not deferral.waiting(1)


def test_the_wait_counts_from_the_first_time_the_lease_is_found_free() -> None:
    clock = FakeClock()
    deferral = Deferral(retry_period=2.0, clock=clock)
    assert deferral.waiting(1)
    clock.time = 1.0
    assert deferral.waiting(5)  # leading more meanwhile does not push the moment back
    clock.time = 2.0
    assert not deferral.waiting(5)
