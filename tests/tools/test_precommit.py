"""The `ambdiff-check` pre-commit hook, run by the real `pre-commit try-repo` in temporary git
repositories. try-repo installs the hook repository into a fresh virtualenv (from PyPI) on
every run, about a minute each; the pip cache is shared to make the second one cheaper."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAPPING = """apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata:
  name: {name}
  namespace: {ns}
spec:
  hostname: "*"
  prefix: {prefix}
  service: {name}
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This project as pre-commit fetches it: a git repository holding the package and
    .pre-commit-hooks.yaml (copied, so uncommitted work is what gets tested)."""
    repo = tmp_path_factory.mktemp("hook") / "ambdiff"
    repo.mkdir()
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy(ROOT / name, repo / name)
    shutil.copytree(
        ROOT / "ambdiff", repo / "ambdiff", ignore=shutil.ignore_patterns("__pycache__")
    )
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "hook"]):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=env)
    return repo


@pytest.fixture(scope="module")
def caches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("caches")


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A GitOps repository with one committed Mapping."""
    repo = tmp_path / "gitops"
    (repo / "apps").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "apps" / "api.yaml").write_text(MAPPING.format(name="api", ns="shop", prefix="/api/"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "api")
    return repo


def pre_commit(repo: Path, caches: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(caches / "pre-commit"),
        "PIP_CACHE_DIR": str(caches / "pip"),
        "PRE_COMMIT_COLOR": "never",
    }
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.timeout(900)
def test_try_repo_blocks_a_colliding_mapping_and_passes_a_clean_one(
    hook_repo: Path, caches: Path, work: Path
) -> None:
    (work / "apps" / "legacy.yaml").write_text(
        MAPPING.format(name="legacy", ns="legacy", prefix="/api/")
    )
    git(work, "add", "apps/legacy.yaml")
    result = pre_commit(work, caches, "try-repo", str(hook_repo), "ambdiff-check")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ambdiff check" in result.stdout and "Failed" in result.stdout
    assert (
        "apps/legacy.yaml:8  warning route-collision  Mapping legacy/legacy: shares the route"
        in result.stdout
    )
    # Findings in files that were not staged are context, not blockers.
    assert "apps/api.yaml:8  warning" not in result.stdout

    (work / "apps" / "legacy.yaml").write_text(
        MAPPING.format(name="legacy", ns="legacy", prefix="/legacy/")
    )
    git(work, "add", "apps/legacy.yaml")
    result = pre_commit(work, caches, "try-repo", str(hook_repo), "ambdiff-check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed" in result.stdout
