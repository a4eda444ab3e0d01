"""Where the tests find helm (Helm v4, built by tools/testbin.py from helm.sh/helm/v4@v4.3.2).

A test that needs helm calls `require_helm()` and runs the path it returns:

    from tests.helm_binary import require_helm

    def test_something() -> None:
        helm = require_helm()  # skips without helm; fails instead under CI=true

Lookup: AMBDIFF_TEST_HELM (exported by the nox tests and bench sessions after
`tools/testbin.py build`) if it names an executable file, else tools/testbin.py's lookup
(HELM_BINARY, then the cache ~/.cache/ambdiff/helm-v4.3.2/helm), else nothing.

The guard fixture in tests/conftest.py clears AMBDIFF_* and moves HOME for every test, so this
module reads the environment as it was when it was first imported (at collection, when a test
module imports it at its top), and the current one after that.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV_VAR = "AMBDIFF_TEST_HELM"
ENABLE_HINT = (
    "no helm binary for this test: run `python3 tools/testbin.py helm` (needs Go) or set "
    "HELM_BINARY"
)

# Taken before any test's guard fixture runs: the real HOME, AMBDIFF_TEST_HELM still set.
_STARTING_ENVIRONMENT = dict(os.environ)


def load_testbin() -> ModuleType:
    """tools/testbin.py, imported from its path (tools/ is not a package), once."""
    name = "ambdiff_testbin"
    loaded = sys.modules.get(name)
    if loaded is not None and hasattr(loaded, "find_helm"):
        return loaded
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / "testbin.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def _executable(path: str) -> bool:
    return Path(path).is_file() and os.access(path, os.X_OK)


@dataclass(frozen=True)
class ToolBinary:
    """A program tools/testbin.py builds for the tests: its path from `env_var` (exported by
    nox), else testbin's `finder` (its own variable, then its cache)."""

    env_var: str
    finder: str  # the name of tools/testbin.py's lookup function
    hint: str  # what to run when it is missing

    def _lookup(self, environ: Mapping[str, str]) -> str | None:
        given = environ.get(self.env_var)
        if given and _executable(given):
            return given
        found = getattr(load_testbin(), self.finder)(environ)
        return str(found) if found is not None and _executable(str(found)) else None

    def path(self) -> str | None:
        """The binary the tests should run, or None when there is none."""
        for environ in (_STARTING_ENVIRONMENT, os.environ):
            found = self._lookup(environ)
            if found is not None:
                return found
        return None

    def require(self) -> str:
        """path(), or skip the calling test; under CI=true fail it instead, as the end-to-end
        tests do when their binaries are missing (tests/e2e/conftest.py)."""
        found = self.path()
        if found is None:
            if os.environ.get("CI") == "true":
                pytest.fail(f"{self.hint} (CI=true, so this fails instead of skipping)")
            pytest.skip(self.hint)
        return found


HELM = ToolBinary(ENV_VAR, "find_helm", ENABLE_HINT)


def helm_path() -> str | None:
    """The helm binary the tests should run, or None when there is none."""
    return HELM.path()


def require_helm() -> str:
    """helm_path(), or skip the calling test; under CI=true fail it instead."""
    return HELM.require()
