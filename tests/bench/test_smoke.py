"""Keep the benchmark code working (benchmarks/, `nox -s bench`): the generator and the report
on their own, and one small end-to-end run against the real local API server. No timing is
asserted anywhere: benchmarks are not tests."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks import generate as gen
from benchmarks import report, run


def test_generator_makes_the_shares_it_promises(tmp_path: Path) -> None:
    repo = gen.generate(tmp_path / "repo", 1000)
    counts = repo.counts
    assert counts["Namespace"] == gen.NAMESPACES
    assert sum(counts.values()) == 1000 + gen.NAMESPACES
    assert counts["Mapping"] == 450
    # The Mappings written inside Services' getambassador.io/config are counted as written.
    embedded = [
        d
        for o in repo.objects
        if o["kind"] == "Service"
        for d in yaml.safe_load_all(
            o["metadata"].get("annotations", {}).get("getambassador.io/config", "")
        )
        if d
    ]
    assert repo.annotation_mappings == len(embedded) > 0
    assert {d["kind"] for d in embedded} == {"Mapping"}
    annotated = sum(
        1 for o in repo.objects if o["kind"] == "Service" and "annotations" in o["metadata"]
    )
    assert 0.25 < annotated / counts["Service"] < 0.45  # about a third, as docs/performance.md says
    on_disk = [
        d for f in sorted(repo.manifests.rglob("*.yaml")) for d in yaml.safe_load_all(f.read_text())
    ]
    assert len(on_disk) == len(repo.objects)
    assert {d["metadata"].get("namespace") for d in on_disk if d["kind"] != "Namespace"} == {
        f"team-{i:02d}" for i in range(gen.NAMESPACES)
    }


def test_generator_is_deterministic(tmp_path: Path) -> None:
    a = gen.generate(tmp_path / "a", 200)
    b = gen.generate(tmp_path / "b", 200)
    assert a.objects == b.objects


def test_drift_touches_the_share_asked_for(tmp_path: Path) -> None:
    repo = gen.generate(tmp_path / "repo", 1000)
    drifts = gen.drift(repo, 0.02)
    kinds = Counter(d.what for d in drifts)
    assert kinds["changed"] + kinds["added"] == 20
    assert kinds["removed"] == 2
    assert all(d.path.startswith(("/api/", "/apis/")) for d in drifts)


def _sample(wall: float) -> dict[str, object]:
    return {
        "wall": wall,
        "cpu": wall / 2,
        "rss_mib": 80.0,
        "requests": 10,
        "exit_code": 1,
        "server_cpu": 0.1,
    }


def test_report_tables_ratios_and_targets(tmp_path: Path) -> None:
    sizes = []
    for n in (1000, 5000, 10000):
        k = n / 1000
        sizes.append({
            "n": n, "objects": n + 20, "files": n // 4, "annotation_mappings": n // 20,
            "drift": {"changed": n // 50}, "setup_seconds": {"apply": 1.0}, "reported": {},
            "notes": [],
            "samples": {
                "check": [_sample(0.2 * k)], "diff": [_sample(1.0 * k), _sample(1.2 * k)],
                "kubectl-diff": [_sample(20.0 * k)], "floor": [_sample(0.8 * k)],
                "kapp": [_sample(4.0 * k)],
            },
        })  # fmt: skip
    raw = {
        "environment": {"date": "today", "cpus": "2", "cpu": "cpu", "memory": "1 GiB",
                        "os": "os", "python": "3", "kubectl": "k", "kube-apiserver": "a",
                        "etcd": "e"},
        "with_check": True, "drift": 0.02, "sizes": sizes,
    }  # fmt: skip
    text = report.markdown(raw)
    assert "| `ambdiff diff` | 1.10 | 5.50 | 11.00 | 1.100 | 1.000 |" in text
    assert "| `kubectl diff` ÷ `ambdiff diff` (× faster) | 18.2× | 18.2× | 18.2× |" in text
    assert "≥ 10× faster than `kubectl diff` at 5,000 | 18.2× | met |" in text
    assert "| `kapp deploy --diff-run` ÷ `ambdiff diff` (× faster) | 3.6× | 3.6× | 3.6× |" in text
    assert "≤ 1.2× the LIST floor at 5,000 | 1.4× | **missed** |" in text
    assert "≤ 1.5× the LIST floor at 1,000 | 1.4× | met |" in text
    assert "≤ 2× the LIST floor at 100 | — | not measured |" in text
    assert "of 10,000 manifests < 2 s | 2.00 s | **missed** |" in text
    assert "< 200 MiB at 10,000 (every ambdiff command) | 80 MiB (`ambdiff check`) | met |" in text
    doc = tmp_path / "performance.md"
    doc.write_text("# Performance\n\nhand-written\n")
    report.write(doc, text)
    report.write(doc, text)  # replaces its block, keeps the rest
    assert doc.read_text().count(report.BEGIN) == 1
    assert "hand-written" in doc.read_text()


@pytest.fixture(scope="session")
def assets() -> Any:
    """The test API server binaries, looked up before the per-test HOME isolation."""
    return run._testbin().find_assets()


@pytest.mark.e2e
def test_a_small_run_end_to_end(
    tmp_path: Path, assets: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """N = 50, one round, against a fresh local API server (as `nox -s bench` does)."""
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed: the benchmark compares with it")
    if assets is None:
        pytest.skip("no kube-apiserver/etcd binaries (python3 tools/testbin.py build)")
    monkeypatch.setenv("TEST_ASSET_KUBE_APISERVER", str(assets.kube_apiserver))
    monkeypatch.setenv("TEST_ASSET_ETCD", str(assets.etcd))
    # As `nox -s bench` runs it: with the test suite's own variables, which ambdiff refuses.
    monkeypatch.setenv("AMBDIFF_TEST_HELM", str(tmp_path / "helm"))
    results = tmp_path / "results.json"
    code = run.main(
        [
            "--sizes",
            "50",
            "--rounds",
            "1",
            "--no-write",
            "--workdir",
            str(tmp_path / "work"),
            "--json",
            str(results),
        ]
    )
    assert code == 0
    raw = json.loads(results.read_text())
    (size,) = raw["sizes"]
    samples = size["samples"]
    assert raw["with_check"]
    assert {
        "check", "diff", "diff-ss", "sync-dry", "kubectl-diff", "kubectl-diff-ss", "floor"
    } <= set(samples)  # fmt: skip
    assert samples["check"][0]["exit_code"] == 0
    # The drift is seen: both diffs exit 1 and agree on what changed.
    assert samples["diff"][0]["exit_code"] == 1
    assert samples["kubectl-diff-ss"][0]["exit_code"] == 1
    assert samples["sync-dry"][0]["exit_code"] == 0
    assert samples["floor"][0]["exit_code"] == 0
    assert samples["diff"][0]["requests"] > 0
    assert samples["floor"][0]["requests"] > 0
    assert "1 changed" in size["reported"]["diff"], size["reported"]
    assert "1 removed" in size["reported"]["diff"], size["reported"]
    assert size["reported"]["kubectl-diff-ss"] == "1 object(s) differ"


def test_peak_memory_is_the_commands_own(tmp_path: Path) -> None:
    """The measured peak is what the command itself held (its VmHWM), not this process's
    size, which a forked child carries until it runs the command."""
    import sys

    from benchmarks.measure import run as measure

    ballast = b"\x01" * (200 << 20)  # this process is big (and resident); the command is not
    sample = measure(
        [sys.executable, "-c", "import time; x = bytearray(64 << 20); time.sleep(0.5)"],
        env={},
        cwd=tmp_path,
        log=tmp_path / "m",
        request_pattern=None,
    )
    assert 64 <= sample.rss_mib < 150, sample
    del ballast


def test_peak_memory_counts_the_processes_a_command_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ambdiff forks a second process for big repositories (ambdiff.forked): the peak is
    that of both together. The command's child holds 64 MiB until the measurement has seen
    it (then the test lets it end), so nothing depends on timing."""
    import sys
    import textwrap

    from benchmarks import measure

    release = tmp_path / "release"
    real = measure._tree_kib

    def observed(pid: int) -> int:
        kib = real(pid)
        if kib >= 64 << 10:
            release.write_text("")
        return kib

    monkeypatch.setattr(measure, "_tree_kib", observed)
    program = textwrap.dedent(
        f"""
        import os, pathlib, time
        release = pathlib.Path({str(release)!r})
        pid = os.fork()
        if pid == 0:
            held = b"\\x01" * (64 << 20)
            deadline = time.monotonic() + 60  # (only if the measurement never sees it)
            while not release.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            os._exit(0)
        os.waitpid(pid, 0)
        """
    )
    sample = measure.run(
        [sys.executable, "-c", program],
        env={},
        cwd=tmp_path,
        log=tmp_path / "m",
        request_pattern=None,
    )
    assert release.exists() and sample.rss_mib >= 64, sample
