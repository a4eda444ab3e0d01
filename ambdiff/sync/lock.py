"""One writer at a time: a `coordination.k8s.io/v1` Lease per inventory, the mechanism
client-go's leader election uses.

A sync holds the Lease `ambdiff-<inventory>` (beside the inventory record) from before its
first write until after its record is written, renewing it every `renew` seconds; a second
sync or `watch --sync` of the same inventory waits up to its lock timeout for it, or stops
with one sentence naming the holder and since when. A holder that died stops renewing, and
its Lease is taken over once `duration` seconds have passed since its last renewal.
Updates carry the resourceVersion read, so two takers cannot both win.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from ambdiff.errors import ClusterError, ForbiddenError

DURATION_SECONDS = 15  # client-go leader election's default lease duration
RENEW_SECONDS = 5.0
POLL_SECONDS = 1.0


class LockCluster(Protocol):
    def resource(self, api_version: str, kind: str) -> Any: ...

    def get(self, res: Any, namespace: str | None, name: str) -> dict[str, Any] | None: ...

    def create(self, res: Any, body: Mapping[str, Any]) -> dict[str, Any]: ...

    def replace(self, res: Any, body: Mapping[str, Any]) -> dict[str, Any]: ...


class LockHeld(ClusterError):
    """Another writer holds the inventory's Lease."""


def lease_name(inventory: str) -> str:
    return f"ambdiff-{inventory}".lower()[:253]


WATCH_ROLE = "watch"  # the last part of a watch's holder identity: host/pid/random/watch


def holder_identity(role: str = "") -> str:
    """host/pid/random, and /ROLE for a watch (whose Lease is kept while it leads, so that a
    sync refused by it can say so)."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}" + (
        f"/{role}" if role else ""
    )


@dataclass
class Lock:
    cluster: LockCluster
    inventory: str
    namespace: str
    holder: str
    duration: int = DURATION_SECONDS
    renew_every: float = RENEW_SECONDS
    # A holder that could not renew for this long stops writing (client-go's renew deadline);
    # None: only a Lease another holder took ends it (`taken`).
    renew_deadline: float | None = None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Set when another holder took the Lease while this one held it (after renewals
        # failed for longer than its duration): the writer must stop between two objects.
        self.taken = ""
        self._on_wait: Callable[[str], None] | None = None
        self._renewed = time.monotonic()  # the last time the Lease was surely ours

    # ---- taking and giving back --------------------------------------------------------

    def acquire(self, timeout: float, on_wait: Callable[[str], None] | None = None) -> None:
        """Take the Lease, waiting up to `timeout` seconds for another holder (`on_wait` is
        told once, in a sentence, when it has to wait)."""
        self._on_wait = on_wait
        try:
            self._acquire(timeout)
        except ForbiddenError as e:
            raise ForbiddenError(
                f"cannot take the lock of inventory {self.inventory}: {e.message}",
                hint=f"A sync keeps a Lease (its lock) and a ConfigMap (its inventory record) in "
                f"namespace {self.namespace}: grant get, create and update on leases and get and "
                "patch on configmaps there (docs/sync.md), or set sync.record_namespace.",
            ) from e

    def _acquire(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            current = self.cluster.get(self._res(), self.namespace, lease_name(self.inventory))
            if current is None:
                if self._try(self.cluster.create, self._body(None)):
                    self._renewed = time.monotonic()
                    return
            else:
                spec = current.get("spec") or {}
                if self._free(spec):
                    if self._try(self.cluster.replace, self._body(current)):
                        self._renewed = time.monotonic()
                        return
                elif time.monotonic() >= deadline:
                    raise self._held(spec)
                elif self._on_wait is not None:
                    self._on_wait(
                        f"Waiting up to {timeout:.0f}s for the lock of inventory "
                        f"{self.inventory}: {self._held(spec).message}"
                    )
                    self._on_wait = None
            if time.monotonic() >= deadline:
                continue  # re-read once more, then either take it or say who holds it
            self.sleep(POLL_SECONDS)

    def start_renewing(self) -> None:
        self._thread = threading.Thread(target=self._renew_loop, name="ambdiff-lease", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Give the Lease back (an empty holder): the next writer need not wait it out."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with contextlib.suppress(ClusterError):  # unreachable: it expires on its own
            self._give_back()

    def lost(self) -> str:
        """Why this holder must stop writing ("" while the Lease is its own): another holder
        took it, or it could not renew it within the renew deadline."""
        if self.taken:
            return self.taken
        late = time.monotonic() - self._renewed
        if self.renew_deadline is not None and late > self.renew_deadline:
            return (
                f"the lock of inventory {self.inventory} could not be renewed for "
                f"{late:.0f}s (renew deadline {self.renew_deadline:g}s)"
            )
        return ""

    def holder_of(self) -> str:
        """Who holds the Lease now, read afresh ("" when nobody does, or it has expired)."""
        current = self.cluster.get(self._res(), self.namespace, lease_name(self.inventory))
        spec = (current or {}).get("spec") or {}
        return "" if self._free(spec) else str(spec.get("holderIdentity") or "")

    def abandon(self) -> None:
        """Stop renewing, and send nothing: the Lease expires `duration` after its last
        renewal (for a process stopping at once, where a request could hang)."""
        self._stop.set()

    def _give_back(self) -> None:
        current = self.cluster.get(self._res(), self.namespace, lease_name(self.inventory))
        if current is None or (current.get("spec") or {}).get("holderIdentity") != self.holder:
            return
        body = self._body(current)
        body["spec"]["holderIdentity"] = ""
        self.cluster.replace(self._res(), body)

    def __enter__(self) -> Lock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    # ---- helpers -------------------------------------------------------------------------

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.renew_every):
            try:
                current = self.cluster.get(self._res(), self.namespace, lease_name(self.inventory))
                holder = ((current or {}).get("spec") or {}).get("holderIdentity")
                if current is None or holder != self.holder:
                    self.taken = (
                        f"the lock of inventory {self.inventory} was taken by {holder or 'nobody'}"
                    )
                    return
                self.cluster.replace(self._res(), self._body(current))
                self._renewed = time.monotonic()
            except ClusterError:
                pass  # a passing failure: the next renewal tries again, well within `duration`

    def _free(self, spec: Mapping[str, Any]) -> bool:
        holder = spec.get("holderIdentity") or ""
        if not holder or holder == self.holder:
            return True
        renewed = _parse(spec.get("renewTime") or spec.get("acquireTime"))
        duration = int(spec.get("leaseDurationSeconds") or self.duration)
        return renewed is None or self.now() > renewed + timedelta(seconds=duration)

    def _try(
        self, write: Callable[[Any, Mapping[str, Any]], dict[str, Any]], body: dict[str, Any]
    ) -> bool:
        try:
            write(self._res(), body)
        except ClusterError as e:
            if e.status == 409:  # someone else created or renewed it between our read and write
                return False
            raise
        return True

    def _body(self, current: Mapping[str, Any] | None) -> dict[str, Any]:
        stamp = self.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        spec = dict((current or {}).get("spec") or {})
        mine = spec.get("holderIdentity") == self.holder
        transitions = int(spec.get("leaseTransitions") or 0) + (0 if mine or current is None else 1)
        metadata: dict[str, Any] = {
            "name": lease_name(self.inventory),
            "namespace": self.namespace,
            "labels": {"ambdiff.io/lock-of": self.inventory},
        }
        if current is not None:
            metadata["resourceVersion"] = (current.get("metadata") or {}).get("resourceVersion")
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": {
                "holderIdentity": self.holder,
                "leaseDurationSeconds": self.duration,
                "acquireTime": spec.get("acquireTime") if mine else stamp,
                "renewTime": stamp,
                "leaseTransitions": transitions,
            },
        }

    def _held(self, spec: Mapping[str, Any]) -> LockHeld:
        """Who holds the lock, and what is known: a renewal says the holder was alive then;
        whether it still is, only the next renewal (or its absence) will tell."""
        taken = spec.get("acquireTime") or spec.get("renewTime") or "an unknown time"
        duration = int(spec.get("leaseDurationSeconds") or self.duration)
        renewed = _parse(spec.get("renewTime") or spec.get("acquireTime"))
        if renewed is None:
            when = f"its Lease expires {duration}s after its last renewal"
        else:
            ago = max(0, round((self.now() - renewed).total_seconds()))
            left = max(
                0, round((renewed + timedelta(seconds=duration) - self.now()).total_seconds())
            )
            when = f"it renewed the Lease {ago}s ago, which expires in {left}s unless renewed again"
        holder = str(spec.get("holderIdentity") or "")
        where = f"(Lease {self.namespace}/{lease_name(self.inventory)}, taken {taken})"
        if holder.endswith(f"/{WATCH_ROLE}"):
            return LockHeld(
                f"the lock of inventory {self.inventory} is held by the watch {holder} {where}: "
                f"a watch that leads an inventory keeps its Lease across rounds and gives it back "
                f"only when it stops; {when}.",
                hint="Waiting will not help while it runs: let the watch apply the commit, or "
                "stop it (scale its Deployment to 0; a clean stop gives the Lease back at once) "
                "before a sync by hand.",
            )
        return LockHeld(
            f"the lock of inventory {self.inventory} is held by {holder} {where}: another sync "
            f"is running, or one stopped without giving it back; {when}.",
            hint="Wait for it (--lock-timeout); a writer that is gone loses the lock when its "
            "Lease expires.",
        )

    def held_by(self, holder: str) -> str:
        """What a refusal would say of `holder` (read afresh), for a standby's log."""
        current = self.cluster.get(self._res(), self.namespace, lease_name(self.inventory))
        spec = dict((current or {}).get("spec") or {})
        spec.setdefault("holderIdentity", holder)
        return self._held(spec).message

    def _res(self) -> Any:
        res = self.cluster.resource("coordination.k8s.io/v1", "Lease")
        if res is None:
            raise ClusterError("the cluster does not serve Leases (coordination.k8s.io/v1).")
        return res


def _parse(stamp: Any) -> datetime | None:
    if not stamp:
        return None
    try:
        parsed = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
