"""Logs of a long-running `ambdiff watch`: one line per event, as text or as JSON (one object
per line, for log collectors). Fields passed with `extra=` become JSON keys; in text they are
left out, because every message already says what happened in words.

Nothing logged carries a Secret's values: object changes are logged as the diff report words
them, and that masks Secrets (docs/diff.md, "What counts as a difference")."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from typing import IO, Any

# ambdiff.sources.DEFAULT (a lower layer cannot import it): the one source of a repository that
# declares none, left unnamed in text lines.
UNNAMED_SOURCE = "default"
# The loggers that speak at the default level; everything else only with -v.
LOUD = ("ambdiff.commands.watch", "ambdiff.drift")

_RECORD_KEYS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


def configure(
    fmt: str, verbose: int, stream: IO[str] | None = None, shown: Callable[[str], str] = str
) -> None:
    """Route all logging to `stream` (stderr) in `fmt`. Default: the watch loop's own events;
    -v: every module's detail; -vv: also each API request. `shown`: how a text line shows a
    message (render.text.shown: on one line, no escape sequences); JSON escapes its own."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter(shown))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)
    ambdiff = logging.getLogger("ambdiff")
    ambdiff.setLevel(logging.WARNING if verbose == 0 else logging.DEBUG)
    for name in LOUD:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.INFO)
    # urllib3 warns about each retry before ambdiff reports the failure itself.
    quiet = logging.DEBUG if verbose >= 2 else logging.ERROR
    for name in ("urllib3", "kubernetes", "git"):
        logging.getLogger(name).setLevel(quiet)


def _timestamp(created: float) -> str:
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
        + f".{int(created % 1 * 1000):03d}Z"
    )


class TextFormatter(logging.Formatter):
    """`2025-05-01T12:00:00.000Z info  round 12: in sync at 3f2a1c0d9e8b (0.4 s)`"""

    def __init__(self, shown: Callable[[str], str] = str) -> None:
        super().__init__()
        self._shown = shown

    def format(self, record: logging.LogRecord) -> str:
        message = self._shown(record.getMessage())
        # A watch serving several sources names the one each line is about.
        source = getattr(record, "source", None)
        if source and source != UNNAMED_SOURCE:
            message = f"[{self._shown(str(source))}] {message}"
        line = f"{_timestamp(record.created)} {record.levelname.lower():<7} {message}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """`{"time": ..., "level": "info", "logger": ..., "message": ..., <extra fields>}`"""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_KEYS and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)
