"""Leader election for `watch --sync`: one writer per inventory, the replica that holds the
inventory's Lease, held across rounds; the others stand by and take over when it is free.
Replicas spread sources between them: one that leads k sources already waits k retry periods
before taking a free Lease, so one that leads fewer wins the race."""

from __future__ import annotations

import logging
import threading

from ambdiff.cluster import Cluster
from ambdiff.commands.watch.options import Leases
from ambdiff.commands.watch.scheduler import Clock, SystemClock
from ambdiff.metrics import Health, SourceMetrics
from ambdiff.sync.lock import WATCH_ROLE, Lock, LockHeld, holder_identity, lease_name

log = logging.getLogger(__package__)


class Leads:
    """How many sources the loops of this process lead (the spreading rule above)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0

    def add(self, n: int) -> None:
        with self.lock:
            self.count = max(0, self.count + n)


class Deferral:
    """The spreading rule for one source: a replica that leads k sources already waits k retry
    periods, from the first time it finds this source's Lease free, before it tries to take it."""

    def __init__(self, retry_period: float, clock: Clock) -> None:
        self.retry_period = retry_period
        self.clock = clock
        self._until: float | None = None

    def waiting(self, led: int) -> bool:
        """True while a replica that leads `led` sources should still leave the Lease free."""
        if not led:
            return False
        now = self.clock.now()
        if self._until is None:
            self._until = now + led * self.retry_period
        return now < self._until

    def reset(self) -> None:
        """The Lease was taken (by this replica or another): the next free one starts afresh."""
        self._until = None


class Leadership:
    """One source's part in the election: the Lease it leads with, or the one it stands by;
    what /readyz and `ambdiff_leading` say of it."""

    def __init__(
        self,
        leases: Leases,
        metrics: SourceMetrics,
        health: Health,
        fleet_leads: Leads,
        clock: Clock | None = None,
    ) -> None:
        self.leases = leases
        self.metrics = metrics
        self.health = health
        self.fleet_leads = fleet_leads
        self.holder = holder_identity(WATCH_ROLE)  # this process, in the inventory's Lease
        self.lease: Lock | None = None  # the Lease this replica leads with, held across rounds
        self._standby: Lock | None = None  # the Lease another replica leads (read, not held)
        self._standby_said = ""  # the holder last logged, so standby is said once
        self._deferral = Deferral(leases.retry_period, clock or SystemClock())
        self._led: tuple[Cluster, str, str] | None = None  # where the led inventory's record is

    @property
    def led(self) -> tuple[Cluster, str, str] | None:
        """(cluster, inventory, record namespace) while this replica leads; else None."""
        return self._led if self.lease is not None else None

    def lead(
        self, cluster: Cluster, inventory: str, namespace: str, extra: dict[str, object]
    ) -> Lock | None:
        """The Lease this replica writes under, taken now or kept from an earlier round; None
        while another replica leads the inventory (this one stands by)."""
        lease = self.lease
        if lease is not None and (lease.inventory, lease.namespace) != (inventory, namespace):
            lease.release()  # the commit moved the inventory: lead the new one, or stand by
            self.lease = lease = None
            self.fleet_leads.add(-1)
        if lease is not None and lease.lost():
            log.warning(
                f"no longer leading inventory {inventory}: {lease.lost()}; standing by",
                extra={"event": "lead-lost", "inventory": inventory},
            )
            lease.abandon()
            self.lease = lease = None
            self.fleet_leads.add(-1)
        if lease is not None:
            return lease
        leases = self.leases
        lock = Lock(
            cluster,
            inventory,
            namespace,
            self.holder,
            duration=round(leases.duration),
            renew_every=leases.retry_period,
            renew_deadline=leases.renew_deadline,
        )
        with self.fleet_leads.lock:
            led = self.fleet_leads.count
            if self._deferral.waiting(led):
                holder = lock.holder_of()
                if holder:  # taken meanwhile: stand by it, not "waiting"
                    self._stand_by(lock, inventory, holder, lock.held_by(holder), extra)
                    return None
                self.health.ready = True
                self.health.detail = (
                    f"waiting to lead inventory {inventory}: this replica leads "
                    f"{led} source(s) already, another may take it first"
                )
                return None
            try:
                lock.acquire(0)
            except LockHeld as e:
                self._stand_by(lock, inventory, lock.holder_of(), e.message, extra)
                return None
            self.fleet_leads.count += 1
            self._deferral.reset()
        lock.start_renewing()
        self.lease, self._standby, self._standby_said = lock, None, ""
        self._led = (cluster, inventory, namespace)
        self.metrics.leading.labels(inventory).set(1)
        log.info(
            f"leading inventory {inventory} (Lease {namespace}/{lease_name(inventory)})",
            extra={"event": "lead", "inventory": inventory, "holder": self.holder},
        )
        return lock

    def standing_by(self, extra: dict[str, object]) -> bool:
        """True while another replica still holds the Lease this one stands by (a standby
        round is then one read, no git fetch and no diff); False when the Lease is free (a
        full round takes it) or this replica leads."""
        if self._standby is None or self.lease is not None:
            return False
        holder = self._standby.holder_of()
        if not holder:
            return False
        if holder != self._standby_said:  # another replica took over from the one we named
            self._said_standby(
                self._standby.inventory, holder, self._standby.held_by(holder), extra
            )
        return True

    def release(self) -> None:
        """Hand the Lease over now, not after --lease-duration."""
        if self.lease is not None:
            self.lease.release()
            self.lease = None
            self.fleet_leads.add(-1)

    def _stand_by(
        self, lock: Lock, inventory: str, holder: str, why: str, extra: dict[str, object]
    ) -> None:
        """Another replica leads `lock`'s inventory: follow it, and say so."""
        self._deferral.reset()
        self._standby = lock
        self.metrics.leading.labels(inventory).set(0)
        self._said_standby(inventory, holder, why, extra)

    def _said_standby(
        self, inventory: str, holder: str, why: str, extra: dict[str, object]
    ) -> None:
        """/readyz names the leader; the log says so once per leader."""
        self.health.ready = True  # standing by is this replica's job, done
        self.health.detail = f"standby: inventory {inventory} is led by {holder or 'another'}"
        if holder != self._standby_said:
            self._standby_said = holder
            log.info(
                f"standing by: {why}",
                extra={**extra, "event": "standby", "inventory": inventory, "holder": holder},
            )
