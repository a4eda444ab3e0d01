"""API and connection errors, translated into ambdiff's own at this edge: one sentence that
says what was refused or failed, and what to do."""

from __future__ import annotations

import json
import re
from typing import Any

from ambdiff.errors import ClusterError, ConflictError, ForbiddenError


class WatchExpired(ClusterError):
    """The resourceVersion a watch asked for is too old (HTTP 410): list again."""


def expired(error: ClusterError) -> WatchExpired:
    return WatchExpired(error.message, hint="Listing again.", status=410)


def translate(
    status: int, reason: str, data: bytes | str | None, what: str, context: str
) -> ClusterError:
    answer = _decode(data)
    message = str(answer.get("message") or reason or "no reason given").rstrip(".")
    details = answer.get("details") if isinstance(answer.get("details"), dict) else {}
    kind: type[ClusterError] = ClusterError
    said, hint = f"{what} failed (HTTP {status}): {message}.", ""
    if status == 401:
        kind = ForbiddenError
        said = (
            f"{what} was refused (HTTP 401, context {context}): the cluster did not accept "
            f"the credentials: {message}."
        )
        hint = (
            "They are wrong or expired: log in again or refresh the kubeconfig's "
            "credentials (`kubectl get ns` shows the same)."
        )
    elif status == 403:
        kind = ForbiddenError
        said = f"{what} was refused (HTTP {status}, context {context}): {message}."
        hint = (
            "Your credentials lack permission for this; ask for access to these "
            "resources, or use another --context."
        )
    elif status == 409 and "conflict" in message.lower():
        kind, said = ConflictError, f"{what}: {message}."
        hint = "Use --force-conflicts to take these fields over."
    return kind(
        said,
        hint=hint,
        status=status,
        server_message=message,
        details=details,
        cause=_cause(status, message, context),
    )


_RBAC = re.compile(
    r'User "(?P<user>[^"]*)" cannot (?P<verb>\w+) resource "(?P<resource>[^"]*)"'
    r'(?: in API group "(?P<group>[^"]*)")?(?: in the namespace "(?P<namespace>[^"]*)")?'
)


def _cause(status: int, message: str, context: str) -> str:
    """The part of a refusal that is not about one object: who may not do what, or that
    the credentials were refused."""
    if status == 401:
        return f"the cluster did not accept the credentials (HTTP 401, context {context})"
    rbac = _RBAC.search(message) if status == 403 else None
    if rbac is None:
        return ""
    resource = rbac["resource"] + (f".{rbac['group']}" if rbac["group"] else "")
    where = f" in namespace {rbac['namespace']}" if rbac["namespace"] else " cluster-wide"
    return (
        f"user {rbac['user']!r} may not {rbac['verb']} {resource}{where} (HTTP 403, "
        f"context {context})"
    )


def _decode(data: bytes | str | None) -> dict[str, Any]:
    try:
        answer = json.loads(data or "{}")
    except (ValueError, TypeError):
        return {}
    return answer if isinstance(answer, dict) else {}


SHOWN_URL_LENGTH = 200


def shown_url(url: object) -> str:
    """A server or proxy URL as messages, logs and output show it: without the user and
    password, the query and the fragment, which may hold a credential
    (`https://admin:TOKEN@host:6443/k8s?token=T` is shown as `https://host:6443/k8s`).
    Works on text that does not parse as a URL too. Only for showing: connections use the
    URL as written."""
    text = str(url)
    scheme, separator, rest = text.partition("://") if "://" in text else ("", "", text)
    if "@" in rest:  # a password may hold any character ("/", "?"): drop up to the last @
        rest = rest.rsplit("@", 1)[1]
    rest = rest.split("?", 1)[0].split("#", 1)[0]
    shown = "".join(c if c.isprintable() else "?" for c in f"{scheme}{separator}{rest}")
    return shown if len(shown) <= SHOWN_URL_LENGTH else shown[:SHOWN_URL_LENGTH] + "…"


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


# What a failed connection means, in words: (text in the library's error, what to say).
_CONNECTION_WORDS = (
    ("Connection refused", "connection refused (nothing listens there, or the server is down)"),
    ("RemoteDisconnected", "the server closed the connection without answering"),
    ("Remote end closed connection", "the server closed the connection without answering"),
    ("Connection reset", "the connection was reset"),
    ("Connection aborted", "the connection was broken off"),
    ("Broken pipe", "the connection was broken off"),
    ("Name or service not known", "the host name does not resolve"),
    ("nodename nor servname", "the host name does not resolve"),
    ("Temporary failure in name resolution", "the host name does not resolve (DNS failed)"),
    ("No route to host", "no route to the host"),
    ("Network is unreachable", "the network is unreachable"),
    ("certificate verify failed", "its TLS certificate is not trusted (certificate verify failed)"),
    ("Read timed out", "it did not answer in time"),
    ("timed out", "the connection timed out"),
    ("SSL", "the TLS handshake failed"),
)


def reason(e: BaseException) -> str:
    """Why a connection failed, in words a person reads (never a Python repr)."""
    seen: list[BaseException] = []
    current: BaseException | None = e
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        nested = getattr(current, "reason", None)
        current = nested if isinstance(nested, BaseException) else current.__cause__
    text = " ".join(f"{type(x).__name__}: {x!s} {x!r}" for x in seen)
    for marker, words in _CONNECTION_WORDS:
        if marker in text:
            return words
    return first_line(seen[-1])


def first_line(e: object) -> str:
    """The first line of an error from a library, with any URL in it shown by `shown_url`
    (urllib3 quotes the URL it failed to parse, credentials and all)."""
    text = str(e).strip()
    if not text:
        return type(e).__name__
    return _URL.sub(lambda m: shown_url(m.group(0)), text.splitlines()[0]).rstrip(".")
