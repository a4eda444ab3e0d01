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

from tests.helm_binary import ToolBinary

ENV_VAR = "AMBDIFF_TEST_ACTIONLINT"
ENABLE_HINT = (
    "no actionlint binary for this test: run `python3 tools/testbin.py actionlint` (needs Go) "
    "or set ACTIONLINT_BINARY"
)

ACTIONLINT = ToolBinary(ENV_VAR, "find_actionlint", ENABLE_HINT)


def actionlint_path() -> str | None:
    """The actionlint binary the tests should run, or None when there is none."""
    return ACTIONLINT.path()


def require_actionlint() -> str:
    """actionlint_path(), or skip the calling test; under CI=true fail it instead."""
    return ACTIONLINT.require()
