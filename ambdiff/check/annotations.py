"""check's reading of the `getambassador.io/config` annotation: its documents as objects in
CRD shape, with the lines they start on in the owner's file, and what is wrong with them
(Emissary's rules of the annotation are in ambdiff.ambassador)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ambdiff.ambassador import annotation_text, flatten, parse_annotation
from ambdiff.kinds import AMBASSADOR_ANNOTATION
from ambdiff.manifests import ManifestProblem, RawObject
from ambdiff.model import Origin
from ambdiff.secrets import seal
from ambdiff.yamlio import YamlSyntaxError

_ANNOTATION_KEY = re.compile(r"""^\s*["']?getambassador\.io/config["']?\s*:\s*(\S?)""")


@dataclass(frozen=True)
class Expanded:
    objects: tuple[RawObject, ...]
    problems: tuple[ManifestProblem, ...]


def expand(owner: RawObject, *, namespace: str, file_lines: Sequence[str] = ()) -> Expanded:
    """The Ambassador resources in `owner`'s annotation, each flattened into CRD shape with
    the owner's namespace as default. `file_lines` (the owner's file) lets origins point at
    the line of each document inside the annotation."""
    text = annotation_text(owner.body)
    if text is None:
        return Expanded((), ())
    key_line, first_line = _annotation_lines(owner.origin, file_lines)
    where = owner.origin.file
    if not isinstance(text, str):
        return Expanded(
            (),
            (
                _problem(
                    "annotation-yaml", "must be a string holding YAML documents", where, key_line
                ),
            ),
        )
    try:
        documents = parse_annotation(text, where)
    except YamlSyntaxError as e:
        line = first_line + e.line - 1 if first_line else key_line
        message = f"is not valid YAML ({e.problem.removeprefix('invalid YAML: ')}); Emissary ignores all of it"
        return Expanded((), (_problem("annotation-yaml", message, where, line),))
    objects: list[RawObject] = []
    problems: list[ManifestProblem] = []
    for doc in documents:
        line = first_line + doc.line - 1 if first_line else key_line
        origin = Origin(where, line, owner.origin.document)
        if not isinstance(doc.data, Mapping):
            found = type(doc.data).__name__
            problems.append(
                _problem(
                    "annotation-yaml",
                    f"document {doc.index + 1} holds a {found}, not a mapping; Emissary skips it",
                    where,
                    line,
                )
            )
            continue
        missing = [
            f for f in ("apiVersion", "kind", "name") if not isinstance(doc.data.get(f), str)
        ]
        if missing:
            what = doc.data.get("kind") if isinstance(doc.data.get("kind"), str) else "document"
            problems.append(
                ManifestProblem(
                    "missing-field",
                    f"{what} in the {AMBASSADOR_ANNOTATION} annotation has no {', '.join(missing)}",
                    file=where,
                    line=line,
                    hint="Every annotation document needs apiVersion, kind and name.",
                )
            )
            continue
        objects.append(RawObject(seal(flatten(doc.data, namespace)), origin))
    return Expanded(tuple(objects), tuple(problems))


def _problem(rule: str, message: str, file: str, line: int) -> ManifestProblem:
    return ManifestProblem(
        rule,
        f"the {AMBASSADOR_ANNOTATION} annotation {message}",
        file=file,
        line=line,
        hint="Fix the annotation's YAML.",
    )


def _annotation_lines(origin: Origin, lines: Sequence[str]) -> tuple[int, int]:
    """(line of the annotation key, line where its block-scalar text starts or 0 when the
    text's lines do not map 1:1 onto the file's)."""
    for index in range(max(origin.line - 1, 0), len(lines)):
        if index >= origin.line and lines[index].startswith("---"):
            break
        match = _ANNOTATION_KEY.match(lines[index])
        if match:
            literal_block = match.group(1) == "|"
            return index + 1, index + 2 if literal_block else 0
    return origin.line, 0
