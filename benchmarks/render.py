"""What rendering costs: the same N objects as plain YAML, as a Kustomize overlay on a base,
and as a Helm chart, read by `ambdiff check` and `ambdiff diff --live-file` (offline, no API
server), beside the bare `kubectl kustomize` and `helm template` of the same folders, so that
the table shows what ambdiff adds to the tools' own time. Medians of interleaved rounds.

    python -m benchmarks.render                        # N = 100 and 1,000, 3 rounds
    python -m benchmarks.render --sizes 100 --rounds 1 --no-write

Needs kubectl on PATH and a helm (AMBDIFF_TEST_HELM, else `tools/testbin.py helm`); writes
its block of docs/performance.md (`nox -s bench` runs it after the main benchmark).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks import generate as gen
from benchmarks import report
from benchmarks.measure import command_env, run

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "<!-- bench:render:begin (written by `python -m benchmarks.render`; edits here are overwritten) -->"
END = "<!-- bench:render:end -->"
SHAPES = ("plain", "kustomize", "helm")
CHART_VALUES_PER_APP = 2  # a Deployment and a Service per entry of .Values.apps


def write_shapes(root: Path, n: int) -> dict[str, str]:
    """A git repository with N objects in each shape; shape -> the PATH that holds it."""
    repo = gen.generate(root, n)
    (root / ".ambdiff.yaml").unlink()
    files = sorted(p.relative_to(repo.manifests).as_posix() for p in repo.manifests.rglob("*.yaml"))
    (repo.manifests / "kustomization.yaml").write_text(yaml.safe_dump({"resources": files}))
    overlay = root / "overlays" / "bench"
    overlay.mkdir(parents=True)
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": [f"../../{gen.MANIFESTS}"],
                "labels": [{"pairs": {"env": "bench"}}],
            }
        )
    )
    plain = root / "plain"
    shutil.copytree(repo.manifests, plain)
    (plain / "kustomization.yaml").unlink()
    chart = root / "charts" / "bench"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: bench\nversion: 0.1.0\n")
    apps = [
        {"name": f"app-{i:05d}", "replicas": 1 + i % 3} for i in range(n // CHART_VALUES_PER_APP)
    ]
    (chart / "values.yaml").write_text(yaml.safe_dump({"image": "nginx:1.27", "apps": apps}))
    (chart / "templates" / "apps.yaml").write_text(CHART_TEMPLATE)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "bench"]):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    return {"plain": "plain", "kustomize": "overlays/bench", "helm": "charts/bench"}


CHART_TEMPLATE = """\
{{- range .Values.apps }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .name }}
  labels: {app: {{ .name }}}
spec:
  replicas: {{ .replicas }}
  selector: {matchLabels: {app: {{ .name }}}}
  template:
    metadata: {labels: {app: {{ .name }}}}
    spec:
      containers:
      - name: web
        image: {{ $.Values.image }}
        ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .name }}
spec:
  selector: {app: {{ .name }}}
  ports: [{port: 80, targetPort: 8080}]
{{- end }}
"""


def commands(ambdiff: str, helm: str, paths: dict[str, str], empty: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for shape in SHAPES:
        tools = ["--helm", helm] if shape == "helm" else []
        out[f"check {shape}"] = [ambdiff, "check", paths[shape], *tools, "--color", "never"]
        out[f"diff {shape}"] = [
            ambdiff,
            "diff",
            paths[shape],
            *tools,
            "--color",
            "never",
            "--live-file",
            str(empty),
            "--inventory",
            "bench",
            "-n",
            "bench",
        ]
    out["kubectl kustomize"] = ["kubectl", "kustomize", paths["kustomize"]]
    out["helm template"] = [helm, "template", "bench", paths["helm"]]
    return out


LABELS = {
    "check plain": "`ambdiff check` plain YAML",
    "check kustomize": "`ambdiff check` Kustomize overlay",
    "check helm": "`ambdiff check` Helm chart",
    "diff plain": "`ambdiff diff --live-file` plain YAML",
    "diff kustomize": "`ambdiff diff --live-file` Kustomize overlay",
    "diff helm": "`ambdiff diff --live-file` Helm chart",
    "kubectl kustomize": "`kubectl kustomize` alone",
    "helm template": "`helm template` alone",
}


def bench(sizes: list[int], rounds: int, work: Path, helm: str) -> dict[str, Any]:
    ambdiff = str(Path(sys.executable).with_name("ambdiff"))
    empty = work / "empty.yaml"
    empty.write_text("apiVersion: v1\nkind: List\nitems: []\n")
    env = command_env(os.environ, HOME=str(work), NO_COLOR="1")
    results: dict[str, Any] = {"sizes": {}, "environment": environment(helm)}
    for n in sizes:
        root = work / f"n{n}"
        paths = write_shapes(root, n)
        cmds = commands(ambdiff, helm, paths, empty)
        samples: dict[str, list[float]] = {k: [] for k in cmds}
        exits: dict[str, set[int]] = {k: set() for k in cmds}
        keys = list(cmds)
        for r in range(rounds + 1):  # round 0 warms the caches and is not counted
            for key in keys[r % len(keys) :] + keys[: r % len(keys)]:
                sample = run(
                    cmds[key],
                    env=env,
                    cwd=root,
                    log=work / f"{n}-{key.replace(' ', '-')}",
                    request_pattern=None,
                )
                if r:
                    samples[key].append(sample.wall)
                    exits[key].add(sample.exit_code)
                print(
                    f"   N={n} round {r}/{rounds} {key:<20} {sample.wall:7.2f}s "
                    f"exit {sample.exit_code}",
                    flush=True,
                )
        results["sizes"][n] = {
            k: {"median": statistics.median(v), "exits": sorted(exits[k])}
            for k, v in samples.items()
        }
    return results


def environment(helm: str) -> dict[str, str]:
    kubectl = subprocess.run(
        ["kubectl", "version", "--client", "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    try:
        kustomize = json.loads(kubectl)["kustomizeVersion"]
    except (ValueError, KeyError):
        kustomize = "unknown"
    helm_version = subprocess.run(
        [helm, "version", "--short"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cpus": str(os.cpu_count()),
        "python": platform.python_version(),
        "kustomize": f"kubectl's built-in kustomize {kustomize}",
        "helm": helm_version,
        "date": time.strftime("%Y-%m-%d"),
    }


def markdown(results: dict[str, Any]) -> str:
    env = results["environment"]
    sizes = sorted(results["sizes"], key=int)
    lines = [
        BEGIN,
        "",
        "## Rendering: Kustomize and Helm sources",
        "",
        f"Measured {env['date']} on {env['cpus']} CPUs, Python {env['python']}, "
        f"{env['kustomize']}, helm {env['helm']}; offline (`--live-file` an empty List, so every "
        "object is `added`), medians of interleaved rounds. The same N objects in each shape "
        "(the Helm chart: N/2 Deployments and N/2 Services from one looping template). "
        "`ambdiff` rows include its start-up, reading, rendering and checking or comparing; "
        "the rows of the bare tools show how much of that the tool itself takes.",
        "",
        "| median wall seconds | " + " | ".join(f"N = {int(n):,}" for n in sizes) + " |",
        "| --- |" + " ---: |" * len(sizes),
    ]
    for key, label in LABELS.items():
        cells = []
        for n in sizes:
            m = results["sizes"][n].get(key)
            bad = m and m["exits"] not in ([0], [1])
            cells.append("—" if m is None else f"{m['median']:.2f}" + (" (failed)" if bad else ""))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", END]
    return "\n".join(lines) + "\n"


def write(path: Path, block: str) -> None:
    """Replace this benchmark's block in `path` (or append one), and nothing else."""
    report.write(path, block, BEGIN, END)


def find_helm() -> str:
    given = os.environ.get("AMBDIFF_TEST_HELM")
    if given:
        return given
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "testbin.py"), "helm"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.render", description=__doc__)
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="ambdiff-bench-render-") as scratch:
        results = bench(sizes, args.rounds, Path(scratch), find_helm())
    block = markdown(results)
    print(block)
    if not args.no_write:
        write(ROOT / "docs" / "performance.md", block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
