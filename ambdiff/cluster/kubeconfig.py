"""Which cluster, user and namespace to use: kubectl's kubeconfig loading rules, exactly.

The kubernetes Python client merges `$KUBECONFIG` the other way round (each later file
overwrites `current-context`), so with `KUBECONFIG=staging.yaml:prod.yaml` it would pick prod
where kubectl picks staging. ambdiff therefore loads and merges kubeconfig files itself, by
the rules client-go's `clientcmd` documents and implements:

- `--kubeconfig FILE` alone (it must exist); else every file in `$KUBECONFIG` (empty entries
  and repeats skipped, missing files ignored); else `~/.kube/config`.
- The first file to set a value wins: `current-context`, and each named cluster, user and
  context as a whole (a later file's entry of the same name is discarded, not merged).
- Relative file references (`certificate-authority`, `client-certificate`, `client-key`,
  `tokenFile`, and an exec `command` that contains a `/`) are resolved against the directory
  of the file that defines the entry.
- `--context`, `--cluster`, `--user` and `--namespace` override the current context's; the
  namespace defaults to the context's, then `default`.

Everything here is plain data and pure functions over it, apart from reading the files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ambdiff.errors import ClusterError, ManifestError
from ambdiff.gitsource import FileError, read_bytes
from ambdiff.model import type_name
from ambdiff.yamlio import load_one

HINT = "Check it with `kubectl config view`."


@dataclass(frozen=True)
class Entry:
    """A named cluster, user or context, with the file that defined it."""

    name: str
    data: Mapping[str, Any]
    origin: Path


@dataclass(frozen=True)
class Merged:
    """The kubeconfig files as kubectl sees them, merged."""

    files: tuple[Path, ...]  # the files that were read, in order
    current_context: str = ""
    current_context_origin: Path | None = None
    clusters: Mapping[str, Entry] = field(default_factory=dict)
    users: Mapping[str, Entry] = field(default_factory=dict)
    contexts: Mapping[str, Entry] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.clusters or self.users or self.contexts or self.current_context)

    def describe(self) -> str:
        if not self.files:
            return "the kubeconfig (no file found)"
        return " + ".join(str(f) for f in self.files)


@dataclass(frozen=True)
class Selection:
    """The context a command talks to: names, and the cluster and user entries with every
    file reference made absolute."""

    context: str
    cluster_name: str
    user_name: str
    namespace: str
    cluster: Mapping[str, Any]
    user: Mapping[str, Any]
    cluster_origin: Path
    user_origin: Path | None

    @property
    def server(self) -> str:
        return str(self.cluster.get("server") or "")


@dataclass(frozen=True)
class Overrides:
    """kubectl's override flags."""

    context: str | None = None
    cluster: str | None = None
    user: str | None = None
    namespace: str | None = None


def candidate_files(
    explicit: str | None, environ: Mapping[str, str] = os.environ, home: Path | None = None
) -> tuple[list[Path], bool]:
    """The files to read, in precedence order, and whether they were named explicitly."""
    if explicit:
        return [Path(explicit)], True
    listed = environ.get("KUBECONFIG", "")
    if listed:
        seen: list[Path] = []
        for part in listed.split(os.pathsep):
            if part and Path(part) not in seen:
                seen.append(Path(part))
        return seen, False
    return [(home or Path.home()) / ".kube" / "config"], False


def load(
    explicit: str | None, environ: Mapping[str, str] = os.environ, home: Path | None = None
) -> Merged:
    """Read and merge the kubeconfig files by kubectl's rules."""
    files, is_explicit = candidate_files(explicit, environ, home)
    if is_explicit and not files[0].exists():
        raise ClusterError(
            f"--kubeconfig {files[0]}: no such file.", hint="Name an existing kubeconfig file."
        )
    read: list[Path] = []
    current, current_origin = "", None
    clusters: dict[str, Entry] = {}
    users: dict[str, Entry] = {}
    contexts: dict[str, Entry] = {}
    for path in files:
        data = _read(path)
        if data is None:
            continue
        read.append(path)
        if not current and data.get("current-context"):
            if not isinstance(data["current-context"], str):
                raise ClusterError(
                    f"kubeconfig {path}: current-context must be a string (a context's name), "
                    f"not {type_name(data['current-context'])}.",
                    hint=HINT,
                )
            current, current_origin = data["current-context"], path
        for key, into, ref_fields in (
            ("clusters", clusters, _CLUSTER_FILE_FIELDS),
            ("users", users, _USER_FILE_FIELDS),
            ("contexts", contexts, ()),
        ):
            for entry in _entries(data, key, path):
                if entry.name not in into:  # the first file to name an entry wins
                    into[entry.name] = _resolved(entry, ref_fields)
    return Merged(tuple(read), current, current_origin, clusters, users, contexts)


def select(merged: Merged, overrides: Overrides = Overrides()) -> Selection:
    """The context, cluster, user and namespace kubectl would use; one sentence if none."""
    where = merged.describe()
    name = overrides.context or merged.current_context
    if not name:
        known = ", ".join(sorted(merged.contexts)) or "none"
        raise ClusterError(
            f"{where} sets no current-context and no --context was given.",
            hint=f"Pass --context (known contexts: {known}), or `kubectl config use-context`.",
        )
    context = merged.contexts.get(name)
    if context is None:
        known = ", ".join(sorted(merged.contexts)) or "none"
        said = (
            "--context"
            if overrides.context
            else f"current-context in {merged.current_context_origin}"
        )
        raise ClusterError(
            f"context {name!r} ({said}) is not defined in {where}.",
            hint=f"Known contexts: {known}.",
        )
    body = context.data.get("context") or {}
    if not isinstance(body, Mapping):
        raise ClusterError(f"{context.origin}: context {name!r} must be a mapping.", hint=HINT)
    for key in ("cluster", "user", "namespace"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise ClusterError(
                f"kubeconfig {context.origin}: contexts[{name}].context.{key} must be a string, "
                f"not {type_name(body[key])}.",
                hint=HINT,
            )
    cluster_name = overrides.cluster or str(body.get("cluster") or "")
    user_name = overrides.user or str(body.get("user") or "")
    cluster = merged.clusters.get(cluster_name)
    if not cluster_name or cluster is None:
        who = "--cluster" if overrides.cluster else f"context {name!r} in {context.origin}"
        raise ClusterError(
            f"{who} names cluster {cluster_name!r}, which {where} does not define."
            if cluster_name
            else f"context {name!r} in {context.origin} names no cluster.",
            hint=HINT,
        )
    cluster_body = cluster.data.get("cluster") or {}
    if not isinstance(cluster_body, Mapping):
        raise ClusterError(
            f"kubeconfig {cluster.origin}: clusters[{cluster_name}].cluster must be a mapping, "
            f"not {type_name(cluster_body)}.",
            hint=HINT,
        )
    if not cluster_body.get("server"):
        raise ClusterError(f"{cluster.origin}: cluster {cluster_name!r} has no server.", hint=HINT)
    user_body: Mapping[str, Any] = {}
    user_origin = None
    if user_name:
        user = merged.users.get(user_name)
        if user is None:
            # kubectl would go on anonymously; a named user that is missing is a mistake.
            who = "--user" if overrides.user else f"context {name!r} in {context.origin}"
            raise ClusterError(
                f"{who} names user {user_name!r}, which {where} does not define.",
                hint=HINT,
            )
        raw = user.data.get("user") or {}
        if not isinstance(raw, Mapping):
            raise ClusterError(f"{user.origin}: user {user_name!r} must be a mapping.", hint=HINT)
        user_body, user_origin = raw, user.origin
    namespace = overrides.namespace or str(body.get("namespace") or "") or "default"
    return Selection(
        context=name,
        cluster_name=cluster_name,
        user_name=user_name,
        namespace=namespace,
        cluster=cluster_body,
        user=user_body,
        cluster_origin=cluster.origin,
        user_origin=user_origin,
    )


# ---- reading -------------------------------------------------------------------------

MAX_KUBECONFIG_BYTES = 16 * 2**20  # kubeconfigs are kilobytes; this is far past any real one

_CLUSTER_FILE_FIELDS = (("cluster", "certificate-authority"),)
_USER_FILE_FIELDS = (
    ("user", "client-certificate"),
    ("user", "client-key"),
    ("user", "tokenFile"),
)


def _read(path: Path) -> dict[str, Any] | None:
    """One file's content; None when it does not exist (kubectl skips those)."""
    try:
        path.stat()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ClusterError(f"cannot read kubeconfig {path}: {e.strerror}.", hint=HINT) from e
    try:
        # A FIFO or a device (KUBECONFIG=/dev/zero) is refused unopened, never read forever.
        raw = read_bytes(path, f"kubeconfig {path}", limit=MAX_KUBECONFIG_BYTES)
    except FileError as e:
        raise ClusterError(e.message, hint=HINT) from e
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ClusterError(
            f"kubeconfig {path} is not UTF-8 text (byte {e.start}).", hint=HINT
        ) from e
    try:
        data = load_one(text, str(path))
    except ManifestError as e:
        raise ClusterError(f"kubeconfig {e.message}", hint=HINT) from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ClusterError(
            f"kubeconfig {path} must be a mapping (apiVersion: v1, kind: Config), not "
            f"{type_name(data)}.",
            hint=HINT,
        )
    return data


def _entries(data: Mapping[str, Any], key: str, path: Path) -> list[Entry]:
    raw = data.get(key)
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ClusterError(f"kubeconfig {path}: {key!r} must be a list.", hint=HINT)
    entries = []
    for i, item in enumerate(raw):
        if (
            not isinstance(item, Mapping)
            or not isinstance(item.get("name"), str)
            or not item["name"]
        ):
            raise ClusterError(
                f"kubeconfig {path}: {key}[{i}] must be a mapping with a name.", hint=HINT
            )
        entries.append(Entry(item["name"], item, path))
    return entries


def _resolved(entry: Entry, ref_fields: Sequence[tuple[str, str]]) -> Entry:
    """The entry with relative file references made absolute against its own file."""
    base = entry.origin.resolve().parent
    data = dict(entry.data)
    for section, name in ref_fields:
        body = data.get(section)
        if isinstance(body, Mapping) and isinstance(body.get(name), str) and body[name]:
            data[section] = {**body, name: str(base / body[name])}
    user = data.get("user")
    if ref_fields is _USER_FILE_FIELDS and isinstance(user, Mapping):
        exec_ = user.get("exec")
        if isinstance(exec_, Mapping):
            command = exec_.get("command")
            # A bare command name is looked up on PATH; one with a separator is a path.
            if isinstance(command, str) and "/" in command and not Path(command).is_absolute():
                data["user"] = {**user, "exec": {**exec_, "command": str(base / command)}}
    return Entry(entry.name, data, entry.origin)
