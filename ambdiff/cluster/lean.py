"""The kubernetes client without the rest of its package.

`import kubernetes.client` first runs the package's `__init__`, which imports everything the
package offers: the dynamic client, watch, stream, leader election, informers and its utils
(kubernetes-validate and jsonschema among them). ambdiff uses the client and the config
loaders only; loading the rest cost every `diff` about a fifth of a second before it sent a
request (docs/performance.md). `load()` registers the package as a bare namespace of its
submodules, so that importing `kubernetes.client` or `kubernetes.config` runs just those.
"""

from __future__ import annotations

import importlib.util
import sys


def load() -> None:
    """Register the bare `kubernetes` package, unless it is imported already (then this does
    nothing) or cannot be found (then the plain import that follows says so)."""
    if "kubernetes" in sys.modules:
        return
    spec = importlib.util.find_spec("kubernetes")
    if spec is None or spec.submodule_search_locations is None:
        return
    sys.modules["kubernetes"] = importlib.util.module_from_spec(spec)
