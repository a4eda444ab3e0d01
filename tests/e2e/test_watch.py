"""`ambdiff watch` against the real API server and a temporary git repository (issue 7,
"Done when"). The loop runs as its own process with a short interval; every test stops it.

- With --sync, a commit to the branch is applied within one interval (here through a
  file:// URL, so the mirror-and-fetch path runs), and a hand edit of a managed field is
  seen through the API watch within seconds (metric) and healed, long before the interval.
- Without --sync, drift is logged and exported, and nothing is written.
- The API server stopped and restarted mid-loop: errors by stage, backoff, recovery.
- SIGTERM ends the process promptly with exit 0, also in the middle of a sync, between two
  objects.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from ambdiff.cli import main
from ambdiff.errors import ForbiddenError
from ambdiff.sync.record import record_name
from tests.e2e.diff_support import cluster_args
from tests.e2e.sample_repo import web_app
from tests.e2e.watch_support import (
    Watcher,
    commit,
    event_time,
    git,
    init_repo,
    start_watch,
    wait_for,
)
from tests.harness import APIServer
from tests.harness.freezer import Freezer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "in-cluster"
QUICKSTART = ROOT / "examples" / "quickstart" / "manifests"
SECRET_VALUE = "hunter2-watch-never-logs-me"
HAND_EDITED_SECRET = "hand-edited-secret-value"


def manifests(
    ns: str, *, replicas: int = 2, timeout: int = 3000, extra: bool = False
) -> dict[str, str]:
    return web_app(ns, replicas=replicas, timeout=timeout, config=extra, secret=SECRET_VALUE)


@pytest.fixture
def ns() -> str:
    return f"watch-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "gitops"
    init_repo(root)
    return root


@pytest.fixture
def watch(
    apiserver: APIServer, repo: Path, ns: str, tmp_path: Path
) -> Iterator[Callable[..., Watcher]]:
    """Start `ambdiff watch` on the test's repository and inventory; always stopped."""
    started: list[Watcher] = []

    def start(*args: str, source: str | None = None, kubeconfig: Path | None = None) -> Watcher:
        argv = [
            "--repo",
            source or str(repo),
            "--branch",
            "main",
            "--kubeconfig",
            str(kubeconfig or apiserver.kubeconfig),
            "--context",
            apiserver.context,
            "--inventory",
            f"inv-{ns}",
            *args,
        ]
        watcher = start_watch(argv, tmp_path, tmp_path / f"watch-{len(started)}.log")
        started.append(watcher)
        return watcher

    yield start
    for watcher in started:
        watcher.kill()


def deployment(api: kubernetes.client.ApiClient, ns: str) -> Any:
    return kubernetes.client.AppsV1Api(api).read_namespaced_deployment("web", ns)


def replicas(api: kubernetes.client.ApiClient, ns: str) -> int | None:
    try:
        return int(deployment(api, ns).spec.replicas)
    except kubernetes.client.ApiException:
        return None


def kubectl(server: APIServer, *args: str) -> None:
    subprocess.run(
        ["kubectl", "--kubeconfig", str(server.kubeconfig), *args], check=True, capture_output=True
    )


def sync_once(server: APIServer, repo: Path, ns: str) -> None:
    code = main(
        [
            "sync",
            "--yes",
            *cluster_args(server, repo, f"inv-{ns}"),
        ]
    )
    assert code == 0


# ---- with --sync -----------------------------------------------------------------------


def test_with_sync_a_commit_to_the_branch_is_applied_within_one_interval(
    watch: Callable[..., Watcher], repo: Path, ns: str, api_client: Any
) -> None:
    first = commit(repo, manifests(ns))
    w = watch("--sync", "--interval", "2s", source=f"file://{repo}")
    w.wait_ready()
    assert replicas(api_client, ns) == 2, w.describe()
    assert (
        w.metric(
            f'ambdiff_commit_info{{branch="main",commit="{first}",repository="file://{repo}"}}'
        )
        == 1
    )
    assert w.metric('ambdiff_objects{status="unchanged"}') == 5  # once applied
    second = commit(repo, manifests(ns, replicas=3, extra=True), "scale up, add settings")
    committed = time.time()
    wait_for(lambda: replicas(api_client, ns) == 3, "the new replica count to be applied")
    core = kubernetes.client.CoreV1Api(api_client)
    wait_for(
        lambda: core.list_namespaced_config_map(ns, field_selector="metadata.name=settings").items,
        "the new ConfigMap to be created",
    )
    update = next(
        e for e in w.events() if e.get("event") == "sync-action" and e["action"] == "update"
    )
    print(f"\ncommit to applied: {event_time(update) - committed:.2f}s (interval 2s)")
    wait_for(
        lambda: (
            w.metric(
                f'ambdiff_commit_info{{branch="main",commit="{second}",repository="file://{repo}"}}'
            )
            == 1
        ),
        "the info metric to move on",
    )
    wait_for(lambda: w.metric('ambdiff_objects{status="unchanged"}') == 6, "all six in sync")
    assert w.metric('ambdiff_sync_actions_total{state="applied",verb="update"}') >= 1
    assert w.metric('ambdiff_sync_actions_total{state="applied",verb="create"}') >= 6
    assert w.get("/healthz") == (200, "ok\n")
    # A commit that check refuses at error level is not applied, not even in part.
    broken = manifests(ns, replicas=4, extra=True)
    broken["bad.yaml"] = (
        f"apiVersion: getambassador.io/v3alpha1\nkind: Mapping\nmetadata: {{name: bad, "
        f"namespace: {ns}}}\nspec: {{prefix: /bad/, service: web, ambassador_id: blue}}\n"
    )
    commit(repo, broken, "a schema error")
    wait_for(
        lambda: w.metric('ambdiff_errors_total{stage="preflight"}') >= 1, "preflight to refuse"
    )
    assert replicas(api_client, ns) == 3
    refused = [e for e in w.events() if e.get("event") == "preflight-failed"]
    # the field's line, as check names it
    assert "bad.yaml:4: Mapping" in refused[0]["message"] and refused[0]["rule"] == "schema"
    assert w.terminate() == 0, w.describe()
    assert SECRET_VALUE not in w.log_text()


def test_with_sync_a_hand_edit_is_seen_through_the_watch_and_healed(
    watch: Callable[..., Watcher], repo: Path, ns: str, api_client: Any, apiserver: APIServer
) -> None:
    commit(repo, manifests(ns))
    # An interval far beyond the waits below: only the API watch can start the healing round.
    w = watch("--sync", "--interval", "10m")
    w.wait_ready()
    wait_for(lambda: w.metric("ambdiff_watch_streams") >= 5, "the watches to open")
    kubectl(apiserver, "-n", ns, "patch", "deployment/web", "-p", '{"spec":{"replicas":5}}')
    edited = time.time()
    key = f'ambdiff_drift_events_total{{kind="Deployment",namespace="{ns}"}}'
    wait_for(lambda: w.metric(key) >= 1, "the drift metric to show the hand edit")
    wait_for(lambda: replicas(api_client, ns) == 2, "the hand edit to be healed")
    seen = next(e for e in w.events() if e.get("event") == "drift-watch")
    healed = [e for e in w.events() if e.get("event") == "sync-action"][-1]
    print(
        f"\nhand edit to seen: {event_time(seen) - edited:.2f}s, to healed: "
        f"{event_time(healed) - edited:.2f}s (interval 10m)"
    )
    # The round is counted when it ends, a moment after its last write: wait for it.
    wait_for(
        lambda: w.metric('ambdiff_rounds_total{result="succeeded",trigger="drift"}') >= 1,
        "the healing round to be counted",
    )
    # A Secret edited by hand is healed too, and its values appear in no log line.
    patch = json.dumps({"stringData": {"password": HAND_EDITED_SECRET}})
    kubectl(apiserver, "-n", ns, "patch", "secret/db", "-p", patch)
    core = kubernetes.client.CoreV1Api(api_client)
    wait_for(
        lambda: (
            base64.b64decode(core.read_namespaced_secret("db", ns).data["password"])
            == SECRET_VALUE.encode()
        ),
        "the Secret to be healed",
    )
    drift = [e for e in w.events() if e.get("event") == "drift-watch"]
    assert {(e["kind"], e["status"]) for e in drift} >= {
        ("Deployment", "changed"),
        ("Secret", "changed"),
    }
    assert any("spec.replicas: 5 → 2" in c for e in drift for c in e["changes"])  # live → git
    # Where Kubernetes users look: Events on the inventory record say drift was seen, then
    # healed; its labels say in sync, at this commit (issue 17).
    record = record_name(f"inv-{ns}")

    def reasons() -> list[str]:
        listed = core.list_namespaced_event(
            "default", field_selector=f"involvedObject.name={record}"
        )
        return [e.reason for e in sorted(listed.items, key=lambda e: e.metadata.creation_timestamp)]

    wait_for(lambda: "DriftHealed" in reasons(), "a DriftHealed Event on the record")
    assert reasons()[0] == "Synced" and "Drifted" in reasons(), reasons()
    labels = core.read_namespaced_config_map(record, "default").metadata.labels
    assert labels["ambdiff.io/result"] == "in-sync" and labels["ambdiff.io/drifted"] == "0"
    assert labels["ambdiff.io/revision"] == git(repo, "rev-parse", "HEAD")
    assert w.terminate() == 0, w.describe()
    logs = w.log_text()
    said = " ".join(e.message for e in core.list_namespaced_event("default").items)
    for value in (SECRET_VALUE, HAND_EDITED_SECRET):
        assert value not in logs and value not in said
        assert base64.b64encode(value.encode()).decode() not in logs


def test_with_sync_the_record_says_what_a_round_could_not_do(
    watch: Callable[..., Watcher], repo: Path, ns: str, api_client: Any
) -> None:
    """The record and its Events follow what happened (issue 17): an object git dropped while
    prune is off is counted as drifted, not in sync; a commit whose manifests do not parse
    fails the round, the record says so, with one SyncFailed Event however often it retries;
    the next good commit is in sync again."""
    core = kubernetes.client.CoreV1Api(api_client)
    record = record_name(f"inv-{ns}")

    def labels() -> dict[str, str]:
        try:
            return dict(core.read_namespaced_config_map(record, "default").metadata.labels or {})
        except kubernetes.client.ApiException:
            return {}

    def reasons() -> list[str]:
        listed = core.list_namespaced_event(
            "default", field_selector=f"involvedObject.name={record}"
        )
        return [e.reason for e in sorted(listed.items, key=lambda e: e.metadata.creation_timestamp)]

    commit(repo, manifests(ns, extra=True))
    w = watch("--sync", "--interval", "1s")
    w.wait_ready()
    wait_for(lambda: labels().get("ambdiff.io/result") == "in-sync", "the first sync")
    # The ConfigMap leaves git; prune is off: it stays, and the record counts it.
    dropped = commit(repo, manifests(ns))
    wait_for(lambda: labels().get("ambdiff.io/revision") == dropped, "the round of that commit")
    assert labels()["ambdiff.io/result"] == "drifted" and labels()["ambdiff.io/drifted"] == "1"
    assert "Drifted" in reasons()
    # Malformed YAML: the round fails at the manifests, and says so where kubectl looks.
    broken = commit(repo, {**manifests(ns), "broken.yaml": "kind: [\n"})
    wait_for(lambda: labels().get("ambdiff.io/revision") == broken, "the failed round's status")
    assert labels()["ambdiff.io/result"] == "failed"
    message = core.read_namespaced_config_map(record, "default").metadata.annotations
    assert "manifests failed" in message["ambdiff.io/status-message"], message
    wait_for(lambda: w.metric('ambdiff_errors_total{stage="manifests"}') >= 3, "two retries")
    assert reasons().count("SyncFailed") == 1, reasons()
    fixed = commit(repo, manifests(ns, extra=True))
    wait_for(lambda: labels().get("ambdiff.io/revision") == fixed, "the next good commit")
    wait_for(lambda: labels().get("ambdiff.io/result") == "in-sync", "in sync again")
    assert w.terminate() == 0, w.describe()
    text = w.log_text()
    assert "Traceback" not in text


# ---- without --sync --------------------------------------------------------------------


def test_without_sync_drift_is_reported_and_exported_and_nothing_is_written(
    watch: Callable[..., Watcher], repo: Path, ns: str, api_client: Any, apiserver: APIServer
) -> None:
    commit(repo, manifests(ns))
    sync_once(apiserver, repo, ns)
    commit(repo, manifests(ns, extra=True), "add settings")  # git now has one object more
    w = watch("--interval", "2s")
    w.wait_ready()
    missing = f'ambdiff_drifted_objects{{kind="ConfigMap",namespace="{ns}"}}'
    assert w.metric(missing) == 1, w.describe()
    kubectl(apiserver, "-n", ns, "patch", "deployment/web", "-p", '{"spec":{"replicas":4}}')
    changed = f'ambdiff_drifted_objects{{kind="Deployment",namespace="{ns}"}}'
    wait_for(lambda: w.metric(changed) == 1, "the drifted Deployment to be exported")
    version = deployment(api_client, ns).metadata.resource_version
    rounds = w.metric('ambdiff_rounds_total{result="succeeded",trigger="interval"}')
    wait_for(
        lambda: (
            w.metric('ambdiff_rounds_total{result="succeeded",trigger="interval"}') >= rounds + 2
        ),
        "two more rounds",
    )
    assert replicas(api_client, ns) == 4
    assert deployment(api_client, ns).metadata.resource_version == version
    # Round after round, git's helper processes do not pile up (GitPython leaks them unless
    # collected).
    assert w.children() <= 4
    core = kubernetes.client.CoreV1Api(api_client)
    assert not core.list_namespaced_config_map(ns, field_selector="metadata.name=settings").items
    assert w.metric('ambdiff_objects{status="changed"}') == 1
    assert w.metric('ambdiff_objects{status="added"}') == 1
    assert w.metric("ambdiff_sync_actions_total") == 0
    out_of_sync = [e for e in w.events() if e.get("event") == "drift"]
    assert {(e["kind"], e["status"]) for e in out_of_sync} == {
        ("ConfigMap", "added"),
        ("Deployment", "changed"),
    }
    # Each is reported once, not every round.
    assert len(out_of_sync) == 2
    assert w.terminate() == 0, w.describe()


# ---- faults and stopping ---------------------------------------------------------------


def test_api_server_stopped_and_restarted_mid_loop_errors_backoff_recovery(
    watch: Callable[..., Watcher], repo: Path, ns: str, api_client: Any, apiserver: APIServer
) -> None:
    commit(repo, manifests(ns))
    w = watch("--sync", "--interval", "2s")
    w.wait_ready()
    synced_at = w.metric("ambdiff_last_successful_round_timestamp_seconds")
    apiserver.stop_apiserver()
    try:
        wait_for(
            lambda: w.metric('ambdiff_errors_total{stage="cluster"}') >= 3, "three failed rounds"
        )
        assert w.metric("ambdiff_consecutive_failed_rounds") >= 3
        assert w.get("/readyz")[0] == 200  # ready once synced; failures show in metrics
        commit(repo, manifests(ns, replicas=4), "while the API server is down")
    finally:
        apiserver.start_apiserver()
    recovered = time.monotonic()
    wait_for(lambda: replicas(api_client, ns) == 4, "the loop to recover and apply")
    print(f"\nAPI server back to applied: {time.monotonic() - recovered:.2f}s")
    wait_for(lambda: w.metric("ambdiff_consecutive_failed_rounds") == 0, "a successful round")
    assert w.metric("ambdiff_last_successful_round_timestamp_seconds") > synced_at
    delays = [e["delay_seconds"] for e in w.events() if e.get("event") == "backoff"]
    assert len(delays) >= 3 and delays[2] > delays[0], delays  # exponential: 1 s, 2 s, 4 s …
    failed = [e for e in w.events() if e.get("event") == "round-failed"]
    assert failed and all(e["stage"] == "cluster" for e in failed)
    assert "cannot reach the cluster" in failed[0]["message"]
    assert w.terminate() == 0, w.describe()


def test_sigterm_stops_promptly_with_exit_0_between_two_objects(
    watch: Callable[..., Watcher], repo: Path, ns: str, api_client: Any
) -> None:
    files = manifests(ns)
    files["many.yaml"] = "".join(
        f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i:03d}, namespace: {ns}}}\n"
        f"data: {{index: '{i}', payload: '{'x' * 200}'}}\n"
        for i in range(150)
    )
    commit(repo, files)
    w = watch("--sync", "--interval", "2s")
    wait_for(
        lambda: any(e.get("event") == "sync-action" for e in w.events()) or w.exited(),
        "the first object to be applied",
    )
    w.proc.send_signal(15)
    stopped = time.monotonic()
    assert w.proc.wait(15) == 0, w.describe()
    print(f"\nSIGTERM to exit: {time.monotonic() - stopped:.2f}s")
    events = list(w.events())
    assert events[-1]["event"] == "stop"
    applied = {e["object"] for e in events if e.get("event") == "sync-action"}
    interrupted = [e for e in events if e.get("result") == "interrupted"]
    core = kubernetes.client.CoreV1Api(api_client)
    live = {cm.metadata.name: cm for cm in core.list_namespaced_config_map(ns).items}
    if interrupted:  # stopped part-way: what was applied is whole, the rest untouched
        assert "not attempted" in interrupted[0]["message"]
        assert len([n for n in live if n.startswith("cm-")]) < 150
    for name, cm in live.items():
        if name.startswith("cm-"):
            assert f"ConfigMap {ns}/{name}" in applied
            assert cm.data == {"index": str(int(name[3:])), "payload": "x" * 200}


def test_sigterm_during_a_hung_write_exits_within_the_grace_period(
    watch: Callable[..., Watcher], repo: Path, ns: str, apiserver: APIServer, tmp_path: Path
) -> None:
    """A write the API server never answers (a proxy holds its bytes) must not keep the watch
    past the pod's grace period (30 s in examples/in-cluster): it exits STOP_GRACE (20 s)
    after SIGTERM, saying a write was in flight (issue 17 measured 70 s)."""
    files = manifests(ns)
    files["many.yaml"] = "".join(
        f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i:03d}, namespace: {ns}}}\n"
        f"data: {{index: '{i}'}}\n"
        for i in range(150)
    )
    commit(repo, files)
    freezer = Freezer(("127.0.0.1", int(apiserver.url.rsplit(":", 1)[1])))
    try:
        w = watch(
            "--sync",
            "--interval",
            "1h",
            kubeconfig=freezer.kubeconfig(apiserver.kubeconfig, tmp_path / "frozen.yaml"),
        )
        wait_for(
            lambda: any(e.get("event") == "sync-action" for e in w.events()) or w.exited(),
            "the first object to be applied",
        )
        freezer.freeze()  # the write after the one in flight now hangs
        w.proc.send_signal(15)
        stopped = time.monotonic()
        code = w.proc.wait(28)  # within the example's 30 s grace period, with room to spare
        print(f"\nSIGTERM to exit during a hung write: {time.monotonic() - stopped:.2f}s")
        assert code == 130, w.describe()
        forced = [e for e in w.events() if e.get("event") == "stop-forced"]
        assert forced and forced[0]["writing"] is True, w.describe()
        assert "exiting with it in flight" in forced[0]["message"]
    finally:
        freezer.close()


# ---- the in-cluster example ------------------------------------------------------------


def test_the_example_rbac_is_enough(
    watch: Callable[..., Watcher], repo: Path, ns: str, apiserver: APIServer, api_client: Any
) -> None:
    """examples/in-cluster/rbac.yaml, as is but for unique names, bound to the example's
    ServiceAccount; ambdiff runs with a client certificate for that ServiceAccount's user
    name, which RBAC treats as the ServiceAccount. It syncs the quickstart from empty, sees a
    hand edit through the watch and heals it, and is never refused anything it needs."""
    home = f"ambdiff-{ns}"
    rbac = (EXAMPLE / "rbac.yaml").read_text()
    rbac = rbac.replace("shop", ns).replace("namespace: ambdiff", f"namespace: {home}")
    rbac = rbac.replace("name: ambdiff-watch", f"name: ambdiff-watch-{ns}")
    core = kubernetes.client.CoreV1Api(api_client)
    core.create_namespace({"metadata": {"name": home}})
    subprocess.run(
        ["kubectl", "--kubeconfig", str(apiserver.kubeconfig), "apply", "-f", "-"],
        input=rbac.encode(),
        check=True,
        capture_output=True,
    )
    files = {f.name: f.read_text().replace("shop", ns) for f in QUICKSTART.glob("*.yaml")}
    commit(repo, files)
    # The kubernetes client splits a kubeconfig path on ":" (as in $KUBECONFIG), and the
    # harness names the file after the user: copy it to a plain name.
    kubeconfig = repo.parent / "serviceaccount.kubeconfig"
    kubeconfig.write_bytes(
        apiserver.mint_user(f"system:serviceaccount:{home}:ambdiff").read_bytes()
    )
    w = watch("--sync", "--interval", "2s", kubeconfig=kubeconfig)
    w.wait_ready()
    assert w.metric('ambdiff_objects{status="unchanged"}') == 9, w.describe()
    wait_for(lambda: w.metric("ambdiff_watch_streams") >= 6, "a watch per kind")
    kubectl(
        apiserver,
        "-n",
        ns,
        "patch",
        "mapping/quote",
        "--type=merge",
        "-p",
        '{"spec":{"timeout_ms":10000}}',
    )
    custom = kubernetes.client.CustomObjectsApi(api_client)

    def timeout() -> int:
        mapping = custom.get_namespaced_custom_object(
            "getambassador.io", "v3alpha1", ns, "mappings", "quote"
        )
        return int(mapping["spec"]["timeout_ms"])

    wait_for(
        lambda: w.metric(f'ambdiff_drift_events_total{{kind="Mapping",namespace="{ns}"}}'),
        "the hand edit seen through the watch",
    )
    wait_for(lambda: timeout() == 3000, "the Mapping to be healed")
    assert w.terminate() == 0, w.describe()
    refused = [e for e in w.events() if e.get("event") in ("round-failed", "watch-failed")]
    assert refused == [], refused


def test_in_a_pod_without_kubeconfig_the_service_account_is_used(
    apiserver: APIServer, api_client: Any, ns: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `examples/in-cluster/` relies on: no kubeconfig, the pod's token, CA and
    namespace files, and KUBERNETES_SERVICE_HOST/PORT (here pointing at the test server)."""
    import kubernetes.config.incluster_config as incluster

    from ambdiff.cluster import client

    core = kubernetes.client.CoreV1Api(api_client)
    core.create_namespace({"metadata": {"name": ns}})
    core.create_namespaced_service_account(ns, {"metadata": {"name": "ambdiff"}})
    token = core.create_namespaced_service_account_token(
        "ambdiff", ns, {"spec": {"expirationSeconds": 600}}
    ).status.token
    mounted = tmp_path / "serviceaccount"
    mounted.mkdir()
    (mounted / "token").write_text(token)
    (mounted / "namespace").write_text(ns)
    (mounted / "ca.crt").write_bytes(apiserver.ca_path.read_bytes())
    monkeypatch.setattr(client, "SERVICE_ACCOUNT", mounted)
    monkeypatch.setattr(incluster, "SERVICE_TOKEN_FILENAME", str(mounted / "token"))
    monkeypatch.setattr(incluster, "SERVICE_CERT_FILENAME", str(mounted / "ca.crt"))
    host, port = apiserver.url.removeprefix("https://").split(":")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", host)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", port)
    monkeypatch.delenv("KUBECONFIG")
    cluster = client.Cluster.connect()
    assert (cluster.context, cluster.default_namespace) == ("in-cluster", ns)
    assert cluster.version().startswith("v1.")
    configmaps = cluster.resource("v1", "ConfigMap")
    assert configmaps is not None
    with pytest.raises(ForbiddenError, match="system:serviceaccount:" + ns + ":ambdiff"):
        cluster.list(configmaps, ns)  # authenticated as the ServiceAccount, which may not


def test_with_sync_and_prune_a_bad_merge_is_refused_in_the_loop_and_exported(
    watch: Callable[..., Watcher], repo: Path, ns: str, api_client: Any
) -> None:
    commit(repo, manifests(ns, extra=True))
    w = watch("--sync", "--prune", "--interval", "2s")
    w.wait_ready()
    assert replicas(api_client, ns) == 2, w.describe()
    # A bad merge keeps only the Namespace: the loop must not delete the rest.
    commit(repo, {"namespace.yaml": manifests(ns)["namespace.yaml"]}, "bad merge")
    wait_for(
        lambda: w.metric('ambdiff_errors_total{stage="prune-guard"}') >= 1,
        "the mass-prune guard to refuse",
    )
    refused = [e for e in w.events() if e.get("event") == "prune-refused"]
    assert refused and "stopped before writing anything" in refused[0]["message"], w.describe()
    assert "--allow-mass-prune" in refused[0]["message"]
    assert replicas(api_client, ns) == 2
    core = kubernetes.client.CoreV1Api(api_client)
    assert core.list_namespaced_config_map(ns, field_selector="metadata.name=settings").items
    assert w.terminate() == 0, w.describe()


def test_with_sync_and_wait_each_change_of_health_is_logged_once_and_failure_fails_the_round(
    watch: Callable[..., Watcher], repo: Path, ns: str, api_client: Any
) -> None:
    """`watch --sync --wait`: the round follows the Deployment's rollout; here the test writes
    the status the Deployment controller would."""
    commit(repo, manifests(ns))
    w = watch("--sync", "--wait", "--timeout", "60s", "--interval", "2s")
    apps = kubernetes.client.AppsV1Api(api_client)

    def health_of(name: str) -> list[str]:
        return [
            e["health"]
            for e in w.events()
            if e.get("event") == "health"
            and e.get("object_name") == name
            and e.get("kind") == "Deployment"
        ]

    wait_for(lambda: health_of("web") == ["progressing"], "the rollout to be followed")
    generation = deployment(api_client, ns).metadata.generation
    apps.patch_namespaced_deployment_status(
        "web",
        ns,
        {
            "status": {
                "observedGeneration": generation,
                "replicas": 2,
                "updatedReplicas": 2,
                "readyReplicas": 2,
                "availableReplicas": 2,
            }
        },
    )
    wait_for(lambda: health_of("web") == ["progressing", "healthy"], "the rollout to be healthy")
    wait_for(
        lambda: any(
            "health: 2 healthy, 0 failed, 0 timed out" in e.get("message", "")
            for e in w.events()
            if e.get("event") == "round"
        ),
        "a healthy round",
    )
    # Later rounds find it as it was: nothing more is logged about it.
    rounds = len([e for e in w.events() if e.get("event") == "round"])
    wait_for(
        lambda: len([e for e in w.events() if e.get("event") == "round"]) >= rounds + 2,
        "two more rounds",
    )
    assert health_of("web") == ["progressing", "healthy"]
    # A rollout past its deadline fails the round (stage "health"), with the controller's words.
    commit(repo, manifests(ns, replicas=3), "scale up")
    wait_for(lambda: replicas(api_client, ns) == 3, "the scale-up to be applied")
    generation = deployment(api_client, ns).metadata.generation
    apps.patch_namespaced_deployment_status(
        "web",
        ns,
        {
            "status": {
                "observedGeneration": generation,
                "conditions": [
                    {
                        "type": "Progressing",
                        "status": "False",
                        "reason": "ProgressDeadlineExceeded",
                        "message": 'ReplicaSet "web-5c9" has timed out progressing.',
                    }
                ],
            }
        },
    )
    wait_for(lambda: w.metric('ambdiff_errors_total{stage="health"}') >= 1, "the round to fail")
    failed = [e for e in w.events() if e.get("event") == "health" and e.get("health") == "failed"]
    assert (
        'progress deadline exceeded: ReplicaSet "web-5c9" has timed out progressing.'
        in (failed[0]["message"])
    )
    assert w.terminate() == 0, w.describe()
