"""Ambassador resources written inside a `getambassador.io/config` annotation.

Emissary reads the annotation only on Services and Ingresses. Each YAML document in it is one
resource in the old flat form (`apiVersion`, `kind`, `name`, then the fields); it is turned
into the CRD shape here (name and namespace into metadata, everything else into spec) so the
rest of ambdiff treats annotation documents and CRDs alike. `ambassador/vN` means
`getambassador.io/vN`. A YAML error anywhere drops the whole annotation, as in Emissary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ambdiff.kinds import AMBASSADOR_ANNOTATION, AMBASSADOR_GROUP
from ambdiff.model import JSON, reveal, split_api_version
from ambdiff.yamlio import load_documents

# (group, kind) of the objects whose annotation Emissary reads.
ANNOTATED_KINDS: frozenset[tuple[str, str]] = frozenset(
    {("", "Service"), ("networking.k8s.io", "Ingress"), ("extensions", "Ingress")}
)
DEFAULT_AMBASSADOR_ID = "default"


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
class AnnotationDocument:
    data: JSON  # as written; a mapping's `ambassador/vN` apiVersion as Emissary reads it
    line: int  # of the document's first line, within the annotation's text (from 1)
    index: int  # its place among the annotation's documents (from 0)


def parse_annotation(text: str, where: str) -> list[AnnotationDocument]:
    """The YAML documents of a `getambassador.io/config` annotation's text, an
    `ambassador/vN` apiVersion read as `getambassador.io/vN`: the one parser of the
    annotation (check's reading of it, the differ's comparison, the secret rules). A YAML
    error raises YamlSyntaxError (`where` names the text): Emissary then ignores all of it."""
    out = []
    for doc in load_documents(text, where):
        data = doc.data
        if isinstance(data, Mapping) and isinstance(data.get("apiVersion"), str):
            api_version = normalize_api_version(str(data["apiVersion"]))
            if api_version != data["apiVersion"]:
                data = {**data, "apiVersion": api_version}
        out.append(AnnotationDocument(data, doc.line, doc.index))
    return out


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
