"""What a round's end tells the world: its metrics, /healthz and /readyz, and its log line,
in one place, from its typed outcome."""

from __future__ import annotations

import logging

from ambdiff.commands.watch.outcome import Outcome, stage_of
from ambdiff.commands.watch.scheduler import Result, Trigger
from ambdiff.errors import AmbdiffError
from ambdiff.gitsource import redact
from ambdiff.metrics import Health, SourceMetrics

log = logging.getLogger(__package__)


class RoundObserver:
    def __init__(self, source: str, metrics: SourceMetrics, health: Health) -> None:
        self.source = source
        self.metrics = metrics
        self.health = health

    def failed(self, number: int, error: Exception, extra: dict[str, object]) -> Outcome:
        """A round that ended in an error: said, with its stage; a bug says it is one."""
        outcome = Outcome(Result.FAILED, stage_of(error))
        fields = {**extra, "event": "round-failed", "stage": outcome.stage}
        if isinstance(error, AmbdiffError):
            log.error(
                f"round {number} failed ({outcome.stage}): {redact(str(error))}", extra=fields
            )
        else:
            log.exception(
                f"round {number} failed: a bug in ambdiff: {type(error).__name__}: {error}",
                extra=fields,
            )
        return outcome

    def ended(
        self,
        number: int,
        trigger: Trigger,
        outcome: Outcome,
        elapsed: float,
        commit: str,
        extra: dict[str, object],
    ) -> None:
        self.metrics.round_duration.observe(elapsed)
        self.metrics.rounds.labels(trigger, outcome.result).inc()
        if outcome.result is Result.SUCCEEDED:
            self.metrics.last_success.set_to_current_time()
            self.metrics.failing.set(0)
            self.health.ready = True
            self.health.detail = f"ok: round {number} at {commit[:12]}"
        elif outcome.result is Result.FAILED:
            assert outcome.stage is not None  # a failed round says where
            self.metrics.errors.labels(outcome.stage).inc()
            self.metrics.failing.inc()
            if not self.health.ready:
                self.health.detail = (
                    f"no round has succeeded yet; the last failed ({outcome.stage})"
                )
        if outcome.summary and outcome.result is not Result.STANDBY:
            log.info(
                f"round {number} ({trigger}): {outcome.summary} ({elapsed:.2f}s)",
                extra={
                    **extra,
                    "event": "round",
                    "result": outcome.result,
                    "commit": commit,
                    "duration_seconds": round(elapsed, 3),
                },
            )

    def retrying(self, delay: float) -> None:
        log.info(
            f"retrying in {delay:.1f}s",
            extra={"event": "backoff", "delay_seconds": delay, "source": self.source},
        )
