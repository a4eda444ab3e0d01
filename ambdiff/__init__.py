"""ambdiff: GitOps diff and sync for Kubernetes and Ambassador / Emissary-ingress."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ambdiff")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
