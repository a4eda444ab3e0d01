"""Build a kustomization with the real kustomize, and trace each object to its file.

The folder is built through a wrapper kustomization in a temporary folder that names it as
its one resource and asks for `buildMetadata: [originAnnotations]`: kustomize then writes
where each object came from (`config.kubernetes.io/origin`), and the user's files are never
touched. The annotation is read and removed before anything compares or applies the object
(unless the user's own kustomization asks for it, in which case it is theirs to keep).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from ambdiff.desired.plan import KUSTOMIZATIONS
from ambdiff.desired.tools import RenderError, Secrets, Tools, run
from ambdiff.errors import ManifestError
from ambdiff.gitsource import SourceFile
from ambdiff.manifests import OnProblem, RawObject, parse_file
from ambdiff.model import JSON, Origin
from ambdiff.yamlio import YamlSyntaxError, load_documents, load_one

ORIGIN = "config.kubernetes.io/origin"
_SIMPLE_ORIGIN = re.compile(r"^path: ([\w./@+-]+)\n?$")

Lines = Callable[[str], Mapping[tuple[str, str], int]]  # a file -> {(kind, name): line}


def render(
    folder: str,
    root: Path,
    tools: Tools,
    lines: Lines,
    on_problem: OnProblem,
    secrets: Secrets = lambda: (),
) -> list[RawObject]:
    """The objects `kustomize build <folder>` makes; `root` is the repository on disk."""
    target = root / folder
    marker = next((target / n for n in KUSTOMIZATIONS if (target / n).is_file()), None)
    keep = marker is not None and _asks_for_origins(marker)
    default = (marker or target / KUSTOMIZATIONS[0]).relative_to(root).as_posix()
    with tempfile.TemporaryDirectory(prefix="ambdiff-kustomize-") as scratch:
        # The user's own kustomization asks for origins: build it as it is, and its
        # annotations (relative to the folder) are kept as the user wants them applied.
        wrapper = target if keep else Path(scratch)
        ref = os.path.relpath(target, wrapper)
        if not keep:
            (wrapper / "kustomization.yaml").write_text(
                f"resources:\n- {ref}\nbuildMetadata: [originAnnotations]\n", encoding="utf-8"
            )
        text = run(
            [*tools.kustomize(folder), str(wrapper)],
            cwd=wrapper,
            folder=folder,
            replace={
                ref: folder,
                str(scratch): "(ambdiff's wrapper)",
                str(root) + "/": "",
                str(root): ".",
            },
            secrets=secrets,
        )
        stream = SourceFile(f"{folder} (kustomize build)", text)
        try:
            objects = parse_file(stream, on_problem)
        except ManifestError as e:
            raise RenderError(e.message, hint=e.hint) from e
        return [_traced(o, folder, wrapper, root, keep, lines, default) for o in objects]


def _traced(
    obj: RawObject,
    folder: str,
    wrapper: Path,
    root: Path,
    keep: bool,
    lines: Lines,
    default: str,
) -> RawObject:
    meta = obj.body.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    raw = annotations.get(ORIGIN) if isinstance(annotations, Mapping) else None
    origin = Origin(default, 0, via=folder)
    if isinstance(raw, str):
        origin = _origin(raw, folder, wrapper, root, obj.body, lines) or origin
    body = obj.body if keep else _without_origin(obj.body)
    return RawObject(body, origin)


def _origin(
    raw: str, folder: str, wrapper: Path, root: Path, body: Mapping[str, JSON], lines: Lines
) -> Origin | None:
    simple = _SIMPLE_ORIGIN.match(raw)  # what kustomize writes for a file: `path: x.yaml\n`
    try:
        data = {"path": simple.group(1)} if simple else load_one(raw, ORIGIN)
    except YamlSyntaxError:
        return None
    if not isinstance(data, Mapping) or data.get("repo"):
        return None  # a remote resource: the folder that names it is the nearest file
    path = data.get("path") or data.get("configuredIn")
    if not isinstance(path, str):
        return None
    absolute = Path(os.path.normpath(wrapper / path))
    if not absolute.is_relative_to(root):
        return None
    file = absolute.relative_to(root).as_posix()
    kind, name = str(body.get("kind", "")), str(body["metadata"].get("name", ""))
    line = 0 if "configuredIn" in data and "path" not in data else _line(lines(file), kind, name)
    return Origin(file, line, via=folder)


def _line(found: Mapping[tuple[str, str], int], kind: str, name: str) -> int:
    """The line of the document that made the object: its kind and a name that the
    rendered name holds (namePrefix and nameSuffix change names); the longest such name."""
    exact = found.get((kind, name))
    if exact:
        return exact
    matches = [(len(n), line) for (k, n), line in found.items() if k == kind and n and n in name]
    if matches:
        return max(matches)[1]
    same_kind = [line for (k, _), line in found.items() if k == kind]
    return same_kind[0] if len(same_kind) == 1 else 0


def _without_origin(body: Mapping[str, JSON]) -> Mapping[str, JSON]:
    meta = body.get("metadata")
    if not isinstance(meta, Mapping):
        return body
    annotations = meta.get("annotations")
    if not isinstance(annotations, Mapping) or ORIGIN not in annotations:
        return body
    rest = {k: v for k, v in annotations.items() if k != ORIGIN}
    new_meta = {k: v for k, v in meta.items() if k != "annotations"}
    if rest:
        new_meta["annotations"] = rest
    return {**body, "metadata": new_meta}


def _asks_for_origins(kustomization: Path) -> bool:
    try:
        data = load_one(kustomization.read_text(encoding="utf-8"), str(kustomization))
    except (OSError, UnicodeDecodeError, YamlSyntaxError):
        return False
    meta = data.get("buildMetadata") if isinstance(data, Mapping) else None
    return isinstance(meta, list) and "originAnnotations" in meta


def document_lines(text: str, file: str) -> dict[tuple[str, str], int]:
    """{(kind, metadata.name): first line} of the documents of a YAML file."""
    try:
        docs = load_documents(text, file)
    except YamlSyntaxError:
        return {}
    out: dict[tuple[str, str], int] = {}
    for doc in docs:
        data = doc.data
        if isinstance(data, Mapping) and isinstance(data.get("metadata"), Mapping):
            key = (str(data.get("kind", "")), str(data["metadata"].get("name", "")))
            out.setdefault(key, doc.line)
    return out
