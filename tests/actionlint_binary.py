"""Where the tests find actionlint (built by tools/testbin.py from rhysd/actionlint@v1.7.12).

    from tests.actionlint_binary import require_actionlint

    def test_something() -> None:
        actionlint = require_actionlint()  # skips without it; fails instead under CI=true

Lookup: AMBDIFF_TEST_ACTIONLINT (exported by the nox tests session) if it names an executable
file, else tools/testbin.py's lookup (ACTIONLINT_BINARY, then the cache
~/.cache/ambdiff/actionlint-v1.7.12/actionlint), else nothing. Like tests/helm_binary.py, it
reads the environment as it was at import (the guard fixture moves HOME) and the current one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.helm_binary import load_testbin

ENV_VAR = "AMBDIFF_TEST_ACTIONLINT"
ENABLE_HINT = (
    "no actionlint binary for this test: run `python3 tools/testbin.py actionlint` (needs Go) "
    "or set ACTIONLINT_BINARY"
)

_STARTING_ENVIRONMENT = dict(os.environ)


def _executable(path: str) -> bool:
    return Path(path).is_file() and os.access(path, os.X_OK)


def _lookup(environ: Mapping[str, str]) -> str | None:
    given = environ.get(ENV_VAR)
    if given and _executable(given):
        return given
    found = load_testbin().find_actionlint(environ)
    return str(found) if found is not None and _executable(str(found)) else None


def actionlint_path() -> str | None:
    """The actionlint binary the tests should run, or None when there is none."""
    for environ in (_STARTING_ENVIRONMENT, os.environ):
        found = _lookup(environ)
        if found is not None:
            return found
    return None


def require_actionlint() -> str:
    """actionlint_path(), or skip the calling test; under CI=true fail it instead."""
    found = actionlint_path()
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{ENABLE_HINT} (CI=true, so this fails instead of skipping)")
        pytest.skip(ENABLE_HINT)
    return found
