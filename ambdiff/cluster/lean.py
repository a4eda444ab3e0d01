"""The kubernetes client without the rest of its package.

`import kubernetes.client` first runs the package's `__init__`, which imports everything the
package offers: the dynamic client, watch, stream, leader election, informers and its utils
(kubernetes-validate and jsonschema among them). ambdiff uses the client and the config
loaders only; loading the rest cost every `diff` about a fifth of a second before it sent a
request (docs/performance.md). `load()` registers the package as a bare namespace of its
submodules, so that importing `kubernetes.client` or `kubernetes.config` runs just those.
Whatever else asks the package for a name it would have had (`kubernetes.__version__`, which
the dynamic client imports, or `kubernetes.watch` without importing it) gets it on first use,
so code that imports the whole package after ambdiff still works.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import Any


def load() -> None:
    """Register the bare `kubernetes` package, unless it is imported already (then this does
    nothing) or cannot be found (then the plain import that follows says so)."""
    if "kubernetes" in sys.modules:
        return
    spec = importlib.util.find_spec("kubernetes")
    if spec is None or spec.submodule_search_locations is None:
        return
    package = importlib.util.module_from_spec(spec)
    package.__getattr__ = _on_first_use(package)  # type: ignore[method-assign]
    sys.modules["kubernetes"] = package


def _on_first_use(package: ModuleType) -> Any:
    def attribute(name: str) -> Any:
        if name == "__version__":
            from importlib.metadata import version

            package.__version__ = version("kubernetes")  # type: ignore[attr-defined]
            return package.__version__
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return importlib.import_module(f"kubernetes.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"kubernetes.{name}":
                raise
            raise AttributeError(f"module 'kubernetes' has no attribute {name!r}") from None

    return attribute
