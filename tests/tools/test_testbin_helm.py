"""tools/testbin.py's helm: the pinned wrapper module, the lookup order (HELM_BINARY, then the
cache, which keeps the kube-apiserver/etcd cache where it was), its one-sentence failure without
Go, and the built helm itself (through tests/helm_binary.py: skipped without it, failed in CI)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.helm_binary import load_testbin, require_helm

ROOT = Path(__file__).resolve().parents[2]
TESTBIN = ROOT / "tools" / "testbin.py"


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_wrapper_module_pins_helm_v4() -> None:
    testbin = load_testbin()
    go_mod = (ROOT / "tools" / "helm" / "go.mod").read_text()
    assert testbin.HELM_VERSION == "v4.3.2"
    assert re.search(r"^tool helm\.sh/helm/v4/cmd/helm$", go_mod, re.M)
    assert re.search(rf"^\thelm\.sh/helm/v4 {re.escape(testbin.HELM_VERSION)}\b", go_mod, re.M)
    go_sum = (ROOT / "tools" / "helm" / "go.sum").read_text()
    assert f"helm.sh/helm/v4 {testbin.HELM_VERSION} h1:" in go_sum
    assert testbin.WRAPPER_FILES[testbin.HELM_WRAPPER] == ("go.mod", "go.sum")


def test_cache_paths() -> None:
    testbin = load_testbin()
    home = {"HOME": "/home/u"}
    assert testbin.cache_dir(home) == Path(
        "/home/u/.cache/ambdiff/testbin/k8s-v1.36.3_etcd-v3.6.16"
    )
    assert testbin.helm_cache_dir(home) == Path("/home/u/.cache/ambdiff/helm-v4.3.2")
    xdg = {**home, "XDG_CACHE_HOME": "/x"}
    assert testbin.cache_dir(xdg) == Path("/x/ambdiff/testbin/k8s-v1.36.3_etcd-v3.6.16")
    assert testbin.helm_cache_dir(xdg) == Path("/x/ambdiff/helm-v4.3.2")
    assert testbin.helm_cache_dir({**xdg, "TESTBIN_HELM_DIR": "/h"}) == Path("/h")
    assert testbin.cache_dir({**xdg, "TESTBIN_DIR": "/t"}) == Path("/t")


def test_helm_lookup_order(tmp_path: Path) -> None:
    testbin = load_testbin()
    env = {"HOME": str(tmp_path / "home")}
    assert testbin.find_helm(env) is None
    cached = _executable(tmp_path / "home" / ".cache" / "ambdiff" / "helm-v4.3.2" / "helm")
    assert testbin.find_helm(env) == cached
    given = _executable(tmp_path / "elsewhere" / "helm")
    assert testbin.find_helm({**env, "HELM_BINARY": str(given)}) == given
    # HELM_BINARY naming no file falls through to the cache, as KUBEBUILDER_ASSETS does.
    assert testbin.find_helm({**env, "HELM_BINARY": str(tmp_path / "missing")}) == cached


def test_helm_command_prints_the_path(tmp_path: Path) -> None:
    given = _executable(tmp_path / "helm")
    env = {**os.environ, "HELM_BINARY": str(given), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(TESTBIN), "helm"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{given}\n"


def test_helm_command_without_go_is_one_sentence(tmp_path: Path) -> None:
    env = {
        "PATH": str(tmp_path / "no-bin"),  # no go
        "HOME": str(tmp_path),
        "TESTBIN_HELM_DIR": str(tmp_path / "no-cache"),
    }
    done = subprocess.run(
        [sys.executable, str(TESTBIN), "helm"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("testbin: Go is not installed")
    assert "HELM_BINARY" in lines[0]


def test_built_helm_reports_its_pinned_version() -> None:
    helm = require_helm()
    done = subprocess.run(
        [helm, "version", "--template", "{{.Version}}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == load_testbin().HELM_VERSION


def test_kapp_is_a_pinned_benchmark_peer_not_a_test_binary() -> None:
    """kapp (`nox -s bench`) is pinned like helm, its wrapper files are checked with the
    others, and neither `build` nor `verify` (what CI runs) compiles it."""
    testbin = load_testbin()
    go_mod = (ROOT / "tools" / "kapp" / "go.mod").read_text()
    assert re.search(r"^tool carvel\.dev/kapp/cmd/kapp$", go_mod, re.M)
    assert re.search(rf"^\tcarvel\.dev/kapp {re.escape(testbin.KAPP_VERSION)}\b", go_mod, re.M)
    go_sum = (ROOT / "tools" / "kapp" / "go.sum").read_text()
    assert f"carvel.dev/kapp {testbin.KAPP_VERSION} h1:" in go_sum
    assert testbin.WRAPPER_FILES[testbin.KAPP_WRAPPER] == ("go.mod", "go.sum")
    assert testbin.KAPP not in testbin.GO_TOOLS
    assert testbin.KAPP.cache_dir({"HOME": "/home/u"}) == Path(
        "/home/u/.cache/ambdiff/kapp-v0.64.2"
    )
