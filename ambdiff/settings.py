"""Settings: command-line flag > AMBDIFF_* environment variable > `.ambdiff.yaml` > default.

The settings file is validated key by key; an unknown key (or AMBDIFF_* variable) is an
error with a "did you mean" suggestion, because a typo there silently changes nothing.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import re
import stat
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ambdiff.errors import ConfigError
from ambdiff.model import ObjectId
from ambdiff.schedule import parse_interval
from ambdiff.sources import Source, _clean
from ambdiff.sources import parse as parse_sources

if TYPE_CHECKING:  # the health rules are read only where a configuration has some
    from ambdiff.health import Rule
from ambdiff.yamlio import YamlSyntaxError, load_one

CONFIG_NAME = ".ambdiff.yaml"
# The values `output` and `color` may take, here and on the command line (-o, --color): one
# table, so that the settings file cannot accept what the flags refuse, or the reverse.
OUTPUTS = ("human", "diff", "markdown", "json", "github")
COLORS = ("auto", "always", "never")
# What each command can print (-o); watch writes logs (--log-format) instead.
COMMAND_OUTPUTS = {
    "diff": ("human", "diff", "markdown", "json"),
    "sync": ("human", "json"),
    "check": ("human", "json", "github"),
    "routes": ("human", "json"),
}
# A settings file is a few lines; anything bigger is a mistake (or /dev/zero behind a link).
MAX_SETTINGS_BYTES = 1024 * 1024
DEFAULT_TIMEOUT = 300.0  # seconds `sync --wait` waits for health: --timeout, `sync: {timeout:}`
# An RFC 6901 escape: "~" is followed by 0 ("~") or 1 ("/"), nothing else.
_BAD_ESCAPE = re.compile(r"~(?![01])")


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
    wait: bool | None = None  # sync.wait: None when the file does not say
    timeout: float | None = None  # sync.timeout, in seconds
    health: tuple[Rule, ...] = ()  # the users' health rules (before the built-in ones)
    sources: tuple[Source, ...] = ()
    source: Path | None = field(default=None, compare=False)


_TOP_KEYS = {
    "paths": list, "exclude": list, "namespace": str,
    "inventory": str, "output": str, "color": str, "ignore": list, "check": dict, "sync": dict,
    "sources": list, "health": list,
}  # fmt: skip
# Keys that choose a cluster. A file in git must never do that: a pull request that edits it
# would point a CI job, which runs with CI's credentials, at another cluster.
_CLUSTER_KEYS = {
    "kubeconfig": "--kubeconfig or KUBECONFIG",
    "context": "--context or AMBDIFF_CONTEXT",
}
_IGNORE_KEYS = {"group", "kind", "namespace", "name", "paths"}
_CHECK_KEYS = {"disable": list, "strict": bool}
_SYNC_KEYS = {
    "prune": bool,
    "mass_prune_share": (int, float),
    "record_namespace": str,
    "wait": bool,
    "timeout": object,
}


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
    """Read a settings file. A missing default file is fine; a missing explicit one is not.
    A FIFO or device is never opened for reading (it could block, or never end)."""
    if not path.exists():
        if explicit:
            raise ConfigError(f"settings file {path} does not exist.", hint="Check --config.")
        return FileSettings()
    if not explicit and not _inside(path, path.parent):
        # A hostile pull request's `.ambdiff.yaml -> /etc/shadow` would print its lines.
        raise ConfigError(
            f"settings file {path} is a link to a file outside the repository; it is not read.",
            hint="Replace the link with the file, or name the file with --config.",
        )
    data = _read_regular_file(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - data.rfind(b"\n", 0, e.start)
        raise ConfigError(
            f"{path}:{line}:{column}: the settings file is not UTF-8 text (a byte there is "
            "not UTF-8).",
            hint="Save it as UTF-8.",
        ) from e
    return load_text(text, shown_path(path), source=path)


def shown_path(path: Path) -> str:
    """A file as messages name it: relative to the working directory when it is inside it
    (`.ambdiff.yaml`), else as given."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def _inside(path: Path, folder: Path) -> bool:
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))


def _read_regular_file(path: Path) -> bytes:
    not_a_file = ConfigError(
        f"settings file {path} is not a regular file (a folder, FIFO or device?).",
        hint="Point --config at a file, or remove what stands at that path.",
    )
    if not path.is_file():
        raise not_a_file
    try:
        # O_NONBLOCK: if the path was swapped for a FIFO since the check, open does not wait.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise ConfigError(
            f"cannot read the settings file {path}: {e.strerror}.",
            hint="Check its permissions.",
        ) from e
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise not_a_file
        data = file.read(MAX_SETTINGS_BYTES + 1)
    if len(data) > MAX_SETTINGS_BYTES:
        raise ConfigError(
            f"settings file {path} is larger than {MAX_SETTINGS_BYTES >> 20} MiB, which no "
            "settings file needs.",
            hint="Check that --config names the right file.",
        )
    return data


def load_text(text: str, where: str, *, source: Path | None = None) -> FileSettings:
    """Settings from the text of a settings file (`where` names it in messages): the
    working tree's, or the one in the commit `ambdiff watch` applies."""
    try:
        data = load_one(text, where)
    except YamlSyntaxError as e:
        raise ConfigError(f"{e.message.rstrip('.')}.", hint="Fix the settings file.") from e
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
        paths=tuple(
            _path(p, f"{where}: paths[{i}]") for i, p in enumerate(data.get("paths") or ())
        ),
        exclude=tuple(_strings(data.get("exclude") or (), f"{where}: exclude")),
        namespace=data.get("namespace"),
        inventory=data.get("inventory"),
        output=_choice(data.get("output"), OUTPUTS, "output", where),
        color=_choice(data.get("color"), COLORS, "color", where),
        ignore=tuple(
            _ignore_rule(r, f"{where}: ignore[{i}]") for i, r in enumerate(data.get("ignore") or ())
        ),
        check_disable=tuple(_strings(check.get("disable") or (), f"{where}: check: disable")),
        check_strict=bool(check.get("strict", False)),
        prune=bool(sync.get("prune", False)),
        mass_prune_share=_share(sync.get("mass_prune_share", 0.5), f"{where}: sync"),
        record_namespace=str(sync.get("record_namespace") or "default"),
        wait=sync.get("wait"),
        timeout=_duration(sync["timeout"], f"{where}: sync: timeout")
        if "timeout" in sync
        else None,
        health=_health_rules(data["health"], where) if "health" in data else (),
        sources=parse_sources(data["sources"], where, _duration) if "sources" in data else (),
        source=source,
    )


def _health_rules(value: Any, where: str) -> tuple[Rule, ...]:
    from ambdiff.health import rules

    return rules.parse(value, f"{where}: health")


def _duration(value: Any, where: str) -> float:
    """`timeout: 5m` or `timeout: 90` (seconds)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        what = {bool: "a boolean", list: "a list", dict: "a mapping"}.get(type(value), "empty")
        raise ConfigError(f"{where} must be a duration such as 5m or 90s, not {what}.")
    return parse_interval(str(value), option=where)


def _choice(value: str | None, choices: Sequence[str], key: str, where: str) -> str | None:
    if value is None or value in choices:
        return value
    close = difflib.get_close_matches(value, choices, n=1)
    hint = f"Did you mean {close[0]!r}?" if close else "Use one of the values listed."
    raise ConfigError(f"{where}: {key!r} must be one of {', '.join(choices)}.", hint=hint)


def _path(value: Any, where: str) -> str:
    """A folder or file of the repository: relative to its root, never outside it (the
    same rule as PATH arguments)."""
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string (a folder or file of the repository).")
    try:
        return _clean(value, where)
    except ConfigError as e:
        raise ConfigError(
            f"{where}: each entry of 'paths' must be a folder or file inside the repository, "
            "relative to its root.",
            hint="Remove '..' and any leading '/'.",
        ) from e


def _strings(values: Sequence[Any], where: str) -> list[str]:
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise ConfigError(f"{where}[{i}] must be a string, not {type(value).__name__}.")
    return list(values)


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
    for i, pointer in enumerate(paths):
        if _BAD_ESCAPE.search(pointer):
            raise ConfigError(
                f"{where}: paths[{i}] has a '~' that is not ~0 or ~1: a JSON pointer (RFC 6901) "
                "writes '~' as ~0 and '/' as ~1, and allows no other escape.",
                hint="Write the key with ~0 and ~1, e.g. /metadata/annotations/a~1b for 'a/b'.",
            )
    return IgnoreRule(
        **{k: str(raw[k]) for k in ("group", "kind", "namespace", "name") if k in raw},
        paths=tuple(paths),
    )


def check_environment(
    known: Collection[str],
    environ: Mapping[str, str] = os.environ,
    *,
    flag_only: Mapping[str, str] | None = None,
) -> None:
    """Reject AMBDIFF_* variables that name no option. `known` are the variables the
    options read; `flag_only` maps the name an option without one would have to its flag."""
    for name in sorted(environ):
        if name in known and not environ[name].strip():
            # click takes an empty variable as unset: `AMBDIFF_REV=$BASE` with BASE unset
            # would silently read the working tree.
            raise ConfigError(
                f"environment variable {name} is set but empty: was it given an unset variable?",
                hint=f"Give {name} a value, or unset it.",
            )
        if not name.startswith("AMBDIFF_") or name in known:
            continue
        flag = (flag_only or {}).get(name)
        if flag:
            raise ConfigError(
                f"environment variable {name} is not read: {flag} has no environment variable.",
                hint=f"Unset it and pass {flag} on the command line.",
            )
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f"Did you mean {close[0]}?" if close else "Unset it."
        raise ConfigError(f"unknown environment variable {name}.", hint=hint)
