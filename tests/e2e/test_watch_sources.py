"""`watch --sync` serving every source of .ambdiff.yaml from one process, and several replicas
sharing the sources on their Leases (issue 17), against the real API server."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from tests.e2e.diff_support import run_ambdiff
from tests.e2e.watch_support import Watcher, git, init_repo, start_watch, wait_for
from tests.harness import APIServer

SOURCES = ("alpha", "bravo", "charlie", "delta")
LEASE = ("--lease-duration", "4s", "--renew-deadline", "3s", "--retry-period", "1s")


def settings(ns: str, **extra: str) -> str:
    lines = ["sources:"]
    for name in SOURCES:
        lines.append(
            f"  - {{name: {name}, paths: [{name}], inventory: {name}-{ns}{extra.get(name, '')}}}"
        )
    return "\n".join(lines) + "\n"


def configmap(name: str, ns: str, value: str = "one") -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: {ns}}}\ndata: {{v: {value}}}\n"


def write(repo: Path, files: dict[str, str], message: str = "change") -> None:
    for old in repo.rglob("*.yaml"):
        old.unlink()
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)


@pytest.fixture
def ns() -> str:
    return f"src-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def repo(tmp_path: Path, ns: str) -> Path:
    root = tmp_path / "gitops"
    init_repo(root)
    return root


def base(ns: str) -> dict[str, str]:
    files = {
        ".ambdiff.yaml": settings(ns, delta=", prune: true"),
        "alpha/ns.yaml": f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n",
    }
    for name in SOURCES:
        files[f"{name}/cm.yaml"] = configmap(f"{name}-cm", ns)
        files[f"{name}/extra.yaml"] = configmap(f"{name}-extra", ns)
    for index in range(4):  # so that dropping one is not a mass prune (which the loop refuses)
        files[f"delta/more-{index}.yaml"] = configmap(f"delta-more-{index}", ns)
    return files


@pytest.fixture
def watchers(apiserver: APIServer, repo: Path, tmp_path: Path) -> Iterator[Callable[..., Watcher]]:
    started: list[Watcher] = []

    def start(*args: str) -> Watcher:
        argv = [
            "--repo",
            str(repo),
            "--branch",
            "main",
            "--kubeconfig",
            str(apiserver.kubeconfig),
            "--context",
            apiserver.context,
            "--sync",
            "--interval",
            "2s",
            *LEASE,
            *args,
        ]
        started.append(start_watch(argv, tmp_path, tmp_path / f"watch-{len(started)}.log"))
        return started[-1]

    yield start
    for watcher in started:
        watcher.kill()


def names(api: Any, ns: str) -> set[str]:
    try:
        items = kubernetes.client.CoreV1Api(api).list_namespaced_config_map(ns).items
    except kubernetes.client.ApiException:
        return set()
    return {c.metadata.name for c in items if not c.metadata.name.startswith("kube-")}


def holders(api: Any, ns: str) -> dict[str, str]:
    """inventory source -> the holder of its Lease."""
    coordination = kubernetes.client.CoordinationV1Api(api)
    out = {}
    for name in SOURCES:
        try:
            lease = coordination.read_namespaced_lease(f"ambdiff-{name}-{ns}", "default")
        except kubernetes.client.ApiException:
            continue
        out[name] = lease.spec.holder_identity or ""
    return out


def test_one_process_serves_every_source_each_with_its_own_inventory_prune_and_failures(
    watchers: Callable[..., Watcher], repo: Path, ns: str, api_client: Any
) -> None:
    write(repo, base(ns))
    w = watchers()
    everything = {f"{n}-{k}" for n in SOURCES for k in ("cm", "extra")}
    try:
        wait_for(lambda: names(api_client, ns) >= everything, "every source to be applied")
    except AssertionError:
        raise AssertionError(w.describe()) from None
    for name in SOURCES:  # each source's own series
        wait_for(
            lambda name=name: (
                w.metric(f'ambdiff_leading{{inventory="{name}-{ns}",source="{name}"}}') == 1
            ),
            f"{name} to be led",
        )
    # charlie breaks (bad YAML); the others go on: alpha drops an object (no prune: kept),
    # delta drops one (prune: true in its source: deleted).
    files = base(ns)
    files["charlie/cm.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [oops\n"
    del files["alpha/extra.yaml"], files["delta/extra.yaml"]
    files["bravo/cm.yaml"] = configmap("bravo-cm", ns, "two")
    write(repo, files, "break charlie, drop two, change bravo")
    core = kubernetes.client.CoreV1Api(api_client)
    wait_for(
        lambda: core.read_namespaced_config_map("bravo-cm", ns).data == {"v": "two"},
        "bravo to apply its change",
    )
    wait_for(
        lambda: w.metric('ambdiff_errors_total{source="charlie",stage="manifests"}') >= 1,
        "charlie's rounds to fail",
    )
    assert w.metric('ambdiff_errors_total{source="bravo",stage="manifests"}') == 0
    # While charlie cannot be read, delta does not prune: the object might have moved there.
    wait_for(
        lambda: any(
            e.get("event") == "prune-skipped" and "charlie" in e["message"] for e in w.events()
        ),
        "delta to say why it does not prune",
    )
    assert "delta-extra" in names(api_client, ns)
    del files["charlie/cm.yaml"]
    files["charlie/cm.yaml"] = configmap("charlie-cm", ns)
    write(repo, files, "mend charlie")
    wait_for(lambda: "delta-extra" not in names(api_client, ns), "delta to prune")
    assert "alpha-extra" in names(api_client, ns)  # alpha does not prune
    assert w.terminate() == 0, w.describe()


def test_three_replicas_share_four_sources_and_a_killed_ones_are_taken_over(
    watchers: Callable[..., Watcher], repo: Path, ns: str, api_client: Any
) -> None:
    write(repo, base(ns))
    replicas = [watchers() for _ in range(3)]
    wait_for(
        lambda: len(holders(api_client, ns)) == 4 and all(holders(api_client, ns).values()),
        "every source to have a leader",
    )
    # (A leader may be killed below before its first round applied: wait for every source's.)
    wait_for(
        lambda: {f"{s}-cm" for s in SOURCES} <= names(api_client, ns),
        "every source's first round to apply",
    )
    pids = {str(w.proc.pid): w for w in replicas}

    def owner(holder: str) -> Watcher:
        return pids[holder.split("/")[1]]  # host/pid/random

    led = holders(api_client, ns)
    # Every source is led by exactly one replica, and no replica wrote for a source it
    # does not lead.
    for w in replicas:
        mine = {s for s, h in led.items() if owner(h) is w}
        written = {e["inventory"] for e in w.events() if e.get("event") == "lead"}
        assert written <= {f"{s}-{ns}" for s in SOURCES}
        assert {s for s in SOURCES if f"{s}-{ns}" in written} >= mine
    assert len({id(owner(h)) for h in led.values()}) >= 2, led  # spread, not all on one
    victim = owner(led["alpha"])
    victim_had = {s for s, h in led.items() if owner(h) is victim}
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait()
    survivors = [w for w in replicas if w is not victim]
    wait_for(
        lambda: all(owner(holders(api_client, ns)[s]) in survivors for s in victim_had),
        "the survivors to take over the killed replica's sources",
        timeout=30,
    )
    files = base(ns)
    files["alpha/cm.yaml"] = configmap("alpha-cm", ns, "after")
    write(repo, files, "change alpha")
    core = kubernetes.client.CoreV1Api(api_client)
    wait_for(
        lambda: (
            core.list_namespaced_config_map(ns, field_selector="metadata.name=alpha-cm")
            .items[0]
            .data
            == {"v": "after"}
        ),
        "the new leader of alpha to apply",
    )


def test_one_inventory_for_several_sources_is_refused_at_start(
    apiserver: APIServer, repo: Path, ns: str, api_client: Any
) -> None:
    """Each source has its own inventory, Lease and record: `--inventory` (as the in-cluster
    example passes it) names one, so a watch of several sources refuses it before it takes
    any Lease."""
    write(repo, base(ns))
    run = run_ambdiff(
        "watch",
        "--sync",
        "--repo",
        str(repo),
        "--branch",
        "main",
        "--kubeconfig",
        str(apiserver.kubeconfig),
        "--context",
        apiserver.context,
        "--inventory",
        f"one-{ns}",
        "--metrics-port",
        "0",
    )
    assert run.code == 2, run.err
    assert f"--inventory one-{ns} names one inventory, and this watch serves 4 sources" in run.err
    assert "Traceback" not in run.err
    leases = kubernetes.client.CoordinationV1Api(api_client).list_namespaced_lease("default")
    assert f"ambdiff-one-{ns}" not in {lease.metadata.name for lease in leases.items}
