"""kubectl's kubeconfig loading rules (ambdiff.cluster.kubeconfig), rule by rule. The same
layouts are compared with kubectl itself in tests/tools/test_kubeconfig_kubectl.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from ambdiff.cluster.kubeconfig import Overrides, load, select
from ambdiff.errors import ClusterError


def write(
    path: Path,
    current: str | None,
    *,
    clusters: dict[str, Any] | None = None,
    users: dict[str, Any] | None = None,
    contexts: dict[str, Any] | None = None,
) -> Path:
    data: dict[str, Any] = {"apiVersion": "v1", "kind": "Config"}
    if current is not None:
        data["current-context"] = current
    data["clusters"] = [{"name": n, "cluster": c} for n, c in (clusters or {}).items()]
    data["users"] = [{"name": n, "user": u} for n, u in (users or {}).items()]
    data["contexts"] = [{"name": n, "context": c} for n, c in (contexts or {}).items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def staging_and_prod(tmp_path: Path) -> tuple[Path, Path]:
    staging = write(
        tmp_path / "staging.yaml",
        "staging",
        clusters={"staging": {"server": "https://staging:6443"}},
        users={"ci": {"token": "staging-token"}},
        contexts={"staging": {"cluster": "staging", "user": "ci", "namespace": "shop"}},
    )
    prod = write(
        tmp_path / "prod.yaml",
        "prod",
        clusters={
            "prod": {"server": "https://prod:6443"},
            "staging": {"server": "https://impostor:6443"},
        },
        users={"ci": {"token": "prod-token"}},
        contexts={
            "prod": {"cluster": "prod", "user": "ci"},
            "staging": {"cluster": "prod", "user": "ci"},
        },
    )
    return staging, prod


def env(*files: Path) -> dict[str, str]:
    return {"KUBECONFIG": os.pathsep.join(str(f) for f in files)}


def test_the_first_file_to_set_current_context_wins(staging_and_prod: tuple[Path, Path]) -> None:
    staging, prod = staging_and_prod
    chosen = select(load(None, env(staging, prod)))
    assert (chosen.context, chosen.server, chosen.namespace) == (
        "staging",
        "https://staging:6443",
        "shop",
    )
    assert select(load(None, env(prod, staging))).server == "https://prod:6443"


def test_named_entries_are_taken_whole_from_the_first_file(
    staging_and_prod: tuple[Path, Path],
) -> None:
    staging, prod = staging_and_prod
    merged = load(None, env(staging, prod))
    # prod.yaml's "staging" cluster and context never replace staging.yaml's, and its "ci"
    # user never adds to or replaces staging.yaml's.
    assert merged.clusters["staging"].data["cluster"]["server"] == "https://staging:6443"
    assert merged.contexts["staging"].data["context"]["cluster"] == "staging"
    assert merged.users["ci"].data["user"] == {"token": "staging-token"}
    assert merged.users["ci"].origin == staging
    # Entries only the later file has are there.
    assert select(merged, Overrides(context="prod")).server == "https://prod:6443"


def test_kubeconfig_flag_reads_that_file_alone(staging_and_prod: tuple[Path, Path]) -> None:
    staging, prod = staging_and_prod
    merged = load(str(prod), env(staging))
    assert merged.files == (prod,)
    assert select(merged).context == "prod"


def test_missing_files_in_kubeconfig_are_skipped_and_repeats_read_once(
    tmp_path: Path, staging_and_prod: tuple[Path, Path]
) -> None:
    staging, prod = staging_and_prod
    listed = f"{tmp_path / 'gone.yaml'}{os.pathsep}{os.pathsep}{prod}{os.pathsep}{staging}{os.pathsep}{prod}"
    merged = load(None, {"KUBECONFIG": listed})
    assert merged.files == (prod, staging)
    assert select(merged).context == "prod"


def test_without_kubeconfig_the_home_file_is_read(tmp_path: Path) -> None:
    home_file = write(
        tmp_path / ".kube" / "config",
        "home",
        clusters={"c": {"server": "https://home:6443"}},
        users={"u": {}},
        contexts={"home": {"cluster": "c", "user": "u"}},
    )
    merged = load(None, {}, home=tmp_path)
    assert merged.files == (home_file,)
    assert select(merged).server == "https://home:6443"


def test_a_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match=r"--kubeconfig .*gone.yaml: no such file"):
        load(str(tmp_path / "gone.yaml"), {})


def test_relative_references_resolve_against_the_file_that_defines_them(tmp_path: Path) -> None:
    first = write(
        tmp_path / "a" / "one.yaml",
        "ctx",
        clusters={"c": {"server": "https://x:6443", "certificate-authority": "pki/ca.crt"}},
        contexts={"ctx": {"cluster": "c", "user": "u"}},
    )
    second = write(
        tmp_path / "b" / "deeper" / "two.yaml",
        None,
        users={
            "u": {
                "client-certificate": "../u.crt",
                "client-key": "u.key",
                "tokenFile": "/abs/token",
                "exec": {"command": "./bin/plugin", "apiVersion": "v1"},
            }
        },
    )
    chosen = select(load(None, env(first, second)))
    assert chosen.cluster["certificate-authority"] == str(tmp_path / "a" / "pki" / "ca.crt")
    assert chosen.user["client-certificate"] == str(tmp_path / "b" / "deeper" / ".." / "u.crt")
    assert chosen.user["client-key"] == str(tmp_path / "b" / "deeper" / "u.key")
    assert chosen.user["tokenFile"] == "/abs/token"
    assert chosen.user["exec"]["command"] == str(tmp_path / "b" / "deeper" / "bin" / "plugin")


def test_an_exec_command_without_a_slash_is_looked_up_on_path(tmp_path: Path) -> None:
    path = write(
        tmp_path / "k.yaml",
        "ctx",
        clusters={"c": {"server": "https://x:6443"}},
        users={"u": {"exec": {"command": "aws", "apiVersion": "v1"}}},
        contexts={"ctx": {"cluster": "c", "user": "u"}},
    )
    assert select(load(str(path), {})).user["exec"]["command"] == "aws"


def test_overrides_replace_the_contexts_cluster_user_and_namespace(
    staging_and_prod: tuple[Path, Path],
) -> None:
    staging, prod = staging_and_prod
    merged = load(None, env(staging, prod))
    chosen = select(merged, Overrides(context="staging", cluster="prod", namespace="other"))
    assert (chosen.cluster_name, chosen.server, chosen.namespace) == (
        "prod",
        "https://prod:6443",
        "other",
    )
    assert select(merged, Overrides(context="prod")).namespace == "default"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"clusters: [\n", r"kubeconfig .*k.yaml:\d+:\d+: "),
        (b"- a\n- b\n", r"must be a mapping .* not a list"),
        (b"\xff\xfe\x00bad", r"is not UTF-8 text"),
        (b"clusters: {a: b}\n", r"'clusters' must be a list"),
        (b"contexts:\n- context: {cluster: c}\n", r"contexts\[0\] must be a mapping with a name"),
    ],
)
def test_a_malformed_file_is_one_sentence(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "k.yaml"
    path.write_bytes(content)
    with pytest.raises(ClusterError, match=message):
        load(str(path), {})


def test_selection_errors_name_what_is_missing(staging_and_prod: tuple[Path, Path]) -> None:
    staging, prod = staging_and_prod
    merged = load(None, env(staging, prod))
    with pytest.raises(ClusterError, match=r"context 'nope' \(--context\) is not defined") as e:
        select(merged, Overrides(context="nope"))
    assert "Known contexts: prod, staging" in str(e.value)
    with pytest.raises(ClusterError, match=r"names cluster 'gone', which .* does not define"):
        select(merged, Overrides(cluster="gone"))
    with pytest.raises(ClusterError, match=r"names user 'gone', which .* does not define"):
        select(merged, Overrides(user="gone"))


def test_no_current_context_is_an_error_that_lists_the_contexts(tmp_path: Path) -> None:
    path = write(
        tmp_path / "k.yaml",
        None,
        clusters={"c": {"server": "https://x"}},
        users={"u": {}},
        contexts={"a": {"cluster": "c", "user": "u"}},
    )
    with pytest.raises(ClusterError, match=r"sets no current-context .* \(known contexts: a\)"):
        select(load(str(path), {}))


def test_a_cluster_without_a_server_is_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path / "k.yaml",
        "a",
        clusters={"c": {"insecure-skip-tls-verify": True}},
        users={"u": {}},
        contexts={"a": {"cluster": "c", "user": "u"}},
    )
    with pytest.raises(ClusterError, match=r"cluster 'c' has no server"):
        select(load(str(path), {}))
