"""ambdiff: GitOps diff and sync for Kubernetes and Ambassador / Emissary-ingress."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # `__version__` is read from the installed metadata when asked for, not at import:
    # importlib.metadata costs every command tens of milliseconds it rarely needs.
    if name != "__version__":
        raise AttributeError(f"module 'ambdiff' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("ambdiff")
    except PackageNotFoundError:  # running from a source tree that was never installed
        found = "0.0.0+unknown"
    globals()["__version__"] = found
    return found
