"""The committed zero-value table (ambdiff/data/zero-omitted.json) is exactly what its
generator, tools/zero-fields, writes: regenerate it with the Go toolchain and compare bytes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "tools" / "zero-fields"
TABLE = ROOT / "ambdiff" / "data" / "zero-omitted.json"
GO = shutil.which("go")
# The environment before conftest points HOME at a temporary folder: go's module and build
# caches (only those) are taken from it, so the test does not download and compile afresh.
_ENV_AT_IMPORT = dict(os.environ)


def _go_caches() -> dict[str, str]:
    assert GO is not None
    out = subprocess.run(
        [GO, "env", "-json", "GOMODCACHE", "GOCACHE", "GOPROXY", "GOTOOLCHAIN"],
        env=_ENV_AT_IMPORT,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return {k: v for k, v in json.loads(out).items() if v}


@pytest.mark.timeout(1200)  # a cold build compiles every k8s.io/api package
def test_committed_table_matches_the_generator(tmp_path: Path) -> None:
    if GO is None:
        if os.environ.get("CI") == "true":
            pytest.fail("go is not on PATH: CI must check ambdiff/data/zero-omitted.json")
        pytest.skip("go is not on PATH: cannot regenerate ambdiff/data/zero-omitted.json")
    out = tmp_path / "zero-omitted.json"
    env = {**os.environ, **_go_caches(), "GOFLAGS": "-mod=readonly"}
    result = subprocess.run(
        [GO, "run", ".", "-o", str(out)],
        cwd=GENERATOR,
        env=env,
        capture_output=True,
        text=True,
        timeout=1140,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == TABLE.read_bytes(), (
        "ambdiff/data/zero-omitted.json differs from what tools/zero-fields writes; "
        "regenerate it: cd tools/zero-fields && go run . -o ../../ambdiff/data/zero-omitted.json"
    )
