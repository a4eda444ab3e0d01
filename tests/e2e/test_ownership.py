"""Safe ownership on the real API server: prune deletes only what the source's inventory
record lists and git no longer has, never from a narrowed run, never another repository's
objects, never most of a source by accident; one writer at a time; the first stage of a
sync into a new Namespace is all a failed preflight writes; the API server killed at any
moment leaves nothing a later prune would get wrong."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from ambdiff.cli import main
from ambdiff.commands import sync as sync_command
from ambdiff.options import resolve
from ambdiff.sync.executor import Attempt
from ambdiff.sync.plan import Action
from tests.harness import APIServer

Cli = Callable[..., tuple[int, str, str]]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def configmap(name: str, namespace: str | None, value: str = "v") -> str:
    where = f"\n  namespace: {namespace}" if namespace else ""
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}{where}\ndata:\n  k: {value}\n"
    )


def make_repo(root: Path, files: dict[str, str], origin: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if not (root / ".git").exists():
        git(root, "init", "-q", "-b", "main")
        if origin:
            git(root, "remote", "add", "origin", origin)
    for old in root.rglob("*.yaml"):
        if ".git" not in old.parts:
            old.unlink()
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", "change")
    return root


@pytest.fixture
def ns(api_client: kubernetes.client.ApiClient) -> Iterator[str]:
    name = f"own-{uuid.uuid4().hex[:8]}"
    core = kubernetes.client.CoreV1Api(api_client)
    core.create_namespace({"metadata": {"name": name}})
    yield name


@pytest.fixture
def cli(apiserver: APIServer, capsys: pytest.CaptureFixture[str]) -> Cli:
    def run(repo: Path, *args: str) -> tuple[int, str, str]:
        code = main(
            [
                *args,
                "--repo",
                str(repo),
                "--kubeconfig",
                str(apiserver.kubeconfig),
                "--context",
                apiserver.context,
                "--color",
                "never",
            ]
        )
        out, err = capsys.readouterr()
        return code, out, err

    return run


def names(api_client: kubernetes.client.ApiClient, namespace: str) -> set[str]:
    items = kubernetes.client.CoreV1Api(api_client).list_namespaced_config_map(namespace).items
    return {i.metadata.name for i in items if i.metadata.name != "kube-root-ca.crt"}


def record_members(api_client: kubernetes.client.ApiClient, inventory: str) -> set[str]:
    from ambdiff.sync import record as records

    body = kubernetes.client.CoreV1Api(api_client).read_namespaced_config_map(
        f"ambdiff-inventory-{inventory}", "default"
    )
    parsed = records.parse(api_client.sanitize_for_serialization(body), inventory, "default")
    return {f"{m.id.namespace}/{m.id.name}" for m in parsed.members}


# ---- a narrower run never prunes ----------------------------------------------------------


def test_a_narrowed_path_prunes_nothing_and_says_why(
    cli: Cli, tmp_path: Path, ns: str, api_client: Any
) -> None:
    repo = make_repo(
        tmp_path / "mono",
        {
            "apps/api/config.yaml": configmap("api-config", ns),
            "apps/web/config.yaml": configmap("web-config", ns),
            ".ambdiff.yaml": f"inventory: mono-{ns}\n",
        },
        origin="https://git.example/platform/mono.git",
    )
    assert cli(repo, "sync", "--yes", "apps")[0] == 0
    assert names(api_client, ns) == {"api-config", "web-config"}
    code, out, err = cli(repo, "sync", "--yes", "--prune", "apps/web")
    assert code == 0, out + err
    assert names(api_client, ns) == {"api-config", "web-config"}
    assert "1 object(s) of inventory" in err and "outside the paths you named (apps/web)" in err
    code, out, err = cli(repo, "diff", "apps/web")
    assert code == 0, out + err
    assert "no longer in git" not in out and "0 added, 0 removed, 1 unchanged" in out
    assert "outside the paths you named (apps/web): not compared, never reported as removed" in err
    # The whole source, with git really dropping api-config: that one is pruned.
    make_repo(
        repo,
        {
            "apps/web/config.yaml": configmap("web-config", ns),
            ".ambdiff.yaml": f"inventory: mono-{ns}\n",
        },
    )
    assert cli(repo, "sync", "--yes", "--prune")[0] == 0
    assert names(api_client, ns) == {"web-config"}
    assert record_members(api_client, f"mono-{ns}") == {f"{ns}/web-config"}


def test_another_namespace_default_stops_before_writing_and_names_the_owner(
    cli: Cli, tmp_path: Path, api_client: Any
) -> None:
    staging, prod = (f"env-{uuid.uuid4().hex[:6]}" for _ in range(2))
    core = kubernetes.client.CoreV1Api(api_client)
    for name in (staging, prod):
        core.create_namespace({"metadata": {"name": name}})
    inventory = f"app-{staging}"
    repo = make_repo(
        tmp_path / "app",
        {"a.yaml": configmap("a", None), "b.yaml": configmap("b", None)},
        origin="git@git.example:shop/app.git",
    )
    assert cli(repo, "sync", "--yes", "-n", staging, "--inventory", inventory)[0] == 0
    code, _, err = cli(repo, "sync", "--yes", "--prune", "-n", prod, "--inventory", inventory)
    assert code == 2
    assert (
        f"belongs to source 'default' of git.example/shop/app, default namespace {staging}" in err
    )
    assert f"this run is source 'default' of git.example/shop/app, default namespace {prod}" in err
    assert "Nothing was written" in err
    assert names(api_client, staging) == {"a", "b"} and names(api_client, prod) == set()


def test_same_named_repositories_never_touch_each_other(
    cli: Cli, tmp_path: Path, ns: str, api_client: Any
) -> None:
    a = make_repo(
        tmp_path / "team-a" / "gitops",
        {"x.yaml": configmap("team-a", ns)},
        origin="https://git.example/team-a/gitops",
    )
    b = make_repo(
        tmp_path / "team-b" / "gitops",
        {"x.yaml": configmap("team-b", ns)},
        origin="https://git.example/team-b/gitops",
    )
    for repo in (a, b):
        code, out, err = cli(repo, "sync", "--yes", "--prune")
        assert code == 0, out + err
    assert names(api_client, ns) == {"team-a", "team-b"}
    # Each prunes only its own: team-a drops its object, team-b's stays.
    make_repo(a, {"y.yaml": configmap("team-a-2", ns)})
    code, out, err = cli(a, "sync", "--yes", "--prune", "--allow-mass-prune")
    assert code == 0, out + err
    assert names(api_client, ns) == {"team-a-2", "team-b"}
    inventories = {
        i.metadata.labels["ambdiff.io/inventory"]
        for i in kubernetes.client.CoreV1Api(api_client).list_namespaced_config_map(ns).items
        if i.metadata.labels
    }
    assert len(inventories) == 2 and all(i.startswith("gitops-") for i in inventories)


def test_a_record_of_another_repository_stops_the_run_naming_its_owner(
    cli: Cli, tmp_path: Path, ns: str, api_client: Any
) -> None:
    shared = f"shared-{ns}"  # both teams chose the same explicit inventory name
    a = make_repo(
        tmp_path / "a" / "gitops",
        {"x.yaml": configmap("from-a", ns)},
        origin="https://git.example/team-a/gitops",
    )
    b = make_repo(
        tmp_path / "b" / "gitops",
        {"x.yaml": configmap("from-b", ns)},
        origin="https://git.example/team-b/gitops",
    )
    assert cli(a, "sync", "--yes", "--inventory", shared)[0] == 0
    code, _, err = cli(b, "sync", "--yes", "--prune", "--inventory", shared)
    assert code == 2
    assert (
        f"the inventory {shared} (record default/ambdiff-inventory-{shared}) belongs to "
        "source 'default' of git.example/team-a/gitops" in err
    )
    assert "this run is source 'default' of git.example/team-b/gitops" in err
    assert names(api_client, ns) == {"from-a"}


def test_a_bad_merge_stops_before_writing_unless_mass_prune_is_allowed(
    cli: Cli, tmp_path: Path, ns: str, api_client: Any
) -> None:
    files = {f"cm{i:02}.yaml": configmap(f"cm{i:02}", ns) for i in range(10)}
    repo = make_repo(tmp_path / "svc", files, origin="https://git.example/svc")
    assert cli(repo, "sync", "--yes")[0] == 0
    make_repo(repo, {k: v for k, v in files.items() if k < "cm02"})  # 8 of 10 gone
    code, out, err = cli(repo, "sync", "--yes", "--prune")
    assert code == 2
    assert "the prune would delete 8 of its 10 objects (more than 50%)" in err
    assert "stopped before writing anything" in err and "--allow-mass-prune" in err
    assert len(names(api_client, ns)) == 10
    code, out, err = cli(repo, "sync", "--yes", "--prune", "--allow-mass-prune")
    assert code == 0, out + err
    assert names(api_client, ns) == {"cm00", "cm01"}


def test_labelled_objects_of_the_previous_release_are_listed_then_adopted(
    cli: Cli, tmp_path: Path, ns: str, api_client: Any
) -> None:
    """Migration: objects an ambdiff without records labelled (the inventory was the
    repository's name) keep their inventory by naming it; nothing is pruned until asked."""
    core = kubernetes.client.CoreV1Api(api_client)
    for name in ("kept", "old-1", "old-2"):
        core.create_namespaced_config_map(
            ns,
            {
                "metadata": {
                    "name": name,
                    "labels": {
                        "ambdiff.io/inventory": f"legacy-{ns}",
                        "app.kubernetes.io/managed-by": "ambdiff",
                    },
                },
                "data": {"k": "v"},
            },
        )
    repo = make_repo(
        tmp_path / "legacy",
        {
            "kept.yaml": configmap("kept", ns),
            ".ambdiff.yaml": f"inventory: legacy-{ns}\n",
        },
        origin="https://git.example/legacy",
    )
    code, out, err = cli(repo, "sync", "--yes", "--prune")
    assert code == 0, out + err
    assert "has no record in the cluster yet: nothing is pruned" in err
    assert "2 object(s) carry the label of inventory" in err and "--adopt-labelled" in err
    assert names(api_client, ns) == {"kept", "old-1", "old-2"}
    assert record_members(api_client, f"legacy-{ns}") == {f"{ns}/kept"}
    code, out, err = cli(repo, "sync", "--yes", "--prune", "--adopt-labelled")
    assert code == 2 and "would delete 2 of its 3 objects" in err  # the guard holds here too
    code, out, err = cli(repo, "sync", "--yes", "--prune", "--adopt-labelled", "--allow-mass-prune")
    assert code == 0, out + err
    assert names(api_client, ns) == {"kept"}


# ---- one writer at a time -----------------------------------------------------------------


def test_a_second_sync_waits_for_or_is_refused_by_the_first(
    apiserver: APIServer, cli: Cli, tmp_path: Path, ns: str, api_client: Any
) -> None:
    repo = make_repo(
        tmp_path / "race",
        {f"c{i}.yaml": configmap(f"c{i}", ns, "one") for i in range(3)},
        origin="https://git.example/race",
    )
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
    inside, release = threading.Event(), threading.Event()

    def hold(action: Action, state: Attempt) -> None:
        inside.set()
        assert release.wait(60)

    first: dict[str, int] = {}
    thread = threading.Thread(
        target=lambda: first.setdefault(
            "code",
            sync_command.run(
                common,
                sync_command.SyncOptions(inventory=common.inventory, yes=True),
                after_each=hold,
            ),
        )
    )
    thread.start()
    try:
        assert inside.wait(60)
        make_repo(repo, {f"c{i}.yaml": configmap(f"c{i}", ns, "two") for i in range(3)})
        code, _, err = cli(repo, "sync", "--yes", "--lock-timeout", "0")
        assert code == 2
        assert f"the lock of inventory {common.inventory} is held by " in err
        assert "(Lease default/ambdiff-" in err and "another sync is running" in err
        assert re.search(r"it renewed the Lease \d+s ago, which expires in \d+s", err), err
    finally:
        release.set()
        thread.join(60)
    assert first["code"] == 0
    # The first wrote "one" everywhere, untouched by the refused second; a second run now
    # takes the lock and converges on "two".
    core = kubernetes.client.CoreV1Api(api_client)
    assert {core.read_namespaced_config_map(f"c{i}", ns).data["k"] for i in range(3)} == {"one"}
    assert cli(repo, "sync", "--yes")[0] == 0
    assert {core.read_namespaced_config_map(f"c{i}", ns).data["k"] for i in range(3)} == {"two"}


# ---- preflight keeps its promise ----------------------------------------------------------


@pytest.mark.parametrize("output", ["json", "human"])
def test_a_new_namespace_with_one_bad_object_writes_only_the_first_stage(
    cli: Cli, tmp_path: Path, api_client: Any, output: str
) -> None:
    fresh = f"new-{uuid.uuid4().hex[:8]}"
    files = {"ns.yaml": f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {fresh}\n"}
    files |= {f"cm{i:02}.yaml": configmap(f"cm{i:02}", fresh) for i in range(20)}
    files["bad.yaml"] = (  # the API server refuses it: a Service port out of range
        f"apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\n  namespace: {fresh}\n"
        "spec:\n  ports:\n  - port: 99999\n"
    )
    repo = make_repo(tmp_path / "fresh", files, origin=f"https://git.example/{fresh}")
    code, out, err = cli(repo, "sync", "--yes", "-o", output)
    assert code == 2, out + err
    if output == "json":
        result = json.loads(out)
        assert result["staged"] == [f"create Namespace {fresh}"]
        assert [p["action"] for p in result["preflight"]] == [f"create Service {fresh}/bad"]
    else:
        assert "Only its first stage was written: 1 Namespace(s)/CRD(s) created" in err
        assert f"+ create Namespace {fresh}" in err and "Nothing else was written" in err
        assert f"create Service {fresh}/bad" in err and "must be between 1 and 65535" in err
    assert names(api_client, fresh) == set()  # nothing went into it


# ---- faults -------------------------------------------------------------------------------


@pytest.mark.parametrize("moment", [1, 2, 4, 5, 6])
def test_the_api_server_killed_mid_sync_never_leads_a_later_prune_astray(
    apiserver: APIServer,
    cli: Cli,
    tmp_path: Path,
    ns: str,
    api_client: Any,
    moment: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Stopped after `moment` of the 6 actions of a sync that creates 4 and prunes 2 (6:
    after the last, before the record is written): the rerun converges, and neither it nor a
    later prune deletes anything git has."""
    old = {f"old{i}.yaml": configmap(f"old{i}", ns) for i in range(6)}
    repo = make_repo(tmp_path / f"kill{moment}", old, origin=f"https://git.example/kill/{ns}")
    assert cli(repo, "sync", "--yes")[0] == 0
    new = {
        **{f"old{i}.yaml": configmap(f"old{i}", ns) for i in range(4)},
        **{f"new{i}.yaml": configmap(f"new{i}", ns) for i in range(4)},
    }
    make_repo(repo, new)
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
    done: list[str] = []

    def kill(action: Action, state: Attempt) -> None:
        done.append(str(action))
        if len(done) == moment:
            apiserver.stop_apiserver()

    try:
        code = sync_command.run(
            common,
            sync_command.SyncOptions(inventory=common.inventory, yes=True, prune=True),
            after_each=kill,
        )
    finally:
        apiserver.start_apiserver()
    report = json.loads(capsys.readouterr().out)
    assert code == 1, report
    if moment == 6:  # everything applied; only the record could not be written, and it says so
        assert (
            report["report"]["result"] == "succeeded"
            and "could not be written" in report["record_error"]
        )
    wanted = {f"old{i}" for i in range(4)} | {f"new{i}" for i in range(4)}
    assert names(api_client, ns) >= {f"old{i}" for i in range(4)}  # git's, never deleted
    code, out, err = cli(repo, "sync", "--yes", "--prune")
    assert code == 0, out + err
    assert names(api_client, ns) == wanted
    # git drops one more object: exactly that one is pruned, nothing git still has.
    make_repo(repo, {k: v for k, v in new.items() if k != "new3.yaml"})
    code, out, err = cli(repo, "sync", "--yes", "--prune")
    assert code == 0, out + err
    assert names(api_client, ns) == wanted - {"new3"}
    assert record_members(api_client, common.inventory) == {f"{ns}/{n}" for n in wanted - {"new3"}}


def test_an_object_moved_to_another_source_is_handed_over_never_deleted(
    cli: Cli, tmp_path: Path, ns: str, api_client: Any
) -> None:
    settings = ".ambdiff.yaml"
    declared = (
        "sources:\n  - name: api\n    paths: [teams/api]\n  - name: web\n    paths: [teams/web]\n"
    )
    repo = make_repo(
        tmp_path / "platform",
        {
            settings: declared,
            "teams/api/a.yaml": configmap("api-a", ns),
            "teams/api/b.yaml": configmap("api-b", ns),
            "teams/api/moving.yaml": configmap("moving", ns),
            "teams/web/w.yaml": configmap("web-w", ns),
        },
        origin="https://git.example/platform",
    )
    for source in ("api", "web"):
        assert cli(repo, "sync", "--yes", source)[0] == 0
    core = kubernetes.client.CoreV1Api(api_client)
    uid = core.read_namespaced_config_map("moving", ns).metadata.uid
    git(repo, "mv", "teams/api/moving.yaml", "teams/web/moving.yaml")
    git(repo, "commit", "-qm", "move a ConfigMap to team web")
    # The old source neither reports it removed nor prunes it ...
    code, out, err = cli(repo, "diff", "api")
    assert code == 0 and "no longer in git" not in out, out + err
    assert "1 object(s) moved to another source of this repository (web)" in err
    code, out, err = cli(repo, "sync", "--yes", "--prune", "api")
    assert code == 0, out + err
    assert "moving" in names(api_client, ns)
    # ... and the new one takes it over instead of refusing it: the same object, not a new one.
    code, out, err = cli(repo, "diff", "web")
    assert "move here from inventory" in err and "another source of this repository" in err
    code, out, err = cli(repo, "sync", "--yes", "--prune", "web")
    assert code == 0, out + err
    assert core.read_namespaced_config_map("moving", ns).metadata.uid == uid
    web_inventory = core.read_namespaced_config_map("web-w", ns).metadata.labels[
        "ambdiff.io/inventory"
    ]
    assert (
        core.read_namespaced_config_map("moving", ns).metadata.labels["ambdiff.io/inventory"]
        == web_inventory
    )
    # Either source's later prune leaves it alone; the old record no longer lists it.
    assert cli(repo, "sync", "--yes", "--prune", "api")[0] == 0
    assert cli(repo, "sync", "--yes", "--prune", "web")[0] == 0
    assert names(api_client, ns) == {"api-a", "api-b", "moving", "web-w"}
    api_inventory = core.read_namespaced_config_map("api-a", ns).metadata.labels[
        "ambdiff.io/inventory"
    ]
    assert record_members(api_client, api_inventory) == {f"{ns}/api-a", f"{ns}/api-b"}


def test_diff_names_what_sync_would_refuse_or_leave(
    cli: Cli, tmp_path: Path, ns: str, api_client: Any
) -> None:
    core = kubernetes.client.CoreV1Api(api_client)
    repo = make_repo(
        tmp_path / "notes",
        {"a.yaml": configmap("a", ns), "b.yaml": configmap("b", ns)},
        origin="https://git.example/notes",
    )
    assert cli(repo, "sync", "--yes")[0] == 0
    inventory = core.read_namespaced_config_map("a", ns).metadata.labels["ambdiff.io/inventory"]
    core.create_namespaced_config_map(
        ns,
        {
            "metadata": {"name": "handmade", "labels": {"ambdiff.io/inventory": inventory}},
            "data": {"k": "v"},
        },
    )
    core.patch_namespaced_config_map(
        "b", ns, {"metadata": {"labels": {"ambdiff.io/inventory": "theirs"}}}
    )
    _, _, err = cli(repo, "diff")
    assert (
        f"1 object(s) carry the label of inventory {inventory} but are in no record and not in git ({ns}/handmade)"
        in err.replace("ConfigMap ", "")
    )
    assert (
        f"1 object(s) in git belong to inventory theirs (ConfigMap {ns}/b): `ambdiff sync` refuses"
        in err
    )
