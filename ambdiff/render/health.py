"""`sync --wait` as a person or a CI log sees it: a live table on a terminal, one line per
change elsewhere (with a line every half minute while it waits), then the health report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.live import Live
from rich.markup import escape
from rich.table import Table

from ambdiff.render.console import Consoles
from ambdiff.render.text import shown
from ambdiff.sync.wait import ObjectHealth, Target, Verdict, WaitReport

HEARTBEAT_SECONDS = 30.0
_MARK = {
    Verdict.HEALTHY: ("✓", "green"),
    Verdict.FAILED: ("✗", "bold red"),
    Verdict.PROGRESSING: ("…", "yellow"),
    Verdict.NONE: ("·", "dim"),
    Verdict.TIMED_OUT: ("✗", "bold red"),
}
MAX_LISTED = 20  # rows of the live table
MAX_HEALTHY_LISTED = 10  # past this the report counts the healthy objects by kind


def duration(seconds: float, *, exact: bool = False) -> str:
    """`12s`, `5m00s`, `2h05m`; `exact` keeps a fraction of a short time (`--timeout 0.5s`)."""
    if exact and seconds < 10 and seconds != int(seconds):
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole >= 3600:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def _what(status: ObjectHealth) -> str:
    return shown(str(status.target.id))


@dataclass
class Watching:
    """The callbacks `ambdiff.sync.wait.follow` takes, drawing as it goes."""

    consoles: Consoles
    timeout: float
    live: Live | None = None
    _last_beat: float = 0.0
    _spoken: set[Target] = field(default_factory=set)  # objects a line was printed for

    def change(self, status: ObjectHealth, elapsed: float) -> None:
        if self.live is not None:
            return  # the table shows it
        if status.verdict is Verdict.NONE and status.target not in self._spoken:
            return  # never on its way: the report counts what reports no health
        self._spoken.add(status.target)
        mark, _ = _MARK[status.verdict]
        detail = f": {status.message}" if status.message else ""
        self.consoles.err.print(
            shown(
                f"  {mark} {status.verdict.value:<12} {_what(status)}{detail}  [{duration(elapsed)}]"
            ),
            markup=False,
            highlight=False,
        )

    def round(self, statuses: Sequence[ObjectHealth], elapsed: float) -> None:
        waiting = [s for s in statuses if s.verdict is Verdict.PROGRESSING]
        if self.live is not None:
            self.live.update(self._table(statuses, elapsed))
            return
        if waiting and elapsed - self._last_beat >= HEARTBEAT_SECONDS and elapsed < self.timeout:
            self._last_beat = elapsed
            names = ", ".join(_what(s) for s in waiting[:5])
            more = f" and {len(waiting) - 5} more" if len(waiting) > 5 else ""
            self.consoles.err.print(
                f"Still waiting for {len(waiting)} object(s) ({duration(elapsed)} of "
                f"{duration(self.timeout, exact=True)}): {names}{more}",
                markup=False,
                highlight=False,
            )

    def _table(self, statuses: Sequence[ObjectHealth], elapsed: float) -> Table:
        with_health = [s for s in statuses if s.verdict is not Verdict.NONE]
        done = sum(1 for s in with_health if s.verdict.settled)
        # What is still on its way or failed, first; the healthy are counted.
        order = (Verdict.FAILED, Verdict.TIMED_OUT, Verdict.PROGRESSING)
        shown_ = sorted(
            (s for s in with_health if s.verdict in order), key=lambda s: order.index(s.verdict)
        )
        healthy = len(with_health) - len(shown_)
        table = Table(
            title=f"Waiting for health: {done} of {len(with_health)} settled ({duration(elapsed)} of "
            f"{duration(self.timeout, exact=True)}, {healthy} healthy; Ctrl-C stops waiting, the writes stay)",
            title_justify="left",
            show_header=False,
            box=None,
            padding=(0, 1),
        )
        for s in shown_[:MAX_LISTED]:
            mark, style = _MARK[s.verdict]
            table.add_row(
                f"[{style}]{mark} {s.verdict.value}[/]",
                escape(_what(s)),
                f"[dim]{escape(shown(s.message))}[/]",
            )
        if len(shown_) > MAX_LISTED:
            table.add_row("", f"… {len(shown_) - MAX_LISTED} more", "")
        return table


@contextmanager
def watching(consoles: Consoles, count: int, timeout: float) -> Iterator[Watching]:
    """The display for one wait: a transient live table on a terminal, lines elsewhere."""
    consoles.err.print(
        f"Waiting up to {duration(timeout, exact=True)} for {count} object(s) to become healthy…",
        markup=False,
        highlight=False,
    )
    w = Watching(consoles, timeout)
    if not consoles.interactive:
        yield w
        return
    with Live(console=consoles.err, transient=True, refresh_per_second=4) as live:
        w.live = live
        yield w


def report(r: WaitReport, consoles: Consoles) -> None:
    """Every object with health to report (the healthy counted when there are many), a count
    of those without, then the verdict."""
    out = consoles.out
    listed = [s for s in r.statuses if s.verdict is not Verdict.NONE]
    fine = [s for s in listed if s.verdict is Verdict.HEALTHY]
    if len(fine) > MAX_HEALTHY_LISTED:
        kinds = Counter(s.target.id.kind for s in fine)
        named = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
        out.print(f"  [green]✓ {len(fine)} object(s) healthy[/]: {escape(shown(named))}")
        listed = [s for s in listed if s.verdict is not Verdict.HEALTHY]
    for s in listed:
        mark, style = _MARK[s.verdict]
        detail = f": {escape(shown(s.message))}" if s.message else ""
        out.print(f"  [{style}]{mark} {s.verdict.value:<12}[/] {escape(_what(s))}{detail}")
    quiet = r.of(Verdict.NONE)
    if quiet:
        kinds = Counter(s.target.id.kind for s in quiet)
        named = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
        out.print(
            f"  [dim]· {len(quiet)} object(s) report no health to wait for: "
            f"{escape(shown(named))}[/]"
        )
        for s in quiet:
            if s.message:
                out.print(f"  [dim]  {escape(_what(s))}: {escape(shown(s.message))}[/]")
    healthy = len(r.of(Verdict.HEALTHY))
    took = duration(r.elapsed)
    if r.interrupted:
        waiting, failed = len(r.of(Verdict.PROGRESSING)), len(r.of(Verdict.FAILED))
        out.print(
            f"[bold yellow]Stopped waiting[/] after {took} (interrupted): {healthy} healthy, "
            f"{failed} failed, {waiting} still on their way. Every write stays applied."
        )
    elif r.ok and not healthy:
        out.print(
            f"[bold green]Done[/]: none of the {len(r.statuses)} object(s) reports health "
            "to wait for."
        )
    elif r.ok:
        out.print(f"[bold green]Healthy[/]: {healthy} object(s) healthy after {took}.")
    else:
        failed, late = len(r.of(Verdict.FAILED)), len(r.of(Verdict.TIMED_OUT))
        out.print(
            f"[bold red]Not healthy[/] after {took}: {failed} failed, {late} timed out "
            f"(--timeout {duration(r.timeout, exact=True)}), {healthy} healthy. The writes stay "
            "applied: fix the cause in git and sync again."
        )
