"""How `ambdiff watch` words what it finds, for its logs: plain text (the logs are not a
terminal), Secret values masked as in every report."""

from __future__ import annotations

from ambdiff.model import DiffReport, ObjectDiff, Status
from ambdiff.render.diff import change_line
from ambdiff.render.text import shown

MAX_CHANGES_LOGGED = 10


def summary(report: DiffReport, commit: str, *, applied: int = 0) -> str:
    """How a round ended, in a few words."""
    s = report.summary
    drifted = s["added"] + s["changed"] + s["removed"]
    at = f"at {shown(commit[:12])}"
    if applied:
        return f"applied {applied} action(s) {at}; {s['unchanged']} object(s) were in sync"
    if not drifted:
        return f"in sync {at} ({s['unchanged']} object(s))"
    return (
        f"{drifted} object(s) out of sync {at}: {s['changed']} changed, {s['added']} "
        f"missing, {s['removed']} removed from git; {s['unchanged']} in sync"
    )


def drift_line(o: ObjectDiff) -> str:
    """One object out of sync and its changes (live → git, as `ambdiff diff` words them)."""
    what = {
        Status.ADDED: "missing from the cluster",
        Status.CHANGED: "changed",
        Status.REMOVED: "no longer in git",
        Status.UNCHANGED: "in sync",
    }[o.status]
    lines = [change_line(c) for c in o.changes[:MAX_CHANGES_LOGGED]]
    if len(o.changes) > MAX_CHANGES_LOGGED:
        lines.append(f"… {len(o.changes) - MAX_CHANGES_LOGGED} more")
    return f"{shown(str(o.id))} {what}" + (": " + "; ".join(lines) if lines else "")


def fields(o: ObjectDiff) -> dict[str, object]:
    """The same, as fields of a JSON log line."""
    return {
        "kind": o.id.kind,
        "namespace": o.id.namespace,
        "object_name": o.id.name,
        "status": o.status.value,
        "changes": [change_line(c) for c in o.changes],
    }
