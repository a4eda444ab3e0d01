"""`ambdiff sync` against the real API server: plan, preflight, apply, prune, faults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from ambdiff.cli import main
from ambdiff.commands import sync as sync_command
from ambdiff.options import resolve
from ambdiff.sync.executor import Attempt
from ambdiff.sync.plan import Action
from ambdiff.sync.record import record_name
from tests.e2e.diff_support import cluster_args
from tests.e2e.sample_repo import web_app
from tests.e2e.watch_support import wait_for
from tests.harness import APIServer
from tests.harness.freezer import Freezer


def manifests(
    ns: str,
    *,
    replicas: int = 2,
    timeout: int = 3000,
    extra_mapping: bool = False,
    with_config: bool = True,
) -> dict[str, str]:
    return web_app(
        ns, replicas=replicas, timeout=timeout, config=with_config, extra_mapping=extra_mapping
    )


def write(repo: Path, files: dict[str, str]) -> None:
    for old in repo.glob("*.yaml"):
        old.unlink()
    for name, text in files.items():
        (repo / name).write_text(text)


@pytest.fixture
def ns() -> str:
    return f"sync-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "gitops"
    root.mkdir()
    return root


@pytest.fixture
def inventory(ns: str) -> str:
    """Each test its own inventory: an inventory spans the cluster, and so would prune
    another test's objects."""
    return f"inv-{ns}"


@pytest.fixture
def cli(
    apiserver: APIServer, repo: Path, capsys: pytest.CaptureFixture[str], inventory: str
) -> Callable[..., tuple[int, str, str]]:
    def run(*args: str, kubeconfig: Path | None = None) -> tuple[int, str, str]:
        code = main(
            [
                *args,
                "--repo",
                str(repo),
                "--kubeconfig",
                str(kubeconfig or apiserver.kubeconfig),
                "--context",
                apiserver.context,
                "--inventory",
                inventory,
            ]
        )
        out, err = capsys.readouterr()
        return code, out, err

    return run


def snapshot(api: kubernetes.client.ApiClient, ns: str) -> dict[str, str]:
    """(kind/name) -> resourceVersion of everything the tests create in `ns`."""
    dyn = kubernetes.dynamic.DynamicClient(api)
    out: dict[str, str] = {}
    for api_version, kind in [
        ("apps/v1", "Deployment"),
        ("v1", "Service"),
        ("v1", "ConfigMap"),
        ("getambassador.io/v3alpha1", "Mapping"),
    ]:
        for item in dyn.resources.get(api_version=api_version, kind=kind).get(namespace=ns).items:
            out[f"{kind}/{item.metadata.name}"] = item.metadata.resourceVersion
    return out


def test_from_empty_sync_then_diff_is_clean_and_a_second_sync_writes_nothing(
    cli: Callable[..., tuple[int, str, str]], repo: Path, ns: str, api_client: Any
) -> None:
    write(repo, manifests(ns))
    code, out, err = cli("sync", "--yes")
    assert code == 0, err
    assert "Sync succeeded: 5 applied." in out
    # Namespace first, Mapping last: the contract's order.
    order = [line.split()[3] for line in out.splitlines() if "✓ applied" in line]
    assert order == ["Namespace", "ConfigMap", "Service", "Deployment", "Mapping"]
    code, out, err = cli("diff")
    assert code == 0, out + err
    before = snapshot(api_client, ns)
    code, out, _ = cli("sync", "--yes")
    assert code == 0 and "Nothing to do" in out
    assert snapshot(api_client, ns) == before
    labels = (
        kubernetes.client.AppsV1Api(api_client)
        .read_namespaced_deployment("web", ns)
        .metadata.labels
    )
    assert labels == {
        "app.kubernetes.io/managed-by": "ambdiff",
        "ambdiff.io/inventory": f"inv-{ns}",
    }


def test_git_changes_plan_exactly_those_actions(
    cli: Callable[..., tuple[int, str, str]], repo: Path, ns: str, tmp_path: Path
) -> None:
    write(repo, manifests(ns))
    assert cli("sync", "--yes")[0] == 0
    write(repo, manifests(ns, replicas=4, extra_mapping=True, with_config=False))
    plan_file = tmp_path / "plan.json"
    code, out, err = cli("sync", "--yes", "--prune", "--plan-out", str(plan_file))
    assert code == 0, out + err
    plan = json.loads(plan_file.read_text())
    assert sorted((a["action"], a["kind"], a["name"]) for a in plan["actions"]) == [
        ("create", "Mapping", "extra"),
        ("delete", "ConfigMap", "settings"),
        ("update", "Deployment", "web"),
    ]
    assert [c["path"] for c in plan["actions"][0]["changes"]] == ["spec.replicas"]
    assert cli("diff")[0] == 0


def test_prune_deletes_only_this_inventory(
    cli: Callable[..., tuple[int, str, str]], repo: Path, ns: str, api_client: Any
) -> None:
    write(repo, manifests(ns))
    assert cli("sync", "--yes")[0] == 0
    core = kubernetes.client.CoreV1Api(api_client)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "handmade"}, "data": {"a": "b"}})
    core.create_namespaced_config_map(
        ns,
        {
            "metadata": {"name": "theirs", "labels": {"ambdiff.io/inventory": "another-repo"}},
            "data": {"a": "b"},
        },
    )
    write(repo, manifests(ns, with_config=False))
    code, out, err = cli("sync", "--yes", "--prune")
    assert code == 0, out + err
    names = {cm.metadata.name for cm in core.list_namespaced_config_map(ns).items}
    assert "settings" not in names
    assert {"handmade", "theirs"} <= names


def test_prune_is_opt_in_and_namespaces_need_their_own_flag(
    cli: Callable[..., tuple[int, str, str]], repo: Path, ns: str, api_client: Any
) -> None:
    write(repo, manifests(ns))
    assert cli("sync", "--yes")[0] == 0
    files = manifests(ns)
    del files["config.yaml"], files["namespace.yaml"]
    for name in files:
        files[name] = files[name].replace(f"namespace: {ns}", f"namespace: {ns}")
    write(repo, files)
    code, out, _ = cli("sync", "--yes", "-n", ns)
    assert code == 0
    assert f"not deleting ConfigMap {ns}/settings: prune is off" in out
    code, out, _ = cli("sync", "--yes", "--prune", "-n", ns)
    assert code == 0
    assert f"not deleting Namespace {ns}: deleting it deletes everything inside it" in out
    phase = kubernetes.client.CoreV1Api(api_client).read_namespace(ns).status.phase
    assert phase == "Active"


def test_dry_run_and_preflight_failure_leave_the_cluster_unchanged(
    cli: Callable[..., tuple[int, str, str]], repo: Path, ns: str, api_client: Any
) -> None:
    write(repo, manifests(ns))
    assert cli("sync", "--yes")[0] == 0
    before = snapshot(api_client, ns)
    # A valid change, a prune (whose dry run must not delete), and a change the API server
    # refuses (a Deployment's selector is immutable) that no offline check can know about.
    files = manifests(ns, timeout=5000, with_config=False)
    files["app.yaml"] = files["app.yaml"].replace("app: web}", "app: web2}")
    write(repo, files)
    code, out, err = cli("sync", "--yes", "--prune")
    assert code == 2
    assert "Preflight failed for 1 object(s); nothing was written" in err
    assert "update Deployment" in err and "app.yaml:1" in err and "immutable" in err
    assert snapshot(api_client, ns) == before
    files = manifests(ns, timeout=5000, with_config=False)
    write(repo, files)
    code, out, err = cli("sync", "--dry-run", "--prune")
    assert code == 0, err
    assert "Preflight passed: 2 action(s) would be applied" in out
    assert snapshot(api_client, ns) == before


KEYS = {
    "result",
    "stage",
    "cluster",
    "inventory",
    "check",
    "plan",
    "notes",
    "preflight",
    "staged",
    "report",
    "refused",
    "record_error",
    "lock_lost",
    "health",
}  # docs/sync.md


def test_the_json_report_has_every_documented_key_whatever_stage_ended_the_sync(
    cli: Callable[..., tuple[int, str, str]], repo: Path, ns: str
) -> None:
    """A pipeline reads `.result` and `.stage`, and finds every key of docs/sync.md, whether
    check, preflight or nothing stopped the sync (an independent tester found a check failure
    printing only {"check": […]})."""

    def synced(*args: str) -> tuple[int, dict[str, Any]]:
        code, out, _ = cli("sync", "--yes", "-o", "json", *args)
        document = json.loads(out)
        assert set(document) == KEYS, out
        return code, document

    files = manifests(ns)
    typo = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: typo, namespace: {ns}, lables: {{}}}}\n"
    write(repo, {**files, "typo.yaml": typo})
    code, document = synced()
    assert code == 2 and (document["result"], document["stage"]) == ("failed", "check")
    assert document["check"][0]["rule"] == "unknown-field" and document["plan"] is None
    write(repo, files)
    code, document = synced()
    assert code == 0 and (document["result"], document["stage"]) == ("succeeded", None)
    assert document["report"]["result"] == "succeeded" and document["check"] == []
    changed = dict(files)
    changed["app.yaml"] = changed["app.yaml"].replace("app: web}", "app: web2}")  # immutable
    write(repo, changed)
    code, document = synced()
    assert code == 2 and (document["result"], document["stage"]) == ("failed", "preflight")
    assert "immutable" in document["preflight"][0]["error"] and document["report"] is None
    write(repo, files)
    code, document = synced("--dry-run")
    assert code == 0 and (document["result"], document["stage"]) == ("succeeded", None)


def test_the_record_says_how_the_last_sync_ended_and_events_tell_the_story(
    cli: Callable[..., tuple[int, str, str]],
    repo: Path,
    ns: str,
    inventory: str,
    api_client: Any,
    apiserver: APIServer,
) -> None:
    """Status where Kubernetes users look (issue 17): labels on the inventory record that
    `kubectl get -L` shows as columns, and Events on it for each sync that wrote or failed."""
    core = kubernetes.client.CoreV1Api(api_client)
    record = record_name(inventory)

    def labels() -> dict[str, str]:
        return dict(core.read_namespaced_config_map(record, "default").metadata.labels)

    def events() -> list[Any]:
        found = core.list_namespaced_event(
            "default", field_selector=f"involvedObject.name={record}"
        )
        return sorted(found.items, key=lambda e: e.metadata.creation_timestamp)

    files = manifests(ns)
    write(repo, files)
    assert cli("sync", "--yes")[0] == 0
    assert labels()["ambdiff.io/result"] == "in-sync" and labels()["ambdiff.io/drifted"] == "0"
    assert [(e.reason, e.type) for e in events()] == [("Synced", "Normal")]
    assert events()[0].message == "synced: 5 applied"
    changed = dict(files)
    changed["app.yaml"] = changed["app.yaml"].replace("app: web}", "app: web2}")  # immutable
    write(repo, changed)
    assert cli("sync", "--yes")[0] == 2
    assert labels()["ambdiff.io/result"] == "failed"
    # (Events within one second share a creation time: found by reason, not by position.)
    failed = next(e for e in events() if e.reason == "SyncFailed")
    assert failed.type == "Warning"
    assert "preflight failed for 1 object(s), nothing written" in failed.message
    assert "immutable" in failed.message
    write(repo, files)
    assert cli("sync", "--yes")[0] == 0  # nothing to apply: in sync again, with no Event
    assert labels()["ambdiff.io/result"] == "in-sync" and len(events()) == 2
    # kubectl is the oracle: the fleet at a glance, as docs/sync.md shows it.
    shown = subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(apiserver.kubeconfig),
            "get",
            "configmaps",
            "-n",
            "default",
            "-l",
            f"ambdiff.io/record-of={inventory}",
            "-L",
            "ambdiff.io/result",
            "-L",
            "ambdiff.io/drifted",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    assert shown[0].split()[-2:] == ["RESULT", "DRIFTED"]
    assert shown[1].split()[0] == record and shown[1].split()[-2:] == ["in-sync", "0"]


def test_rbac_denial_in_preflight_writes_nothing(
    cli: Callable[..., tuple[int, str, str]],
    repo: Path,
    ns: str,
    api_client: Any,
    apiserver: APIServer,
) -> None:
    write(repo, manifests(ns))
    assert cli("sync", "--yes")[0] == 0
    before = snapshot(api_client, ns)
    user = f"deployer-{ns}"
    rbac = kubernetes.client.RbacAuthorizationV1Api(api_client)
    # Enough to read everything and write Deployments, but not Mappings.
    rbac.create_cluster_role(
        {
            "metadata": {"name": user},
            "rules": [
                {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list"]},
                {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["patch"]},
                # the inventory's lock (docs/sync.md, "One writer at a time")
                {
                    "apiGroups": ["coordination.k8s.io"],
                    "resources": ["leases"],
                    "verbs": ["get", "create", "update"],
                },
            ],
        }
    )
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": user},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": user,
            },
            "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}],
        }
    )
    write(repo, manifests(ns, replicas=3, timeout=9000))
    code, _, err = cli("sync", "--yes", kubeconfig=apiserver.mint_user(user))
    assert code == 2
    assert "update Mapping" in err and "HTTP 403" in err and "nothing was written" in err
    assert snapshot(api_client, ns) == before


def test_conflict_is_reported_with_its_manager_and_taken_only_when_forced(
    cli: Callable[..., tuple[int, str, str]],
    repo: Path,
    ns: str,
    api_client: Any,
    apiserver: APIServer,
) -> None:
    write(repo, manifests(ns))
    assert cli("sync", "--yes")[0] == 0
    subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(apiserver.kubeconfig),
            "-n",
            ns,
            "scale",
            "deployment/web",
            "--replicas=7",
        ],
        check=True,
        capture_output=True,
    )
    apps = kubernetes.client.AppsV1Api(api_client)
    code, _, err = cli("sync", "--yes")
    assert code == 2
    assert "conflict: spec.replicas (owned by kubectl" in err and "--force-conflicts" in err
    assert apps.read_namespaced_deployment("web", ns).spec.replicas == 7
    code, _, err = cli("sync", "--yes", "--force-conflicts")
    assert code == 0, err
    assert apps.read_namespaced_deployment("web", ns).spec.replicas == 2


def test_namespace_crd_and_custom_resources_sync_from_empty_in_one_run(
    cli: Callable[..., tuple[int, str, str]], repo: Path, ns: str
) -> None:
    group = f"{ns}.example.com"
    write(repo, {
        "ns.yaml": f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n",
        "crd.yaml": f"""apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: widgets.{group}}}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: widgets, singular: widget, kind: Widget}}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {{type: object, properties: {{size: {{type: integer}}}}}}
""",
        "widget.yaml": f"apiVersion: {group}/v1\nkind: Widget\nmetadata: {{name: w1, namespace: {ns}}}\nspec: {{size: 3}}\n",
    })  # fmt: skip
    code, out, err = cli("diff")
    assert code == 1 and f"+ Widget {ns}/w1" in out, err
    code, out, err = cli("sync", "--yes")
    assert code == 0, out + err
    assert "Sync succeeded: 3 applied." in out
    assert cli("diff")[0] == 0


def test_a_second_ctrl_c_stops_a_sync_at_once_inside_a_hung_write(
    apiserver: APIServer, repo: Path, ns: str, inventory: str, api_client: Any, tmp_path: Path
) -> None:
    """The first Ctrl-C waits for the object in flight; when that write hangs (a proxy holds
    its bytes), the second ends the process at once (issue 17 measured ~70 s of Ctrl-C being
    ignored), and a rerun converges."""
    files = {"ns.yaml": f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n"}
    files["many.yaml"] = "".join(
        f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i:03d}, namespace: {ns}}}\n"
        for i in range(400)
    )
    write(repo, files)
    freezer = Freezer(("127.0.0.1", int(apiserver.url.rsplit(":", 1)[1])))
    core = kubernetes.client.CoreV1Api(api_client)
    argv = [
        sys.executable,
        "-m",
        "ambdiff",
        "sync",
        "--yes",
        "--repo",
        str(repo),
        "--kubeconfig",
        str(freezer.kubeconfig(apiserver.kubeconfig, tmp_path / "frozen.yaml")),
        "--context",
        apiserver.context,
        "--inventory",
        inventory,
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    said: list[str] = []
    reader = threading.Thread(target=lambda: said.extend(proc.stderr or ()), daemon=True)
    reader.start()
    try:
        wait_for(lambda: proc.poll() is not None or _count(core, ns) >= 5, "writes to begin")
        freezer.freeze()
        proc.send_signal(signal.SIGINT)  # finish the object in flight: it never finishes
        wait_for(
            lambda: proc.poll() is not None or any("Ctrl-C again" in x for x in said),
            "the first Ctrl-C to be heard",
        )
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 130, "".join(said)
        reader.join(10)
        err = "".join(said)
        assert "Stopping after the object in flight; press Ctrl-C again to stop at once." in err
        assert "ambdiff: interrupted." in err and "Traceback" not in err
    finally:
        proc.kill()
        freezer.close()
    code = main(
        [
            "sync",
            "--yes",
            *cluster_args(apiserver, repo, inventory),
            "--lock-timeout",
            "60",
        ]
    )
    assert code == 0
    assert _count(core, ns) == 400


def _count(core: Any, ns: str) -> int:
    try:
        return len(
            [
                c
                for c in core.list_namespaced_config_map(ns).items
                if c.metadata.name.startswith("cm-")
            ]
        )
    except kubernetes.client.ApiException:
        return 0


def test_api_server_stopped_mid_sync_reports_and_a_rerun_converges(
    apiserver: APIServer,
    repo: Path,
    ns: str,
    capsys: pytest.CaptureFixture[str],
    cli: Callable[..., tuple[int, str, str]],
) -> None:
    write(repo, manifests(ns))
    common = resolve(
        "sync",
        [],
        {
            "repo": repo,
            "kubeconfig": str(apiserver.kubeconfig),
            "context": apiserver.context,
            "output": "json",
        },
    )
    applied: list[str] = []

    def stop_after_two(action: Action, state: Attempt) -> None:
        applied.append(str(action))
        if len(applied) == 2:
            apiserver.stop_apiserver()

    try:
        code = sync_command.run(
            common,
            sync_command.SyncOptions(inventory=f"inv-{ns}", yes=True),
            after_each=stop_after_two,
        )
    finally:
        apiserver.start_apiserver()
    report = json.loads(capsys.readouterr().out)["report"]
    assert code == 1
    assert report["result"] == "failed"
    states = [a["state"] for a in report["actions"]]
    assert states == ["applied", "applied", "failed", "not attempted", "not attempted"]
    assert "cannot reach the cluster" in report["actions"][2]["error"]
    code, out, err = cli("sync", "--yes")
    assert code == 0, out + err
    assert "Sync succeeded: 3 applied." in out
    assert cli("diff")[0] == 0


def test_without_a_terminal_sync_needs_yes(
    cli: Callable[..., tuple[int, str, str]], repo: Path, ns: str, api_client: Any
) -> None:
    write(repo, manifests(ns))
    code, _, err = cli("sync")
    assert code == 2 and "pass --yes" in err.lower()
    assert "Using context" not in err and "Reading" not in err  # refused before the cluster
    names = {
        n.metadata.name for n in kubernetes.client.CoreV1Api(api_client).list_namespace().items
    }
    assert ns not in names


def test_ctrl_c_stops_between_objects_with_the_same_report(
    apiserver: APIServer,
    repo: Path,
    ns: str,
    capsys: pytest.CaptureFixture[str],
    cli: Callable[..., tuple[int, str, str]],
) -> None:
    write(repo, manifests(ns))
    common = resolve(
        "sync",
        [],
        {
            "repo": repo,
            "kubeconfig": str(apiserver.kubeconfig),
            "context": apiserver.context,
            "output": "json",
        },
    )

    def interrupt_after_first(action: Action, state: Attempt) -> None:
        if action.id.kind == "Namespace":
            os.kill(os.getpid(), signal.SIGINT)

    code = sync_command.run(
        common,
        sync_command.SyncOptions(inventory=f"inv-{ns}", yes=True),
        after_each=interrupt_after_first,
    )
    report = json.loads(capsys.readouterr().out)["report"]
    assert code == 130
    assert report["result"] == "interrupted"
    assert [a["state"] for a in report["actions"]] == ["applied"] + ["not attempted"] * 4
    code, out, err = cli("sync", "--yes")
    assert code == 0, out + err
    assert "Sync succeeded: 4 applied." in out


def test_check_errors_stop_sync_before_anything_is_written(
    cli: Callable[..., tuple[int, str, str]], repo: Path, ns: str, api_client: Any
) -> None:
    files = manifests(ns)
    files["policy.yaml"] = f"""apiVersion: getambassador.io/v3alpha1
kind: FilterPolicy
metadata: {{name: auth, namespace: {ns}}}
spec:
  rules:
    - host: "*"
      path: /web/*
      filters: [{{name: no-such-filter}}]
"""
    write(repo, files)
    code, _, err = cli("sync", "--yes")
    assert code == 2
    assert "ambdiff check found 1 error(s); nothing was written" in err
    assert "policy.yaml:8" in err and "filter-missing" in err  # the line check names
    names = {
        n.metadata.name for n in kubernetes.client.CoreV1Api(api_client).list_namespace().items
    }
    assert ns not in names


def test_without_a_terminal_each_stage_says_it_began_and_the_plan_comes_before_preflight(
    cli: Callable[..., tuple[int, str, str]], repo: Path, ns: str
) -> None:
    write(repo, manifests(ns))
    code, out, err = cli("sync", "--yes")
    assert code == 0, err
    stages = [line for line in err.splitlines() if line.endswith("…")]
    assert stages == [
        "Reading manifests…",
        "Reading live objects…",
        "Preflight (server-side dry run)…",
        "Applying…",
    ]
    lines = err.splitlines()
    assert lines.index("Reading manifests…") < next(
        i for i, line in enumerate(lines) if line.startswith("Using context ")
    )
    assert out.index("Plan for ") < out.index("Sync succeeded")


def test_answering_no_at_the_prompt_writes_nothing_and_is_not_an_interrupt(
    apiserver: APIServer,
    repo: Path,
    ns: str,
    api_client: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write(repo, manifests(ns))
    common = resolve(
        "sync",
        [],
        {"repo": repo, "kubeconfig": str(apiserver.kubeconfig), "context": apiserver.context},
    )
    asked: list[str] = []

    def decline(question: str) -> bool:
        asked.append(question)
        return False

    code = sync_command.run(
        common, sync_command.SyncOptions(inventory=f"inv-{ns}"), confirm=decline
    )
    err = capsys.readouterr().err
    assert code == 2
    assert len(asked) == 1 and asked[0].startswith("Apply these 5 action(s) to context ")
    assert "Not confirmed: nothing was written." in err
    names = {
        n.metadata.name for n in kubernetes.client.CoreV1Api(api_client).list_namespace().items
    }
    assert ns not in names
