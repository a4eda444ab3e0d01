"""Read everything `check` and `routes` look at: the objects in the files, the Ambassador
resources inside annotations, and the files' text, for pointing findings at a line."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from ambdiff import ambassador
from ambdiff.check.annotations import expand
from ambdiff.desired import Reader, Request, Tools
from ambdiff.desired import read as read_desired
from ambdiff.errors import ManifestError
from ambdiff.gitsource import FileError, SourceFile
from ambdiff.kinds import AMBASSADOR_GROUP, crd_scopes, offline_namespaced
from ambdiff.manifests import ManifestProblem, RawObject, identify
from ambdiff.model import JSON, ObjectId, Origin, Resource, Segment

OnProblem = Callable[[ManifestProblem], None]
_NO_ORIGIN = Origin("", 0)


@dataclass
class Declared:
    """What git declares, as Emissary would see it: check's model of the desired objects
    (the word "inventory" is kept for the set of objects a source owns in the cluster)."""

    resources: list[Resource]  # every Kubernetes object, as written
    ambassador: list[Resource]  # getambassador.io objects: CRDs and annotation documents
    from_annotation: set[int] = field(default_factory=set)  # id() of annotation documents
    texts: dict[str, list[str]] = field(default_factory=dict)  # file -> its lines
    files: int = 0
    # A rendered folder -> the repository paths it reads (see ambdiff.desired.Desired).
    inputs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _tuples: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    def line_of(
        self, resource: Resource, path: Sequence[Segment] = (), value: str | None = None
    ) -> int:
        """The line of `path` inside `resource` (with `value`: the first line below it that
        holds that value), as near as the text tells; else the object's first line."""
        origin = resource.origin
        if origin is None:
            return 0
        keys = [s for s in path if isinstance(s, str)]
        if self.is_flat(resource) and keys[:1] in (["spec"], ["metadata"]):
            keys = keys[1:]
        lines = self._lines(origin.file)
        if not lines or not keys:
            return origin.line
        line = locate(lines, origin.line, tuple(keys))
        if value is not None:
            line = _line_with(lines, line, value)
        return line

    def is_flat(self, resource: Resource) -> bool:
        """An annotation document: no metadata/spec levels in its text."""
        return id(resource) in self.from_annotation

    def _lines(self, file: str) -> tuple[str, ...]:
        cached = self._tuples.get(file)
        if cached is None:
            cached = self._tuples[file] = tuple(self.texts.get(file, ()))
        return cached


def load(
    source: Reader,
    requests: Sequence[Request],
    *,
    tools: Tools,
    default_namespace: str,
    exclude: Sequence[str] = (),
    on_problem: OnProblem,
    extra: Sequence[SourceFile] = (),
) -> Declared:
    """Read (and render) `requests` from `source`, each file once. Problems (a file that
    cannot be read, YAML, missing fields, duplicates, annotation YAML, a folder that does not
    render) go to `on_problem`; a missing path raises ManifestError."""
    unreadable: list[str] = []

    def skip(file: str, error: ManifestError) -> None:
        unreadable.append(file)
        on_problem(_unreadable(file, error))

    desired = read_desired(
        source,
        requests,
        tools=tools,
        exclude=exclude,
        on_problem=on_problem,
        on_unreadable=skip,
        extra=extra,
    )
    declared = build(
        desired.objects, desired.texts, default_namespace=default_namespace, on_problem=on_problem
    )
    declared.files = desired.files + len(unreadable)
    declared.inputs = desired.inputs
    return declared


def _unreadable(file: str, error: ManifestError) -> ManifestProblem:
    if isinstance(error, FileError):
        problem, line = error.problem, error.line or 1
    else:
        problem, line = error.message.removeprefix(f"{file}: "), 1
    hint = f" {error.hint}" if error.hint else ""
    return ManifestProblem(
        "unreadable-file",
        f"{problem.rstrip('.')}; nothing in it is read.{hint}",
        file=file,
        line=line,
    )


def from_resources(resources: Iterable[Resource], *, default_namespace: str) -> Declared:
    """What objects that have no files declare (the live cluster's, for `routes --live`)."""
    listed = list(resources)
    ambassador_objects = [r for r in listed if r.id.group == AMBASSADOR_GROUP]
    declared = Declared(listed, ambassador_objects)
    seen = _by_id(ambassador_objects)
    for resource in listed:
        if ambassador.reads_annotation(resource.api_version, resource.id.kind):
            owner = RawObject(resource.body, resource.origin or _NO_ORIGIN)
            expanded = expand(owner, namespace=resource.id.namespace or default_namespace)
            _add_annotation_objects(declared, expanded.objects, seen, lambda p: None)
    return declared


def build(
    raw: Sequence[RawObject],
    texts: dict[str, list[str]],
    *,
    default_namespace: str,
    on_problem: OnProblem,
) -> Declared:
    crds = crd_scopes([o.body for o in raw])
    resources = identify(
        raw,
        namespaced=lambda group, _version, kind: offline_namespaced(group, kind, crds),
        default_namespace=default_namespace,
        on_problem=on_problem,
    )
    declared = Declared(
        resources,
        [r for r in resources if r.id.group == AMBASSADOR_GROUP],
        texts=texts,
        files=len(texts),
    )
    seen = _by_id(declared.ambassador)
    for resource in resources:
        if not ambassador.reads_annotation(resource.api_version, resource.id.kind):
            continue
        assert resource.origin is not None
        expanded = expand(
            RawObject(resource.body, resource.origin),
            namespace=resource.id.namespace or default_namespace,
            file_lines=texts.get(resource.origin.file, ()),
        )
        for problem in expanded.problems:
            on_problem(problem)
        _add_annotation_objects(declared, expanded.objects, seen, on_problem)
    return declared


def _by_id(resources: Iterable[Resource]) -> dict[ObjectId, list[Resource]]:
    out: dict[ObjectId, list[Resource]] = {}
    for resource in resources:
        out.setdefault(resource.id, []).append(resource)
    return out


def _add_annotation_objects(
    declared: Declared,
    objects: Iterable[RawObject],
    seen: dict[ObjectId, list[Resource]],
    on_problem: OnProblem,
) -> None:
    """Annotation documents share one name space per kind and namespace with the CRDs; a
    clash only matters between resources that one Ambassador installation reads."""
    for obj in objects:
        meta = obj.body["metadata"]
        oid = ObjectId(
            AMBASSADOR_GROUP, str(obj.body["kind"]), meta["namespace"], str(meta["name"])
        )
        resource = Resource(oid, str(obj.body["apiVersion"]), obj.body, obj.origin)
        ids = ambassador.ambassador_ids(obj.body)
        clash = next(
            (r for r in seen.get(oid, ()) if ids & ambassador.ambassador_ids(r.body)), None
        )
        if clash is not None:
            on_problem(
                ManifestProblem(
                    "duplicate-object",
                    f"{oid} is defined twice (first at {clash.origin})",
                    file=obj.origin.file,
                    line=obj.origin.line,
                    hint="Keep one definition.",
                )
            )
            continue
        seen.setdefault(oid, []).append(resource)
        declared.ambassador.append(resource)
        declared.from_annotation.add(id(resource))


@lru_cache(maxsize=4096)
def locate(lines: tuple[str, ...], start: int, keys: tuple[str, ...]) -> int:
    """The line of the nested key path `keys` in the YAML document starting at line
    `start`, found by indentation; the deepest key found wins. Text-based on purpose: the
    fast loader keeps only each document's first line."""
    line, column = start, -1
    index = start - 1
    for key in keys:
        pattern = _key_pattern(key)
        found = False
        for i in range(index, len(lines)):
            if i > start - 1 and lines[i].startswith(("---", "...")):
                return line
            match = pattern.match(lines[i])
            if match and match.start(2) > column:
                line, column, index, found = i + 1, match.start(2), i + 1, True
                break
        if not found:
            return line
    return line


def _line_with(lines: Sequence[str], start: int, value: str) -> int:
    pattern = re.compile(
        r"""(?:^|[:\s,{\[-])["']?""" + re.escape(value) + r"""["']?\s*(?:[,}\]#]|$)"""
    )
    for i in range(max(start - 1, 0), len(lines)):
        if i > start - 1 and lines[i].startswith("---"):
            break
        if pattern.search(lines[i]):
            return i + 1
    return start


@lru_cache(maxsize=1024)
def _key_pattern(key: str) -> re.Pattern[str]:
    return re.compile(r"""^(\s*(?:-\s+)*)(["']?)""" + re.escape(key) + r"""\2\s*:(?:\s|$)""")


def spec_of(resource: Resource) -> Mapping[str, JSON]:
    spec = resource.body.get("spec")
    return spec if isinstance(spec, Mapping) else {}
