"""When `ambdiff watch` runs a round: interval parsing, backoff, debouncing (pure)."""

from __future__ import annotations

import random

import pytest

from ambdiff.errors import ConfigError
from ambdiff.schedule import Backoff, Debounce, backoff_cap, parse_interval


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("60", 60.0),
        ("60s", 60.0),
        ("1m", 60.0),
        ("1m30s", 90.0),
        ("1.5m", 90.0),
        ("500ms", 0.5),
        ("2h", 7200.0),
        (" 5M ", 300.0),
        ("1h2m3s", 3723.0),
    ],
)
def test_intervals_parse_like_go_durations(text: str, seconds: float) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "5 m", "5x", "m5", "1m 30s", "-5s", "5s5"])
def test_a_malformed_interval_says_how_to_write_one(text: str) -> None:
    with pytest.raises(ConfigError, match="is not a duration") as error:
        parse_interval(text)
    assert "30s, 5m, 1m30s" in str(error.value)


@pytest.mark.parametrize("text", ["0", "0s", "0ms"])
def test_a_zero_interval_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="longer than zero"):
        parse_interval(text)


def test_backoff_doubles_up_to_its_cap_and_starts_over_after_a_success() -> None:
    backoff = Backoff(base=1.0, cap=10.0, jitter=0.0)
    assert [backoff.next() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    backoff.reset()
    assert backoff.next() == 1.0


def test_backoff_jitter_only_lengthens_and_never_passes_the_cap() -> None:
    backoff = Backoff(base=1.0, cap=8.0, jitter=0.1, _random=random.Random(7))
    delays = [backoff.next() for _ in range(8)]
    for attempt, delay in enumerate(delays):
        plain = min(8.0, 2.0**attempt)
        assert plain <= delay <= min(8.0, plain * 1.1)
    assert delays[-1] <= 8.0


@pytest.mark.parametrize(
    ("interval", "cap"), [(2.0, 10.0), (60.0, 60.0), (120.0, 120.0), (3600.0, 300.0)]
)
def test_failed_rounds_back_off_to_about_the_interval_within_bounds(
    interval: float, cap: float
) -> None:
    assert backoff_cap(interval) == cap


def test_debounce_waits_for_a_quiet_moment() -> None:
    d = Debounce(quiet=1.0, max_delay=5.0)
    assert d.deadline() is None  # nothing pending
    d.poke(10.0)
    assert d.deadline() == 11.0
    d.poke(10.5)  # the burst goes on: due a quiet second after the last poke
    assert d.deadline() == 11.5


def test_debounce_fires_after_max_delay_however_long_the_burst() -> None:
    d = Debounce(quiet=1.0, max_delay=5.0)
    for t in range(10, 20):  # a change every second, for ever
        d.poke(t * 0.9)
    assert d.deadline() == 9.0 + 5.0  # the first poke's time plus max_delay


def test_debounce_reset_forgets_the_burst() -> None:
    d = Debounce(quiet=1.0, max_delay=5.0)
    d.poke(1.0)
    d.reset()
    assert d.deadline() is None
    d.poke(50.0)
    assert d.deadline() == 51.0
