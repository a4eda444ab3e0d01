"""Sources: the units of deployment ambdiff owns objects for. Pure.

A source is a name, the paths in the repository that hold its manifests, a default
namespace, and how its folders are rendered: read as written (`dir`), built with kustomize
(a folder with a kustomization file, found by itself), or rendered with `helm template` (a
folder with Chart.yaml; a `helm:` block names the release, values files and `--set` values). `.ambdiff.yaml` may declare several under `sources:` (one per team folder or per
environment); without a declaration the repository (or `paths:`) is one source named
`default`. Each source is one inventory: what its syncs recorded in the cluster is what its
prune may delete, and nothing else.

A command reads a whole source, or less: PATH arguments inside a source narrow what is shown
and applied, but a narrowed run never prunes and never calls objects outside its PATHs
"removed" — those are simply outside the paths you named.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ambdiff.errors import ConfigError

DEFAULT = "default"
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")
_LABEL_MAX = 63  # a label value, and so an inventory name


RENDERERS = ("auto", "dir", "kustomize", "helm")


@dataclass(frozen=True)
class HelmRelease:
    """How a source's chart is rendered: `helm template RELEASE CHART -f VALUES... --set K=V`."""

    release: str | None = None  # default: the chart folder's name
    values: tuple[str, ...] = ()  # repository paths, applied after the chart's values.yaml
    set: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Source:
    name: str
    paths: tuple[str, ...]  # relative to the repository root; () is the whole repository
    namespace: str | None = None
    inventory: str | None = None  # an explicit inventory name (else derived, see inventory_name)
    render: str = "auto"  # one of RENDERERS; auto: by what each folder holds
    helm: HelmRelease | None = None
    prune: bool | None = None  # this source's `sync.prune`; None: the file's
    interval: float | None = None  # seconds between `watch` rounds of it; None: --interval

    def contains(self, path: str) -> bool:
        return not self.paths or any(_within(path, p) for p in self.paths)


@dataclass(frozen=True)
class Selection:
    """What one command reads: a source, and the PATHs it was narrowed to (none: all of it)."""

    source: Source
    paths: tuple[str, ...]
    narrowed: bool

    @property
    def read_paths(self) -> tuple[str, ...]:
        return self.paths if self.narrowed else self.source.paths


def _seconds(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{where} {text!r} is not a duration (a number of seconds).") from None


def parse(
    raw: Any, where: str, duration: Callable[[str, str], float] = _seconds
) -> tuple[Source, ...]:
    """`sources:` from a settings file; `duration(text, where)` reads an `interval`."""
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{where}: sources must be a non-empty list of {{name, paths}}.")
    found: list[Source] = []
    for i, item in enumerate(raw):
        at = f"{where}: sources[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{at} must be a mapping with name and paths.")
        unknown = set(item) - set(_SOURCE_KEYS)
        if unknown:
            raise _unknown_key(str(sorted(unknown)[0]), _SOURCE_KEYS, at)
        name = item.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigError(f"{at}: name must be 1-40 lower-case letters, digits and '-'.")
        paths = item.get("paths")
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            raise ConfigError(f"{at} ({name}): paths must be a non-empty list of folders or files.")
        clean = tuple(_clean(p, f"{at} ({name})") for p in paths)
        namespace = item.get("namespace")
        inventory = item.get("inventory")
        for key, value in (("namespace", namespace), ("inventory", inventory)):
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{at} ({name}): {key} must be a string.")
        if any(s.name == name for s in found):
            raise ConfigError(f"{at}: a second source named {name!r}.")
        render, helm = _rendering(item, f"{at} ({name})")
        prune = item.get("prune")
        if prune is not None and not isinstance(prune, bool):
            raise ConfigError(f"{at} ({name}): prune must be true or false.")
        found.append(
            Source(
                name,
                clean,
                namespace,
                inventory,
                render,
                helm,
                prune,
                _interval(item.get("interval"), f"{at} ({name}): interval", duration),
            )
        )
    for a in found:
        for b in found:
            if a is b or (a.namespace and b.namespace and a.namespace != b.namespace):
                continue  # one folder applied to two namespaces: two deployments
            if any(_within(p, q) for p in a.paths for q in b.paths):
                raise ConfigError(
                    f"{where}: sources {a.name!r} and {b.name!r} overlap "
                    f"({next(p for p in a.paths if any(_within(p, q) for q in b.paths))} is in both).",
                    hint="Each manifest belongs to one source (unless the two sources set "
                    "different namespaces): one inventory owns each object.",
                )
    return tuple(found)


_SOURCE_KEYS = ("name", "paths", "namespace", "inventory", "render", "helm", "prune", "interval")


def _interval(value: Any, where: str, duration: Callable[[str, str], float]) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"{where} must be a duration such as 30s or 5m.")
    return duration(str(value), where)


def _unknown_key(key: str, known: Sequence[str], at: str) -> ConfigError:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"Did you mean {close[0]!r}?" if close else f"Known keys: {', '.join(known)}."
    return ConfigError(f"{at}: unknown key {key!r}.", hint=hint)


def _rendering(item: Mapping[str, Any], at: str) -> tuple[str, HelmRelease | None]:
    render = item.get("render", "helm" if "helm" in item else "auto")
    if render not in RENDERERS:
        raise ConfigError(
            f"{at}: render must be one of {', '.join(RENDERERS)}.",
            hint="auto (the default) renders a folder with a kustomization file with kustomize "
            "and a folder with Chart.yaml with helm, and reads other files as written.",
        )
    raw = item.get("helm")
    if raw is None:
        return render, (HelmRelease() if render == "helm" else None)
    if render != "helm":
        raise ConfigError(f"{at}: a helm block needs render: helm (or no render key).")
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{at}: helm must be a mapping with release, values and set.")
    unknown = set(raw) - {"release", "values", "set"}
    if unknown:
        raise _unknown_key(str(sorted(unknown)[0]), ("release", "values", "set"), f"{at}: helm")
    release = raw.get("release")
    if release is not None and (not isinstance(release, str) or not _RELEASE.match(release)):
        raise ConfigError(
            f"{at}: helm: release must be a Helm release name (lower-case letters, digits, "
            "'-' and '.', at most 53).",
        )
    values = raw.get("values") or []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{at}: helm: values must be a list of values files in the repository.")
    sets = raw.get("set") or {}
    if not isinstance(sets, Mapping) or not all(
        isinstance(k, str) and k and isinstance(v, str | int | float | bool)
        for k, v in sets.items()
    ):
        raise ConfigError(
            f"{at}: helm: set must map value names to strings, numbers or booleans "
            "(as `helm template --set name=value`).",
            hint='For example set: {image.tag: "1.2.3", replicaCount: 2}.',
        )
    text = {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in sets.items()}
    return render, HelmRelease(
        release,
        tuple(_clean(v, f"{at}: helm: values") for v in values),
        tuple(sorted(text.items())),
    )


_RELEASE = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,51}[a-z0-9])?$")


def select(
    declared: Sequence[Source],
    args: Sequence[str],
    *,
    default_paths: Sequence[str] = (),
    names: Sequence[str] = (),
) -> Selection:
    """The source a command reads. `args` are repository-relative PATHs; `names` are source
    names given instead of PATHs."""
    if not declared:
        whole = Source(DEFAULT, tuple(default_paths))
        if names:
            raise ConfigError(
                f"no source named {names[0]!r}: .ambdiff.yaml declares no sources.",
                hint="Pass PATHs, or declare sources in .ambdiff.yaml.",
            )
        return _narrow(whole, args)
    if names:
        if len(names) > 1 or args:
            raise ConfigError("name one source at a time (or PATHs inside one source).")
        chosen = next((s for s in declared if s.name == names[0]), None)
        if chosen is None:
            known = ", ".join(s.name for s in declared)
            raise ConfigError(f"no source named {names[0]!r}.", hint=f"Sources: {known}.")
        return Selection(chosen, chosen.paths, narrowed=False)
    if not args:
        if len(declared) == 1:
            return Selection(declared[0], declared[0].paths, narrowed=False)
        known = ", ".join(s.name for s in declared)
        raise ConfigError(
            f".ambdiff.yaml declares {len(declared)} sources; name the one to use.",
            hint=f"For example `ambdiff sync {declared[0].name}` (sources: {known}).",
        )
    owners = {s.name: s for a in args for s in declared if s.contains(a)}
    homeless = [a for a in args if not any(s.contains(a) for s in declared)]
    if homeless:
        listing = "; ".join(f"{s.name}: {', '.join(s.paths)}" for s in declared)
        raise ConfigError(
            f"{homeless[0]}: in none of the sources .ambdiff.yaml declares.",
            hint=f"Sources: {listing}.",
        )
    if len(owners) > 1:
        raise ConfigError(
            f"the PATHs are in {len(owners)} sources ({', '.join(sorted(owners))}); each run "
            "reads one source.",
            hint="Run once per source, e.g. `ambdiff sync " + sorted(owners)[0] + "`.",
        )
    return _narrow(next(iter(owners.values())), args)


def inventory_name(source: Source, repo_identity: str, folder: str) -> str:
    """The inventory of a source: an explicit name, else one derived from the repository's
    identity and the source's name, so that two repositories that share a folder name (or
    two sources in one repository) never share an inventory by accident."""
    if source.inventory:
        return source.inventory
    if not repo_identity:
        raise ConfigError(
            "cannot derive an inventory name: the repository has no origin remote and no "
            "history to identify it by (a shallow clone?).",
            hint="Set `inventory:` in .ambdiff.yaml (or pass --inventory).",
        )
    digest = hashlib.sha256(f"{repo_identity}\0{source.name}".encode()).hexdigest()[:10]
    stem = re.sub(r"[^a-z0-9-]+", "-", folder.lower()).strip("-") or "repo"
    if source.name != DEFAULT:
        stem = f"{stem}-{source.name}"
    return f"{stem[: _LABEL_MAX - len(digest) - 1].rstrip('-')}-{digest}"


def _narrow(source: Source, args: Sequence[str]) -> Selection:
    wanted = tuple(_clean(a, "PATH") for a in args)
    if not wanted or all(any(_within(p, w) for w in wanted) for p in source.paths or (".",)):
        # The PATHs cover the whole source (or there are none): not narrowed.
        return Selection(source, source.paths, narrowed=False)
    outside = [w for w in wanted if not source.contains(w)]
    if outside:
        raise ConfigError(
            f"{outside[0]}: outside the paths of source {source.name!r} ({', '.join(source.paths)}).",
            hint="Name PATHs inside it, or change `paths` in .ambdiff.yaml.",
        )
    return Selection(source, wanted, narrowed=True)


def _clean(path: str, where: str) -> str:
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts or path.startswith("/"):
        raise ConfigError(f"{where}: {path!r} must be a path inside the repository.")
    return "/".join(parts) or "."


def _within(path: str, folder: str) -> bool:
    """Whether repository path `path` is `folder` or inside it ("." is the whole repository)."""
    return folder == "." or path == folder or path.startswith(folder.rstrip("/") + "/")
