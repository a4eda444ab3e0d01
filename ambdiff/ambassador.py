"""Ambassador resources written inside a `getambassador.io/config` annotation.

Emissary reads the annotation only on Services and Ingresses. Each YAML document in it is one
resource in the old flat form (`apiVersion`, `kind`, `name`, then the fields); it is turned
into the CRD shape here (name and namespace into metadata, everything else into spec) so the
rest of ambdiff treats annotation documents and CRDs alike. `ambassador/vN` means
`getambassador.io/vN`. A YAML error anywhere drops the whole annotation, as in Emissary.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ambdiff.kinds import AMBASSADOR_ANNOTATION, AMBASSADOR_GROUP
from ambdiff.manifests import ManifestProblem, RawObject
from ambdiff.model import JSON, Origin, reveal, split_api_version
from ambdiff.secrets import seal
from ambdiff.yamlio import YamlSyntaxError, load_documents

# (group, kind) of the objects whose annotation Emissary reads.
ANNOTATED_KINDS: frozenset[tuple[str, str]] = frozenset(
    {("", "Service"), ("networking.k8s.io", "Ingress"), ("extensions", "Ingress")}
)
DEFAULT_AMBASSADOR_ID = "default"

_ANNOTATION_KEY = re.compile(r"""^\s*["']?getambassador\.io/config["']?\s*:\s*(\S?)""")


def normalize_api_version(api_version: str) -> str:
    """`ambassador/v1` -> `getambassador.io/v1`; anything else unchanged."""
    if api_version.startswith("ambassador/"):
        return f"{AMBASSADOR_GROUP}/{api_version.removeprefix('ambassador/')}"
    return api_version


def reads_annotation(api_version: str, kind: str) -> bool:
    return (split_api_version(api_version)[0], kind) in ANNOTATED_KINDS


def annotation_text(body: Mapping[str, JSON]) -> JSON:
    """The raw annotation value, or None when the object has none."""
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    if not isinstance(annotations, Mapping):
        return None
    # A Filter's secret inside is sealed again, document by document, below.
    return reveal(annotations.get(AMBASSADOR_ANNOTATION))


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
        return Expanded((), (_problem("annotation-yaml", "must be a string holding YAML documents",
                                      where, key_line),))  # fmt: skip
    try:
        documents = load_documents(text, where)
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
            problems.append(_problem("annotation-yaml", f"document {doc.index + 1} holds a {found}, "
                                     "not a mapping; Emissary skips it", where, line))  # fmt: skip
            continue
        missing = [
            f for f in ("apiVersion", "kind", "name") if not isinstance(doc.data.get(f), str)
        ]
        if missing:
            what = doc.data.get("kind") if isinstance(doc.data.get("kind"), str) else "document"
            problems.append(
                ManifestProblem(
                    "missing-field", f"{what} in the {AMBASSADOR_ANNOTATION} annotation has no "
                    f"{', '.join(missing)}", file=where, line=line,
                    hint="Every annotation document needs apiVersion, kind and name.",
                )
            )  # fmt: skip
            continue
        objects.append(RawObject(seal(flatten(doc.data, namespace)), origin))
    return Expanded(tuple(objects), tuple(problems))


def flatten(doc: Mapping[str, JSON], namespace: str) -> dict[str, JSON]:
    """One flat annotation document in CRD shape."""
    spec = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind", "name", "namespace")}
    ns = doc.get("namespace")
    return {
        "apiVersion": normalize_api_version(str(doc["apiVersion"])),
        "kind": doc["kind"],
        "metadata": {
            "name": doc["name"],
            "namespace": ns if isinstance(ns, str) and ns else namespace,
        },
        "spec": spec,
    }


def ambassador_ids(body: Mapping[str, JSON]) -> frozenset[str]:
    """The Ambassador installations that read this resource (`spec.ambassador_id`, a string
    or a list; none means the one called "default")."""
    spec = body.get("spec")
    value = spec.get("ambassador_id") if isinstance(spec, Mapping) else None
    if isinstance(value, str) and value:
        return frozenset({value})
    if isinstance(value, list):
        ids = frozenset(str(v) for v in value if isinstance(v, str | int))
        return ids or frozenset({DEFAULT_AMBASSADOR_ID})
    return frozenset({DEFAULT_AMBASSADOR_ID})


def _problem(rule: str, message: str, file: str, line: int) -> ManifestProblem:
    return ManifestProblem(
        rule, f"the {AMBASSADOR_ANNOTATION} annotation {message}", file=file, line=line,
        hint="Fix the annotation's YAML.",
    )  # fmt: skip


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
