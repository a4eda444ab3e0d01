"""A source's status where Kubernetes users look: on its inventory record, and as Events.

The record (a ConfigMap, ambdiff.sync.record) carries the last result as labels — so that
`kubectl get configmaps -A -l ambdiff.io/record-of -L ambdiff.io/result -L ambdiff.io/revision
-L ambdiff.io/drifted` shows the fleet at a glance, with no CRD to install — and the time and
message as annotations. Each sync or watch round that wrote (or failed to) also leaves a core
v1 Event on the record, which `kubectl describe configmap` and `kubectl get events` show.

Status is written only by the writer that holds the inventory's Lease, after the record
exists, with a JSON patch of those keys alone: the record's own server-side apply never
removes them. It is never allowed to fail a sync: a refusal (RBAC without `patch` on
configmaps or `create` on events) is said once, as a warning, and the sync goes on.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from ambdiff.errors import ClusterError
from ambdiff.model import DiffReport
from ambdiff.sync.executor import ApplyReport, Attempt, Failure
from ambdiff.sync.record import record_name

RESULT = "ambdiff.io/result"  # in-sync | drifted | failed
REVISION = "ambdiff.io/revision"
DRIFTED = "ambdiff.io/drifted"  # objects not in sync when it was written
TIME = "ambdiff.io/status-time"
MESSAGE = "ambdiff.io/status-message"
MESSAGE_LIMIT = 1024
_LABEL_VALUE = re.compile(r"[^A-Za-z0-9._-]")


class StatusCluster(Protocol):
    def resource(self, api_version: str, kind: str) -> Any: ...

    def get(self, res: Any, namespace: str | None, name: str) -> dict[str, Any] | None: ...

    def patch(
        self, res: Any, namespace: str | None, name: str, operations: Any
    ) -> dict[str, Any]: ...

    def create(self, res: Any, body: Mapping[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class RecordStatus:
    """The last round's result as the record carries it."""

    result: str  # in-sync | drifted | failed
    revision: str
    drifted: int
    message: str
    reason: str  # the Event's reason: Synced, InSync, SyncFailed, Drifted
    warning: bool = False  # the Event's type: Warning rather than Normal


def in_sync(revision: str, message: str = "in sync: nothing to apply") -> RecordStatus:
    return RecordStatus("in-sync", revision, 0, message, "InSync")


def in_sync_or_kept(report: DiffReport, revision: str) -> RecordStatus:
    """Nothing to apply: in sync, or drifted by what a sync leaves as it is (objects git
    dropped while prune is off or skipped them), which `ambdiff.io/drifted` counts."""
    s = report.summary
    kept = s["added"] + s["changed"] + s["removed"]
    if not kept:
        return in_sync(revision)
    return RecordStatus(
        "drifted",
        revision,
        kept,
        f"nothing to apply, and {kept} object(s) differ from git: {s['removed']} removed "
        f"from git and kept (prune is off, or it skipped them), {s['changed']} changed, "
        f"{s['added']} missing; `ambdiff diff` shows them",
        "Drifted",
        warning=True,
    )


def of_report(report: ApplyReport, revision: str, *, healed: bool = False) -> RecordStatus:
    """How an apply ended: every action applied (in sync), or not (failed, the first cause)."""
    applied, failed, waiting = (len(report.of(attempt)) for attempt in Attempt)
    if report.complete:
        what = "drift healed" if healed else "synced"
        return RecordStatus(
            "in-sync",
            revision,
            0,
            f"{what}: {applied} applied",
            "DriftHealed" if healed else "Synced",
        )
    why = next((m for _, s, m in report.attempts if s is Attempt.FAILED and m), "")
    how = "interrupted" if report.interrupted else "failed"
    return RecordStatus(
        "failed",
        revision,
        failed + waiting,
        f"sync {how}: {applied} applied, {failed} failed, {waiting} not attempted"
        + (f"; {why}" if why else ""),
        "SyncFailed",
        warning=True,
    )


def of_failures(failures: Sequence[Failure], revision: str, stage: str) -> RecordStatus:
    """A sync stopped before writing (preflight): failed, with the first failure."""
    first = failures[0]
    return RecordStatus(
        "failed",
        revision,
        len(failures),
        f"{stage} failed for {len(failures)} object(s), nothing written; "
        f"{first.action}: {first.message}",
        "SyncFailed",
        warning=True,
    )


def label_value(text: str) -> str:
    """`text` as a label value: at most 63 of [A-Za-z0-9._-], alphanumeric at both ends."""
    return _LABEL_VALUE.sub("-", text)[:63].strip("-._")


def publish(
    cluster: StatusCluster,
    inventory: str,
    namespace: str,
    status: RecordStatus,
    *,
    event: bool = True,
) -> str:
    """Write `status` on the inventory's record and (with `event`) leave an Event on it; ""
    when all was written, else one sentence saying what could not be (nothing is raised)."""
    name = record_name(inventory)
    configmaps = cluster.resource("v1", "ConfigMap")
    try:
        record = cluster.get(configmaps, namespace, name)
    except ClusterError as e:
        if not e.status:  # no answer: the sync's own report says so already, once
            return ""
        return f"the status of inventory {inventory} was not written: {e.message}"
    if record is None:
        return ""  # no record yet (nothing was ever applied): nothing to put a status on
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    message = status.message[:MESSAGE_LIMIT]
    labels = {
        RESULT: status.result,
        REVISION: label_value(status.revision) or "unknown",
        DRIFTED: str(status.drifted),
    }
    annotations = {TIME: stamp, MESSAGE: message}
    operations: list[dict[str, Any]] = [
        *(
            {"op": "add", "path": f"/metadata/labels/{_pointer(k)}", "value": v}
            for k, v in labels.items()
        ),
        *(
            {"op": "add", "path": f"/metadata/annotations/{_pointer(k)}", "value": v}
            for k, v in annotations.items()
        ),
    ]
    meta = record.get("metadata") or {}
    for key in ("labels", "annotations"):
        if not isinstance(meta.get(key), Mapping):
            operations.insert(0, {"op": "add", "path": f"/metadata/{key}", "value": {}})
    problems = []
    try:
        cluster.patch(configmaps, namespace, name, operations)
    except ClusterError as e:
        problems.append(f"its status ({e.message})")
    try:
        if event:
            cluster.create(cluster.resource("v1", "Event"), _event(record, status, message, stamp))
    except ClusterError as e:
        problems.append(f"an Event ({e.message})")
    if not problems:
        return ""
    return (
        f"the record of inventory {inventory} did not get "
        + " nor ".join(problems)
        + "; the sync itself is unaffected"
    )


def _pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _event(
    record: Mapping[str, Any], status: RecordStatus, message: str, stamp: str
) -> dict[str, Any]:
    meta = record.get("metadata") or {}
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{meta.get('name')}.{uuid.uuid4().hex[:16]}",
            "namespace": meta.get("namespace"),
        },
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
        },
        "reason": status.reason,
        "message": message,
        "type": "Warning" if status.warning else "Normal",
        "source": {"component": "ambdiff"},
        "reportingComponent": "ambdiff",
        "reportingInstance": "ambdiff",
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }
