"""Which folders of a selection are rendered, and how: a folder with a kustomization file
is built with kustomize, a folder with Chart.yaml is rendered with helm; every other file is
read as written. Pure, on the list of the selection's file paths."""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ambdiff.errors import ConfigError
from ambdiff.sources import HelmRelease

KUSTOMIZATIONS = ("kustomization.yaml", "kustomization.yml", "Kustomization")
CHART = "Chart.yaml"


@dataclass(frozen=True)
class Unit:
    """One folder rendered by one tool."""

    tool: str  # "kustomize" | "helm"
    folder: str  # repository path ("." for the root)
    helm: HelmRelease | None = None

    @property
    def marker(self) -> str:
        return _join(self.folder, CHART if self.tool == "helm" else KUSTOMIZATIONS[0])


@dataclass(frozen=True)
class Plan:
    units: tuple[Unit, ...]
    consumed: tuple[str, ...]  # folders whose files are a unit's input, not manifests
    # A unit's folder -> the folders it reads: itself, and for a kustomization the bases and
    # components it names, transitively (what a pre-commit hook's changed file may affect).
    inputs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # A unit's folder -> a folder its kustomizations name outside the repository ("../x").
    escapes: Mapping[str, str] = field(default_factory=dict)

    def skips(self, path: str) -> bool:
        return any(_within(path, folder) for folder in self.consumed)


def make(
    files: Iterable[str],
    wanted: Sequence[str],
    *,
    render: str,
    helm: HelmRelease | None,
    exclude: Sequence[str],
    exists: Callable[[str], bool],
    references: Callable[[str], Sequence[str]],
) -> Plan:
    """The plan for the PATHs `wanted` (repository paths; () is the whole repository), of
    which `files` lists every file. `exists(path)` tells whether the source has a file there
    (for folders above a PATH); `references(kustomization)` are the folders a kustomization
    file names as resources or components, relative to its own folder."""
    if render == "dir":
        return Plan((), ())
    listed = list(files)
    charts = {posixpath.dirname(f) or "." for f in listed if posixpath.basename(f) == CHART}
    kustomized = {
        posixpath.dirname(f) or ".": f for f in listed if posixpath.basename(f) in KUSTOMIZATIONS
    }
    # A PATH inside a chart or a kustomization (a values file, a patch) renders that folder.
    for path in wanted or ["."]:
        for folder in _parents(path):
            if exists(_join(folder, CHART)):
                charts.add(folder)
            found = next((k for k in KUSTOMIZATIONS if exists(_join(folder, k))), None)
            if found is not None:
                kustomized.setdefault(folder, _join(folder, found))
    if render == "helm":
        return _explicit(wanted, charts, "helm", helm, exclude, exists, references)
    if render == "kustomize":
        return _explicit(wanted, set(kustomized), "kustomize", None, exclude, exists, references)
    # auto: a chart and everything below it is one unit (subcharts are its input); so is a
    # kustomization, less the kustomizations below it, which are candidates of their own.
    charts = {c for c in charts if not any(c != o and _within(c, o) for o in charts)}
    kustomized = {k: f for k, f in kustomized.items() if not any(_within(k, c) for c in charts)}

    def left_out(unit: Unit) -> bool:
        marker = kustomized.get(unit.folder) if unit.tool == "kustomize" else None
        return _excluded(unit, exclude) or any(fnmatch.fnmatch(marker or "", g) for g in exclude)

    bases = set()
    for folder, file in kustomized.items():
        if left_out(Unit("kustomize", folder)):
            continue  # never rendered: the bases it names are not used by it
        for ref in references(file):
            target = posixpath.normpath(_join(folder, ref))
            if target in kustomized and target != folder:
                bases.add(target)
    units = [Unit("helm", c, helm) for c in sorted(charts)]
    units += [Unit("kustomize", k) for k in sorted(kustomized) if k not in bases]
    units = [u for u in units if not left_out(u)]
    inputs, escapes = _all_inputs(units, exists, references)
    return Plan(tuple(units), tuple(sorted(charts | set(kustomized))), inputs, escapes)


MAX_INPUT_FOLDERS = 200  # a kustomization's bases and components, followed this far


def _all_inputs(
    units: Sequence[Unit],
    exists: Callable[[str], bool],
    references: Callable[[str], Sequence[str]],
) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    inputs: dict[str, tuple[str, ...]] = {}
    escapes: dict[str, str] = {}
    for unit in units:
        inputs[unit.folder], escape = _inputs(unit, exists, references)
        if escape:
            escapes[unit.folder] = escape
    return inputs, escapes


def _inputs(
    unit: Unit, exists: Callable[[str], bool], references: Callable[[str], Sequence[str]]
) -> tuple[tuple[str, ...], str]:
    """The folders `unit` reads, and the first reference out of the repository (or "")."""
    if unit.tool != "kustomize":
        return (unit.folder,), ""
    found = [unit.folder]
    escape = ""
    for folder in found:  # grows as it goes: breadth first
        if len(found) >= MAX_INPUT_FOLDERS:
            break
        marker = next((_join(folder, k) for k in KUSTOMIZATIONS if exists(_join(folder, k))), None)
        for ref in references(marker) if marker else ():
            target = posixpath.normpath(_join(folder, ref))
            if target == ".." or target.startswith(("../", "/")):
                escape = escape or f"{marker} names {ref}"
            elif target not in found:
                found.append(target)
    return tuple(found), escape


def _explicit(
    wanted: Sequence[str],
    found: set[str],
    tool: str,
    helm: HelmRelease | None,
    exclude: Sequence[str],
    exists: Callable[[str], bool],
    references: Callable[[str], Sequence[str]],
) -> Plan:
    """`render: helm` or `render: kustomize`: every PATH is (or is inside) such a folder."""
    units: list[Unit] = []
    for path in wanted or ["."]:
        folder = next((f for f in _parents(path) if f in found), None)
        if folder is None:
            what = "Chart.yaml" if tool == "helm" else "kustomization file"
            raise ConfigError(
                f"{path}: the source renders with {tool}, and this folder holds no {what}.",
                hint=f"Point the source's paths at the folder that holds its {what}, or "
                "remove `render:`.",
            )
        unit = Unit(tool, folder, helm)
        if unit not in units and not _excluded(unit, exclude):
            units.append(unit)
    inputs, escapes = _all_inputs(units, exists, references)
    return Plan(tuple(units), tuple(sorted(found)), inputs, escapes)


def _excluded(unit: Unit, exclude: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(p, g) for g in exclude for p in (unit.folder, unit.marker))


def _parents(path: str) -> list[str]:
    """`path` and the folders above it, nearest first, up to the repository root."""
    out = [path]
    while path not in (".", ""):
        path = posixpath.dirname(path) or "."
        out.append(path)
    return out


def _join(folder: str, name: str) -> str:
    return name if folder in (".", "") else f"{folder}/{name}"


def _within(path: str, folder: str) -> bool:
    return folder in (".", "") or path == folder or path.startswith(folder + "/")


def kustomization_references(data: object) -> list[str]:
    """The local folders a kustomization names (resources, bases, components): entries that
    are not URLs and not files of their own folder."""
    if not isinstance(data, Mapping):
        return []
    out: list[str] = []
    for key in ("resources", "bases", "components"):
        entries = data.get(key)
        for entry in entries if isinstance(entries, list) else ():
            local = isinstance(entry, str) and "://" not in entry and not entry.startswith("git@")
            if local and not str(entry).endswith((".yaml", ".yml", ".json")):
                out.append(str(entry))
    return out
