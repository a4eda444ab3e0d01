"""What `ambdiff watch` was asked to do: its options beyond the shared ones (`Common`)."""

from __future__ import annotations

from dataclasses import dataclass

from ambdiff.errors import ConfigError


@dataclass(frozen=True)
class Leases:
    """Leader election on each inventory's Lease, with client-go's defaults (seconds)."""

    duration: float = 15.0  # a leader that stops renewing is replaced this long after
    renew_deadline: float = 10.0  # a leader that could not renew for this long stops writing
    retry_period: float = 2.0  # how often a leader renews, and a standby tries to take it

    def __post_init__(self) -> None:
        if not self.duration > self.renew_deadline > self.retry_period > 0:
            raise ConfigError(
                f"--lease-duration ({self.duration:g}s) must be longer than --renew-deadline "
                f"({self.renew_deadline:g}s), and that longer than --retry-period "
                f"({self.retry_period:g}s).",
                hint="The defaults are 15s, 10s and 2s, as client-go's leader election.",
            )


@dataclass(frozen=True)
class WatchOptions:
    branch: str = "main"
    interval: float = 60.0
    sync: bool = False
    force_conflicts: bool = True
    paths: tuple[str, ...] = ()  # PATH arguments; empty: the settings file's, or everything
    config_given: bool = False  # --config: use it, not the settings file in each commit
    metrics_address: str = "0.0.0.0"
    metrics_port: int = 9108  # 0: no HTTP endpoint
    log_format: str = "text"
    leases: Leases = Leases()
    interval_given: bool = False  # --interval or AMBDIFF_INTERVAL: it wins over a source's
