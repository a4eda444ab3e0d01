"""What a rendering tool's error message must never show: the values it may quote.

kustomize quotes a generator's literal or an inline patch it cannot read; helm prints the
text a template's `fail` or `required` was given, which can be any value. Before such a
message is shown, every value these could be is masked: for a kustomization (and the bases
it reads), its secretGenerator literals and files, its inline patches, and the Secrets among
its manifests; for a chart, every value of its values files and `--set`. Read only when a
tool fails; a file that cannot be read adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from ambdiff.desired.plan import KUSTOMIZATIONS, Unit
from ambdiff.errors import AmbdiffError
from ambdiff.gitsource import read_file
from ambdiff.yamlio import YamlSyntaxError, load_documents

_PATCH_KEYS = ("patches", "patchesStrategicMerge", "patchesJson6902")


def values(unit: Unit, root: Path, inputs: Sequence[str]) -> set[str]:
    """The values a failing render of `unit` (on disk at `root`) might quote."""
    found: set[str] = set()
    if unit.tool == "helm":
        files = [f"{unit.folder}/values.yaml", *(unit.helm.values if unit.helm else ())]
        for file in files:
            for data in _documents(root, file):
                found.update(_leaves(data))
        found.update(v for _, v in (unit.helm.set if unit.helm else ()))
        return found
    for folder in inputs:
        marker = next(
            (f"{folder}/{k}" for k in KUSTOMIZATIONS if (root / folder / k).is_file()), None
        )
        for data in _documents(root, marker) if marker else ():
            if isinstance(data, Mapping):
                found.update(_kustomization(data, root, folder))
        for path in sorted((root / folder).glob("*.y*ml")):
            for doc in _documents(root, path.relative_to(root).as_posix()):
                if isinstance(doc, Mapping) and doc.get("kind") == "Secret":
                    found.update(_leaves(doc.get("data")))
                    found.update(_leaves(doc.get("stringData")))
    return found


def _kustomization(data: Mapping[str, object], root: Path, folder: str) -> Iterator[str]:
    generators = data.get("secretGenerator")
    for gen in generators if isinstance(generators, list) else ():
        if not isinstance(gen, Mapping):
            continue
        for literal in _strings(gen.get("literals")):
            yield literal
            yield literal.split("=", 1)[-1]
        env = gen.get("env")
        for entry in [*_strings(gen.get("files")), *_strings(gen.get("envs")), *_strings([env])]:
            text = _text(root, f"{folder}/{entry.split('=', 1)[-1]}")
            yield text.strip()
            for line in text.splitlines():
                yield line.strip()
                yield line.split("=", 1)[-1].strip()
    for key in _PATCH_KEYS:
        entries = data.get(key)
        for entry in entries if isinstance(entries, list) else ():
            patch = entry.get("patch") if isinstance(entry, Mapping) else entry
            if isinstance(patch, str) and ("\n" in patch or ":" in patch):
                yield from (line.strip() for line in patch.splitlines())
                try:
                    for doc in load_documents(patch, key):
                        yield from _leaves(doc.data)
                except YamlSyntaxError:
                    pass


def _documents(root: Path, file: str) -> list[object]:
    text = _text(root, file)
    try:
        return [d.data for d in load_documents(text, file)] if text else []
    except YamlSyntaxError:
        return [text]  # not YAML: its lines may still be quoted


def _text(root: Path, file: str) -> str:
    path = root / file
    if ".." in Path(file).parts or not path.is_file():
        return ""
    try:
        return read_file(path, file)
    except AmbdiffError:
        return ""


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _leaves(data: object) -> Iterator[str]:
    if isinstance(data, Mapping):
        for value in data.values():
            yield from _leaves(value)
    elif isinstance(data, list):
        for value in data:
            yield from _leaves(value)
    elif isinstance(data, str):
        yield data.strip()
        yield from (line.strip() for line in data.splitlines())
    elif isinstance(data, int | float) and not isinstance(data, bool):
        yield str(data)
