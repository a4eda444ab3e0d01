"""One exception base for everything a user can fix, and the exit codes of every command.

Core code raises these with a message that says what was wrong and where, and a hint that
says what to do. The CLI has the only handler (`cli.main`), which prints one line and exits.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class Exit(IntEnum):
    OK = 0
    DIFFERENT = 1  # diff found differences, check found errors, sync failed part-way
    USAGE = 2  # the input or the environment is wrong
    BUG = 3
    INTERRUPTED = 130


class AmbdiffError(Exception):
    """An error the user can act on. Printed as one sentence plus a hint; exit code 2."""

    exit_code: Exit = Exit.USAGE

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip() if self.hint else self.message


class ConfigError(AmbdiffError):
    """A bad option, settings file or environment variable."""


class ManifestError(AmbdiffError):
    """A manifest that cannot be read, parsed or identified."""


class GitError(AmbdiffError):
    """A repository or revision that cannot be read."""


class ClusterError(AmbdiffError):
    """The cluster cannot be reached, refused a request, or answered unexpectedly. Made once,
    where ambdiff.cluster translates the failure, with everything known of it."""

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        status: int = 0,
        server_message: str = "",
        details: dict[str, Any] | None = None,
        cause: str = "",
        unreadable: bool = False,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status  # the HTTP status, when the API server answered
        self.server_message = server_message  # the API server's own message, when it answered
        self.details = details  # the Status object's details
        # What went wrong without naming the object (a dead server, an RBAC rule): failures
        # that share it are reported once, with their objects ("" when it is the object's own).
        self.cause = cause
        # No cluster could be read at all (no kubeconfig, nothing answers): a command that can
        # work from a snapshot instead says so (cli.offline_hint); the cluster edge names no
        # command's flags.
        self.unreadable = unreadable


class ForbiddenError(ClusterError):
    """RBAC denied a request."""


class ConflictError(ClusterError):
    """Server-side apply found fields owned by another manager."""
