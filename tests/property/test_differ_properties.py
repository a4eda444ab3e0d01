"""Properties of normalisation and the differ, on generated Kubernetes-like objects.

What the differ promises (docs/diff.md, "What counts as a difference"), stated so that any
object can be checked: it never raises; an object never differs from itself; the changes
it reports are exactly what turns live into git (apply them and nothing is left); the
unified view (`project`) shows the same differences; and what it treats as no difference
(list order by merge key, int-or-string, null for absent, annotation document order) is
no difference for every object.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from kube_strategies import JSON_VALUES, NAMES, TEXT, examples, kube_objects, mutated

from ambdiff.differ import compare, project, sort_changes
from ambdiff.kinds import AMBASSADOR_ANNOTATION
from ambdiff.model import ListKey, ObjectId, Op
from ambdiff.normalize import normalize
from ambdiff.yamlio import dump

IGNORE = st.lists(
    st.sampled_from(("/spec/replicas", "/metadata/labels/*", "/spec/*/0", "/data/*", "/x~1y", "/")),
    max_size=2,
)


@st.composite
def pairs(draw: st.DrawFn) -> tuple[ObjectId, dict[str, Any], dict[str, Any]]:
    """An object and a similar one: git and live, as they usually are."""
    oid, body = draw(kube_objects())
    return oid, body, draw(mutated(body))


# ---- normalize -------------------------------------------------------------------------


@settings(max_examples=examples(100))
@given(kube_objects(), IGNORE)
def test_normalize_never_raises_never_mutates_and_is_idempotent(
    obj: tuple[ObjectId, dict[str, Any]], ignore: list[str]
) -> None:
    oid, body = obj
    before = copy.deepcopy(body)
    once = normalize(oid, body, ignore)
    assert body == before
    assert "status" not in once
    plain = normalize(oid, body)
    assert normalize(oid, plain) == plain
    if any(p.rsplit("/", 1)[-1].isdigit() for p in ignore):
        return  # `/args/0` names another item once the first is gone: no idempotence
    # An ignore rule can empty `labels` after the rule that drops empty labels ran: `{}`,
    # which compares as no field at all. Normalising again changes nothing that counts.
    twice = normalize(oid, once, ignore)
    assert compare(twice, once, symmetric=True) == compare(once, twice, symmetric=True) == []


@settings(max_examples=examples(100))
@given(kube_objects())
def test_a_secrets_string_data_is_folded_into_data(obj: tuple[ObjectId, dict[str, Any]]) -> None:
    oid, body = obj
    out = normalize(oid, body)
    if oid.kind == "Secret" and isinstance(body.get("stringData"), dict) and body["stringData"]:
        assert "stringData" not in out
        assert set(body["stringData"]) <= set(out["data"])


# ---- compare ---------------------------------------------------------------------------


@settings(max_examples=examples(100))
@given(kube_objects(), st.booleans())
def test_an_object_never_differs_from_itself(
    obj: tuple[ObjectId, dict[str, Any]], symmetric: bool
) -> None:
    oid, body = obj
    assert compare(body, copy.deepcopy(body), symmetric=symmetric) == []
    normal = normalize(oid, body)
    assert compare(normal, normalize(oid, copy.deepcopy(body)), symmetric=symmetric) == []
    assert project(normal, normal) == normal


@settings(max_examples=examples(100))
@given(pairs(), st.booleans())
def test_objects_equal_after_normalisation_have_no_changes(
    pair: tuple[ObjectId, dict[str, Any], dict[str, Any]], symmetric: bool
) -> None:
    oid, a, b = pair
    want, have = normalize(oid, a), normalize(oid, b)
    changes = compare(want, have, symmetric=symmetric)
    if want == have:
        assert changes == []
    if changes:
        assert want != have


@settings(max_examples=examples(100))
@given(pairs(), st.booleans())
def test_applying_the_changes_to_live_leaves_nothing_to_change(
    pair: tuple[ObjectId, dict[str, Any], dict[str, Any]], symmetric: bool
) -> None:
    """`compare` returns "changes that turn live into desired": applied, they must."""
    oid, a, b = pair
    want, have = normalize(oid, a), normalize(oid, b)
    changes = compare(want, have, symmetric=symmetric)
    patched = apply_changes(copy.deepcopy(have), changes)
    assert compare(want, patched, symmetric=symmetric) == [], changes


@settings(max_examples=examples(100))
@given(pairs())
def test_the_projected_live_side_shows_the_same_changes(
    pair: tuple[ObjectId, dict[str, Any], dict[str, Any]],
) -> None:
    """The unified diff (live cut down by `project`) shows what the per-field report shows."""
    oid, a, b = pair
    want, have = normalize(oid, a), normalize(oid, b)
    projected = project(have, want)
    assert _summary(compare(want, projected, symmetric=False)) == _summary(
        compare(want, have, symmetric=False)
    )


@settings(max_examples=examples(100))
@given(
    st.lists(
        st.builds(lambda n, v: {"name": n, "image": v}, st.sampled_from(NAMES), JSON_VALUES),
        max_size=5,
        unique_by=lambda c: c["name"],
    ),
    st.randoms(use_true_random=False),
)
def test_containers_in_another_order_are_no_difference(
    containers: list[dict[str, Any]], random: Any
) -> None:
    shuffled = copy.deepcopy(containers)
    random.shuffle(shuffled)
    desired = {"spec": {"template": {"spec": {"containers": containers}}}}
    live = {"spec": {"template": {"spec": {"containers": shuffled}}}}
    assert compare(desired, live, symmetric=True) == []


@settings(max_examples=examples(100))
@given(st.integers(min_value=0, max_value=65535), st.sampled_from(("port", "targetPort", "value")))
def test_int_or_string_is_no_difference(number: int, key: str) -> None:
    assert compare({"spec": {key: number}}, {"spec": {key: str(number)}}, symmetric=True) == []
    assert compare({"spec": {key: str(number)}}, {"spec": {key: number}}, symmetric=True) == []


@settings(max_examples=examples(100))
@given(st.dictionaries(st.sampled_from(("a", "b", "c")), JSON_VALUES, max_size=3))
def test_null_empty_and_absent_in_git_are_no_difference(fields: dict[str, Any]) -> None:
    """`rules: []`, `rules: {}` and `rules: null` in git all equal no field live."""
    desired = {"spec": {**fields, "rules": None, "x": [], "y": {}}}
    assert compare(desired, {"spec": fields}, symmetric=False) == []


ANNOTATION_DOCS = st.lists(
    st.fixed_dictionaries(
        {
            "apiVersion": st.sampled_from(("getambassador.io/v3alpha1", "ambassador/v2")),
            "kind": st.sampled_from(("Mapping", "Filter", "Host")),
            "name": st.sampled_from(NAMES),
        },
        optional={"prefix": TEXT, "service": TEXT, "spec": JSON_VALUES, "OAuth2": JSON_VALUES},
    ),
    max_size=4,
    unique_by=lambda d: (d["kind"], d["name"]),
)


def _annotation(docs: list[dict[str, Any]]) -> dict[str, Any]:
    text = "---\n".join(dump(d) for d in docs)
    return {"metadata": {"annotations": {AMBASSADOR_ANNOTATION: text}}}


@settings(max_examples=examples(100))
@given(ANNOTATION_DOCS, st.randoms(use_true_random=False), st.text(max_size=40))
def test_annotation_documents_in_another_order_are_no_difference(
    docs: list[dict[str, Any]], random: Any, garbage: str
) -> None:
    shuffled = list(docs)
    random.shuffle(shuffled)
    assert compare(_annotation(docs), _annotation(shuffled), symmetric=False) == []
    # Whatever the annotation holds, comparing never raises.
    other = {"metadata": {"annotations": {AMBASSADOR_ANNOTATION: garbage}}}
    compare(_annotation(docs), other, symmetric=False)
    compare(other, _annotation(docs), symmetric=True)
    assert compare(other, copy.deepcopy(other), symmetric=True) == []


# ---- helpers -------------------------------------------------------------------------


def _summary(changes: list[Any]) -> list[tuple[str, str, str, str]]:
    return [
        (c.op.value, c.path_str, json.dumps(c.old, default=repr), json.dumps(c.new, default=repr))
        for c in sort_changes(changes)
    ]


def apply_changes(doc: Any, changes: list[Any]) -> Any:
    """What applying the changes to live would make of it (for the property above)."""
    for change in changes:
        node = doc
        for segment in change.path[:-1]:
            node = node[_index(node, segment)]
        last = change.path[-1]
        if change.op is Op.REMOVE:
            del node[_index(node, last)]
        elif isinstance(last, ListKey) and _index(node, last) is None:
            node.append(change.new)
        else:
            node[_index(node, last)] = change.new
    return doc


def _index(node: Any, segment: Any) -> Any:
    if not isinstance(segment, ListKey):
        return segment
    ((key, value),) = segment.keys
    for index, item in enumerate(node):
        if isinstance(item, dict) and key in item and json.dumps(item[key]) == json.dumps(value):
            return index
    return None
