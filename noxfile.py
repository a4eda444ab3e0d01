"""Tasks: `nox` runs the default sessions (tests, lint, typecheck), as CI does.

nox -s tests        unit, CLI and end-to-end tests (builds or reuses the test API server)
nox -s lint         ruff check, ruff format --check, import-linter contracts
nox -s typecheck    strict mypy on ambdiff/
nox -s docs         build docs/ strictly (mkdocs --strict)
nox -s bench        benchmarks against kubectl on the local API server; writes
                    docs/performance.md (`-- --sizes 100,1000` for a quicker run)
"""

from __future__ import annotations

import os
import shutil

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True


@nox.session
def tests(session: nox.Session) -> None:
    """Everything, end-to-end tests included. The test API server binaries are built once
    with Go (about 10 minutes) and cached outside git, or taken from KUBEBUILDER_ASSETS."""
    session.install("-e", ".[test]")
    have_assets = os.environ.get("KUBEBUILDER_ASSETS") or os.environ.get(
        "TEST_ASSET_KUBE_APISERVER"
    )
    if not have_assets:
        if shutil.which("go"):
            session.run("python", "tools/testbin.py", "build", silent=False)
        else:
            session.warn("Go is not installed: end-to-end tests will skip (see docs/testing.md).")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("-e", ".", "ruff>=0.6", "import-linter>=2.1")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    session.install("mkdocs>=1.6")
    session.run("mkdocs", "build", "--strict", "--site-dir", "site")


@nox.session
def bench(session: nox.Session) -> None:
    """Not a default session: about an hour at the default sizes (N = 100 ... 10,000). Needs
    kubectl on PATH and the test API server binaries (built here when Go is installed).
    Arguments go to `python -m benchmarks` (see its --help): `-- --sizes 100,1000`, `-- --rounds
    3`, `-- --profile 10000` (pyinstrument profiles of check and diff)."""
    session.install("-e", ".[test]", "pyinstrument>=4.6")
    have_assets = os.environ.get("KUBEBUILDER_ASSETS") or os.environ.get(
        "TEST_ASSET_KUBE_APISERVER"
    )
    if not have_assets and shutil.which("go"):
        session.run("python", "tools/testbin.py", "build", silent=False)
    session.run("python", "-m", "benchmarks", *session.posargs)
