"""What a command loads before it does its work: `check` is the pre-commit hook and runs on
every commit, so it must not pay for the kubernetes client it never uses (docs/performance.md)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import runpy, sys
sys.argv = ["ambdiff", *sys.argv[1:]]
try:
    runpy.run_module("ambdiff", run_name="__main__")
except SystemExit as e:
    code = e.code
print("exit", code, "loaded", " ".join(m for m in ("kubernetes", "urllib3", "pydantic", "git",
                                                  "rich.progress") if m in sys.modules))
"""


def _probe(*argv: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], cwd=cwd, capture_output=True, text=True, check=False
    )
    return done.stdout.strip().splitlines()[-1]


def test_check_never_loads_the_kubernetes_client_or_gitpython(tmp_path: Path) -> None:
    # (Outside a repository, and in a plain checkout as a clone is: a linked work tree's root
    # is still GitPython's to find.)
    shutil.copytree(ROOT / "examples" / "quickstart" / "manifests", tmp_path / "manifests")
    assert _probe("check", "manifests", cwd=tmp_path) == "exit 0 loaded"  # not a repository
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    assert _probe("check", "manifests", cwd=tmp_path) == "exit 0 loaded"


def test_diff_loads_the_client_without_the_rest_of_its_package() -> None:
    line = _probe(
        "diff",
        "--live-file",
        "examples/quickstart/cluster-snapshot.yaml",
        "--inventory",
        "quickstart",
        "examples/quickstart/manifests",
    )
    assert line.startswith("exit 1 loaded kubernetes urllib3"), line
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import ambdiff.cluster, sys; print(sorted(m for m in "
            "('kubernetes.dynamic', 'kubernetes.watch', 'kubernetes.stream', 'kubernetes.informer',"
            " 'kubernetes.leaderelection', 'jsonschema') if m in sys.modules))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]"


def test_diff_of_a_plain_clone_loads_neither_gitpython_nor_the_progress_bar(
    tmp_path: Path,
) -> None:
    # The repository's identity (the inventory's) comes from its configuration file, and no
    # bar is drawn where no one watches (here: output to a pipe).
    shutil.copytree(ROOT / "examples" / "quickstart", tmp_path / "quickstart")
    repo = tmp_path / "quickstart"
    for args in (
        ["init", "-q", "-b", "main"],
        ["remote", "add", "origin", "git@example.com:team/gitops.git"],
        ["add", "."],
        ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "x"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)
    line = _probe(
        "diff",
        "--live-file",
        "cluster-snapshot.yaml",
        "--inventory",
        "quickstart",
        "manifests",
        cwd=repo,
    )
    assert line == "exit 1 loaded kubernetes urllib3 pydantic", line


def test_version_is_read_when_asked_for() -> None:
    from importlib.metadata import version

    done = subprocess.run(
        [sys.executable, "-m", "ambdiff", "--version"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == f"ambdiff, version {version('ambdiff')}"


def test_code_that_imports_the_whole_package_after_ambdiff_still_works() -> None:
    # The dynamic client reads `kubernetes.__version__`; tests and plugins import it after us.
    from importlib.metadata import version

    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import ambdiff.cluster, kubernetes, kubernetes.dynamic; "
            "print(kubernetes.__version__, kubernetes.watch.Watch.__name__); kubernetes.nothing",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout.strip() == f"{version('kubernetes')} Watch"
    assert "AttributeError: module 'kubernetes' has no attribute 'nothing'" in done.stderr
