"""The loops of one `watch` process: run together (a thread per source), stopped together
by SIGTERM or SIGINT (after the work in flight; a watchdog ends the process
if a request hangs past STOP_GRACE)."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ambdiff.commands.signals import stop_on_signal
from ambdiff.errors import Exit

if TYPE_CHECKING:
    from ambdiff.commands.watch.loop import Loop

log = logging.getLogger(__package__)

STOP_GRACE = 20.0  # seconds a stop may wait for a request in flight before the process exits


class Fleet:
    """The loops of one process, stopped together: what the signal handler and the stop
    watchdog see."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.loops: list[Loop] = []
        self.done = threading.Event()

    @property
    def applying(self) -> bool:
        return any(loop.applying for loop in self.loops)

    def request_stop(self) -> None:
        self.stop.set()
        for loop in self.loops:
            loop.schedule.wake()

    def run(self) -> None:
        if len(self.loops) == 1:
            self.loops[0].run()
            return
        threads = [
            threading.Thread(target=loop.run, name=f"source-{loop.source}", daemon=True)
            for loop in self.loops
        ]
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(0.2)  # short joins: the main thread stays free for signals

    def close(self) -> None:
        for loop in self.loops:
            loop.close()
        self.done.set()

    @contextmanager
    def stopped_by_signals(self) -> Iterator[None]:
        """SIGTERM or SIGINT: stop after the object in flight; a second signal stops at once."""

        def first(signum: int) -> None:
            log.info(
                f"{signal.Signals(signum).name}: stopping after the work in flight",
                extra={"event": "signal"},
            )
            self.request_stop()
            threading.Thread(target=self._watchdog, name="stop-watchdog", daemon=True).start()

        with stop_on_signal(self.stop, first):
            yield

    def _watchdog(self) -> None:
        """End the process STOP_GRACE after a stop was asked, whatever is in flight: the pod's
        grace period (30 s in examples/in-cluster) ends in SIGKILL, and a line that says what
        was cut short is better than none."""
        if self.done.wait(STOP_GRACE):
            return
        if self.applying:
            said = (
                f"a write did not finish within {STOP_GRACE:.0f}s of the stop; exiting with "
                "it in flight (server-side apply is idempotent: the next round, or a sync, "
                "applies it again)"
            )
        else:
            said = (
                f"a request did not finish within {STOP_GRACE:.0f}s of the stop; exiting "
                "without it (nothing was being written)"
            )
        busy = sorted(t.name for t in threading.enumerate() if t is not threading.current_thread())
        log.warning(said, extra={"event": "stop-forced", "writing": self.applying, "threads": busy})
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(Exit.INTERRUPTED)
