"""Desired state: read manifests from a source (working tree or git revision), expand
`kind: List`, check the essentials, and give every object its identity and origin."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ambdiff.errors import ManifestError
from ambdiff.gitsource import OnUnreadable, SourceFile
from ambdiff.model import (
    JSON,
    ObjectId,
    Origin,
    Resource,
    Sealed,
    format_path,
    split_api_version,
    type_name,
)
from ambdiff.secrets import seal
from ambdiff.yamlio import Document, YamlSyntaxError, load_file, load_files


class Source(Protocol):
    description: str

    def files(
        self, paths: Sequence[str], on_unreadable: OnUnreadable | None = None
    ) -> Iterable[SourceFile]: ...


class ManifestProblem(ManifestError):
    """A manifest that breaks a rule; `check` reports these as findings, other commands
    stop on the first one."""

    def __init__(
        self,
        rule: str,
        message: str,
        *,
        file: str,
        line: int,
        column: int | None = None,
        hint: str = "",
    ) -> None:
        where = (f"{file}:{line}" if line else file) + (f":{column}" if column and line else "")
        super().__init__(f"{where}: {message.rstrip('.')}.", hint=hint)
        self.rule = rule
        self.file = file
        self.line = line
        self.column = column
        self.problem = message


@dataclass(frozen=True)
class RawObject:
    """A document that looks like a Kubernetes object, before it has an identity."""

    body: Mapping[str, JSON]
    origin: Origin
    namespace: str = ""  # the namespace its source declares, for an object that names none


OnProblem = Callable[[ManifestProblem], None]


def _raise(problem: ManifestProblem) -> None:
    raise problem


def read(source: Source, paths: Sequence[str], on_problem: OnProblem = _raise) -> list[RawObject]:
    """Every object in the files below `paths`. A problem is passed to `on_problem`
    (default: raised) and the offending document skipped."""
    return parse_files(list(unique_files(source.files(paths))), on_problem)


def parse_files(files: Sequence[SourceFile], on_problem: OnProblem = _raise) -> list[RawObject]:
    """`parse_file` of each file, in order; a big set is parsed by two processes
    (`yamlio.load_files`)."""
    loaded = load_files([(file.path, file.text) for file in files])
    objects: list[RawObject] = []
    for file, documents in zip(files, loaded, strict=True):
        objects.extend(parse_file(file, on_problem, documents))
    return objects


def unique_files(files: Iterable[SourceFile]) -> Iterator[SourceFile]:
    """Each file once, in order: `a.yaml a.yaml` or `dir dir/a.yaml` name one file twice,
    and reading it twice would define its objects twice."""
    seen: set[str] = set()
    for file in files:
        if file.path not in seen:
            seen.add(file.path)
            yield file


def parse_file(
    file: SourceFile, on_problem: OnProblem = _raise, documents: list[Document] | None = None
) -> list[RawObject]:
    """The objects of one file; `documents`: the file already loaded (`yamlio.load_files`)."""
    try:
        if documents is None:
            documents = load_file(file.text, file.path)
    except YamlSyntaxError as e:
        on_problem(
            ManifestProblem(
                "yaml-syntax",
                e.problem,
                file=e.file,
                line=e.line,
                column=e.column,
                hint="Fix the YAML and run again.",
            )
        )
        return []
    objects: list[RawObject] = []
    for doc in documents:
        origin = Origin(file.path, doc.line, doc.index)
        items = _list_items(doc.data)
        if items is None:
            candidates = [(doc.data, origin)]
        else:
            lines = doc.item_lines or (doc.line,) * len(items)
            candidates = [
                (item, Origin(file.path, line, doc.index))
                for item, line in zip(items, lines, strict=False)
            ]
        for raw, where in candidates:
            body = seal(raw)
            problem = _essentials(body, where)
            if problem is None:
                objects.append(RawObject(body, where))
            else:
                on_problem(problem)
    return objects


def _list_items(data: JSON) -> list[JSON] | None:
    if (
        isinstance(data, Mapping)
        and str(data.get("kind", "")).endswith("List")
        and isinstance(data.get("items"), list)
    ):
        return list(data["items"])
    return None


def _essentials(body: JSON, origin: Origin) -> ManifestProblem | None:
    if not isinstance(body, Mapping):
        return ManifestProblem(
            "missing-field",
            f"expected a Kubernetes object (a mapping), found {type(body).__name__}",
            file=origin.file,
            line=origin.line,
        )
    metadata = body.get("metadata")
    fields = {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata.name": metadata.get("name") if isinstance(metadata, Mapping) else None,
    }
    missing = [f for f, value in fields.items() if value is None or value == ""]
    # A value of the wrong type is named by its type only: it may be a secret.
    wrong = [(f, v) for f, v in fields.items() if f not in missing and not isinstance(v, str)]
    if metadata is not None and not isinstance(metadata, Mapping):
        wrong.insert(0, ("metadata", metadata))
    elif isinstance(metadata, Mapping) and not isinstance(metadata.get("namespace") or "", str):
        wrong.append(("metadata.namespace", metadata["namespace"]))
    maps = ("metadata.labels", "metadata.annotations")  # maps of strings, as the API server says
    for part in ("labels", "annotations"):
        values = metadata.get(part) if isinstance(metadata, Mapping) else None
        if values is not None and not isinstance(values, Mapping):
            wrong.append((f"metadata.{part}", values))
        for key, value in values.items() if isinstance(values, Mapping) else ():
            text = value.reveal() if isinstance(value, Sealed) else value
            if not isinstance(text, str):
                wrong.append((format_path(("metadata", part, str(key))), text))
                break
    if not missing and not wrong:
        return None
    what = body.get("kind") if isinstance(body.get("kind"), str) and body["kind"] else "object"
    if wrong:
        field, value = wrong[0]
        in_map = field.startswith(maps)
        expected = "a mapping" if field in ("metadata", *maps) else "a string"
        scalar = expected == "a string" and not isinstance(value, Mapping | list)
        quote = " (quote it)" if in_map and scalar else ""
        return ManifestProblem(
            "schema" if in_map else "missing-field",
            f"{what}: {field} is {type_name(value)}, not {expected}{quote}",
            file=origin.file,
            line=origin.line,
            hint=f"Write {field} as {expected}.",
        )
    return ManifestProblem(
        "missing-field",
        f"{what} has no {', '.join(missing)}",
        file=origin.file,
        line=origin.line,
        hint="Every manifest needs apiVersion, kind and metadata.name.",
    )


def identify(
    raw: Sequence[RawObject],
    *,
    namespaced: Callable[[str, str, str], bool],
    default_namespace: str,
    on_problem: OnProblem = _raise,
) -> list[Resource]:
    """Give each object its identity. `namespaced(group, version, kind)` says its scope.
    The same identity twice is a problem naming both origins."""
    seen: dict[ObjectId, Resource] = {}
    unknown: dict[tuple[str, str], tuple[ManifestError, list[str]]] = {}
    for obj in raw:
        api_version = obj.body["apiVersion"]
        group, version = split_api_version(api_version)
        kind = obj.body["kind"]
        meta = obj.body["metadata"]
        ns = ""
        try:
            is_namespaced = namespaced(group, version, kind)
        except ManifestError as e:  # an unknown kind: said once, with every manifest naming it
            unknown.setdefault((api_version, kind), (e, []))[1].append(str(obj.origin))
            continue
        if is_namespaced:
            ns = meta.get("namespace") or obj.namespace or default_namespace
        oid = ObjectId(group, kind, ns, meta["name"])
        if oid in seen:
            first = seen[oid].origin
            on_problem(
                ManifestProblem(
                    "duplicate-object",
                    f"{oid} is defined twice (first at {first})",
                    file=obj.origin.file,
                    line=obj.origin.line,
                    hint="Keep one definition.",
                )
            )
            continue
        seen[oid] = Resource(oid, api_version, obj.body, obj.origin)
    if unknown:
        raise _unknown_kinds(unknown)
    return list(seen.values())


def _unknown_kinds(
    unknown: Mapping[tuple[str, str], tuple[ManifestError, list[str]]],
) -> ManifestError:
    """One error for every object of a kind the cluster does not serve: each kind once, with
    the manifests that name it (the first few, then a count)."""

    def where(origins: list[str]) -> str:
        shown = ", ".join(origins[:3])
        return shown + (f" and {len(origins) - 3} more" if len(origins) > 3 else "")

    (first, origins), *others = unknown.values()
    if not others and len(origins) == 1:
        return ManifestError(f"{origins[0]}: {first.message}", hint=first.hint)
    count = sum(len(o) for _, o in unknown.values())
    parts = [f"{e.message.rstrip('.')} ({where(o)})" for e, o in unknown.values()]
    hints = list(dict.fromkeys(e.hint for e, _ in unknown.values() if e.hint))
    return ManifestError(
        f"{count} objects are of kinds the cluster does not serve: " + "; ".join(parts) + ".",
        hint=" ".join(hints),
    )
