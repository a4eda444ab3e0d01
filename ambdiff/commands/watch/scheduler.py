"""When a source's next round runs, and what starts it: the interval, a debounced burst of
drift, a relist, a retry after a failure (exponential backoff), a standby's next look at the
Lease, or nothing once the watch stops. Pure but for the clock it is given, so the rules are
unit-tested with a fake one (tests/unit/test_watch_scheduler.py)."""

from __future__ import annotations

import threading
import time
from enum import StrEnum
from typing import Protocol

from ambdiff.schedule import Backoff, Debounce, backoff_cap

DRIFT_QUIET = 1.0  # a burst of changes is over after this long without another
DRIFT_MAX_DELAY = 5.0  # ... or this long after its first change
MIN_GAP = 1.0  # between the end of a round and a round started by drift


class Trigger(StrEnum):
    """What started a round (the `trigger` label of `ambdiff_rounds_total`)."""

    START = "start"
    INTERVAL = "interval"
    RETRY = "retry"  # after a failed round, once its backoff is over
    STANDBY = "standby"  # another replica leads: look at its Lease again
    DRIFT = "drift"  # a burst of live changes away from git is over
    RELIST = "relist"  # an API watch expired: list again


class Result(StrEnum):
    """How a round ended (the `result` label of `ambdiff_rounds_total`)."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    STANDBY = "standby"


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic clock."""
        ...

    def wait(self, event: threading.Event, timeout: float) -> None:
        """Until `event` is set or `timeout` seconds have passed."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.monotonic()

    def wait(self, event: threading.Event, timeout: float) -> None:
        event.wait(timeout)


class Scheduler:
    """One source's schedule. `next()` blocks until a round is due and says why; `ended()`
    is told how it went. `poke()` (from the drift watch's threads) asks for an early round
    once the burst is over; setting `stop` (then `wake()`) ends `next()` with None."""

    def __init__(
        self,
        interval: float,
        *,
        retry_period: float,
        stop: threading.Event,
        clock: Clock | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.interval = interval  # between rounds; the source's `interval:` once it is read
        self.retry_period = retry_period
        self.stop = stop
        self.clock = clock or SystemClock()
        self.backoff = backoff or Backoff(base=1.0, cap=backoff_cap(interval))
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._debounce = Debounce(DRIFT_QUIET, DRIFT_MAX_DELAY)
        self._drifted = False  # a pending early round is for drift, not only to list again
        self._next_at = self._not_before = self.clock.now()
        self._due = Trigger.START

    def poke(self, *, drift: bool = True) -> None:
        """Something changed live (`drift`), or a watch must list again: a round once the
        burst is over, at least MIN_GAP after the last one ended."""
        with self._lock:
            self._debounce.poke(self.clock.now())
            self._drifted = self._drifted or drift
        self._wake.set()

    def wake(self) -> None:
        """Look at `stop` now, not after the wait in progress."""
        self._wake.set()

    def next(self) -> Trigger | None:
        """Wait for the next round and say what starts it; None when stopping."""
        while True:
            self._wake.clear()
            # After the clear: a stop asked between a check and the clear (stop is set before
            # wake) is seen here, not after a backoff of minutes.
            if self.stop.is_set():
                return None
            now = self.clock.now()
            with self._lock:
                drift_at = self._debounce.deadline()
                early = Trigger.DRIFT if self._drifted else Trigger.RELIST
            if drift_at is not None and now >= max(drift_at, self._not_before):
                return self._started(early)
            if now >= self._next_at:
                return self._started(self._due)
            until = (
                self._next_at
                if drift_at is None
                else min(self._next_at, max(drift_at, self._not_before))
            )
            self.clock.wait(self._wake, until - now)

    def _started(self, trigger: Trigger) -> Trigger:
        with self._lock:
            self._debounce.reset()  # the round reads everything afresh
            self._drifted = False
        return trigger

    def ended(self, result: Result) -> float | None:
        """Schedule the round after one that ended with `result`; the backoff delay when it
        failed (None otherwise)."""
        now = self.clock.now()
        if result is Result.STANDBY:  # another replica leads: try its Lease again soon
            self.backoff.reset()
            self._next_at = self._not_before = now + self.retry_period
            self._due = Trigger.STANDBY
            return None
        if result is not Result.FAILED:
            self.backoff.reset()
            self._next_at, self._not_before = now + self.interval, now + MIN_GAP
            self._due = Trigger.INTERVAL
            return None
        delay = self.backoff.next()
        self._next_at = self._not_before = now + delay
        self._due = Trigger.RETRY
        return delay
