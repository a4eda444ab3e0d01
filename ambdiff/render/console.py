"""Consoles: stdout for results, stderr for progress and errors. Injected everywhere, so tests
capture output and pipes get clean data. Colour only on a terminal or when asked."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO

from rich.console import Console


@dataclass(frozen=True)
class Consoles:
    out: Console
    err: Console

    @property
    def interactive(self) -> bool:
        """Progress bars and prompts only when a person is watching stderr."""
        isatty = getattr(self.err.file, "isatty", None)
        return bool(isatty and isatty())


def announce_cluster(consoles: Consoles, identity: Mapping[str, str]) -> None:
    """The first line of every command that talks to a cluster, on stderr: which context,
    server, user and namespace, so that a reader of a terminal or a CI log sees it."""
    parts = [f"cluster {identity['cluster']}" if identity.get("cluster") else ""]
    parts += [f"user {identity['user']}" if identity.get("user") else ""]
    parts += [f"namespace {identity.get('namespace') or 'default'}"]
    details = ", ".join(p for p in parts if p)
    consoles.err.print(
        f"Using context {identity.get('context')} at {identity.get('server')} ({details})",
        markup=False,
        highlight=False,
    )


def make_consoles(
    color: str = "auto", out: IO[str] | None = None, err: IO[str] | None = None
) -> Consoles:
    """`color`: auto (terminal; NO_COLOR / FORCE_COLOR honoured by rich), always, never."""
    return Consoles(_console(color, out or sys.stdout), _console(color, err or sys.stderr))


def _console(color: str, file: IO[str]) -> Console:
    if color == "always":
        return Console(file=file, force_terminal=True, highlight=False, soft_wrap=True)
    if color == "never":
        return Console(file=file, no_color=True, color_system=None, highlight=False, soft_wrap=True)
    return Console(file=file, highlight=False, soft_wrap=True)
