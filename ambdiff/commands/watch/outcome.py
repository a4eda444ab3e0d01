"""How a round ended: a typed outcome, and the stage a failure is counted in."""

from __future__ import annotations

from dataclasses import dataclass

from ambdiff.commands.watch.scheduler import Result
from ambdiff.errors import ClusterError, ConfigError, GitError, ManifestError
from ambdiff.metrics import Stage
from ambdiff.sync.lock import LockHeld


@dataclass(frozen=True)
class Outcome:
    result: Result
    stage: Stage | None = None  # where a failed round failed
    summary: str = ""  # what the round's log line says it did


def stage_of(error: BaseException) -> Stage:
    """The stage an error that ended a round early is counted in."""
    if isinstance(error, GitError):
        return Stage.GIT
    if isinstance(error, ConfigError):
        return Stage.CONFIG
    if isinstance(error, ManifestError):
        return Stage.MANIFESTS
    if isinstance(error, LockHeld):
        return Stage.LOCK
    if isinstance(error, ClusterError):
        return Stage.CLUSTER
    return Stage.INTERNAL
