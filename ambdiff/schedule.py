"""When `ambdiff watch` runs a round: the interval, backoff after failures, and debouncing of
bursts of changes seen through the API's watch. Pure: the caller passes the clock."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from ambdiff.errors import ConfigError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def parse_interval(text: str, *, option: str = "--interval", allow_zero: bool = False) -> float:
    """`90`, `90s`, `1m30s`, `1.5m`, `500ms`, `2h` -> seconds. A bare number is seconds."""
    value = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        seconds = float(value)
    else:
        parts = _PART.findall(value)
        if not parts or "".join(n + u for n, u in parts) != value:
            raise ConfigError(
                f"{option} {text!r} is not a duration.",
                hint="Write it like 30s, 5m, 1m30s or 500ms (a bare number is seconds).",
            )
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ConfigError(f"{option} {text!r} must be longer than zero.")
    return seconds


def backoff_cap(interval: float) -> float:
    """Failed rounds are retried sooner than the interval at first, then less often, up to
    the interval itself, but at least 10 s apart and at most 5 min."""
    return min(max(interval, 10.0), 300.0)


@dataclass
class Backoff:
    """Exponential backoff: `base`, 2 x base, 4 x base ... up to `cap`, each with up to
    `jitter` (a fraction) added at random, so that many watchers do not retry in step."""

    base: float = 1.0
    cap: float = 300.0
    jitter: float = 0.1
    failures: int = 0
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def next(self) -> float:
        """The delay before the next attempt, after one more failure."""
        delay = min(self.cap, self.base * 2.0**self.failures)
        self.failures += 1
        return min(self.cap, delay * (1 + self.jitter * self._random.random()))

    def reset(self) -> None:
        self.failures = 0


@dataclass
class Debounce:
    """Collapses a burst of pokes into one: due once `quiet` seconds pass without a poke, or
    `max_delay` seconds after the first poke of the burst, whichever comes first."""

    quiet: float = 1.0
    max_delay: float = 5.0
    _first: float | None = None
    _last: float | None = None

    def poke(self, now: float) -> None:
        if self._first is None:
            self._first = now
        self._last = now

    def deadline(self) -> float | None:
        """When the burst is due, or None when nothing is pending."""
        if self._first is None or self._last is None:
            return None
        return min(self._last + self.quiet, self._first + self.max_delay)

    def reset(self) -> None:
        self._first = self._last = None
