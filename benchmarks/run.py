"""The benchmark: for each size N, start a fresh local API server, generate a repository of N
objects, apply it, put drift on it, then run ambdiff and its peers interleaved for several
rounds and write the medians to docs/performance.md.

    nox -s bench                                  # N = 100, 1,000, 5,000, 10,000
    nox -s bench -- --sizes 100,1000              # quicker
    python -m benchmarks --sizes 50 --rounds 1 --no-write   # a smoke run

Needs kubectl on PATH (the peer, and what applies the repository) and the test API server
binaries (tools/testbin.py). The other peers run when they can be had: Carvel kapp (--kapp, or
KAPP_BINARY, which `nox -s bench` builds with tools/testbin.py kapp) and weaveworks' kubediff
(--kubediff, a checkout of its repository, run with this Python).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import generate as gen
from benchmarks import report
from benchmarks.measure import AMBDIFF_REQUEST, KUBECTL_REQUEST, Sample, command_env, run

ROOT = Path(__file__).resolve().parents[1]
CRDS = ROOT / "ambdiff" / "crds" / "ambassador.yaml"
DEFAULT_SIZES = (100, 1000, 5000, 10000)
DEFAULT_ROUNDS = {100: 5, 1000: 3, 5000: 3, 10000: 3}
WARM_UP = ("check", "diff", "sync-dry", "floor")
KAPP_APP = "ambdiff-bench"
# Python packages kubediff imports (its requirements.txt), installed by `nox -s bench`.
KUBEDIFF_NEEDS = ("attrs", "future", "pyyaml", "tabulate")
# A wide service range: the harness's /24 holds 254 ClusterIPs, the big repositories need more.
SERVICE_RANGE = "10.0.0.0/16"


@dataclass(frozen=True)
class Command:
    key: str  # stable id in the results
    label: str  # as shown in the table
    argv: tuple[str, ...]
    tool: str  # ambdiff, kubectl, kapp or kubediff

    @property
    def pattern(self) -> Any:
        """How its request log counts requests; None when it keeps none (kapp, and kubediff,
        which runs one `kubectl get` per object)."""
        return {"ambdiff": AMBDIFF_REQUEST, "kubectl": KUBECTL_REQUEST}.get(self.tool)


@dataclass
class SizeResult:
    n: int
    objects: int  # N plus the Namespaces
    files: int
    annotation_mappings: int
    drift: dict[str, int]
    setup_seconds: dict[str, float]
    reported: dict[str, str]  # what each diff reported, as a check that they agree
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "objects": self.objects,
            "files": self.files,
            "annotation_mappings": self.annotation_mappings,
            "drift": self.drift,
            "setup_seconds": self.setup_seconds,
            "reported": self.reported,
            "notes": self.notes,
            "samples": {k: [s.to_json() for s in v] for k, v in self.samples.items()},
        }


@dataclass(frozen=True)
class Peers:
    """The peers besides kubectl, where they can be had."""

    kapp: str | None = None  # the kapp binary
    kubediff: Path | None = None  # a checkout of weaveworks/kubediff
    kubediff_max: int = 1000  # the largest N kubediff runs at


def commands(
    ambdiff: str,
    kubectl: str,
    repo: Path,
    kubeconfig: Path,
    cache: Path,
    with_check: bool,
    peers: Peers = Peers(),
    n: int = 0,
) -> list[Command]:
    a = (ambdiff,)
    on = ("--repo", str(repo), "--kubeconfig", str(kubeconfig), "--color", "never")
    k = (kubectl, "--kubeconfig", str(kubeconfig), "--cache-dir", str(cache))
    manifests = str(repo / gen.MANIFESTS)
    out = [
        Command("diff", "ambdiff diff", (*a, "diff", *on, "-vv"), "ambdiff"),
        Command("diff-ss", "ambdiff diff --server-side",
                (*a, "diff", "--server-side", *on, "-vv"), "ambdiff"),
        Command("sync-dry", "ambdiff sync --dry-run --yes --force-conflicts",
                (*a, "sync", "--dry-run", "--yes", "--force-conflicts", *on, "-vv"), "ambdiff"),
        Command("kubectl-diff", "kubectl diff -R -f", (*k, "diff", "-R", "-f", manifests, "-v=6"),
                "kubectl"),
        Command("kubectl-diff-ss", "kubectl diff --server-side -R -f",
                (*k, "diff", "--server-side", "--field-manager=ambdiff", "--force-conflicts",
                 "-R", "-f", manifests, "-v=6"), "kubectl"),
        Command("floor", "LIST floor: kubectl get -A -o json",
                (*k, "get", ",".join(gen.KUBECTL_TYPES), "-A", "-o", "json", "-v=6"), "kubectl"),
    ]  # fmt: skip
    if peers.kapp:
        # kapp's diff of the files against the cluster, as `kapp deploy` would apply them
        # (the app is not deployed by kapp: it plans each object as an update to adopt it).
        out.append(
            Command(
                "kapp",
                "kapp deploy --diff-run",
                (
                    peers.kapp,
                    "deploy",
                    "-a",
                    KAPP_APP,
                    "-f",
                    manifests,
                    "--diff-run",
                    "--diff-changes",
                    "--yes",
                    "--tty=false",
                    "--kubeconfig",
                    str(kubeconfig),
                ),
                "kapp",
            )
        )
    if peers.kubediff and n <= peers.kubediff_max:
        out.append(
            Command(
                "kubediff",
                "kubediff (weaveworks)",
                (
                    sys.executable,
                    str(peers.kubediff / "kubediff"),
                    "--no-error-on-diff",
                    "--kubeconfig",
                    str(kubeconfig),
                    manifests,
                ),
                "kubediff",
            )
        )
    if with_check:
        out.insert(
            0,
            Command(
                "check",
                "ambdiff check",
                (*a, "check", "--repo", str(repo), "--color", "never"),
                "ambdiff",
            ),
        )
    return out


def _testbin() -> Any:
    spec = importlib.util.spec_from_file_location("ambdiff_testbin", ROOT / "tools" / "testbin.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def start_server() -> Any:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.harness import apiserver

    assets = _testbin().find_assets()
    if assets is None:
        raise SystemExit(
            "no kube-apiserver/etcd binaries: run `python3 tools/testbin.py build` (needs Go) "
            "or set KUBEBUILDER_ASSETS"
        )
    apiserver.SERVICE_CLUSTER_IP_RANGE = SERVICE_RANGE
    server = apiserver.start(assets.kube_apiserver, assets.etcd)
    server.install_crds(CRDS)
    return server


def server_pids(server: Any) -> list[int]:
    """kube-apiserver's and etcd's process ids (for their CPU time), when the harness says."""
    pids = []
    for name in ("_apiserver", "_etcd"):
        popen = getattr(getattr(server, name, None), "popen", None)
        if popen is not None:
            pids.append(popen.pid)
    return pids


def child_env(home: Path, kubeconfig: Path) -> dict[str, str]:
    # (Without PYTHONDONTWRITEBYTECODE: an installed ambdiff has its bytecode compiled; with
    # it, each run of an editable install would compile every module again.)
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("KUBE") and k != "PYTHONDONTWRITEBYTECODE"
    }
    return command_env(
        base, HOME=str(home), KUBECONFIG=str(kubeconfig), NO_COLOR="1", GIT_CONFIG_NOSYSTEM="1"
    )


def apply_drift(server: Any, drifts: Sequence[gen.Drift], repo: gen.Repository) -> None:
    """Make the drift; the objects "removed from git" are recorded in the inventory record,
    as the earlier sync that applied them would have left it."""

    def one(d: gen.Drift) -> dict[str, Any]:
        path = d.path + ("?fieldManager=kubectl-edit" if d.method != "DELETE" else "")
        status, body = server.request(d.method, path, d.body, d.content_type)
        if status >= 300:
            raise RuntimeError(f"drift {d.method} {d.path}: HTTP {status} {body.get('message')}")
        return body

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(one, drifts))
    removed = [a for d, a in zip(drifts, answers, strict=True) if d.what == "removed"]
    record_removed(server, repo, removed)


def record_removed(server: Any, repo: gen.Repository, objects: Sequence[dict[str, Any]]) -> None:
    from ambdiff.cluster import Cluster
    from ambdiff.gitsource import repo_identity
    from ambdiff.model import ObjectId
    from ambdiff.sync import record as records

    members = [
        records.Member(
            ObjectId("", o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]),
            o["metadata"]["uid"],
            o["apiVersion"],
        )
        for o in objects
    ]
    identity = records.Identity(repo_identity(repo.root), "default", (gen.MANIFESTS,), "")
    empty = records.Record(gen.INVENTORY, "default", identity, exists=False)
    cluster = Cluster.connect(str(server.kubeconfig), server.context)
    new = records.updated(empty, identity=identity, revision="earlier", members=members)
    records.write(cluster, new, "ambdiff")


def setup(
    server: Any, repo: gen.Repository, kubectl: str, env: dict[str, str], work: Path, cache: Path
) -> dict[str, float]:
    """Apply the repository as ambdiff would own it: server-side apply, field manager ambdiff
    (Namespaces first). kubectl's client-side schema validation is off: it costs about 50 ms
    of CPU per object on this machine and the generator's objects are valid."""
    k = (kubectl, "--kubeconfig", str(server.kubeconfig), "--cache-dir", str(cache))
    flags = ("apply", "--server-side", "--field-manager=ambdiff", "--validate=false")
    seconds = {}
    started = time.perf_counter()
    for target in (repo.manifests / "namespaces.yaml", repo.manifests):
        subprocess.run(
            [*k, *flags, "-R", "-f", str(target)],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            cwd=work,
        )
    seconds["kubectl apply --server-side"] = time.perf_counter() - started
    return seconds


def reported(cmd: Command, log: Path) -> str:
    """A short summary of what a diff found (from its saved output), to check they agree."""
    out = log.with_suffix(".out").read_text(errors="replace")
    if cmd.tool == "ambdiff":
        lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
        # (Without the server's loopback address: it changes every run.)
        return re.sub(r" \(https?://[^)]*\)", "", lines[-1]) if lines else ""
    if cmd.tool == "kapp":
        # Its table of changes (--tty=false prints no summary): one row per object, op column.
        ops = Counter(
            cells[4]
            for ln in out.splitlines()
            if len(cells := ln.split("\t")) > 5 and cells[1].strip()
        )
        return ", ".join(f"{ops[op]} {op}" for op in ("create", "update", "delete") if ops[op])
    mark = "## " if cmd.tool == "kubediff" else "diff -u -N"
    objects = sum(1 for ln in out.splitlines() if ln.startswith(mark))
    return f"{objects} object(s) differ"


def bench_size(
    n: int,
    args: argparse.Namespace,
    work_root: Path,
    ambdiff: str,
    kubectl: str,
    with_check: bool,
    peers: Peers = Peers(),
) -> SizeResult:
    work = work_root / f"n{n}"
    work.mkdir(parents=True)
    home = work / "home"
    home.mkdir()
    cache = work / "kube-cache"
    print(f"== N = {n}: starting the API server", flush=True)
    server = start_server()
    try:
        env = child_env(home, server.kubeconfig)
        repo = gen.generate(work / "repo", n, seed=args.seed)
        setup_seconds = setup(server, repo, kubectl, env, work, cache)
        drifts = gen.drift(repo, args.drift, seed=args.seed)
        apply_drift(server, drifts, repo)
        counts: dict[str, int] = {}
        for d in drifts:
            counts[d.what] = counts.get(d.what, 0) + 1
        print(
            f"   {len(repo.objects)} objects in {repo.files} files applied in "
            f"{setup_seconds['kubectl apply --server-side']:.1f}s; drift {counts}",
            flush=True,
        )
        cmds = commands(ambdiff, kubectl, repo.root, server.kubeconfig, cache, with_check, peers, n)
        if args.only:
            cmds = [c for c in cmds if c.key in args.only]
        result = SizeResult(
            n, len(repo.objects), repo.files, repo.annotation_mappings, counts, setup_seconds, {}
        )
        pids = server_pids(server)
        # A warm-up run of the quick commands (not counted): kubectl's discovery cache, the
        # page cache. The slow ones pay their warm-up in their first round.
        for cmd in cmds:
            if cmd.key in WARM_UP:
                run(
                    cmd.argv,
                    env=env,
                    cwd=work,
                    log=work / f"{cmd.key}-warm-up",
                    request_pattern=cmd.pattern,
                )
        if n > args.kubectl_diff_max:
            cmds = [c for c in cmds if c.key != "kubectl-diff"]
            result.notes.append(
                f"`kubectl diff -R -f` was not run at this size (over --kubectl-diff-max "
                f"{args.kubectl_diff_max:,}): one run takes about 110 ms per object here"
            )
        if peers.kubediff and n > peers.kubediff_max:
            result.notes.append(
                f"kubediff was not run at this size (over --kubediff-max {peers.kubediff_max:,}):"
                " it runs one `kubectl get` per object"
            )
        rounds = args.rounds or DEFAULT_ROUNDS.get(n, 3)
        slow: set[str] = set()
        for r in range(rounds):
            # Interleaved, and rotated each round so that no command always runs first.
            order = cmds[r % len(cmds) :] + cmds[: r % len(cmds)]
            for cmd in order:
                if cmd.key in slow:
                    continue
                log = work / f"{cmd.key}-{r}"
                sample = run(
                    cmd.argv,
                    env=env,
                    cwd=work,
                    log=log,
                    request_pattern=cmd.pattern,
                    server_pids=pids,
                )
                result.samples.setdefault(cmd.key, []).append(sample)
                if r == 0 and cmd.key != "floor":
                    result.reported[cmd.key] = reported(cmd, log)
                print(
                    f"   round {r + 1}/{rounds} {cmd.label:<36} {sample.wall:8.2f}s "
                    f"cpu {sample.cpu:7.2f}s rss {sample.rss_mib:6.0f} MiB "
                    f"req {sample.requests} exit {sample.exit_code}",
                    flush=True,
                )
                if sample.wall > args.slow and cmd.key not in slow:
                    slow.add(cmd.key)
                    if r + 1 < rounds:
                        result.notes.append(
                            f"{cmd.label}: one run took {sample.wall:.0f} s (over --slow "
                            f"{args.slow:.0f} s), so it ran in round {r + 1} only"
                        )
        return result
    finally:
        server.close()


def environment(kubectl: str) -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    version = subprocess.run(
        [kubectl, "version", "--client", "-o", "json"], capture_output=True, text=True, check=False
    ).stdout
    try:
        kubectl_version = json.loads(version)["clientVersion"]["gitVersion"]
    except (ValueError, KeyError):
        kubectl_version = "unknown"
    testbin = _testbin()
    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "kubectl": kubectl_version,
        "kube-apiserver": testbin.KUBERNETES_VERSION,
        "etcd": testbin.ETCD_VERSION,
        "date": time.strftime("%Y-%m-%d"),
    }


def profile(n: int, args: argparse.Namespace, work_root: Path, kubectl: str) -> None:
    """pyinstrument profiles of `ambdiff check` and `ambdiff diff` at size N (text, in the
    work directory)."""
    work = work_root / f"profile-n{n}"
    work.mkdir(parents=True)
    (work / "home").mkdir()
    server = start_server()
    try:
        env = child_env(work / "home", server.kubeconfig)
        repo = gen.generate(work / "repo", n, seed=args.seed)
        setup(server, repo, kubectl, env, work, work / "kube-cache")
        apply_drift(server, gen.drift(repo, args.drift, seed=args.seed), repo)
        py = sys.executable
        for name, cmd in (
            ("check", ["check"]),
            ("diff", ["diff", "--kubeconfig", str(server.kubeconfig)]),
        ):
            target = work / f"{name}.txt"
            subprocess.run(
                [
                    py,
                    "-m",
                    "pyinstrument",
                    "-r",
                    "text",
                    "-o",
                    str(target),
                    "-m",
                    "ambdiff",
                    *cmd,
                    "--repo",
                    str(repo.root),
                    "--color",
                    "never",
                ],
                env=env,
                cwd=work,
                stdout=subprocess.DEVNULL,
                check=False,
            )
            print(f"profile of ambdiff {name} at N = {n}: {target}", flush=True)
    finally:
        server.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--sizes",
        default=",".join(map(str, DEFAULT_SIZES)),
        help="comma-separated N (default: %(default)s)",
    )
    parser.add_argument(
        "--rounds", type=int, default=0, help="rounds per size (default: 5 at 100 objects, else 3)"
    )
    parser.add_argument("--drift", type=float, default=0.02, help="share of objects drifted live")
    parser.add_argument(
        "--slow",
        type=float,
        default=150.0,
        help="a command whose run takes longer than this many seconds is not "
        "repeated in later rounds (default: %(default)s)",
    )
    parser.add_argument(
        "--only",
        type=lambda s: set(s.split(",")),
        default=None,
        help="only these commands (keys: check, diff, diff-ss, sync-dry, "
        "kubectl-diff, kubectl-diff-ss, kapp, kubediff, floor)",
    )
    parser.add_argument(
        "--kubectl-diff-max",
        type=int,
        default=5000,
        metavar="N",
        help="run `kubectl diff` (client-side) only up to this size: about "
        "20 minutes a run at 10,000 objects here (default: %(default)s)",
    )
    parser.add_argument(
        "--kapp",
        default=os.environ.get("KAPP_BINARY") or None,
        help="the kapp binary, a peer (default: $KAPP_BINARY; without it, kapp is left out)",
    )
    parser.add_argument(
        "--kubediff",
        type=Path,
        default=None,
        metavar="DIR",
        help="a checkout of weaveworks/kubediff, a peer run with this Python "
        "(it needs " + ", ".join(KUBEDIFF_NEEDS) + "); without it, left out",
    )
    parser.add_argument(
        "--kubediff-max",
        type=int,
        default=1000,
        metavar="N",
        help="run kubediff only up to this size: one `kubectl get` per object "
        "(default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="keep repositories and logs here (default: a temporary directory)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--json", type=Path, default=None, help="also write raw samples here")
    parser.add_argument("--no-write", action="store_true", help="do not update --out")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="only profile ambdiff check and diff at size N with pyinstrument",
    )
    args = parser.parse_args(argv)

    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise SystemExit(
            "kubectl is not on PATH: the benchmark compares with it and applies with it"
        )
    ambdiff = shutil.which("ambdiff", path=str(Path(sys.executable).parent)) or shutil.which(
        "ambdiff"
    )
    if ambdiff is None:
        raise SystemExit("ambdiff is not installed in this environment (pip install -e .)")
    work_root = args.workdir or Path(tempfile.mkdtemp(prefix="ambdiff-bench-"))
    work_root.mkdir(parents=True, exist_ok=True)
    print(f"work directory: {work_root}", flush=True)
    if args.profile:
        profile(args.profile, args, work_root, kubectl)
        return 0
    with_check = (
        subprocess.run(
            [ambdiff, "check", "--help"],
            capture_output=True,
            check=False,
            env=command_env(os.environ),
        ).returncode
        == 0
    )
    if args.kubediff is not None and not (args.kubediff / "kubediff").is_file():
        raise SystemExit(
            f"--kubediff {args.kubediff}: no kubediff script there (a checkout of "
            "weaveworks/kubediff has one at its top)"
        )
    peers = Peers(args.kapp, args.kubediff, args.kubediff_max)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    results = []
    for n in sizes:
        results.append(bench_size(n, args, work_root, ambdiff, kubectl, with_check, peers))
        if args.workdir is None:
            shutil.rmtree(work_root / f"n{n}" / "repo", ignore_errors=True)
    env = environment(kubectl)
    raw = {
        "environment": env,
        "with_check": with_check,
        "drift": args.drift,
        "sizes": [r.to_json() for r in results],
    }
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1) + "\n")
    (work_root / "results.json").write_text(json.dumps(raw, indent=1) + "\n")
    text = report.markdown(raw)
    print(text)
    if not args.no_write:
        report.write(args.out, text)
        print(f"wrote {args.out}")
    return 0
