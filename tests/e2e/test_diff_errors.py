"""`ambdiff diff` on bad input or a bad environment, with the real local API server: each
exits 2 with one clear sentence on stderr that says what and where, and never a traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import kubernetes
import pytest
import yaml

from tests.e2e.diff_support import Run, cluster_args, git, run_ambdiff, write
from tests.harness import APIServer

MAPPING = """
    apiVersion: getambassador.io/v3alpha1
    kind: Mapping
    metadata:
      name: api
      namespace: default
    spec:
      prefix: /api/
      service: api:80
    """

CONFIGMAP = """
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: settings
      namespace: default
    data: {color: blue}
    """


pytestmark = pytest.mark.usefixtures("home")


def diff(server: APIServer, repo: Path, *args: str) -> Run:
    return run_ambdiff("diff", *cluster_args(server, repo, "errors"), *args)


def one_sentence(run: Run) -> str:
    """The error line, after checking the shape every error has."""
    assert run.code == 2, f"exit {run.code}: {run.text}"
    assert run.out == ""
    assert "Traceback" not in run.text
    lines = run.err.strip().splitlines()
    if lines and lines[0].startswith("Using context "):
        lines = lines[1:]  # which cluster, said first by every command that has chosen one
    assert len(lines) == 1, run.err
    assert lines[0].startswith("ambdiff: error: ")
    return lines[0]


def test_malformed_yaml_names_file_line_and_column(apiserver: APIServer, tmp_path: Path) -> None:
    write(tmp_path, "ok.yaml", CONFIGMAP)
    write(
        tmp_path,
        "k8s/broken.yaml",
        """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: broken
        data:
          url: http://example.com: 8080
        """,
    )
    error = one_sentence(diff(apiserver, tmp_path))
    # The second `: ` on line 6 (its colon in column 26) starts a mapping inside a scalar.
    assert error.startswith("ambdiff: error: k8s/broken.yaml:6:26: invalid YAML: mapping values")


def test_duplicate_key_is_malformed_yaml(apiserver: APIServer, tmp_path: Path) -> None:
    write(
        tmp_path,
        "dup.yaml",
        """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: twice
          name: again
        """,
    )
    error = one_sentence(diff(apiserver, tmp_path))
    assert "dup.yaml:5:3: invalid YAML: duplicate key 'name'" in error


@pytest.mark.parametrize(
    ("manifest", "missing"),
    [
        ("apiVersion: v1\nmetadata: {name: x}\ndata: {a: b}\n", "kind"),
        ("apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n", "metadata.name"),
        ("kind: ConfigMap\nmetadata: {name: x}\n", "apiVersion"),
    ],
    ids=["no kind", "no name", "no apiVersion"],
)
def test_missing_kind_or_name(
    apiserver: APIServer, tmp_path: Path, manifest: str, missing: str
) -> None:
    (tmp_path / "first.yaml").write_text(CONFIGMAP)
    (tmp_path / "second.yaml").write_text("# a comment first\n---\n" + manifest)
    error = one_sentence(diff(apiserver, tmp_path))
    assert "second.yaml:3: " in error
    assert f"has no {missing}" in error


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [("getambassador.io/v3alpha1", "RateLimit"), ("widgets.example.com/v1", "Widget")],
    ids=["kind not in an installed group", "group not installed"],
)
def test_unknown_kind_suggests_the_crd_is_missing(
    apiserver: APIServer, tmp_path: Path, api_version: str, kind: str
) -> None:
    write(tmp_path, "mapping.yaml", MAPPING)
    write(
        tmp_path,
        "custom.yaml",
        f"""
        # the custom resource
        apiVersion: {api_version}
        kind: {kind}
        metadata:
          name: thing
        spec: {{}}
        """,
    )
    error = one_sentence(diff(apiserver, tmp_path))
    assert f"kind {kind}" in error and api_version in error
    assert "CustomResourceDefinition" in error
    assert "custom.yaml:2" in error  # where it is written


def test_every_object_of_an_unserved_kind_is_named_once(
    apiserver: APIServer, tmp_path: Path
) -> None:
    """The kinds the cluster does not serve, each once with every file that names it: one run
    says all that must be installed, not one file a run (an independent tester found it)."""
    write(tmp_path, "mapping.yaml", MAPPING)
    for index in range(5):
        write(
            tmp_path,
            f"w{index}.yaml",
            f"apiVersion: widgets.example.com/v1\nkind: Widget\nmetadata: {{name: w{index}}}\n",
        )
    write(
        tmp_path,
        "z.yaml",
        "apiVersion: gadgets.example.com/v1\nkind: Gadget\nmetadata: {name: g}\n",
    )
    error = one_sentence(diff(apiserver, tmp_path))
    assert error.startswith("ambdiff: error: 6 objects are of kinds the cluster does not serve: ")
    assert error.count("kind Widget in apiVersion widgets.example.com/v1") == 1
    assert "(w0.yaml:1, w1.yaml:1, w2.yaml:1 and 2 more)" in error
    assert "kind Gadget in apiVersion gadgets.example.com/v1" in error and "(z.yaml:1)" in error
    assert error.endswith(
        "Is its CustomResourceDefinition installed? Add it to the manifests or install it first."
    )


@pytest.mark.parametrize(
    ("api_version", "kind", "hint"),
    [
        (
            "getambassador.io/v3alpha1",
            "Mappping",
            "Did you mean kind Mapping? If not, is its "
            "CustomResourceDefinition installed? Add it to the manifests or install it first.",
        ),
        ("apps/v1", "Deploymnet", "Did you mean kind Deployment?"),
        ("apps/v1", "Pod", "Check the apiVersion and kind for a typo."),
    ],
)
def test_misspelt_kind_gets_a_suggestion(
    apiserver: APIServer, tmp_path: Path, api_version: str, kind: str, hint: str
) -> None:
    write(
        tmp_path, "typo.yaml", f"apiVersion: {api_version}\nkind: {kind}\nmetadata: {{name: x}}\n"
    )
    error = one_sentence(diff(apiserver, tmp_path))
    assert error.startswith(f"ambdiff: error: typo.yaml:1: kind {kind} in apiVersion {api_version}")
    assert error.endswith(hint)


def test_duplicate_object_names_both_origins(apiserver: APIServer, tmp_path: Path) -> None:
    write(tmp_path, "a/settings.yaml", CONFIGMAP)
    write(
        tmp_path,
        "b/more.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n"
        "---\n" + yaml.safe_dump(yaml.safe_load(CONFIGMAP.replace("\n    ", "\n"))),
    )
    error = one_sentence(diff(apiserver, tmp_path))
    assert "ConfigMap default/settings" in error
    assert "a/settings.yaml:1" in error and "b/more.yaml:5" in error


def test_the_same_mapping_in_v2_and_v3alpha1_is_a_duplicate(
    apiserver: APIServer, tmp_path: Path
) -> None:
    write(tmp_path, "v3.yaml", MAPPING)
    write(tmp_path, "v2.yaml", MAPPING.replace("v3alpha1", "v2"))
    error = one_sentence(diff(apiserver, tmp_path))
    assert "Mapping default/api" in error and "v2.yaml:1" in error and "v3.yaml:1" in error


@pytest.mark.parametrize("rev", ["no-such-branch", "0123456789abcdef0123456789abcdef01234567"])
def test_unknown_rev(apiserver: APIServer, tmp_path: Path, rev: str) -> None:
    write(tmp_path, "settings.yaml", CONFIGMAP)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "first")
    error = one_sentence(diff(apiserver, tmp_path, "--rev", rev))
    assert f"unknown git revision {rev!r}" in error


def test_rev_outside_a_git_repository(apiserver: APIServer, tmp_path: Path) -> None:
    write(tmp_path, "settings.yaml", CONFIGMAP)
    error = one_sentence(diff(apiserver, tmp_path, "--rev", "main"))
    assert "not inside a git repository" in error


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends


def test_unreachable_cluster(apiserver: APIServer, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write(repo, "settings.yaml", CONFIGMAP)
    port = closed_port()
    config = yaml.safe_load(apiserver.kubeconfig.read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{port}"
    kubeconfig = tmp_path / "home" / "unreachable.yaml"  # outside the repository
    kubeconfig.write_text(yaml.safe_dump(config))
    run = run_ambdiff(
        "diff",
        "--kubeconfig",
        kubeconfig,
        "--context",
        apiserver.context,
        "--repo",
        repo,
        "--inventory",
        "errors",
    )
    error = one_sentence(run)
    assert f"cannot reach the cluster at https://127.0.0.1:{port}" in error
    assert f"context {apiserver.context}" in error
    assert "connection refused" in error


def test_bad_context(apiserver: APIServer, tmp_path: Path) -> None:
    write(tmp_path, "settings.yaml", CONFIGMAP)
    run = run_ambdiff(
        "diff",
        "--kubeconfig",
        apiserver.kubeconfig,
        "--context",
        "no-such",
        "--repo",
        tmp_path,
        "--inventory",
        "errors",
    )
    error = one_sentence(run)
    assert "context 'no-such' (--context) is not defined in" in error
    assert f"Known contexts: {apiserver.context}" in error


@pytest.mark.parametrize("server_side", [False, True], ids=["default", "server-side"])
def test_forbidden_for_a_user_without_rbac(
    apiserver: APIServer, tmp_path: Path, server_side: bool
) -> None:
    write(tmp_path, "settings.yaml", CONFIGMAP)
    write(tmp_path, "mapping.yaml", MAPPING)
    kubeconfig = apiserver.mint_user("nobody-" + tmp_path.name[-12:].strip("_"))
    flags = ["--server-side"] if server_side else []
    run = run_ambdiff(
        "diff",
        "--kubeconfig",
        kubeconfig,
        "--context",
        apiserver.context,
        "--repo",
        tmp_path,
        "--inventory",
        "errors",
        *flags,
    )
    error = one_sentence(run)
    assert "HTTP 403" in error
    assert f"context {apiserver.context}" in error
    assert "forbidden" in error and "cannot list" in error


def test_read_only_user_can_diff_but_server_side_needs_patch(
    apiserver: APIServer, api_client: kubernetes.client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    """docs/index.md: `diff` needs get/list only; --server-side needs patch (a dry-run apply)."""
    user = f"reader-{namespace}"
    rbac = kubernetes.client.RbacAuthorizationV1Api(api_client)
    rbac.create_namespaced_role(namespace, {
        "metadata": {"name": "reader"},
        "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]},
            {"apiGroups": ["getambassador.io"], "resources": ["mappings"], "verbs": ["get", "list"]},
        ],
    })  # fmt: skip
    rbac.create_namespaced_role_binding(namespace, {
        "metadata": {"name": "reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    })  # fmt: skip
    core = kubernetes.client.CoreV1Api(api_client)
    core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "settings"}, "data": {"color": "red"}}
    )
    repo = tmp_path / "repo"
    write(repo, "settings.yaml", CONFIGMAP.replace("default", namespace))
    write(repo, "mapping.yaml", MAPPING.replace("default", namespace))
    args = [
        "diff",
        "--kubeconfig",
        apiserver.mint_user(user),
        "--context",
        apiserver.context,
        "--repo",
        repo,
        "--inventory",
        "errors",
        "-o",
        "json",
    ]

    read_only = run_ambdiff(*args)
    assert read_only.code == 1, read_only.err
    # stderr holds which cluster (the JSON report says the same) and why nothing can be
    # called removed: this user may not read the inventory record.
    assert read_only.err.splitlines() == [
        f"Using context envtest at {apiserver.url} (cluster envtest, user {user}, namespace default)",
        f"The inventory record of errors cannot be read (get ConfigMap ambdiff-inventory-errors "
        f'was refused (HTTP 403, context envtest): configmaps "ambdiff-inventory-errors" is '
        f'forbidden: User "{user}" cannot get resource "configmaps" in API group "" in '
        f'the namespace "default".): objects git dropped are not reported as removed.',
    ]
    assert read_only.json()["cluster"]["user"] == user
    assert {(r["kind"], r["status"]) for r in read_only.json()["resources"]} == {
        ("ConfigMap", "changed"), ("Mapping", "added")
    }  # fmt: skip

    error = one_sentence(run_ambdiff(*args, "--server-side"))
    assert (
        f"dry-run apply ConfigMap settings was refused (HTTP 403, context {apiserver.context})"
        in error
    )
    assert "cannot patch" in error
