"""Progress for long work, on stderr and only when a person is watching."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ambdiff.render.console import Consoles


@contextmanager
def progress(
    consoles: Consoles, label: str, *, stage: bool = False
) -> Iterator[Callable[[int, int], None]]:
    """Yields `update(done, total)`; a bar on a terminal. Elsewhere (a CI log) nothing, or
    with `stage` one line as the stage begins, so that a long run is seen to be working."""
    if not consoles.interactive:
        if stage:
            consoles.err.print(f"{label}…", markup=False)
        yield lambda done, total: None
        return
    # (here: rich's progress and live display cost start-up only where a bar is shown)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    bar = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=consoles.err,
        transient=True,
    )
    task = bar.add_task(label, total=None)
    with bar:
        yield lambda done, total: bar.update(task, completed=done, total=total)
