"""`watch --sync` replicas against the real API server (issue 17): the inventory's Lease elects
one leader, the others stand by without writing; SIGKILL the leader and a standby takes over
once the Lease has expired, never before; a CI `sync` meanwhile is refused, naming the leader."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from tests.e2e.diff_support import cluster_args, run_ambdiff
from tests.e2e.sample_repo import web_app
from tests.e2e.watch_support import Watcher, commit, event_time, init_repo, start_watch, wait_for
from tests.harness import APIServer

LEASE = ("--lease-duration", "4s", "--renew-deadline", "3s", "--retry-period", "1s")


@pytest.fixture
def ns() -> str:
    return f"ha-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "gitops"
    init_repo(root)
    return root


@pytest.fixture
def replicas(
    apiserver: APIServer, repo: Path, ns: str, tmp_path: Path
) -> Iterator[Callable[[int], list[Watcher]]]:
    started: list[Watcher] = []

    def start(count: int) -> list[Watcher]:
        for index in range(count):
            argv = [
                "--repo",
                str(repo),
                "--branch",
                "main",
                "--kubeconfig",
                str(apiserver.kubeconfig),
                "--context",
                apiserver.context,
                "--inventory",
                f"inv-{ns}",
                "--sync",
                "--interval",
                "2s",
                *LEASE,
            ]
            started.append(start_watch(argv, tmp_path, tmp_path / f"replica-{index}.log"))
        return started

    yield start
    for watcher in started:
        watcher.kill()


def events(w: Watcher, name: str) -> list[dict[str, Any]]:
    return [e for e in w.events() if e.get("event") == name]


def lease(api: kubernetes.client.ApiClient, ns: str) -> Any:
    return kubernetes.client.CoordinationV1Api(api).read_namespaced_lease(
        f"ambdiff-inv-{ns}", "default"
    )


def test_one_leader_writes_a_standby_takes_over_after_the_lease_expires_and_ci_is_refused(
    replicas: Callable[[int], list[Watcher]],
    repo: Path,
    ns: str,
    api_client: Any,
    apiserver: APIServer,
) -> None:
    commit(repo, web_app(ns, replicas=2))
    three = replicas(3)
    leaders = wait_for(lambda: [w for w in three if events(w, "lead")], "a leader")
    assert len(leaders) == 1, [w.describe() for w in three]
    leader = leaders[0]
    standbys = [w for w in three if w is not leader]
    wait_for(lambda: all(events(w, "standby") for w in standbys), "the others to stand by")
    wait_for(
        lambda: any(e.get("result") == "succeeded" for e in events(leader, "round")),
        "the leader's first sync",
    )
    holder = events(leader, "lead")[0]["holder"]
    assert lease(api_client, ns).spec.holder_identity == holder
    # A CI sync of the same inventory is refused, naming the leading watch and what to do
    # (waiting for a watch's Lease does not help); it writes nothing.
    ci = run_ambdiff(
        "sync",
        "--yes",
        *cluster_args(apiserver, repo, f"inv-{ns}"),
        "--lock-timeout",
        "0",
    )
    assert ci.code == 2, ci.err
    assert f"is held by the watch {holder} (Lease default/" in ci.err, ci.err
    assert "Waiting will not help while it runs" in ci.err, ci.err
    said = events(standbys[0], "standby")[0]
    assert said["holder"] == holder and "held by the watch" in said["message"], said
    # Nobody but the leader wrote.
    assert all(not events(w, "sync-action") for w in standbys)
    assert events(leader, "sync-action")

    renewed_before_kill = lease(api_client, ns).spec.renew_time
    leader.proc.send_signal(signal.SIGKILL)
    leader.proc.wait()
    killed = time.time()
    successors = wait_for(lambda: [w for w in standbys if events(w, "lead")], "a successor")
    assert len(successors) == 1, [w.describe() for w in standbys]
    successor = successors[0]
    taken = event_time(events(successor, "lead")[0])
    print(f"\nSIGKILL to a successor leading: {taken - killed:.2f}s (lease 4s, retry 1s)")
    held = lease(api_client, ns)
    assert held.spec.holder_identity == events(successor, "lead")[0]["holder"]
    # Never before the dead leader's Lease expired: no moment with two writers.
    acquired: datetime = held.spec.acquire_time
    assert (acquired - renewed_before_kill).total_seconds() >= 4 - 0.5, (
        acquired,
        renewed_before_kill,
    )
    # The successor syncs what git says next.
    commit(repo, web_app(ns, replicas=3), "scale")
    apps = kubernetes.client.AppsV1Api(api_client)
    wait_for(
        lambda: apps.read_namespaced_deployment("web", ns).spec.replicas == 3,
        "the successor to apply",
    )
    others = [w for w in standbys if w is not successor]
    assert all(not events(w, "sync-action") for w in others)
    # The standby left names the new leader, in its log and on /readyz.
    successor_holder = events(successor, "lead")[0]["holder"]
    wait_for(
        lambda: any(e["holder"] == successor_holder for e in events(others[0], "standby")),
        "the last standby to name the successor",
    )
    assert successor_holder in others[0].get("/readyz")[1], others[0].get("/readyz")
    # A clean stop hands over at once: the last standby leads without waiting out the Lease.
    assert successor.terminate() == 0
    wait_for(lambda: events(others[0], "lead"), "the last replica to lead")
