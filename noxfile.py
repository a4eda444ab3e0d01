"""Tasks: `nox` runs the default sessions (tests, lint, typecheck), as CI does.

nox -s tests        unit, CLI and end-to-end tests (builds or reuses the test API server and helm)
nox -s lint         ruff check, ruff format --check, import-linter contracts
nox -s typecheck    strict mypy on ambdiff/
nox -s docs         build docs/ strictly (mkdocs --strict)
nox -s bench        benchmarks against kubectl on the local API server; writes
                    docs/performance.md (`-- --sizes 100,1000` for a quicker run)
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True


def _testbin() -> ModuleType:
    """tools/testbin.py, imported from its path (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "ambdiff_testbin", Path(__file__).resolve().parent / "tools" / "testbin.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def _test_binaries(session: nox.Session, *, warn: bool = True) -> dict[str, str]:
    """Build (or reuse) kube-apiserver, etcd, helm and actionlint with tools/testbin.py; return
    the environment that hands helm's and actionlint's paths to the run (AMBDIFF_TEST_HELM,
    AMBDIFF_TEST_ACTIONLINT; see tests/helm_binary.py, tests/actionlint_binary.py).
    """
    have_assets = os.environ.get("KUBEBUILDER_ASSETS") or os.environ.get(
        "TEST_ASSET_KUBE_APISERVER"
    )
    if shutil.which("go"):
        # `build` builds whichever of the three is missing; with the API server binaries given
        # from outside, only helm is looked up (HELM_BINARY, the cache) or built.
        command = "helm" if have_assets else "build"
        session.run("python", "tools/testbin.py", command, silent=False)
    elif warn and not have_assets:
        session.warn("Go is not installed: end-to-end tests will skip (see docs/testing.md).")
    helm = _testbin().find_helm()
    if helm is None:
        if warn:
            session.warn(
                "Go is not installed and HELM_BINARY is unset: tests that need helm will skip "
                "(see docs/testing.md)."
            )
        return {}
    env = {"AMBDIFF_TEST_HELM": str(helm)}
    actionlint = _testbin().find_actionlint()
    if actionlint is not None:  # built by `build`; with outside API server binaries, here
        env["AMBDIFF_TEST_ACTIONLINT"] = str(actionlint)
    elif shutil.which("go"):
        session.run("python", "tools/testbin.py", "actionlint", silent=False)
        env["AMBDIFF_TEST_ACTIONLINT"] = str(_testbin().find_actionlint())
    return env


@nox.session
def tests(session: nox.Session) -> None:
    """Everything, end-to-end tests included. The test API server binaries and helm are built
    once with Go (about 10 minutes, helm about 2 more) and cached outside git, or taken from
    KUBEBUILDER_ASSETS and HELM_BINARY."""
    session.install("-e", ".[test]")
    env = _test_binaries(session)
    session.run("pytest", *session.posargs, env=env)


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
    kubectl on PATH and the test API server binaries (built here, with helm, when Go is installed).
    Arguments go to `python -m benchmarks` (see its --help): `-- --sizes 100,1000`, `-- --rounds
    3`, `-- --profile 10000` (pyinstrument profiles of check and diff). The peers: kapp is built
    here from tools/kapp (pinned, cached outside git; skipped when Go cannot build it), and
    weaveworks' kubediff runs when `-- --kubediff DIR` names a checkout of it (its Python
    requirements are installed here)."""
    session.install("-e", ".[test]", "pyinstrument>=4.6", "attrs", "future", "pyyaml", "tabulate")
    env = _test_binaries(session, warn=False)
    if "KAPP_BINARY" not in os.environ and shutil.which("go"):
        try:
            out = session.run("python", "tools/testbin.py", "kapp", silent=True)
            env["KAPP_BINARY"] = str(out).strip().splitlines()[-1]
        except nox.command.CommandFailed:
            session.warn("kapp could not be built: its row is left out (set KAPP_BINARY).")
    session.run("python", "-m", "benchmarks", *session.posargs, env=env)
    # What rendering costs (offline, no API server): Kustomize and Helm sources at 100, 1,000.
    session.run("python", "-m", "benchmarks.render", env=env)
