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
one of them. Hostile input is bounded by counts, never by time: aliases by go-yaml's own
"excessive aliasing" rule (aliases share one object here, so nothing is ever expanded), and
nesting by MAX_DEPTH; messages name the place, never a value (it may be a secret).
"""

from __future__ import annotations

import binascii
import codecs
import io
import json
import math
import re
import struct
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import yaml

from ambdiff.errors import ManifestError
from ambdiff.forked import map_split
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
    if not _DIGITS[base].fullmatch(s):
        return None
    # more than 64 digits is beyond 64 bits in any base, and Python refuses to convert
    # thousands of decimal digits: say "out of range" without converting
    return _UINT64 if len(s) > 64 and len(s.lstrip("0")) > 64 else int(s, base)


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
    `!` stays a tag of its own and an anchor may be defined again (the last one counts).
    A loop with a stack of open collections, so that depth costs no recursion."""
    get: Any = loader.get_event
    peek: Any = loader.peek_event
    anchors: dict[str, Any] = {}
    scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
    ends = (yaml.SequenceEndEvent, yaml.MappingEndEvent)

    get()  # stream start
    while not isinstance(peek(), yaml.StreamEndEvent):
        get()  # document start
        anchors.clear()
        open_nodes: list[list[Any]] = []  # [collection, its pending key] from the root down
        while True:
            event = get()
            cls = event.__class__
            node: Any
            if cls in ends:
                node = open_nodes.pop()[0]
                node.end_mark = event.end_mark
            elif cls is alias_event:
                node = anchors.get(event.anchor)
                if node is None:
                    raise yaml.composer.ComposerError(
                        None, None, f"found undefined alias {event.anchor!r}", event.start_mark
                    )
            elif cls is scalar_event:
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
            else:
                if cls is yaml.SequenceStartEvent:
                    node = yaml.SequenceNode(
                        _SEQ, [], event.start_mark, None, flow_style=event.flow_style
                    )
                else:
                    node = yaml.MappingNode(
                        _MAP, [], event.start_mark, None, flow_style=event.flow_style
                    )
                if event.anchor is not None:
                    anchors[event.anchor] = node
                open_nodes.append([node, None])
                continue
            if not open_nodes:
                break
            parent = open_nodes[-1]
            if parent[0].__class__ is yaml.SequenceNode:
                parent[0].value.append(node)
            elif parent[1] is None:
                parent[1] = node
            else:
                parent[0].value.append((parent[1], node))
                parent[1] = None
        get()  # document end
        yield node


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


# Lists and maps inside each other, per document. kubectl allows 10,000 and libyaml 1,000;
# what reads the data after the loader (normalize, differ, json) recurses, a frame or two
# per level under Python's limit of 1,000, so ambdiff stops at 200 (its own CRDs use 18).
MAX_DEPTH = 200

_BUILDING = object()  # a node whose data is being built


def _build(root: Any) -> JSON:
    """The data of a composed document as kubectl gets it: go-yaml v2 decoding into
    interface{} (tags on maps and lists are ignored, merge keys apply in the order written),
    then YAMLToJSON's conversion (keys become strings). Aliases give the same object;
    a key given twice in one map raises a duplicate-key error.

    A loop over a stack of the collections being built (each one a generator that yields
    the collections it contains and is sent their data), so depth costs no recursion."""
    if root.__class__ is yaml.ScalarNode:
        return _scalar_data(root)
    built: dict[int, Any] = {id(root): _BUILDING}
    stack: list[tuple[Any, Generator[Any, Any, JSON]]] = [(root, _steps(root))]
    shared = False
    sent: Any = None
    while True:
        node, steps = stack[-1]
        try:
            child = steps.send(sent)
        except StopIteration as done:
            built[id(node)] = sent = done.value
            stack.pop()
            if not stack:
                break
            continue
        sent = built.get(id(child))
        if sent is None:
            if len(stack) >= MAX_DEPTH:
                raise _Problem(_TOO_DEEP, child.start_mark)
            built[id(child)] = _BUILDING
            stack.append((child, _steps(child)))
        elif sent is _BUILDING:
            raise _Problem(
                "an alias refers to the node it is in (an anchor that contains itself), "
                "so kubectl refuses it",
                child.start_mark,
            )
        else:
            shared = True  # an alias of a list or map
    if shared:
        _check_aliasing(root)
    return sent


_TOO_DEEP = f"lists and maps are nested more than {MAX_DEPTH} deep here, deeper than ambdiff reads"
_TOO_DEEP_JSON = (
    f"arrays and objects are nested more than {MAX_DEPTH} deep here, deeper than ambdiff reads"
)


def _scalar_data(node: Any) -> JSON:
    if node.tag == _STR:
        return node.value
    out = _scalar(node)
    return _number(out, node) if out.__class__ is float else out


def _steps(node: Any) -> Generator[Any, Any, JSON]:
    return _mapping_steps(node) if node.__class__ is yaml.MappingNode else _sequence_steps(node)


def _sequence_steps(node: Any) -> Generator[Any, Any, JSON]:
    items: list[JSON] = []
    for item in node.value:
        if item.__class__ is yaml.ScalarNode:
            items.append(item.value if item.tag == _STR else _scalar_data(item))
        else:
            items.append((yield item))
    return items


def _mapping_steps(node: Any) -> Generator[Any, Any, JSON]:
    scalar_node = yaml.ScalarNode
    mapping: dict[str, JSON] = {}
    explicit: set[str] | None = None  # keys written here, once merges added others
    for key_node, value_node in node.value:
        if key_node.__class__ is scalar_node and key_node.tag == _STR:
            key = key_node.value
        elif key_node.tag == _MERGE and key_node.value == "<<":
            if explicit is None:
                explicit = set(mapping)
            for source in _merge_sources(key_node, value_node):
                mapping.update((yield source))
            continue
        else:
            key = _key(key_node)
        if key in (mapping if explicit is None else explicit):
            raise _Problem(_duplicate(key, key_node), key_node.start_mark)
        if explicit is not None:
            explicit.add(key)
        if value_node.__class__ is scalar_node:
            mapping[key] = value_node.value if value_node.tag == _STR else _scalar_data(value_node)
        else:
            mapping[key] = yield value_node
    return mapping


def _duplicate(key: str, node: Any = None) -> str:
    """Names the key when it is short and printable (keys are names, values are not), and
    what was written when YAML read it as something else (`on` and `yes` are both true)."""
    if not (len(key) <= 60 and key.isprintable()):
        return "duplicate key (this key is given twice in one map)"
    written = getattr(node, "value", key) if node.__class__ is yaml.ScalarNode else key
    if isinstance(written, str) and written != key and not getattr(node, "style", None):
        why = f" (as kubectl reads YAML, {_KEY_WORDS} are booleans)" if key in _BOOLEANS else ""
        return (
            f"duplicate key {key!r}: {written!r} is read as {key!r}{why}; quote the key to "
            "keep it as written"
        )
    return f"duplicate key {key!r}"


_KEY_WORDS = "y, yes, on, n, no, off"
_BOOLEANS = ("true", "false")


def _merge_sources(key_node: Any, value_node: Any) -> list[Any]:
    """The maps a merge key takes, in the order go-yaml applies them (the first one wins)."""
    if value_node.__class__ is yaml.MappingNode:
        return [value_node]
    # go-yaml takes a list of maps, but not an alias of a list: a node that starts before
    # its key is an alias
    if value_node.__class__ is yaml.ScalarNode or (
        value_node.start_mark.index < key_node.end_mark.index
    ):
        raise _merge_problem(value_node)
    for item in value_node.value:
        if item.__class__ is not yaml.MappingNode:
            raise _merge_problem(item)
    return value_node.value[::-1]  # type: ignore[no-any-return]


# ---- aliases: go-yaml v2's "excessive aliasing" rule ------------------------------------
# go-yaml v2 (decode.go, `unmarshal` and `allowedAliasRatio`) counts every node it decodes,
# and those it decodes again through an alias, and refuses a document once more than 100
# come from aliases, more than 1,000 in all, and the aliases' share exceeds 99 % (falling to
# 10 % between 400,000 and 4,000,000 nodes). Here aliases share one object, so the data is
# never expanded; the counts are computed from each node's size, in go-yaml's order.

_ALIAS_RATIO_LOW = 400_000
_ALIAS_RATIO_HIGH = 4_000_000


def _allowed_alias_ratio(decodes: int) -> float:
    if decodes <= _ALIAS_RATIO_LOW:
        return 0.99
    if decodes >= _ALIAS_RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decodes - _ALIAS_RATIO_LOW) / (_ALIAS_RATIO_HIGH - _ALIAS_RATIO_LOW)


def _excessive(decodes: int, aliased: int) -> bool:
    return aliased > 100 and decodes > 1000 and aliased / decodes > _allowed_alias_ratio(decodes)


_Occurrence = tuple[Any, bool, Any]  # a child node, whether it is an alias, where (a mark)


def _occurrences(node: Any) -> list[_Occurrence]:
    """The nodes go-yaml decodes for a list or map, in its order (a merge key's list last
    to first), each marked as an alias or not. A node is an alias where it starts before
    the end of what precedes it: an anchor is always defined before its aliases."""
    out: list[_Occurrence] = []
    frontier = node.start_mark.index
    if node.__class__ is yaml.SequenceNode:
        for item in node.value:
            alias = item.start_mark.index < frontier
            if not alias:
                frontier = item.end_mark.index
            out.append((item, alias, node.start_mark))
        return out
    for key_node, value_node in node.value:
        alias = key_node.start_mark.index < frontier
        if not alias:
            frontier = key_node.end_mark.index
        value_alias = value_node.start_mark.index < frontier
        if key_node.tag == _MERGE and key_node.value == "<<":
            if value_node.__class__ is yaml.SequenceNode and not value_alias:
                out.extend(reversed(_occurrences(value_node)))
            else:
                out.append((value_node, value_alias, key_node.start_mark))
        else:
            out.append((key_node, alias, key_node.start_mark))
            out.append((value_node, value_alias, key_node.start_mark))
        if not value_alias:
            frontier = value_node.end_mark.index
    return out


def _check_aliasing(root: Any) -> None:
    """Raise where go-yaml v2 would find "excessive aliasing" in this (acyclic) document,
    or where an alias makes it deeper than MAX_DEPTH."""
    scalar_node = yaml.ScalarNode
    children: dict[int, list[_Occurrence]] = {}
    sizes: dict[int, int] = {}  # nodes go-yaml decodes for a list or map, itself included
    heights: dict[int, int] = {}  # lists and maps from a list or map down, itself included
    todo = [root]
    while todo:
        node = todo[-1]
        if id(node) in sizes:
            todo.pop()
            continue
        occurrences = children.get(id(node))
        if occurrences is None:
            occurrences = children[id(node)] = _occurrences(node)
        waiting = [
            child
            for child, _, _ in occurrences
            if child.__class__ is not scalar_node and id(child) not in sizes
        ]
        if waiting:
            todo.extend(waiting)
            continue
        sizes[id(node)] = 1 + sum(
            alias + (1 if child.__class__ is scalar_node else sizes[id(child)])
            for child, alias, _ in occurrences
        )
        heights[id(node)] = 1 + max(
            (
                heights[id(child)]
                for child, _, _ in occurrences
                if child.__class__ is not scalar_node
            ),
            default=0,
        )
        todo.pop()
    decodes, aliased = 2, 0  # the document node and its root
    walk = [iter(children[id(root)])]
    while walk:
        for child, alias, where in walk[-1]:
            decodes += 1  # the node, or the alias node
            if alias:
                size = 1 if child.__class__ is scalar_node else sizes[id(child)]
                decodes += size
                aliased += size
                if size > 1 and len(walk) + heights[id(child)] > MAX_DEPTH:
                    raise _Problem(_TOO_DEEP, where)
            if _excessive(decodes, aliased):
                raise _Problem(
                    "the aliases in this document expand to too many values (go-yaml's "
                    "limit on excessive aliasing), so kubectl refuses it",
                    where,
                )
            if not alias and child.__class__ is not scalar_node:
                walk.append(iter(children[id(child)]))
                break
        else:
            walk.pop()


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
        items = (
            node.value
            if node.__class__ is yaml.SequenceNode
            else [part for pair in node.value for part in pair]  # not sum(): quadratic
        )
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
    documents already given (the text before the retried place is unchanged); it mends
    every `\\'` of that quoted text at once, and the text parsed again is bounded."""
    events = first_only or ("!" in text and _NON_SPECIFIC_TAG.search(text) is not None)
    check = "?" in text or "\\/" in text
    given = 0
    reparsed = 0
    while True:
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
            reparsed += at  # parsed again up to here, next time
            if reparsed > _REPARSE_LIMIT:
                e.problem = (
                    "too many double-quoted values with the escape \\' for ambdiff to read "
                    "(write ' instead)"
                )
                raise
            end = _DOUBLE_QUOTED_REST.match(text, at).end()  # type: ignore[union-attr]
            text = text[:at] + _ESCAPE.sub(_go_escape, text[at:end]) + text[end:]
        except yaml.composer.ComposerError as e:
            if events or "duplicate anchor" not in str(e.context):
                raise
            events = True


_REPARSE_LIMIT = 10_000_000  # characters parsed again, in all, to mend \' (a second or two)
_DOUBLE_QUOTED_REST = re.compile(r'(?:[^"\\]+|\\.)*', re.DOTALL)
_ESCAPE = re.compile(r"\\.", re.DOTALL)


def _go_escape(match: re.Match[str]) -> str:
    return "\\x27" if match.group() == "\\'" else match.group()


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
    _check_encoding(text, file, "YAML")
    special = _SPECIAL_LINES.search(text)
    bad = special and _BAD_SEPARATOR.search(text, special.start())
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise YamlSyntaxError(
            "invalid YAML: kubectl reads a line that starts with '---' as a document "
            "separator, and only a comment may follow it",
            file=file,
            line=line,
            column=4,
        )
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
            file=file,
            line=e.mark.line + 1 + (offset if e.offset is None else e.offset),
            column=e.mark.column + 1,
        ) from e
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        line += getattr(e, "ambdiff_offset", 0)
        problem = e.problem or e.context or "invalid YAML"
        if problem == "exceeded maximum nesting depth":  # libyaml's limit, MAX_DEPTH
            problem = _TOO_DEEP
        raise YamlSyntaxError(
            f"invalid YAML: {problem}", file=file, line=line, column=column
        ) from e
    except yaml.reader.ReaderError as e:
        where = text.find(chr(e.character)) if isinstance(e.character, int) else -1
        line, column = _line_column(text, where) if where >= 0 else (1, 1)
        what = f"U+{e.character:04X}" if isinstance(e.character, int) else "character"
        raise YamlSyntaxError(
            f"invalid YAML: the control character {what} is not allowed in YAML",
            file=file,
            line=line,
            column=column,
        ) from e
    except yaml.YAMLError as e:
        raise YamlSyntaxError(
            "invalid YAML: kubectl cannot read it", file=file, line=1, column=1
        ) from e
    except RecursionError as e:  # only without libyaml: PyYAML's own parser recurses
        raise YamlSyntaxError(f"invalid YAML: {_TOO_DEEP}", file=file, line=1, column=1) from e
    return docs


_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_encoding(text: str, file: str, what: str) -> None:
    """Text decoded with errors="surrogateescape" keeps bytes that are not UTF-8 as lone
    surrogates; kubectl refuses such a file."""
    bad = _SURROGATE.search(text)
    if bad is not None:
        line, column = _line_column(text, bad.start())
        raise YamlSyntaxError(
            f"invalid {what}: the file is not valid UTF-8 here (save it as UTF-8)",
            file=file,
            line=line,
            column=column,
        )


def _line_column(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of text[index]."""
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def _item_lines(node: Any, offset: int = 0) -> tuple[int, ...]:
    if not isinstance(node, yaml.MappingNode):
        return ()
    for key, value in node.value:
        if key.value == "items" and isinstance(value, yaml.SequenceNode):
            return tuple(item.start_mark.line + 1 + offset for item in value.value)
    return ()


class _NotJson(ValueError):
    pass


class _JsonProblem(ValueError):
    """JSON that parses but that ambdiff refuses; `position` is where (an index)."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


def _no_constant(name: str) -> Any:
    raise _NotJson(name)  # NaN and Infinity are not JSON (Go's decoder refuses them)


def _finite(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise _NotJson(text)  # out of range for a float64
    return number


def _json_int(text: str) -> JSON:
    """An integer as kubectl's JSON decoder gives it: an int64, else a float64."""
    if len(text) < 19:
        return int(text)
    if len(text) <= 20:
        value = int(text)
        if -_INT64 <= value < _INT64:
            return value
    number = _finite(text)  # no int(): Python refuses thousands of digits
    return int(Decimal(repr(number))) if abs(number) < 1e21 else number


def _json_object(pairs: list[tuple[str, JSON]]) -> dict[str, JSON]:
    data = dict(pairs)
    if len(data) != len(pairs):
        raise _JsonProblem("duplicate key", -1)  # found again, with its place, by _decode_deep
    return data


_JSON = json.JSONDecoder(
    parse_constant=_no_constant,
    parse_float=_finite,
    parse_int=_json_int,
    object_pairs_hook=_json_object,
)
_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_JSON_NUMBER = re.compile(r"(-?(?:0|[1-9][0-9]*))(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_JSON_WORD = re.compile(r"null|true|false|NaN|Infinity|-Infinity")
_JSON_WORDS: dict[str, JSON] = {"null": None, "true": True, "false": False}
_NOT_JSON = object()
_LONE_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def load_json_document(text: str, file: str) -> list[Document]:
    """The objects of a .json file as kubectl reads it: a stream of JSON objects when the
    file starts with "{"; otherwise, or when that fails, the file read as YAML (kubectl falls
    back to YAML, and reports the JSON error when both fail). A key given twice in one
    object, or nesting deeper than MAX_DEPTH, is an error."""
    _check_encoding(text, file, "JSON")
    if not text.lstrip().startswith("{"):
        return load_documents(text, file)
    docs: list[Document] = []
    deep = text.count("[") + text.count("{") > MAX_DEPTH  # else MAX_DEPTH cannot be passed
    line, counted = 1, 0  # the line at `counted`: lines counted once, not per document
    try:
        position = _JSON_SPACE.match(text).end()  # type: ignore[union-attr]
        while position < len(text):
            line, counted = line + text.count("\n", counted, position), position
            try:
                data, end = _JSON.raw_decode(text, position)
                if deep and _deeper_than(data, MAX_DEPTH):
                    raise _JsonProblem("too deep", -1)
            except (RecursionError, _JsonProblem):  # too deep (for json's C decoder, or
                data, end = _decode_deep(text, position)  # MAX_DEPTH), a duplicate key: where
            if data is not None:
                docs.append(Document(len(docs), line, data))
            position = _JSON_SPACE.match(text, end).end()  # type: ignore[union-attr]
    except _JsonProblem as e:
        line, column = _line_column(text, e.position)
        raise YamlSyntaxError(
            f"invalid JSON: {e.message}", file=file, line=line, column=column
        ) from e
    except (json.JSONDecodeError, _NotJson) as e:
        try:
            return load_documents(text, file)
        except YamlSyntaxError:
            if not isinstance(e, json.JSONDecodeError):
                raise
            raise YamlSyntaxError(
                f"invalid JSON: {e.msg}", file=file, line=e.lineno, column=e.colno
            ) from e
    if _LONE_SURROGATE_ESCAPE.search(text):
        for doc in docs:
            _replace_lone_surrogates(doc.data)
    return docs


def _decode_deep(text: str, position: int) -> tuple[JSON, int]:
    """`_JSON.raw_decode` as a loop over a stack of open arrays and objects instead of
    recursion, refusing nesting deeper than MAX_DEPTH and duplicate keys, with their place."""
    space = _JSON_SPACE.match
    scan = json.decoder.scanstring  # type: ignore[attr-defined]
    stack: list[list[Any]] = []  # [array or object, the key of the value being read]

    def key_at(at: int) -> tuple[str, int]:
        if text[at : at + 1] != '"':
            raise json.JSONDecodeError(
                "Expecting property name enclosed in double quotes", text, at
            )
        key, at = scan(text, at + 1)
        at = space(text, at).end()  # type: ignore[union-attr]
        if text[at : at + 1] != ":":
            raise json.JSONDecodeError("Expecting ':' delimiter", text, at)
        return key, space(text, at + 1).end()  # type: ignore[union-attr]

    while True:
        position = space(text, position).end()  # type: ignore[union-attr]
        char = text[position : position + 1]
        value: Any
        if char in ("{", "["):
            if len(stack) >= MAX_DEPTH:
                raise _JsonProblem(_TOO_DEEP_JSON, position)
            after = space(text, position + 1).end()  # type: ignore[union-attr]
            if text[after : after + 1] != ("}" if char == "{" else "]"):
                if char == "[":
                    stack.append([[], None])
                    position = after
                else:
                    key, position = key_at(after)
                    stack.append([{}, (key, after)])
                continue
            value, position = ({} if char == "{" else []), after + 1
        elif char == '"':
            value, position = scan(text, position + 1)
        else:
            number = _JSON_NUMBER.match(text, position)
            if number is not None:
                whole, fraction, exponent = number.groups()
                if fraction or exponent:
                    value = _finite(whole + (fraction or "") + (exponent or ""))
                else:
                    value = _json_int(whole)
                position = number.end()
            else:
                word = _JSON_WORD.match(text, position)
                if word is None:
                    raise json.JSONDecodeError("Expecting value", text, position)
                value = _JSON_WORDS.get(word.group(), _NOT_JSON)
                if value is _NOT_JSON:
                    raise _NotJson(word.group())
                position = word.end()
        while True:  # the value ends arrays and objects, or is followed by another
            if not stack:
                return value, position
            container, pending = stack[-1]
            if pending is None:
                container.append(value)
            else:
                if pending[0] in container:
                    raise _JsonProblem(_duplicate(pending[0]), pending[1])
                container[pending[0]] = value
            position = space(text, position).end()  # type: ignore[union-attr]
            char = text[position : position + 1]
            if char == ",":
                after = space(text, position + 1).end()  # type: ignore[union-attr]
                if pending is None:
                    position = after
                else:
                    key, position = key_at(after)
                    stack[-1][1] = (key, after)
                break
            if char != ("]" if pending is None else "}"):
                raise json.JSONDecodeError("Expecting ',' delimiter", text, position)
            stack.pop()
            value, position = container, position + 1


def _deeper_than(data: JSON, limit: int) -> bool:
    todo = [(data, 1)]
    while todo:
        node, depth = todo.pop()
        if node.__class__ is dict or node.__class__ is list:
            if depth > limit:
                return True
            children = node.values() if node.__class__ is dict else node
            todo.extend((child, depth + 1) for child in children)
    return False


def _replace_lone_surrogates(data: JSON) -> None:
    """Go's JSON decoder reads an escaped lone surrogate ("\\ud800") as U+FFFD; Python's
    keeps it, and it could not be written out."""
    todo = [data]
    while todo:
        node = todo.pop()
        items = (
            node.items()
            if isinstance(node, dict)
            else enumerate(node)
            if isinstance(node, list)
            else ()
        )
        for key, value in list(items):
            if isinstance(value, str) and _SURROGATE.search(value):
                node[key] = _SURROGATE.sub("\ufffd", value)
            elif isinstance(value, (dict, list)):
                todo.append(value)
        if isinstance(node, dict) and any(_SURROGATE.search(key) for key in node):
            fixed = {_SURROGATE.sub("\ufffd", k): v for k, v in node.items()}
            node.clear()
            node.update(fixed)


# Below this much text (about 2,000 objects) a second process gains next to nothing: at
# 1,000 objects (0.46 MB) two processes read in 0.08-0.10 s what one reads in 0.10 s.
PARALLEL_FROM = 1_000_000


def load_file(text: str, path: str) -> list[Document]:
    """The documents of one file as kubectl reads it: a .json path as JSON (or YAML, as
    kubectl falls back), any other as YAML."""
    loader = load_json_document if path.endswith(".json") else load_documents
    return loader(text, path)


def load_files(
    files: Sequence[tuple[str, str]], *, parallel_from: int | None = None
) -> list[list[Document] | None]:
    """`load_file` of each (path, text), or None for a file it refuses (call it again for
    the error). A big input is read by two processes (`forked.map_split`)."""
    loaded = map_split(
        _load_plain,
        files,
        sizes=[len(text) for _, text in files],
        parallel_from=PARALLEL_FROM if parallel_from is None else parallel_from,
    )
    return [None if docs is None else [Document(*fields) for fields in docs] for docs in loaded]


def _load_plain(file: tuple[str, str]) -> list[tuple[int, int, JSON, tuple[int, ...]]] | None:
    path, text = file
    try:
        documents = load_file(text, path)
    except YamlSyntaxError:
        return None
    return [(doc.index, doc.line, doc.data, doc.item_lines) for doc in documents]


def load_one(text: str, file: str) -> JSON:
    """A single YAML value (e.g. a settings file); None when empty."""
    docs = load_documents(text, file)
    return docs[0].data if docs else None


def dump(data: JSON) -> str:
    """Block-style YAML as a person would write it (used for the unified-diff view)."""
    from ruamel.yaml import YAML  # here: only the unified-diff view writes YAML

    out = io.StringIO()
    writer = YAML(typ="safe", pure=True)
    writer.default_flow_style = False
    writer.width = 4096
    writer.dump(data, out)
    return out.getvalue()
