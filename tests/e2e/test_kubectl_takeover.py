"""Objects first applied with `kubectl apply` (client-side), as most clusters were filled: ambdiff
takes over what kubectl's client-side apply owned, so a field git drops is seen and removed,
and the first sync does not conflict with `kubectl-client-side-apply`. kubectl is the oracle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.diff_support import Run, cluster_args, git, kubectl, run_ambdiff, write
from tests.harness import APIServer

APP = """
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: settings
      namespace: {ns}
      annotations: {team: payments, owner: alice}
    data: {color: blue, size: large}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      namespace: {ns}
    spec:
      replicas: 2
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec:
          containers:
          - name: web
            image: nginx:1.27
            ports: [{containerPort: 80}]
            env: [{name: A, value: "1"}, {name: B, value: "2"}]
    """


@pytest.fixture
def applied(apiserver: APIServer, home: Path, tmp_path: Path, namespace: str) -> Path:
    """The app applied with plain `kubectl apply`, and a git repository of the same files."""
    first = write(tmp_path / "kubectl", "app.yaml", APP, ns=namespace)
    kubectl(apiserver, home, "apply", "-f", str(first))
    repo = tmp_path / "repo"
    write(repo, "k/app.yaml", APP, ns=namespace)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "as applied")
    return repo


def drop_fields(repo: Path) -> None:
    """git drops one annotation, a ConfigMap key and an env var, and changes a value
    kubectl's client-side apply owns."""
    path = repo / "k/app.yaml"
    text = path.read_text()
    for old, new in (
        ("annotations: {team: payments, owner: alice}", "annotations: {team: payments}"),
        ("data: {color: blue, size: large}", "data: {color: green}"),
        (', {name: B, value: "2"}', ""),
    ):
        assert old in text
        text = text.replace(old, new)
    path.write_text(text)


def ambdiff(apiserver: APIServer, repo: Path, command: str, *args: str) -> Run:
    return run_ambdiff(command, *cluster_args(apiserver, repo, "takeover"), *args)


def changed_paths(run: Run) -> set[tuple[str, str, str]]:
    assert run.code in (0, 1), run.text
    return {
        (r["kind"], c["op"], c["path"])
        for r in json.loads(run.out)["resources"]
        for c in r["changes"]
    }


EXPECTED = {
    ("ConfigMap", "remove", "metadata.annotations.owner"),
    ("ConfigMap", "change", "data.color"),
    ("ConfigMap", "remove", "data.size"),
    ("Deployment", "remove", "spec.template.spec.containers[name=web].env[name=B]"),
}


def managers(apiserver: APIServer, home: Path, namespace: str, what: str) -> set[str]:
    body = json.loads(
        kubectl(
            apiserver, home, "get", "-n", namespace, what, "-o", "json", "--show-managed-fields"
        ).stdout
    )
    return {e["manager"] for e in body["metadata"]["managedFields"]}


def test_unchanged_git_is_in_sync_with_what_kubectl_applied(
    apiserver: APIServer, applied: Path
) -> None:
    for mode in ((), ("--server-side",)):
        run = ambdiff(apiserver, applied, "diff", "-o", "json", *mode)
        assert run.code == 0, (mode, run.out, run.err)


def test_fields_git_dropped_are_found_in_both_modes_as_kubectl_diff_finds_them(
    apiserver: APIServer, home: Path, applied: Path, namespace: str
) -> None:
    drop_fields(applied)
    # The oracle: kubectl's own diff sees each object differ.
    oracle = kubectl(apiserver, home, "diff", "-f", str(applied / "k/app.yaml"), check=False)
    assert (
        oracle.returncode == 1
        and "size: large" in oracle.stdout
        and "owner: alice" in oracle.stdout
    )
    assert changed_paths(ambdiff(apiserver, applied, "diff", "-o", "json")) == EXPECTED
    server_side = ambdiff(apiserver, applied, "diff", "-o", "json", "--server-side")
    assert changed_paths(server_side) == EXPECTED
    assert "applied with `kubectl apply`" in server_side.err


def test_the_first_sync_takes_over_removes_what_git_dropped_and_then_settles(
    apiserver: APIServer, home: Path, applied: Path, namespace: str
) -> None:
    drop_fields(applied)
    run = ambdiff(apiserver, applied, "sync", "--yes")  # no --force-conflicts
    assert run.code == 0, run.text
    assert "conflict:" not in run.text and "owned by" not in run.text
    config = json.loads(
        kubectl(
            apiserver, home, "get", "-n", namespace, "configmap", "settings", "-o", "json"
        ).stdout
    )
    assert config["data"] == {"color": "green"}
    assert "owner" not in config["metadata"]["annotations"]
    web = json.loads(
        kubectl(apiserver, home, "get", "-n", namespace, "deployment", "web", "-o", "json").stdout
    )
    assert [e["name"] for e in web["spec"]["template"]["spec"]["containers"][0]["env"]] == ["A"]
    # Defaults kubectl's client-side apply owned are untouched.
    assert web["spec"]["progressDeadlineSeconds"] == 600
    for what in ("configmap/settings", "deployment/web"):
        assert "kubectl-client-side-apply" not in managers(apiserver, home, namespace, what)
    # In sync in both modes, with kubectl agreeing; a second sync plans nothing.
    for mode in ((), ("--server-side",)):
        again = ambdiff(apiserver, applied, "diff", "-o", "json", *mode)
        assert again.code == 0, (mode, again.out)
    # (A manager of its own: it sees whether git's values are live, and removes nothing.)
    oracle = kubectl(
        apiserver,
        home,
        "diff",
        "--server-side",
        "--field-manager=oracle",
        "-f",
        str(applied / "k/app.yaml"),
        check=False,
    )
    assert oracle.returncode == 0, oracle.stdout
    second = ambdiff(apiserver, applied, "sync", "--yes")
    assert second.code == 0 and "Nothing to do" in second.text, second.text
