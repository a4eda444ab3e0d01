"""examples/in-cluster/Dockerfile builds a reproducible image: a base pinned by digest, every
dependency pinned with its hashes, an init process. (No container engine runs here; these read
the files, and pip itself checks the pins against the package index.)"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "in-cluster"
DOCKERFILE = (EXAMPLE / "Dockerfile").read_text()
LOCK = EXAMPLE / "requirements.txt"
PINNED = re.compile(
    r"^([A-Za-z0-9._-]+)==([^\s\\]+) \\\n((?:\s+--hash=sha256:[0-9a-f]{64}(?: \\)?\n)+)", re.M
)


def pins() -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes)."""
    return {
        canonicalize_name(m[1]): (m[2], m[3].count("--hash="))
        for m in PINNED.finditer(LOCK.read_text())
    }


def test_the_base_image_is_pinned_by_digest() -> None:
    bases = re.findall(r"^FROM (\S+)", DOCKERFILE, re.M)
    assert bases and all(re.fullmatch(r"[\w./:-]+@sha256:[0-9a-f]{64}", b) for b in bases), bases


def test_every_dependency_is_pinned_with_hashes_and_satisfies_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = [Requirement(r) for r in project["project"]["dependencies"]]
    wanted += [Requirement(r) for r in project["build-system"]["requires"]]
    pinned = pins()
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement} is not pinned in {LOCK.name}"
        version, hashes = pinned[name]
        assert requirement.specifier.contains(version, prereleases=True), (requirement, version)
        assert hashes >= 1
    # Nothing is listed without a pin and hashes.
    listed = re.findall(r"^([A-Za-z0-9._-]+)[=<>~!]", LOCK.read_text(), re.M)
    assert {canonicalize_name(n) for n in listed} == set(pinned)


def test_the_image_installs_only_what_is_pinned_and_runs_under_an_init() -> None:
    installs = re.findall(r"pip install ([^\n&]*)", DOCKERFILE)
    assert any("--require-hashes -r /src/requirements.txt" in i for i in installs), installs
    assert all("--require-hashes" in i or "--no-deps" in i for i in installs), installs
    assert "tini" in DOCKERFILE.split("ENTRYPOINT", 1)[0]
    assert re.search(r'^ENTRYPOINT \["/usr/bin/tini", "--", "ambdiff"\]$', DOCKERFILE, re.M)


def test_pip_accepts_the_pins_and_their_hashes(tmp_path: Path) -> None:
    """pip downloads every pinned wheel and checks its hash, as the image build does."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--require-hashes",
            "--no-deps",
            "--only-binary=:all:",
            "-r",
            str(LOCK),
            "-d",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(list(tmp_path.iterdir())) == len(pins())
