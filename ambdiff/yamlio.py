"""YAML in and out: the one home of PyYAML and ruamel.yaml.

Bulk loading decides the speed of `check` and `diff` on big repositories, so documents are
read with libyaml's C parser (PyYAML's CSafeLoader, about ten times faster than pure-Python
ruamel; see docs/performance.md), keeping each document's first line for messages.
Output (the unified-diff view) is written with ruamel, which formats block YAML the way
people write it.

Manifests are read as kubectl reads them, not as YAML 1.1 says: kubectl splits a file into
documents at lines that start with `---` (k8s.io/apimachinery's YAMLReader), decodes each with
go-yaml v2 (go.yaml.in/yaml/v2) and turns the result into JSON (sigs.k8s.io/yaml.YAMLToJSON).
So plain scalars resolve with go-yaml v2's rules (`y`/`n`/`on` are booleans, `0o17` and `0777`
are octal, `1:20` and `=` are text, timestamps stay text), explicit tags are decoded as go-yaml
decodes them (unknown tags give text, tags on maps and lists are ignored, `!!binary` gives
text), merge keys (`<<`) apply in the order written, keys become JSON strings, and whatever JSON
cannot hold (NaN, infinities, null keys) is an error, as it is for kubectl. The oracle that
pins this is tools/yaml-oracle (tests/tools/test_yaml_oracle.py); docs/diff.md lists the rules.
One deliberate difference: a key given twice in one map is an error here, where kubectl keeps
one of them.
"""

from __future__ import annotations

import binascii
import codecs
import io
import json
import math
import re
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import yaml
from ruamel.yaml import YAML

from ambdiff.errors import ManifestError
from ambdiff.model import JSON

try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # libyaml missing: same semantics, slower
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]


@dataclass(frozen=True)
class Document:
    """One YAML document: its index in the file, its first line (1-based), its data and,
    for a `kind: List`, the first line of each item."""

    index: int
    line: int
    data: JSON
    item_lines: tuple[int, ...] = ()


class YamlSyntaxError(ManifestError):
    def __init__(self, message: str, *, file: str, line: int, column: int) -> None:
        super().__init__(f"{file}:{line}:{column}: {message}", hint="Fix the YAML and run again.")
        self.file = file
        self.line = line
        self.column = column
        self.problem = message


class _Problem(Exception):
    """Data kubectl would refuse; `mark` is where (a PyYAML mark)."""

    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark
        self.offset: int | None = None  # lines before the document, when known


# ---- go-yaml v2's implicit resolution (resolve.go), mirrored ----------------------------

_P = "tag:yaml.org,2002:"
_STR = _P + "str"
_MAP = _P + "map"
_SEQ = _P + "seq"
_MERGE = _P + "merge"
_BOOL = _P + "bool"
_INT = _P + "int"
_FLOAT = _P + "float"
_NULL = _P + "null"
_TIMESTAMP = _P + "timestamp"
_BINARY = _P + "binary"
_RESOLVABLE = frozenset((_BOOL, _INT, _FLOAT, _NULL, _TIMESTAMP))

_WORDS: dict[str, tuple[str, Any]] = {}
for _tag, _value, _words in (
    (_BOOL, True, "y Y yes Yes YES true True TRUE on On ON"),
    (_BOOL, False, "n N no No NO false False FALSE off Off OFF"),
    (_NULL, None, "~ null Null NULL"),
    (_FLOAT, math.nan, ".nan .NaN .NAN"),
    (_FLOAT, math.inf, ".inf .Inf .INF +.inf +.Inf +.INF"),
    (_FLOAT, -math.inf, "-.inf -.Inf -.INF"),
):
    for _word in _words.split():
        _WORDS[_word] = (_tag, _value)
_WORDS[""] = (_NULL, None)
_HINTS = dict.fromkeys("0123456789", "D") | {"+": "S", "-": "S", ".": "."}
_HINTS |= dict.fromkeys("yYnNtTfFoO~", "M")

_DIGITS = {
    2: re.compile(r"[01]+", re.ASCII),
    8: re.compile(r"[0-7]+", re.ASCII),
    10: re.compile(r"[0-9]+", re.ASCII),
    16: re.compile(r"[0-9a-fA-F]+", re.ASCII),
}
# strconv.ParseFloat on text that starts with ".": Go float literal syntax, underscores
# only between digits
_DOT_FLOAT = re.compile(r"\.[0-9]+(?:_[0-9]+)*(?:[eE][-+]?[0-9]+(?:_[0-9]+)*)?", re.ASCII)
_YAML_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?", re.ASCII)
_INT64 = 1 << 63
_UINT64 = 1 << 64


def _parse_uint(s: str) -> int | None:
    """strconv.ParseUint(s, 0, 64) without the range check; None for a syntax error."""
    if not s:
        return None
    base = 10
    if s[0] == "0":
        prefix = s[1:2].lower()
        if len(s) >= 3 and prefix in ("b", "o", "x"):
            base, s = {"b": 2, "o": 8, "x": 16}[prefix], s[2:]
        else:
            base, s = 8, s[1:]
            if not s:
                return 0
    return int(s, base) if _DIGITS[base].fullmatch(s) else None


def _parse_int(s: str, base: int = 0) -> int | None:
    """strconv.ParseInt(s, base, 64) without the range check (base 0 or 2)."""
    sign = 1
    if s[:1] in ("+", "-"):
        sign, s = (-1 if s[0] == "-" else 1), s[1:]
    if base != 0:
        return sign * int(s, base) if _DIGITS[base].fullmatch(s) else None
    value = _parse_uint(s)
    return None if value is None else sign * value


def _go_resolve(tag: str, text: str) -> tuple[str, Any]:
    """go-yaml v2 `resolve(tag, in)` for tag "" or one of _RESOLVABLE and _STR: the tag the
    text resolves to and its value (a timestamp's value is its text, as go-yaml decodes it
    into interface{})."""
    hint = _HINTS.get(text[0]) if text else "N"
    if hint is None or tag == _STR:
        return _STR, text
    word = _WORDS.get(text)
    if word is not None:
        return word
    if hint == ".":
        if _DOT_FLOAT.fullmatch(text):
            number = float(text.replace("_", ""))
            if not math.isinf(number):  # out of range: ParseFloat fails
                return _FLOAT, number
    elif hint != "M":
        if tag in ("", _TIMESTAMP) and _is_timestamp(text):
            return _TIMESTAMP, text
        plain = text.replace("_", "")
        value = _parse_int(plain)
        if value is not None:
            if -_INT64 <= value < _INT64:
                return _INT, value
            if 0 <= value < _UINT64 and plain[0] != "+":  # ParseUint takes no sign
                return _INT, value
        if _YAML_FLOAT.fullmatch(plain):
            number = float(plain)
            if not math.isinf(number):
                return _FLOAT, number
        if plain.startswith("0b"):  # ParseInt(plain[2:], 2): "0b-101" is -5
            value = _parse_int(plain[2:], 2) if plain[2:] else None
            if value is not None:
                if -_INT64 <= value < _INT64:
                    return _INT, value
                if 0 <= value < _UINT64 and plain[2] != "+":
                    return _INT, value
    return _STR, text


_TIMESTAMP_FORMS = (
    re.compile(
        r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})[Tt]([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})"
        r"(?:[.,][0-9]+)?(?:Z|[-+]([0-9]{2}):([0-9]{2}))",
        re.ASCII,
    ),
    re.compile(
        r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2}) ([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})"
        r"(?:[.,][0-9]+)?",
        re.ASCII,
    ),
    re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})", re.ASCII),
)
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _is_timestamp(text: str) -> bool:
    """go-yaml v2 parseTimestamp: Go's time.Parse with its four layouts, ranges included."""
    if len(text) < 5 or text[4] != "-":
        return False
    for form in _TIMESTAMP_FORMS:
        match = form.fullmatch(text)
        if match is None:
            continue
        year, month, day, *clock = (int(part) if part else 0 for part in match.groups())
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        if not 1 <= month <= 12 or not 1 <= day <= _DAYS[month - 1] + (month == 2 and leap):
            continue
        if clock:
            hour, minute, second, *zone = clock
            if hour > 23 or minute > 59 or second > 59 or (zone and (zone[0] > 24 or zone[1] > 60)):
                continue
        return True
    return False


# ---- the loader ----------------------------------------------------------------------------
# libyaml parses and composes in C, but PyYAML then resolves every plain scalar's tag with
# regular expressions and builds the data through a generic, generator-based constructor,
# both in Python: three quarters of the load time of a big repository (docs/performance.md).
# Here tags are resolved once per distinct text (cached) and the data is built by `_build`.

_TAG_CACHE_SIZE = 100_000
_TAG_CACHE_MAX_LENGTH = 64
_implicit_tags: dict[str, str] = {}  # plain scalar -> its resolved tag
_implicit_values: dict[str, tuple[str, Any]] = {}  # plain scalar -> go-yaml tag and value


def _implicit_tag(value: str) -> str:
    if value == "<<":
        return _MERGE  # a merge key; as a value, the text "<<"
    resolved = _go_resolve("", value)
    if resolved[0] == _STR or resolved[0] == _TIMESTAMP:
        return _STR
    if len(_implicit_values) < _TAG_CACHE_SIZE:
        _implicit_values[value] = resolved
    return resolved[0]


def _resolve(self: Any, kind: Any, value: Any, implicit: Any) -> str:
    """Resolver.resolve with go-yaml v2's rules, cached for plain scalars (the loader has no
    path resolvers, so a plain scalar's tag depends on its text alone)."""
    if kind is yaml.ScalarNode:
        if not implicit[0]:
            return _STR  # quoted or block scalars are text
        if len(value) > _TAG_CACHE_MAX_LENGTH:
            return _implicit_tag(value)
        tag = _implicit_tags.get(value)
        if tag is None:
            tag = _implicit_tag(value)
            if len(_implicit_tags) < _TAG_CACHE_SIZE:
                _implicit_tags[value] = tag
        return tag
    return _SEQ if kind is yaml.SequenceNode else _MAP


class _Loader(_BaseLoader):
    """libyaml's parser and composer; tags are resolved as go-yaml v2 resolves them and the
    data is built by `_build`, never by PyYAML's constructor."""


_Loader.resolve = _resolve  # type: ignore[method-assign]

# `! 12` (the non-specific tag) is text for go-yaml but PyYAML's composer resolves it as if
# it were plain: such files are composed from libyaml's events in Python instead.
_NON_SPECIFIC_TAG = re.compile(r"(?<![^\s\[{,])!(?=[\s\[\]{},]|\Z)")


def _compose_events(loader: _Loader) -> Iterator[Any]:
    """The documents of a stream composed from libyaml's events, as go-yaml's parser does:
    `!` stays a tag of its own and an anchor may be defined again (the last one counts)."""
    get: Any = loader.get_event
    peek: Any = loader.peek_event
    anchors: dict[str, Any] = {}

    def compose() -> Any:
        event = get()
        cls = event.__class__
        node: Any
        if cls is yaml.AliasEvent:
            node = anchors.get(event.anchor)
            if node is None:
                raise yaml.composer.ComposerError(
                    None, None, f"found undefined alias {event.anchor!r}", event.start_mark
                )
            return node
        if cls is yaml.ScalarEvent:
            tag = event.tag
            if tag is None:
                tag = _resolve(loader, yaml.ScalarNode, event.value, event.implicit)
            elif tag == "!" and event.value == "<<":
                tag = _MERGE  # go-yaml: `! <<` is a merge key
            node = yaml.ScalarNode(
                tag, event.value, event.start_mark, event.end_mark, style=event.style
            )
            if event.anchor is not None:
                anchors[event.anchor] = node
            return node
        if cls is yaml.SequenceStartEvent:
            node = yaml.SequenceNode(_SEQ, [], event.start_mark, None, flow_style=event.flow_style)
            if event.anchor is not None:
                anchors[event.anchor] = node
            while not isinstance(peek(), yaml.SequenceEndEvent):
                node.value.append(compose())
        else:
            node = yaml.MappingNode(_MAP, [], event.start_mark, None, flow_style=event.flow_style)
            if event.anchor is not None:
                anchors[event.anchor] = node
            while not isinstance(peek(), yaml.MappingEndEvent):
                key = compose()
                node.value.append((key, compose()))
        node.end_mark = get().end_mark
        return node

    get()  # stream start
    while not isinstance(peek(), yaml.StreamEndEvent):
        get()  # document start
        anchors.clear()
        root = compose()
        get()  # document end
        yield root


def _compose_c(loader: _Loader) -> Iterator[Any]:
    while loader.check_node():
        node = loader.get_node()
        if node is None:
            break
        yield node


# ---- building the data: go-yaml v2's decoding and YAMLToJSON's conversion ----------------


def _go_text(data: bytes) -> str:
    """Bytes as Go's encoding/json writes them: each invalid UTF-8 byte becomes U+FFFD."""
    return data.decode("utf-8", "ambdiff-go-replace")


def _replace_one_byte(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    return "\ufffd", error.start + 1


codecs.register_error("ambdiff-go-replace", _replace_one_byte)


def _short(tag: str) -> str:
    return "!!" + tag[len(_P) :] if tag.startswith(_P) else tag


def _scalar(node: Any) -> Any:
    """The value go-yaml v2 decodes a scalar node into (before the JSON conversion)."""
    tag = node.tag
    value = node.value
    if tag == _STR:
        return value
    hit = _implicit_values.get(value)
    if hit is not None and hit[0] == tag:
        return hit[1]
    if tag in _RESOLVABLE:
        rtag, out = _go_resolve(tag, value)
        if rtag == tag:
            return out
        if tag == _FLOAT and rtag == _INT and -_INT64 <= out < _INT64:
            return float(out)  # go-yaml turns an int, not a uint64, into a float
        line = node.start_mark.line + 1
        raise _Problem(
            f"the value at line {line} cannot be read as {_short(tag)}, so kubectl refuses it",
            node.start_mark,
        )
    if tag == _BINARY:
        try:
            data = binascii.a2b_base64(
                value.replace("\r", "").replace("\n", "").encode("ascii"), strict_mode=True
            )
        except (ValueError, UnicodeEncodeError):
            line = node.start_mark.line + 1
            raise _Problem(
                f"the !!binary value at line {line} is not valid base64", node.start_mark
            ) from None
        return _go_text(data)
    return value  # "<<" as a value, `!`, local and unknown tags: the text itself


def _number(value: float, node: Any) -> JSON:
    """A float as it comes back from the JSON kubectl sends: integral ones are integers
    (Go writes 1e3 as 1000), NaN and infinities cannot be written at all."""
    if value.is_integer():
        if abs(value) < 2**53:
            return int(value)
        if abs(value) < 1e21:
            return int(Decimal(repr(value)))  # Go writes the shortest digits, then zeros
        return value
    if math.isfinite(value):
        return value
    line = node.start_mark.line + 1
    raise _Problem(
        f"the value at line {line} is NaN or infinite, which JSON cannot hold, so kubectl "
        "refuses it",
        node.start_mark,
    )


def _float32(value: float) -> float:
    try:
        result: float = struct.unpack("<f", struct.pack("<f", value))[0]
        return result
    except OverflowError:
        return math.copysign(math.inf, value)


def _float_key(value: float) -> str:
    """strconv.FormatFloat(key, 'g', -1, 32), as YAMLToJSON writes a float key."""
    if math.isnan(value):
        return ".nan"
    single = _float32(value)
    if math.isinf(single):
        return ".inf" if single > 0 else "-.inf"
    if single == 0:
        return "-0" if math.copysign(1, single) < 0 else "0"
    exact = Decimal(single)
    for precision in range(1, 10):
        text = f"{single:.{precision - 1}e}"
        candidates = [Decimal(text)]
        step = Decimal(1).scaleb(Decimal(text).adjusted() - precision + 1)
        candidates += [candidates[0] - step, candidates[0] + step]
        fits = [c for c in candidates if _float32(float(c)) == single]
        if fits:
            best = min(fits, key=lambda c: abs(c - exact))
            break
    sign, digit_tuple, exponent = best.normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    assert isinstance(exponent, int)
    point = len(digits) + exponent  # digits.dp in Go
    minus = "-" if sign else ""
    if point - 1 < -4 or point - 1 >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        power = point - 1
        return f"{minus}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return minus + digits + "0" * (point - len(digits))
    return f"{minus}{digits[:point]}.{digits[point:]}"


def _key(node: Any) -> str:
    """A map key as the JSON string YAMLToJSON makes of it."""
    if node.__class__ is not yaml.ScalarNode:
        raise _Problem(
            "a list or map cannot be a map key (unhashable key), so kubectl refuses it",
            node.start_mark,
        )
    value = _scalar(node)
    cls = value.__class__
    if cls is str:
        return value  # type: ignore[no-any-return]
    if cls is bool:
        return "true" if value else "false"
    if cls is int and -_INT64 <= value < _INT64:
        return str(value)
    if cls is float:
        return _float_key(value)
    line = node.start_mark.line + 1
    what = "null" if value is None else "an integer beyond the int64 range"
    raise _Problem(
        f"the key at line {line} is {what}, which kubectl cannot turn into a JSON key",
        node.start_mark,
    )


def _merge_problem(node: Any) -> _Problem:
    return _Problem(
        "a merge key (<<) needs a map, an alias of a map or a list of them as its value",
        node.start_mark,
    )


_BUILDING = object()  # a node whose data is being built


def _build(root: Any) -> JSON:
    """The data of a composed document as kubectl gets it: go-yaml v2 decoding into
    interface{} (tags on maps and lists are ignored, merge keys apply in the order written),
    then YAMLToJSON's conversion (keys become strings). Aliases give the same object;
    a key given twice in one map raises a duplicate-key error."""
    built: dict[int, Any] = {}
    scalar_node = yaml.ScalarNode
    mapping_node = yaml.MappingNode

    def build(node: Any) -> JSON:
        cls = node.__class__
        if cls is scalar_node:
            if node.tag == _STR:
                return node.value
            out = _scalar(node)
            return _number(out, node) if out.__class__ is float else out
        ident = id(node)
        done = built.get(ident)
        if done is not None:
            if done is _BUILDING:
                raise _Problem(
                    "an alias refers to the node it is in (an anchor that contains itself), "
                    "so kubectl refuses it",
                    node.start_mark,
                )
            return done
        built[ident] = _BUILDING
        result: JSON
        if cls is mapping_node:
            mapping: dict[str, JSON] = {}
            explicit: set[str] | None = None  # keys written here, once merges added others
            for key_node, value_node in node.value:
                if key_node.__class__ is scalar_node and key_node.tag == _STR:
                    key = key_node.value
                elif key_node.tag == _MERGE and key_node.value == "<<":
                    if explicit is None:
                        explicit = set(mapping)
                    merge(mapping, key_node, value_node)
                    continue
                else:
                    key = _key(key_node)
                if key in (mapping if explicit is None else explicit):
                    raise _Problem(f"duplicate key {key!r}", key_node.start_mark)
                if explicit is not None:
                    explicit.add(key)
                mapping[key] = build(value_node)
            result = mapping
        else:
            result = [build(item) for item in node.value]
        built[ident] = result
        return result

    def merge(mapping: dict[str, JSON], key_node: Any, value_node: Any) -> None:
        if value_node.__class__ is mapping_node:
            mapping.update(build(value_node))
            return
        # go-yaml takes a list of maps, but not an alias of a list: a node that starts before
        # its key is an alias
        if value_node.__class__ is scalar_node or (
            value_node.start_mark.index < key_node.end_mark.index
        ):
            raise _merge_problem(value_node)
        for item in value_node.value:
            if item.__class__ is not mapping_node:
                raise _merge_problem(item)
        for item in reversed(value_node.value):  # the first map wins
            mapping.update(build(item))

    try:
        return build(root)
    except RecursionError:
        pass
    # deeper than Python's default limit allows (libyaml stops at 1000 levels): once more
    # with room for that; Python-to-Python calls do not use the C stack
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(limit + 2500)
    try:
        built.clear()
        return build(root)
    except RecursionError:
        raise _Problem("the document is nested too deeply to read", root.start_mark) from None
    finally:
        sys.setrecursionlimit(limit)


_ESCAPED_SLASH = re.compile(r"(?<!\\)(?:\\\\)*\\/")


def _check_go_parser(root: Any, text: str) -> None:
    """What go-yaml v2's parser (a port of libyaml 0.1) refuses and PyYAML's libyaml 0.2
    reads: "\\/" in double quotes, and "?" inside a plain scalar in a flow collection (go-yaml
    ends the scalar there, then fails)."""
    questions = "?" in text
    slashes = "\\/" in text
    if not (questions or slashes):
        return
    seen: set[int] = set()
    todo = [root]
    while todo:
        node = todo.pop()
        if node.__class__ is yaml.ScalarNode:
            if (
                slashes
                and node.style == '"'
                and _ESCAPED_SLASH.search(text, node.start_mark.index, node.end_mark.index)
            ):
                raise _Problem(
                    "kubectl's YAML parser does not know the escape \\/ (write / instead)",
                    node.start_mark,
                )
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        items = node.value if node.__class__ is yaml.SequenceNode else sum(node.value, ())
        for item in items:
            todo.append(item)
            if (
                questions
                and node.flow_style
                and item.__class__ is yaml.ScalarNode
                and not item.style
                and "?" in item.value[1:]
            ):
                raise _Problem(
                    "kubectl's YAML parser ends a plain value at '?' inside [...] or {...}: "
                    "quote it",
                    item.start_mark,
                )


# ---- documents: split as kubectl splits a file ----------------------------------------------

# kubectl's YAMLReader cuts a file at every line that starts with "---" and allows only
# spaces and a comment after it
_BAD_SEPARATOR = re.compile(r"^---[^\S\n]*[^\s#]", re.MULTILINE)
# lines where kubectl's documents and YAML's may differ: bad separators, "---#", "...", "%"
_SPECIAL_LINES = re.compile(r"^(?:---(?:[^\S\n]*[^\s#]|#)|\.\.\.|%)", re.MULTILINE)


def _chunks(text: str) -> list[tuple[int, str]]:
    """(first line, text) of each document as kubectl's YAMLReader cuts the file."""
    chunks: list[tuple[int, str]] = []
    lines: list[str] = []
    start = 0
    for number, line in enumerate(text.split("\n")):
        if line.startswith("---") and lines:
            chunks.append((start, "\n".join(lines) + "\n"))
            lines = []
            continue
        if not lines:
            start = number
        lines.append(line)
    if lines and (len(lines) > 1 or lines[0]):
        chunks.append((start, "\n".join(lines) + "\n"))
    return chunks


def _parse(text: str, first_only: bool, events: bool) -> Iterator[Any]:
    """The composed root of each document of `text`, one at a time (so that each document's
    nodes can go before the next is composed)."""
    loader = _Loader(text)
    try:
        for node in _compose_events(loader) if events else _compose_c(loader):
            yield node
            if first_only:
                break
    finally:
        loader.dispose()


def _parse_as_go(text: str, offset: int, first_only: bool) -> Iterator[tuple[int, Any]]:
    """`_parse`, where libyaml and go-yaml's parser differ: go-yaml allows `\\'` in double
    quotes (libyaml 0.2 does not: it is read as `\\x27` instead, shifting later columns of
    that line by two) and an anchor defined twice. A retry starts over, skipping the
    documents already given (the text before the retried place is unchanged)."""
    events = first_only or ("!" in text and _NON_SPECIFIC_TAG.search(text) is not None)
    check = "?" in text or "\\/" in text
    given = 0
    for _ in range(1000):
        try:
            for number, root in enumerate(_parse(text, first_only, events)):
                if number < given:
                    continue
                if check:
                    try:
                        _check_go_parser(root, text)
                    except _Problem as e:
                        e.offset = offset
                        raise
                given += 1
                yield offset, root
            return
        except yaml.scanner.ScannerError as e:
            at = e.problem_mark.index if e.problem_mark else -1
            if e.problem != "found unknown escape character" or text[at : at + 2] != "\\'":
                raise
            text = text[:at] + "\\x27" + text[at + 2 :]
        except yaml.composer.ComposerError as e:
            if events or "duplicate anchor" not in str(e.context):
                raise
            events = True
    raise yaml.YAMLError("too many escaped quotes")


def _roots(text: str, special: bool) -> Iterator[tuple[int, Any]]:
    if not special:
        yield from _parse_as_go(text, 0, False)
        return
    for start, chunk in _chunks(text):
        try:
            roots = list(_parse_as_go(chunk, start, True))
        except yaml.MarkedYAMLError as e:
            e.ambdiff_offset = start  # type: ignore[attr-defined]
            raise
        yield from roots or [(start, None)]


def load_documents(text: str, file: str) -> list[Document]:
    """Parse every document of a YAML stream as kubectl does. Empty documents (or only
    comments) are skipped. Raises YamlSyntaxError with file:line:column."""
    special = _SPECIAL_LINES.search(text)
    bad = special and _BAD_SEPARATOR.search(text, special.start())
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise YamlSyntaxError(
            "invalid YAML: kubectl reads a line that starts with '---' as a document "
            "separator, and only a comment may follow it",
            file=file, line=line, column=4,
        )  # fmt: skip
    docs: list[Document] = []
    offset = 0
    try:
        for index, (offset, node) in enumerate(_roots(text, special is not None)):
            if node is None:
                continue
            data = _build(node)
            if data is not None:
                docs.append(
                    Document(
                        index, node.start_mark.line + 1 + offset, data, _item_lines(node, offset)
                    )
                )
    except _Problem as e:
        raise YamlSyntaxError(
            f"invalid YAML: {e.message}",
            file=file, line=e.mark.line + 1 + (offset if e.offset is None else e.offset),
            column=e.mark.column + 1,
        ) from e  # fmt: skip
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        line += getattr(e, "ambdiff_offset", 0)
        problem = e.problem or e.context or "invalid YAML"
        raise YamlSyntaxError(
            f"invalid YAML: {problem}", file=file, line=line, column=column
        ) from e
    except yaml.YAMLError as e:
        raise YamlSyntaxError(f"invalid YAML: {e}", file=file, line=1, column=1) from e
    except RecursionError as e:
        raise YamlSyntaxError(
            "invalid YAML: a document is nested too deeply to read",
            file=file, line=1, column=1,
        ) from e  # fmt: skip
    return docs


def _item_lines(node: Any, offset: int = 0) -> tuple[int, ...]:
    if not isinstance(node, yaml.MappingNode):
        return ()
    for key, value in node.value:
        if key.value == "items" and isinstance(value, yaml.SequenceNode):
            return tuple(item.start_mark.line + 1 + offset for item in value.value)
    return ()


class _NotJson(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _NotJson(name)  # NaN and Infinity are not JSON (Go's decoder refuses them)


def _finite(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise _NotJson(text)  # out of range for a float64
    return number


_JSON = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite)
_JSON_SPACE = re.compile(r"[ \t\n\r]*")


def load_json_document(text: str, file: str) -> list[Document]:
    """The objects of a .json file as kubectl reads it: a stream of JSON objects when the
    file starts with "{"; otherwise, or when that fails, the file read as YAML (kubectl falls
    back to YAML, and reports the JSON error when both fail)."""
    if not text.lstrip().startswith("{"):
        return load_documents(text, file)
    docs: list[Document] = []
    try:
        position = _JSON_SPACE.match(text).end()  # type: ignore[union-attr]
        while position < len(text):
            data, end = _JSON.raw_decode(text, position)
            if data is not None:
                docs.append(Document(len(docs), text.count("\n", 0, position) + 1, data))
            position = _JSON_SPACE.match(text, end).end()  # type: ignore[union-attr]
    except (json.JSONDecodeError, _NotJson) as e:
        try:
            return load_documents(text, file)
        except YamlSyntaxError:
            if not isinstance(e, json.JSONDecodeError):
                raise
            raise YamlSyntaxError(
                f"invalid JSON: {e.msg}", file=file, line=e.lineno, column=e.colno
            ) from e
    return docs


def load_one(text: str, file: str) -> JSON:
    """A single YAML value (e.g. a settings file); None when empty."""
    docs = load_documents(text, file)
    return docs[0].data if docs else None


def dump(data: JSON) -> str:
    """Block-style YAML as a person would write it (used for the unified-diff view)."""
    out = io.StringIO()
    writer = YAML(typ="safe", pure=True)
    writer.default_flow_style = False
    writer.width = 4096
    writer.dump(data, out)
    return out.getvalue()
