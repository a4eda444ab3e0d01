"""Helpers for the `ambdiff diff` end-to-end tests: run ambdiff in-process, run kubectl as a
peer against the test API server, and build small manifest repositories."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ambdiff import cli
from tests.harness import APIServer

# (kind, namespace, name, op, path) of one reported change, or (kind, namespace, name,
# status, "") for an object without field changes.
Row = tuple[str, str, str, str, str]


@dataclass(frozen=True)
class Run:
    """One ambdiff run: exit code and what it printed."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err

    def json(self) -> dict[str, Any]:
        assert self.code in (0, 1), f"ambdiff exited {self.code}: {self.err}"
        data: dict[str, Any] = json.loads(self.out)
        return data


def run_ambdiff(*args: str | os.PathLike[str]) -> Run:
    """`ambdiff ARGS` through `ambdiff.cli.main`, stdout and stderr captured. The consoles are
    built from sys.stdout/sys.stderr at call time, so redirecting them captures everything."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([str(a) for a in args])
    return Run(code, out.getvalue(), err.getvalue())


def cluster_args(server: APIServer, repo: Path, inventory: str) -> list[str]:
    """The flags every e2e diff passes: never the developer's kubeconfig or repository."""
    return [
        "--kubeconfig", str(server.kubeconfig), "--context", server.context,
        "--repo", str(repo), "--inventory", inventory, "--color", "never",
    ]  # fmt: skip


def isolated_environ(home: Path) -> dict[str, str]:
    """os.environ without the developer's kube/ambdiff settings, with HOME at `home`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AMBDIFF_", "KUBE")) and k not in ("NO_COLOR", "FORCE_COLOR")
    }
    env["HOME"] = str(home)
    env["KUBECONFIG"] = str(home / "no-such-kubeconfig")  # ambdiff must be told, by flag
    return env


def isolate(monkeypatch: Any, home: Path) -> None:
    """Point HOME at `home`, KUBECONFIG nowhere, and drop AMBDIFF_* and colour variables, so
    ambdiff reads only what a test passes (a pytest.MonkeyPatch undoes it)."""
    for name in list(os.environ):
        if name.startswith("AMBDIFF_") or name in ("NO_COLOR", "FORCE_COLOR"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KUBECONFIG", str(home / "no-such-kubeconfig"))


def kubectl(
    server: APIServer, home: Path, *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """kubectl as a peer, pointed at the test API server (never at ~/.kube)."""
    argv = ["kubectl", "--kubeconfig", str(server.kubeconfig), "--context", server.context, *args]
    result = subprocess.run(
        argv, input=stdin, capture_output=True, text=True, env=isolated_environ(home), timeout=120
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


def apply(server: APIServer, home: Path, *paths: Path, manager: str = "gitops") -> None:
    """`kubectl apply --server-side` of files or directories (recursively), in one call."""
    files = [arg for path in paths for arg in ("-f", str(path))]
    kubectl(server, home, "apply", "--server-side", f"--field-manager={manager}", "-R", *files)


def write(root: Path, relative: str, text: str, **subst: str) -> Path:
    """Write a dedented manifest, replacing `{name}` placeholders given as keywords."""
    text = textwrap.dedent(text).lstrip("\n")
    for key, value in subst.items():
        text = text.replace("{" + key + "}", value)
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def identities(paths: Iterable[Path]) -> set[tuple[str, str, str]]:
    """(kind, namespace, name) of every object in these manifest files."""
    found = set()
    for path in paths:
        for doc in yaml.safe_load_all(path.read_text()):
            for obj in doc.get("items", []) if doc and doc["kind"] == "List" else [doc]:
                if obj:
                    meta = obj["metadata"]
                    found.add((obj["kind"], meta.get("namespace") or "", meta["name"]))
    return found


def rows(report: dict[str, Any]) -> set[Row]:
    """The report as a set: one row per change, one per object without changes."""
    out: set[Row] = set()
    for r in report["resources"]:
        where = (r["kind"], r["namespace"] or "", r["name"])
        if not r["changes"]:
            out.add((*where, r["status"], ""))
        out.update((*where, c["op"], c["path"]) for c in r["changes"])
    return out


def statuses(report: dict[str, Any]) -> dict[tuple[str, str, str], str]:
    return {(r["kind"], r["namespace"] or "", r["name"]): r["status"] for r in report["resources"]}


def changes_of(report: dict[str, Any], kind: str, name: str) -> list[dict[str, Any]]:
    matches = [r for r in report["resources"] if r["kind"] == kind and r["name"] == name]
    assert len(matches) == 1, f"{kind} {name}: {len(matches)} entries in the report"
    changes: list[dict[str, Any]] = matches[0]["changes"]
    return changes


def git(repo: Path, *args: str) -> str:
    """git in a test repository (never the project's)."""
    env = {
        **os.environ, "GIT_AUTHOR_NAME": "e2e", "GIT_AUTHOR_EMAIL": "e2e@example.com",
        "GIT_COMMITTER_NAME": "e2e", "GIT_COMMITTER_EMAIL": "e2e@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
    }  # fmt: skip
    result = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True
    )
    return result.stdout


def record_inventory(
    server: APIServer, home: Path, inventory: str, repo: Path, objects: Iterable[tuple[str, str]]
) -> None:
    """Write the inventory record an earlier `ambdiff sync` of `repo` would have left, listing
    `objects` ((namespace, kubectl resource/name) pairs) with their live uids."""
    from ambdiff.cluster import Cluster
    from ambdiff.gitsource import repo_identity
    from ambdiff.model import ObjectId, split_api_version
    from ambdiff.sync import record as records

    members = []
    for where, obj in objects:
        body = json.loads(kubectl(server, home, "get", "-n", where, obj, "-o", "json").stdout)
        group, _ = split_api_version(body["apiVersion"])
        namespace = body["metadata"].get("namespace", "")
        oid = ObjectId(group, body["kind"], namespace, body["metadata"]["name"])
        members.append(records.Member(oid, body["metadata"]["uid"], body["apiVersion"]))
    identity = records.Identity(repo_identity(repo), "default", (), "default")
    cluster = Cluster.connect(str(server.kubeconfig), server.context)
    empty = records.Record(inventory, "default", identity, exists=False)
    records.write(
        cluster,
        records.updated(empty, identity=identity, revision="earlier", members=members),
        "ambdiff",
    )
