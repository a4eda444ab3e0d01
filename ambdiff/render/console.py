"""Consoles: stdout for results, stderr for progress and errors. Injected everywhere, so tests
capture output and pipes get clean data. Colour only on a terminal or when asked."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any

from rich.console import Console

from ambdiff.render.text import safe_line, shown


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
        shown(f"Using context {identity.get('context')} at {identity.get('server')} ({details})"),
        markup=False,
        highlight=False,
    )


def make_consoles(
    color: str = "auto", out: IO[str] | None = None, err: IO[str] | None = None
) -> Consoles:
    """`color`: auto (terminal; NO_COLOR / FORCE_COLOR honoured by rich), always, never."""
    return Consoles(_console(color, out or sys.stdout), _console(color, err or sys.stderr))


class _Console(Console):
    def print(self, *objects: Any, **options: Any) -> None:
        """A plain-text print (`markup=False`: a message, which may quote the input) shows
        its text `shown`, on one line; markup and renderables are escaped by their callers."""
        if options.get("markup") is False:
            objects = tuple(safe_line(shown(o)) if isinstance(o, str) else o for o in objects)
        super().print(*objects, **options)

    def on_broken_pipe(self) -> None:
        # rich exits 1 ("differences") when the reader went away; cli.main has one rule for it.
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


def _console(color: str, file: IO[str]) -> Console:
    # Text prints as typed: no `:rocket:` emoji codes or highlighted numbers from the input.
    if color == "always":
        return _Console(
            file=file, force_terminal=True, soft_wrap=True, highlight=False, emoji=False
        )
    if color == "never":
        return _Console(
            file=file,
            no_color=True,
            color_system=None,
            soft_wrap=True,
            highlight=False,
            emoji=False,
        )
    return _Console(file=file, soft_wrap=True, highlight=False, emoji=False)
