"""Hypothesis strategies for Kubernetes-like data, shared by the property tests.

Values are what ambdiff's loader can hand on (docs/diff.md): dicts with string keys, lists,
strings, ints, finite floats, bools and None. NaN and infinities never get this far: the
loader refuses them, as kubectl does.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

from ambdiff.model import ObjectId


def examples(n: int) -> int:
    """`n` examples at the default profile's 100, scaled by the profile chosen with
    HYPOTHESIS_PROFILE (thorough: ten times as many)."""
    return max(1, n * settings().max_examples // 100)


# Keys a manifest really has, with the list fields ambdiff matches by merge key, plus a few
# that need quoting in a field path.
KEYS = (
    "name",
    "image",
    "ports",
    "port",
    "containerPort",
    "targetPort",
    "protocol",
    "env",
    "value",
    "containers",
    "initContainers",
    "spec",
    "template",
    "labels",
    "annotations",
    "limits",
    "requests",
    "cpu",
    "memory",
    "replicas",
    "args",
    "selector",
    "matchLabels",
    "conditions",
    "type",
    "mountPath",
    "volumeMounts",
    "volumes",
    "enabled",
    "prefix",
    "service",
    "weight",
    "hostname",
    "timeout_ms",
    "rules",
    "a.b/c",
    "ключ",
    "x~y",
    "",
)
NAMES = ("web", "api", "sidecar", "db", "init", "é")

QUANTITIES = st.sampled_from(
    ("500m", "0.5", "1", "1000m", "1Gi", "1024Mi", "2e3", "2k", "+1", ".5", "1.0", "0", "1Ei")
)
# Text that is awkward for a terminal, a Markdown fence, YAML or a JSON reader.
AWKWARD = st.sampled_from(
    (
        "[bold]x[/]",
        "```",
        ":rocket:",
        "a\nb",
        "\t",
        "\\",
        '"',
        "'",
        "%0A",
        "::error::x",
        "…",
        "null",
        "yes",
        "0x1F",
        "1e3",
        "~",
        "- a",
        "#c",
        "{a: 1}",
        "\x1b[31m",
        "\u200b",
        "𝔘",
    )
)
TEXT = st.one_of(st.text(max_size=12), AWKWARD, st.sampled_from(NAMES))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    QUANTITIES,
    TEXT,
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    """Lists of maps with a `name` each, usually unique (so matched by name), sometimes not."""
    item = st.builds(
        lambda name, rest: {"name": name, **rest},
        st.sampled_from(NAMES),
        st.dictionaries(st.sampled_from(KEYS), children, max_size=3),
    )
    return st.lists(item, max_size=4)


JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS) | TEXT, children, max_size=5),
        _containers(children),
    ),
    max_leaves=25,
)

GROUP_KINDS = st.sampled_from(
    (
        ("", "v1", "Secret"),
        ("", "v1", "ConfigMap"),
        ("", "v1", "Service"),
        ("", "v1", "Namespace"),
        ("apps", "apps/v1", "Deployment"),
        ("getambassador.io", "getambassador.io/v3alpha1", "Mapping"),
        ("getambassador.io", "getambassador.io/v3alpha1", "Filter"),
    )
)


@st.composite
def kube_objects(draw: st.DrawFn) -> tuple[ObjectId, dict[str, Any]]:
    """An object id and a body shaped like a manifest or a live object: metadata (sometimes
    with server fields and ambdiff's labels, sometimes the wrong type), a spec, Secret data."""
    group, api_version, kind = draw(GROUP_KINDS)
    namespace = draw(st.sampled_from(("", "shop")))
    name = draw(st.sampled_from(NAMES))
    labels = draw(
        st.dictionaries(
            st.sampled_from(
                (
                    "app",
                    "ambdiff.io/inventory",
                    "app.kubernetes.io/managed-by",
                    "kubernetes.io/metadata.name",
                )
            ),
            st.sampled_from(("ambdiff", "web", "Helm")) | JSON_VALUES,
            max_size=3,
        )
    )
    metadata: Any = {"name": name, "namespace": namespace, "labels": labels}
    metadata.update(
        draw(
            st.dictionaries(
                st.sampled_from(
                    (
                        "uid",
                        "resourceVersion",
                        "managedFields",
                        "annotations",
                        "generation",
                        "finalizers",
                    )
                ),
                JSON_VALUES,
                max_size=3,
            )
        )
    )
    if draw(st.integers(0, 9)) == 0:
        metadata = draw(JSON_VALUES)  # hostile: metadata that is no map
    body: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": metadata}
    fields = ("data", "stringData", "type") if kind == "Secret" else ("spec", "data", "status")
    body.update(draw(st.dictionaries(st.sampled_from(fields), JSON_VALUES, max_size=3)))
    if kind == "Secret" and draw(st.booleans()):
        body["stringData"] = draw(st.dictionaries(TEXT, SCALARS, max_size=3))
    return ObjectId(group, kind, namespace, name), body


@st.composite
def mutated(draw: st.DrawFn, value: Any) -> Any:
    """`value` with a few random edits anywhere: a value replaced, a key dropped or added,
    a list reordered. Pairs made this way are similar, as git and live usually are."""
    value = copy.deepcopy(value)
    for _ in range(draw(st.integers(0, 3))):
        edited = _edit(draw, value)
        # An object stays an object: only what is inside it changes.
        value = edited if isinstance(edited, dict) or not isinstance(value, dict) else value
    return value


def _edit(draw: st.DrawFn, value: Any) -> Any:
    if isinstance(value, dict) and value and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(value)))
        action = draw(st.sampled_from(("into", "drop", "replace", "add")))
        if action == "into":
            value[key] = _edit(draw, value[key])
        elif action == "drop":
            del value[key]
        elif action == "replace":
            value[key] = draw(JSON_VALUES)
        else:
            value[draw(st.sampled_from(KEYS))] = draw(JSON_VALUES)
        return value
    if isinstance(value, list) and value and draw(st.booleans()):
        if draw(st.booleans()):
            return draw(st.permutations(value))
        index = draw(st.integers(0, len(value) - 1))
        value[index] = _edit(draw, value[index])
        return value
    return draw(JSON_VALUES)
