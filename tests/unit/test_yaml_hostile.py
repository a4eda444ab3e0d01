"""Hostile and broken input to the loader (issue #14): every failure is one YamlSyntaxError
sentence with file:line:column that never quotes a value, and every bound is a count.

The alias rule is go-yaml v2's "excessive aliasing" check, which kubectl applies; the cases
on either side of its limit were checked against tools/yaml-oracle. Nesting is bounded by
MAX_DEPTH (kubectl's own limit is 10,000; ambdiff's is lower so that nothing after the loader
runs out of Python's recursion limit).
"""

from __future__ import annotations

import contextlib
import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ambdiff.yamlio import (
    MAX_DEPTH,
    YamlSyntaxError,
    dump,
    load_documents,
    load_json_document,
    load_one,
)

SECRET = "hunter2"


def refused(text: str, file: str = "f.yaml") -> YamlSyntaxError:
    loader = load_json_document if file.endswith(".json") else load_documents
    with pytest.raises(YamlSyntaxError) as caught:
        loader(text, file)
    error = caught.value
    message = str(error)
    assert message.startswith(f"{file}:{error.line}:{error.column}: invalid ")
    assert "\n" not in message and "Traceback" not in message
    return error


def laughs(levels: int = 9, width: int = 9) -> str:
    """The "billion laughs": each level a list of `width` aliases of the level before."""
    lines = [f"a0: &a0 [{', '.join(['x'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def aliased_list(items: int, aliases: int) -> str:
    return f"a: &a [{', '.join(['x'] * items)}]\nb: [{', '.join(['*a'] * aliases)}]\n"


def merged_map(keys: int, merges: int) -> str:
    base = "base: &b {" + ", ".join(f"k{i}: v" for i in range(keys)) + "}\n"
    return base + "".join(f"o{j}: {{<<: *b}}\n" for j in range(merges))


# ---- 1. aliases ---------------------------------------------------------------------------


def test_billion_laughs_is_refused_by_counting_not_by_building() -> None:
    text = laughs()
    assert len(text) < 600
    error = refused(text)
    assert "aliases in this document expand to too many values" in error.problem
    assert "kubectl refuses it" in error.problem
    assert error.line > 1  # where the expansion crosses the limit, not the file's start


def test_a_bomb_in_a_later_document_names_its_line() -> None:
    error = refused("a: 1\n---\n" + laughs(levels=6))
    assert error.line >= 3


@pytest.mark.parametrize(
    ("build", "size", "limit"),
    [
        (aliased_list, 200, 200),  # 201 of 202 decodes per alias: the 99 % line
        (aliased_list, 1000, 111),
        (merged_map, 200, 385),  # merge keys count as go-yaml decodes them
    ],
)
def test_alias_limit_is_go_yamls_to_the_alias(build: Any, size: int, limit: int) -> None:
    (doc,) = load_documents(build(size, limit - 1), "f.yaml")
    assert isinstance(doc.data, dict)
    if build is aliased_list:
        first, *rest = doc.data["b"]
        assert all(item is first for item in rest)  # shared, never copied
    assert "aliases" in refused(build(size, limit)).problem


def test_many_scalar_aliases_are_fine() -> None:
    (doc,) = load_documents("a: &s x\nb: [" + ", ".join(["*s"] * 5000) + "]\n", "f.yaml")
    assert isinstance(doc.data, dict) and doc.data["b"] == ["x"] * 5000


# ---- 2. anchors that contain themselves ---------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a: &a [*a]\n",
        "a: &a {b: *a}\n",
        "a: &a {b: [1, {c: *a}]}\n",
        "a: &a {<<: *a}\n",
        "a: &a\n  b:\n    - *a\n",
        "- &a [! x, *a]\n",  # composed from events (the `!` tag)
    ],
)
def test_an_anchor_that_contains_itself_is_one_sentence(text: str) -> None:
    assert "anchor that contains itself" in refused(text).problem


# ---- 3. nesting ---------------------------------------------------------------------------


def depth_of(data: Any) -> int:
    deepest, todo = 0, [(data, 1)]
    while todo:
        node, depth = todo.pop()
        if isinstance(node, (list, dict)):
            deepest = max(deepest, depth)
            todo.extend(
                (item, depth + 1) for item in (node.values() if isinstance(node, dict) else node)
            )
    return deepest


def nested_lists(depth: int) -> str:
    return "[" * depth + "]" * depth


def nested_maps(depth: int) -> str:
    return "".join("  " * i + f"k{i}:\n" for i in range(depth - 1)) + "  " * (depth - 1) + "k: v\n"


def nested_json(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.mark.parametrize(
    ("make", "file"),
    [
        (nested_lists, "f.yaml"),
        (nested_maps, "f.yaml"),
        (lambda depth: "a: 1\n...\n---\n" + nested_lists(depth), "f.yaml"),  # split by lines
        (lambda depth: "[! x, " + nested_lists(depth - 1) + "]", "f.yaml"),  # from events
        (nested_json, "f.json"),
        (lambda depth: '{"k": ' + nested_lists(depth - 1) + "}", "f.json"),
    ],
)
def test_nesting_is_read_up_to_max_depth_and_refused_past_it(make: Any, file: str) -> None:
    loader = load_json_document if file.endswith(".json") else load_documents
    assert depth_of(loader(make(MAX_DEPTH), file)[-1].data) == MAX_DEPTH
    error = refused(make(MAX_DEPTH + 1), file)
    assert f"nested more than {MAX_DEPTH} deep" in error.problem


def test_aliases_cannot_nest_past_max_depth() -> None:
    def chain(links: int) -> str:  # each anchor 50 lists deep around an alias of the one before
        lines = ["a0: &a0 " + nested_lists(50)]
        lines += [f"a{i}: &a{i} " + "[" * 50 + f"*a{i - 1}" + "]" * 50 for i in range(1, links)]
        return "\n".join(lines) + "\n"

    (doc,) = load_documents(chain(3), "f.yaml")
    assert depth_of(doc.data) == 1 + 150
    error = refused(chain(4))
    assert f"nested more than {MAX_DEPTH} deep" in error.problem and error.line == 4


@pytest.mark.parametrize(
    ("text", "file"),
    [
        (nested_lists(1100), "f.yaml"),
        (nested_maps(5000), "f.yaml"),
        (nested_json(10_000), "f.json"),
        ('{"a": ' + nested_lists(10_000) + "}", "f.json"),
    ],
)
def test_very_deep_input_is_one_sentence_with_its_place(text: str, file: str) -> None:
    error = refused(text, file)
    assert "deep" in error.problem
    assert (error.line, error.column) != (1, 1)


def test_escaped_single_quotes_are_mended_one_quoted_value_at_a_time() -> None:
    (doc,) = load_documents('k: "' + "a\\'b " * 5000 + '"\n', "f.yaml")  # go-yaml reads \'
    assert doc.data == {"k": "a'b " * 5000}


def test_mending_escaped_single_quotes_is_bounded_by_a_count() -> None:
    text = "p: " + "x" * 1_000_000 + "\n" + "".join(f'k{i}: "a\\\'b"\n' for i in range(12))
    error = refused(text)  # each mend parses the text again: ten times a megabyte at most
    assert "write ' instead" in error.problem and error.line > 2


# ---- 4. big integers ----------------------------------------------------------------------


def test_a_five_thousand_digit_integer_is_text_as_for_kubectl() -> None:
    digits = "9" * 5000
    (doc,) = load_documents(f"v: {digits}\nw: -{digits}\nx: 0x{'f' * 5000}\n", "f.yaml")
    assert doc.data == {"v": digits, "w": f"-{digits}", "x": f"0x{'f' * 5000}"}
    (doc,) = load_documents("v: " + "0" * 80 + "17\n", "f.yaml")
    assert doc.data == {"v": 15}  # leading zeros: still octal 17


def test_a_huge_integer_with_a_tag_or_as_a_key_is_refused_without_its_digits() -> None:
    for text in (f"v: !!int {'9' * 5000}\n", f"v: !!float {'9' * 5000}\n", f"{'9' * 5000}: v\n"):
        assert "9999" not in str(refused(text))


def test_huge_json_integers_become_what_go_decodes() -> None:
    (doc,) = load_json_document('{"a": 18446744073709551616, "b": %s}' % ("9" * 5000), "f.json")
    assert doc.data == {"a": 18446744073709552000, "b": "9" * 5000}  # float64; else text


# ---- 5. tags, and no value in any message -------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"password: !!binary {SECRET}\n",
        f"password: !!int {SECRET}\n",
        f"password: !!float {SECRET}\n",
        f"password: !!bool {SECRET}\n",
        f"password: !!null {SECRET}\n",
        f"password: !!int '{SECRET}'\n",
        f'password: !!float "{SECRET}"\n',
        f"{{password: !!int {SECRET}}}\n",
        f"- !!int {SECRET}\n",
        f"!!int {SECRET}: v\n",
        f"a: &x {SECRET}\nb: !!int *x\n",
        f"password: {SECRET}\npassword: {SECRET}\n",
        f"p: {SECRET}\n\x00",
        f'{{"password": "{SECRET}", "password": "{SECRET}"}}',
    ],
)
def test_no_message_quotes_a_value(text: str) -> None:
    error = refused(text, "f.json" if text.startswith('{"') else "f.yaml")
    assert SECRET not in str(error)
    assert str(error).count(". ") <= 1  # one sentence, then the hint


@pytest.mark.parametrize("tag", ["!!seq", "!!map", "!!set", "!!omap", "!foo", "!"])
def test_collection_and_unknown_tags_on_a_scalar_give_its_text_as_kubectl_does(tag: str) -> None:
    (doc,) = load_documents(f"password: {tag} {SECRET}\n", "f.yaml")
    assert doc.data == {"password": SECRET}


# ---- 6. NaN and infinities ----------------------------------------------------------------


def test_json_nan_and_infinity_are_never_numbers() -> None:
    text = '{"a": NaN, "b": Infinity, "c": -Infinity, "d": 1e400}'
    (doc,) = load_json_document(text, "f.json")  # not JSON: read as YAML, as kubectl does
    assert doc.data == {"a": "NaN", "b": "Infinity", "c": "-Infinity", "d": "1e400"}
    for text in ("a: .nan\n", "a: [-.inf]\n", "{a: .NaN}\n"):
        assert "NaN or infinite" in refused(text).problem


# ---- 7. keys -------------------------------------------------------------------------------


def test_keys_one_and_true_are_different_json_keys() -> None:
    (doc,) = load_documents("1: a\ntrue: b\n'1.0': c\nTrue1: d\n", "f.yaml")
    assert doc.data == {"1": "a", "true": "b", "1.0": "c", "True1": "d"}


def test_keys_that_make_the_same_json_key_are_duplicates() -> None:
    for text in ("1: a\n'1': b\n", "true: a\ny: b\n", "1: a\n01: b\n"):
        assert "duplicate key" in refused(text).problem


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ('{"a": 1, "a": 2}', 1, 10),
        ('{\n  "spec": {\n    "x": 1,\n    "x": 2\n  }\n}\n', 4, 5),
        ('{"a": 1}\n{"b": [{"c": 1, "c": 2}]}\n', 2, 17),
    ],
)
def test_duplicate_keys_in_json_are_an_error_with_their_place(
    text: str, line: int, column: int
) -> None:
    error = refused(text, "f.json")
    assert (error.line, error.column) == (line, column)
    assert error.problem.startswith("invalid JSON: duplicate key")


# ---- 8. text that is not UTF-8, control characters ----------------------------------------


@pytest.mark.parametrize("loader", [load_documents, load_json_document])
def test_bytes_that_are_not_utf8_are_one_sentence_with_their_place(loader: Any) -> None:
    text = b'{"a": 1,\n "b": "\xff\xfe"}\n'.decode("utf-8", "surrogateescape")
    with pytest.raises(YamlSyntaxError, match="not valid UTF-8") as caught:
        loader(text, "f.json")
    assert (caught.value.line, caught.value.column) == (2, 8)


def test_control_characters_are_one_sentence_with_their_place() -> None:
    error = refused("a: 1\nb: x\x07y\n")
    assert (error.line, error.column) == (2, 5)
    assert "U+0007" in error.problem


def test_escaped_lone_surrogates_in_json_become_the_replacement_character() -> None:
    (doc,) = load_json_document('{"a": ["\\ud800"], "\\udc00k": "ok \\ud83d\\ude00"}', "f.json")
    assert doc.data == {"a": ["\ufffd"], "\ufffdk": "ok \U0001f600"}


# ---- properties: nothing but YamlSyntaxError, ever ----------------------------------------

TOKENS = list("ab01:-[]{},&*!|>'\"#%@`?~. \n\t\\<=+eEx_")
TOKENS += [
    "---\n",
    "...\n",
    "&a ",
    "*a",
    "&b ",
    "*b",
    "!!binary ",
    "!!int ",
    "!!float ",
    "!!seq ",
    "!!map ",
    "! ",
    "<<: ",
    "0x",
    "0o",
    "0b",
    ".nan",
    ".inf",
    "\x00",
    "\x85",
    "\ufeff",
    "\u2028",
    "\ud800",
    "é",
    "\\u",
    "null",
    "true",
    "9" * 30,
    "\r\n",
]
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=10)
    | st.floats(allow_nan=False, allow_infinity=False)
)
STRUCTURES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


def no_nan(data: Any) -> bool:
    todo = [data]
    while todo:
        node = todo.pop()
        if isinstance(node, float) and not math.isfinite(node):
            return False
        if isinstance(node, dict):
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return True


@PROPERTY
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map("".join))
def test_yamlish_text_raises_only_yaml_syntax_errors(text: str) -> None:
    for load in (load_documents, load_json_document):
        with contextlib.suppress(YamlSyntaxError):
            assert all(no_nan(doc.data) for doc in load(text, "f.json"))
    with contextlib.suppress(YamlSyntaxError):
        load_one("{" + text, "f.yaml")


@PROPERTY
@given(STRUCTURES)
def test_dumped_structures_load_back_or_fail_as_yaml_syntax_errors(data: Any) -> None:
    with contextlib.suppress(YamlSyntaxError):
        assert all(no_nan(doc.data) for doc in load_documents(dump(data), "f.yaml"))
    with contextlib.suppress(YamlSyntaxError):
        load_json_document(json.dumps({"k": data}), "f.json")
