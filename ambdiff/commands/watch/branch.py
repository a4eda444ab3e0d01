"""The branch every loop of a `watch` process follows, shared between them."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from ambdiff.gitsource import Branch


class SharedBranch:
    """One branch for every loop: a fetch that another loop made moments ago (or is making)
    serves this one too, so N sources cost one fetch per round, not N; the branch's git
    repository is used by one thread at a time."""

    def __init__(self, branch: Branch, fresh_for: float = 1.0) -> None:
        self._branch, self._fresh_for = branch, fresh_for
        self._lock = threading.Lock()
        self._fetched = -math.inf

    def fetch(self) -> None:
        with self._lock:
            if time.monotonic() - self._fetched < self._fresh_for:
                return
            self._branch.fetch()
            self._fetched = time.monotonic()

    def head(self) -> str:
        # GitPython's Repo keeps one `git cat-file` process per repository, and two threads
        # talking to it at once wait for each other forever: one at a time.
        with self._lock:
            return self._branch.head()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._branch, name)
