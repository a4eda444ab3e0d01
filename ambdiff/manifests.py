"""Desired state: read manifests from a source (working tree or git revision), expand
`kind: List`, check the essentials, and give every object its identity and origin."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ambdiff.errors import ManifestError
from ambdiff.gitsource import SourceFile
from ambdiff.model import JSON, ObjectId, Origin, Resource, split_api_version
from ambdiff.yamlio import YamlSyntaxError, load_documents, load_json_document


class Source(Protocol):
    description: str

    def files(self, paths: Sequence[str]) -> Iterable[SourceFile]: ...


class ManifestProblem(ManifestError):
    """A manifest that breaks a rule; `check` reports these as findings, other commands
    stop on the first one."""

    def __init__(
        self, rule: str, message: str, *, file: str, line: int, column: int | None = None,
        hint: str = "",
    ) -> None:  # fmt: skip
        where = f"{file}:{line}" + (f":{column}" if column else "")
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


OnProblem = Callable[[ManifestProblem], None]


def _raise(problem: ManifestProblem) -> None:
    raise problem


def read(source: Source, paths: Sequence[str], on_problem: OnProblem = _raise) -> list[RawObject]:
    """Every object in the files below `paths`. A problem is passed to `on_problem`
    (default: raised) and the offending document skipped."""
    objects: list[RawObject] = []
    for file in source.files(paths):
        objects.extend(parse_file(file, on_problem))
    return objects


def parse_file(file: SourceFile, on_problem: OnProblem = _raise) -> list[RawObject]:
    loader = load_json_document if file.path.endswith(".json") else load_documents
    try:
        documents = loader(file.text, file.path)
    except YamlSyntaxError as e:
        on_problem(
            ManifestProblem(
                "yaml-syntax", e.problem, file=e.file, line=e.line, column=e.column,
                hint="Fix the YAML and run again.",
            )
        )  # fmt: skip
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
        for body, where in candidates:
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
            file=origin.file, line=origin.line,
        )  # fmt: skip
    missing = [f for f in ("apiVersion", "kind") if not isinstance(body.get(f), str) or not body[f]]
    metadata = body.get("metadata")
    if not isinstance(metadata, Mapping) or not isinstance(metadata.get("name"), str):
        missing.append("metadata.name")
    if not missing:
        return None
    what = body.get("kind") if isinstance(body.get("kind"), str) else "object"
    return ManifestProblem(
        "missing-field",
        f"{what} has no {', '.join(missing)}",
        file=origin.file, line=origin.line,
        hint="Every manifest needs apiVersion, kind and metadata.name.",
    )  # fmt: skip


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
    for obj in raw:
        api_version = obj.body["apiVersion"]
        group, version = split_api_version(api_version)
        kind = obj.body["kind"]
        meta = obj.body["metadata"]
        ns = ""
        try:
            is_namespaced = namespaced(group, version, kind)
        except ManifestError as e:  # an unknown kind: say which manifest names it
            raise ManifestError(f"{obj.origin}: {e.message}", hint=e.hint) from e
        if is_namespaced:
            ns = meta.get("namespace") or default_namespace
        oid = ObjectId(group, kind, ns, meta["name"])
        if oid in seen:
            first = seen[oid].origin
            on_problem(
                ManifestProblem(
                    "duplicate-object",
                    f"{oid} is defined twice (first at {first})",
                    file=obj.origin.file, line=obj.origin.line,
                    hint="Keep one definition.",
                )
            )  # fmt: skip
            continue
        seen[oid] = Resource(oid, api_version, obj.body, obj.origin)
    return list(seen.values())
