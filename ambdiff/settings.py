"""Settings: command-line flag > AMBDIFF_* environment variable > `.ambdiff.yaml` > default.

The settings file is validated key by key; an unknown key (or AMBDIFF_* variable) is an
error with a "did you mean" suggestion, because a typo there silently changes nothing.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ambdiff.errors import ConfigError
from ambdiff.model import ObjectId
from ambdiff.sources import Source
from ambdiff.sources import parse as parse_sources
from ambdiff.yamlio import YamlSyntaxError, load_one

CONFIG_NAME = ".ambdiff.yaml"


@dataclass(frozen=True)
class IgnoreRule:
    """Fields (JSON pointers) or whole objects (no pointers) to leave out of every diff."""

    group: str = "*"
    kind: str = "*"
    namespace: str = "*"
    name: str = "*"
    paths: tuple[str, ...] = ()

    def matches(self, oid: ObjectId) -> bool:
        return all(
            fnmatch.fnmatchcase(value, pattern)
            for value, pattern in (
                (oid.group, self.group),
                (oid.kind, self.kind),
                (oid.namespace, self.namespace),
                (oid.name, self.name),
            )
        )


@dataclass(frozen=True)
class FileSettings:
    """What `.ambdiff.yaml` may say. Every key is optional."""

    paths: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    namespace: str | None = None
    inventory: str | None = None
    output: str | None = None
    color: str | None = None
    ignore: tuple[IgnoreRule, ...] = ()
    check_disable: tuple[str, ...] = ()
    check_strict: bool = False
    prune: bool = False
    mass_prune_share: float = 0.5
    record_namespace: str = "default"
    sources: tuple[Source, ...] = ()
    source: Path | None = field(default=None, compare=False)


_TOP_KEYS = {
    "paths": list, "exclude": list, "namespace": str,
    "inventory": str, "output": str, "color": str, "ignore": list, "check": dict, "sync": dict,
    "sources": list,
}  # fmt: skip
# Keys that choose a cluster. A file in git must never do that: a pull request that edits it
# would point a CI job, which runs with CI's credentials, at another cluster.
_CLUSTER_KEYS = {
    "kubeconfig": "--kubeconfig or KUBECONFIG",
    "context": "--context or AMBDIFF_CONTEXT",
}
_IGNORE_KEYS = {"group", "kind", "namespace", "name", "paths"}
_CHECK_KEYS = {"disable": list, "strict": bool}
_SYNC_KEYS = {"prune": bool, "mass_prune_share": (int, float), "record_namespace": str}


def _unknown(key: str, known: Sequence[str], where: str) -> ConfigError:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"Did you mean {close[0]!r}?" if close else f"Known keys: {', '.join(sorted(known))}."
    return ConfigError(f"{where}: unknown setting {key!r}.", hint=hint)


def _check_keys(data: Mapping[str, Any], schema: Mapping[str, Any], where: str) -> None:
    for key, value in data.items():
        if key not in schema:
            raise _unknown(str(key), list(schema), where)
        expected = schema[key]
        if isinstance(expected, type) and not isinstance(value, expected):
            raise ConfigError(
                f"{where}: {key!r} must be a {expected.__name__}, not {type(value).__name__}."
            )
        if isinstance(expected, tuple) and (
            isinstance(value, bool) or not isinstance(value, expected)
        ):
            raise ConfigError(f"{where}: {key!r} must be a number, not {type(value).__name__}.")


def load_file(path: Path, *, explicit: bool) -> FileSettings:
    """Read a settings file. A missing default file is fine; a missing explicit one is not."""
    if not path.is_file():
        if explicit:
            raise ConfigError(f"settings file {path} does not exist.", hint="Check --config.")
        return FileSettings()
    return load_text(path.read_text(encoding="utf-8"), str(path), source=path)


def load_text(text: str, where: str, *, source: Path | None = None) -> FileSettings:
    """Settings from the text of a settings file (`where` names it in messages): the
    working tree's, or the one in the commit `ambdiff watch` applies."""
    try:
        data = load_one(text, where)
    except YamlSyntaxError as e:
        raise ConfigError(f"{e.message}", hint="Fix the settings file.") from e
    if data is None:
        return FileSettings(source=source)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: the settings file must be a mapping of keys to values.")
    for key, instead in _CLUSTER_KEYS.items():
        if key in data:
            raise ConfigError(
                f"{where}: {key!r} is not read from the settings file: the cluster is chosen "
                "only by flags and the environment, so that a change in git can never point "
                "ambdiff at another cluster.",
                hint=f"Remove it and pass {instead} where ambdiff runs.",
            )
    _check_keys(data, _TOP_KEYS, where)
    check = data.get("check") or {}
    _check_keys(check, _CHECK_KEYS, f"{where}: check")
    sync = data.get("sync") or {}
    _check_keys(sync, _SYNC_KEYS, f"{where}: sync")
    return FileSettings(
        paths=tuple(str(p) for p in data.get("paths") or ()),
        exclude=tuple(str(p) for p in data.get("exclude") or ()),
        namespace=data.get("namespace"),
        inventory=data.get("inventory"),
        output=data.get("output"),
        color=data.get("color"),
        ignore=tuple(_ignore_rule(r, f"{where}: ignore[{i}]") for i, r in enumerate(
            data.get("ignore") or ()
        )),
        check_disable=tuple(str(r) for r in check.get("disable") or ()),
        check_strict=bool(check.get("strict", False)),
        prune=bool(sync.get("prune", False)),
        mass_prune_share=_share(sync.get("mass_prune_share", 0.5), f"{where}: sync"),
        record_namespace=str(sync.get("record_namespace") or "default"),
        sources=parse_sources(data["sources"], where) if "sources" in data else (),
        source=source,
    )  # fmt: skip


def _share(value: float, where: str) -> float:
    if not 0 < value <= 1:
        raise ConfigError(
            f"{where}: 'mass_prune_share' must be above 0 and at most 1, not {value}.",
            hint="It is the share of an inventory's objects one prune may delete (0.5: half).",
        )
    return float(value)


def _ignore_rule(raw: Any, where: str) -> IgnoreRule:
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{where}: an ignore rule must be a mapping (group/kind/namespace/name/paths)."
        )
    for key in raw:
        if key not in _IGNORE_KEYS:
            raise _unknown(str(key), sorted(_IGNORE_KEYS), where)
    paths = raw.get("paths") or []
    if not isinstance(paths, list) or not all(
        isinstance(p, str) and p.startswith("/") for p in paths
    ):
        raise ConfigError(f"{where}: paths must be a list of JSON pointers such as /spec/replicas.")
    return IgnoreRule(
        **{k: str(raw[k]) for k in ("group", "kind", "namespace", "name") if k in raw},
        paths=tuple(paths),
    )


def check_environment(
    known_options: Sequence[str], environ: Mapping[str, str] = os.environ
) -> None:
    """Reject AMBDIFF_* variables that name no option."""
    known = {f"AMBDIFF_{o.upper().replace('-', '_')}" for o in known_options}
    for name in environ:
        if name.startswith("AMBDIFF_") and name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f"Did you mean {close[0]}?" if close else "Unset it."
            raise ConfigError(f"unknown environment variable {name}.", hint=hint)
