"""One watch's events, decoded from the chunked JSON stream the API server sends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import urllib3

from ambdiff.cluster.errors import expired, reason
from ambdiff.errors import ClusterError
from ambdiff.secrets import seal


class EventStream:
    """The events of one watch, decoded: `for type_, obj in stream`. `close()` from another
    thread ends the iteration."""

    def __init__(self, response: Any, what: str) -> None:
        self._response = response
        self._what = what
        self._closed = False

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        pending = b""
        try:
            for chunk in self._response.stream(None, decode_content=True):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield self._event(line)
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as e:
            if not self._closed:
                raise ClusterError(f"{self._what} was cut off: {reason(e)}.") from e
        finally:
            self._response.close()

    def _event(self, line: bytes) -> tuple[str, dict[str, Any]]:
        event = json.loads(line)
        type_, obj = str(event.get("type", "")), event.get("object") or {}
        if type_ == "ERROR":
            message = str(obj.get("message") or obj.get("reason") or "no reason given")
            error = ClusterError(
                f"{self._what} failed: {message.rstrip('.')}.", status=int(obj.get("code") or 0)
            )
            raise expired(error) if error.status == 410 else error
        return type_, seal(obj)

    def close(self) -> None:
        self._closed = True
        shutdown = getattr(self._response, "shutdown", None)  # urllib3 >= 2.3
        if shutdown is not None:
            shutdown()
        else:
            self._response.close()
