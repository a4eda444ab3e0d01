"""Desired state: the objects a selection of the repository holds, read as written or
rendered by the real tools (kustomize, helm), each traced back to the file it came from.

Every command reads git through `read`: diff, sync and watch, check and routes. `exclude`
globs leave files (and rendered folders) out before anything is read or parsed.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from ambdiff.desired import helm, kustomize, masking
from ambdiff.desired.plan import Plan, Unit, kustomization_references, make
from ambdiff.desired.tools import RenderError, Tools
from ambdiff.errors import ManifestError
from ambdiff.gitsource import OnUnreadable, Skip, SourceFile, links_out, read_file
from ambdiff.manifests import (
    ManifestProblem,
    OnProblem,
    RawObject,
    parse_file,
    parse_files,
    unique_files,
)
from ambdiff.sources import HelmRelease
from ambdiff.yamlio import YamlSyntaxError, load_one

__all__ = ["Desired", "RenderError", "Request", "Tools", "read"]

log = logging.getLogger(__name__)


class Reader(Protocol):
    """Where the files are: the working tree, or a git revision (gitsource)."""

    description: str

    def files(
        self,
        paths: Sequence[str],
        on_unreadable: OnUnreadable | None = None,
        skip: Skip | None = None,
    ) -> Iterable[SourceFile]: ...

    def listing(self, paths: Sequence[str]) -> Iterable[str]: ...

    def exists(self, path: str) -> bool: ...

    def has(self, path: str) -> bool: ...

    def folder(self) -> Path: ...


@dataclass(frozen=True)
class Request:
    """Part of a source to read: its PATHs, how they render, and the namespace its source
    declares (a chart is rendered for it, `helm template --namespace`, else for `default`)."""

    paths: tuple[str, ...]
    render: str = "auto"
    helm: HelmRelease | None = None
    namespace: str | None = None  # declared: objects that name none are in it
    # A declared source read whole (check, routes): a path the revision does not have yet
    # (a source added since) is read as empty, not an error.
    missing_ok: bool = False


@dataclass
class Desired:
    objects: list[RawObject] = field(default_factory=list)
    texts: dict[str, list[str]] = field(default_factory=dict)  # each file read as written
    rendered: list[Unit] = field(default_factory=list)
    # A rendered folder -> the repository paths it reads (itself, its values files).
    inputs: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def files(self) -> int:
        return len(self.texts) + len(self.rendered)


def excluded(path: str, exclude: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(path, glob) for glob in exclude)


def read(
    source: Reader,
    requests: Sequence[Request],
    *,
    tools: Tools,
    exclude: Sequence[str] = (),
    on_problem: OnProblem | None = None,
    on_unreadable: OnUnreadable | None = None,
    extra: Sequence[SourceFile] = (),
) -> Desired:
    """Every object of `requests`, each file and each rendered folder once. Without
    `on_problem`, the first problem is raised (a render failure too); with it, problems
    become findings and the rest is still read. `extra`: files from outside the repository
    (standard input), read as written."""
    out = Desired()
    for file in extra:
        out.texts[file.path] = file.text.splitlines()
        out.objects.extend(parse_file(file, on_problem or _raise))
    seen: set[tuple[Unit, str]] = set()
    for request in requests:
        if request.missing_ok and request.paths:
            present = tuple(p for p in request.paths if source.has(p))
            if not present:
                log.info(
                    "%s: not in %s (read as empty)", ", ".join(request.paths), source.description
                )
                continue
            request = replace(request, paths=present)
        plan = _plan(source, request, exclude)

        def skip(path: str, plan: Plan = plan) -> bool:
            return excluded(path, exclude) or plan.skips(path)

        files = list(_new(unique_files(source.files(request.paths, on_unreadable, skip)), out))
        for file in files:
            out.texts[file.path] = file.text.splitlines()
        found = parse_files(files, on_problem or _raise)
        for unit in plan.units:
            namespace = request.namespace or "default"
            if (unit, namespace) in seen:
                continue
            seen.add((unit, namespace))
            out.rendered.append(unit)
            values = unit.helm.values if unit.helm else ()
            # (One chart may render for two sources, each with its values: all are inputs.)
            reads = (*plan.inputs.get(unit.folder, (unit.folder,)), *values)
            out.inputs[unit.folder] = tuple(
                dict.fromkeys((*out.inputs.get(unit.folder, ()), *reads))
            )
            try:
                if unit.folder in plan.escapes:
                    raise RenderError(
                        f"{plan.escapes[unit.folder]}, a folder outside the repository: what "
                        f"{unit.folder} renders must be in git.",
                        hint="Move the folder into the repository (or name it as a remote "
                        "resource, a URL with a ref).",
                    )
                _warn_excluded_inputs(source, unit, plan, exclude)
                found.extend(
                    _render(
                        source,
                        unit,
                        namespace,
                        tools,
                        on_problem,
                        plan.inputs.get(unit.folder, (unit.folder,)),
                    )
                )
            except RenderError as e:
                if on_problem is None:
                    raise
                on_problem(
                    ManifestProblem(
                        "render-failed",
                        e.message.rstrip("."),
                        file=unit.marker,
                        line=1,
                        hint=e.hint,
                    )
                )
        if request.namespace:
            found = [replace(o, namespace=request.namespace) for o in found]
        out.objects.extend(found)
    return out


def _warn_excluded_inputs(source: Reader, unit: Unit, plan: Plan, exclude: Sequence[str]) -> None:
    """`exclude` leaves out what ambdiff reads; the tool reads what the folder names, so an
    excluded file among its inputs is read all the same: say so."""
    if not exclude:
        return
    inputs = plan.inputs.get(unit.folder, (unit.folder,))
    hit = next((f for f in inputs if excluded(f, exclude)), None) or next(
        (p for p in source.listing(inputs) if excluded(p, exclude)), None
    )
    if hit is not None:
        log.warning(
            "warning: %s renders from %s, which `exclude` names: %s reads it all the same "
            "(exclude leaves out only what ambdiff reads itself).",
            unit.folder,
            hit,
            unit.tool,
        )


def _raise(problem: ManifestProblem) -> None:
    raise problem


def _new(files: Iterator[SourceFile], out: Desired) -> Iterator[SourceFile]:
    for file in files:
        if file.path not in out.texts:
            yield file


def _plan(source: Reader, request: Request, exclude: Sequence[str]) -> Plan:
    def references(kustomization: str) -> Sequence[str]:
        found = list(source.files([kustomization]))
        if not found:
            return []
        try:
            return kustomization_references(load_one(found[0].text, kustomization))
        except YamlSyntaxError:
            return []  # kustomize says what is wrong with it, when it builds the folder

    if request.render == "dir":
        return Plan((), ())
    return make(
        source.listing(request.paths),  # all of it: an excluded marker still marks a folder
        request.paths,
        render=request.render,
        helm=request.helm,
        exclude=exclude,
        exists=source.exists,
        references=references,
    )


def _render(
    source: Reader,
    unit: Unit,
    namespace: str,
    tools: Tools,
    on_problem: OnProblem | None,
    inputs: Sequence[str],
) -> list[RawObject]:
    root = source.folder()
    problems = on_problem or _raise
    outside = links_out(root, inputs)
    if outside:
        raise RenderError(
            f"{outside[0]}: a symbolic link out of the repository, in {unit.folder}: "
            f"{unit.tool} would read what it points to.",
            hint="Replace the link with the file it points to, or remove it.",
        )

    def secrets() -> set[str]:
        return masking.values(unit, root, inputs)

    if unit.tool == "helm":
        return helm.render(unit.folder, root, unit.helm, namespace, tools, problems, secrets)
    cache: dict[str, dict[tuple[str, str], int]] = {}

    def lines(file: str) -> dict[tuple[str, str], int]:
        if file not in cache:
            try:
                cache[file] = kustomize.document_lines(read_file(root / file, file), file)
            except ManifestError:
                cache[file] = {}
        return cache[file]

    return kustomize.render(unit.folder, root, tools, lines, problems, secrets)
