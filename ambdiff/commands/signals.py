"""The one way a command is stopped by SIGINT (Ctrl-C) or SIGTERM while it writes: the first
signal asks it to stop after the work in flight; a second one stops at once (inside a request
that hangs, too). `sync` and `watch` both use it."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def stop_on_signal(
    stop: threading.Event | None = None, on_first: Callable[[int], None] = lambda signum: None
) -> Iterator[threading.Event]:
    """While inside: SIGINT or SIGTERM sets `stop` (a new event unless given) and calls
    `on_first(signum)`; one that comes when `stop` is set already raises KeyboardInterrupt.
    The handlers before are put back on leaving. Off the main thread, where Python runs no
    signal handler, it only yields the event."""
    event = stop if stop is not None else threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return

    def handler(signum: int, frame: object) -> None:
        if event.is_set():  # asked twice: stop at once
            raise KeyboardInterrupt
        event.set()
        on_first(signum)

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield event
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
