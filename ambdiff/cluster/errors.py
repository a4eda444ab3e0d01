"""API and connection errors, translated into ambdiff's own at this edge: one sentence that
says what was refused or failed, and what to do."""

from __future__ import annotations

import json
from typing import Any

from ambdiff.errors import ClusterError, ConflictError, ForbiddenError


class WatchExpired(ClusterError):
    """The resourceVersion a watch asked for is too old (HTTP 410): list again."""


def expired(error: ClusterError) -> WatchExpired:
    expired = WatchExpired(error.message, hint="Listing again.")
    expired.status = 410
    return expired


def translate(
    status: int, reason: str, data: bytes | str | None, what: str, context: str
) -> ClusterError:
    answer = _decode(data)
    message = str(answer.get("message") or reason or "no reason given").rstrip(".")
    error: ClusterError
    if status == 401:
        error = ForbiddenError(
            f"{what} was refused (HTTP 401, context {context}): the cluster did not accept the "
            f"credentials: {message}.",
            hint="They are wrong or expired: log in again or refresh the kubeconfig's "
            "credentials (`kubectl get ns` shows the same).",
        )
    elif status == 403:
        error = ForbiddenError(
            f"{what} was refused (HTTP {status}, context {context}): {message}.",
            hint="Your credentials lack permission for this; ask for access to these "
            "resources, or use another --context.",
        )
    elif status == 409 and "conflict" in message.lower():
        error = ConflictError(
            f"{what}: {message}.", hint="Use --force-conflicts to take these fields over."
        )
    else:
        error = ClusterError(f"{what} failed (HTTP {status}): {message}.")
    error.status = status
    error.server_message = message
    error.details = answer.get("details") if isinstance(answer.get("details"), dict) else {}
    return error


def _decode(data: bytes | str | None) -> dict[str, Any]:
    try:
        answer = json.loads(data or "{}")
    except (ValueError, TypeError):
        return {}
    return answer if isinstance(answer, dict) else {}


def reason(e: BaseException) -> str:
    reason = getattr(e, "reason", None) or e
    text = str(reason)
    for marker in (
        "Connection refused",
        "Name or service not known",
        "timed out",
        "certificate verify failed",
    ):
        if marker in text:
            return marker.lower()
    return first_line(reason)


def first_line(e: object) -> str:
    return str(e).strip().splitlines()[0].rstrip(".") if str(e).strip() else type(e).__name__
