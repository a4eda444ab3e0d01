"""A second core for CPU-bound work: a list mapped by two processes.

Reading a big repository is Python work under one interpreter lock (docs/performance.md:
threads gained nothing), so `map_split` forks one child that maps about half the items while
this process maps the others, and the child's results come back through a pipe (`marshal`).
Nothing is written to disk, and any failure of the child (an exception, a signal, results
`marshal` cannot carry) only means this process maps its items too: the answer is always the
one a plain loop gives.

A fork is used only where it is safe and pays: on Linux, with a second CPU to run on, from a
process with no other thread (a thread holding a lock at the fork would leave the child
stuck), and for work of at least `parallel_from` (below it the fork costs more than it saves).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import marshal
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

_MARSHAL_VERSION = 4  # keeps objects shared (YAML aliases) shared


def map_split(
    func: Callable[[T], Any],
    items: Sequence[T],
    *,
    sizes: Sequence[int],
    parallel_from: int,
) -> list[Any]:
    """`[func(item) for item in items]`, about half the work (`sizes`: how much each item
    is, e.g. its length) mapped in a forked child when `can_fork(sum(sizes))`: each item, in
    order, goes to the process with less work so far, so that kinds of item that cost more
    (a Deployment against a ConfigMap) are shared too. `func`'s results must be values
    `marshal` writes (None, numbers, text, lists, tuples, dicts)."""
    total = sum(sizes)
    if len(items) < 2 or not can_fork(total, parallel_from):
        return [func(item) for item in items]
    mine: list[int] = []
    theirs: list[int] = []
    loads = [0, 0]
    for index, size in enumerate(sizes):
        side = 0 if loads[0] <= loads[1] else 1
        (mine, theirs)[side].append(index)
        loads[side] += size
    if not theirs:
        return [func(item) for item in items]
    child = _Child(func, [items[i] for i in theirs])
    try:
        results: list[Any] = [None] * len(items)
        for index in mine:
            results[index] = func(items[index])
        for index, answer in zip(theirs, child.results(), strict=True):
            results[index] = answer
    finally:
        child.close()
    return results


def can_fork(work: int, parallel_from: int) -> bool:
    return (
        work >= parallel_from
        and sys.platform == "linux"
        and len(os.sched_getaffinity(0)) >= 2
        and threading.active_count() == 1
    )


class _Child:
    """A forked process mapping `items`; `results()` gives its answers, or maps the items
    here when it has none."""

    def __init__(self, func: Callable[[T], Any], items: Sequence[T]) -> None:
        self._func = func
        self._items = items
        self._pid: int | None = None
        self._pipe: int | None = None
        read_end, write_end = os.pipe()
        # The collector would walk every object the two processes share, in each of them,
        # copying the memory pages it touches: objects that exist now are left out of its
        # walks (in this process until the child is done), and the child runs without it.
        gc.freeze()
        try:
            pid = os.fork()
        except OSError as e:  # no memory or process slots for a child: do it all here
            gc.unfreeze()
            os.close(read_end)
            os.close(write_end)
            log.debug("no second process (%s): the work is done in this one", e.strerror)
            return
        if pid == 0:  # the child: map, write, and leave without running this process's exit
            status = 1
            try:
                gc.disable()
                os.close(read_end)
                payload = marshal.dumps([func(item) for item in items], _MARSHAL_VERSION)
                with os.fdopen(write_end, "wb") as pipe:
                    pipe.write(payload)
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        self._pid, self._pipe = pid, read_end

    def results(self) -> list[Any]:
        if self._pipe is None:
            return [self._func(item) for item in self._items]
        with os.fdopen(self._pipe, "rb") as pipe:
            self._pipe = None
            payload = pipe.read()
        status = self._wait()
        answers = None
        if status == 0:
            with contextlib.suppress(EOFError, ValueError, TypeError):
                answers = marshal.loads(payload)
        if isinstance(answers, list) and len(answers) == len(self._items):
            return answers
        # (the child's own error, if any, is raised again here by the same work)
        log.debug("the second process gave no answers (wait status %d): done in this one", status)
        return [self._func(item) for item in self._items]

    def close(self) -> None:
        """Stop a child whose results will not be read (this process is failing)."""
        if self._pipe is not None:
            os.close(self._pipe)
            self._pipe = None
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
            self._wait()

    def _wait(self) -> int:
        pid, self._pid = self._pid, None
        if pid is None:
            return -1
        gc.unfreeze()
        try:
            return os.waitpid(pid, 0)[1]
        except ChildProcessError:
            return -1
