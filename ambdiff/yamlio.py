"""YAML in and out: the one home of PyYAML and ruamel.yaml.

Bulk loading decides the speed of `check` and `diff` on big repositories, so documents are
read with libyaml's C parser (PyYAML's CSafeLoader, about ten times faster than pure-Python
ruamel; see docs/performance.md), keeping each document's first line for messages.
Output (the unified-diff view) is written with ruamel, which formats block YAML the way
people write it.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
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


class _Loader(_BaseLoader):
    """Safe loader that rejects duplicate keys (the API server would keep only one of them)
    and keeps timestamps as strings, as Kubernetes' own YAML decoding does."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                continue  # unhashable key: the base class reports it
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def _timestamp_as_text(loader: Any, node: Any) -> str:
    return str(node.value)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)

# ---- the fast path -----------------------------------------------------------------------
# libyaml parses and composes in C, but PyYAML then resolves every plain scalar's tag with
# regular expressions and builds the data through a generic, generator-based constructor,
# both in Python: three quarters of the load time of a big repository (docs/performance.md).
# Tags are cached by value, and plain maps, lists and scalars are built by `_build` below;
# anything else (merge keys, explicit tags, self-referencing anchors) goes to PyYAML's
# constructor, with the same result.

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
_MAX_DEPTH = 100
_TAG_CACHE_SIZE = 100_000
_TAG_CACHE_MAX_LENGTH = 64
_implicit_tags: dict[str, str] = {}  # plain scalar -> its resolved tag


def _resolve(self: Any, kind: Any, value: Any, implicit: Any) -> Any:
    """Resolver.resolve, cached for plain scalars (the loader has no path resolvers, so a
    plain scalar's tag depends on its text alone)."""
    if kind is yaml.ScalarNode and implicit[0] and len(value) <= _TAG_CACHE_MAX_LENGTH:
        tag = _implicit_tags.get(value)
        if tag is None:
            tag = _BaseLoader.resolve(self, kind, value, implicit)  # type: ignore[no-untyped-call]
            if len(_implicit_tags) < _TAG_CACHE_SIZE:
                _implicit_tags[value] = tag
        return tag
    return _BaseLoader.resolve(self, kind, value, implicit)  # type: ignore[no-untyped-call]


if not _Loader.yaml_path_resolvers:
    _Loader.resolve = _resolve  # type: ignore[method-assign]


class _Unsupported(Exception):
    """A node the fast path leaves to PyYAML's constructor."""


def _build(loader: _Loader, root: Any) -> JSON:
    """The data of a composed document: plain maps, lists and scalars, built directly.
    Aliases give the same object, as PyYAML's constructor does; duplicate keys raise the
    same error as `_Loader.construct_mapping`."""
    scalars = loader.yaml_constructors
    built: dict[int, JSON] = {}

    def build(node: Any, depth: int) -> JSON:
        cls = node.__class__
        if cls is yaml.ScalarNode:
            if node.tag == _STR:
                return node.value
            make = scalars.get(node.tag)
            if make is None:
                raise _Unsupported
            return make(loader, node)
        if depth > _MAX_DEPTH:
            raise _Unsupported  # deep, or an anchor that contains itself
        if id(node) in built:
            return built[id(node)]
        out: JSON
        if cls is yaml.MappingNode and node.tag == _MAP:
            mapping: dict[Any, JSON] = {}
            for key_node, value_node in node.value:
                if key_node.__class__ is yaml.ScalarNode and key_node.tag == _STR:
                    key = key_node.value
                elif key_node.tag == _MERGE:
                    raise _Unsupported
                else:
                    key = build(key_node, depth + 1)
                try:
                    duplicate = key in mapping
                except TypeError:
                    raise _Unsupported from None  # unhashable key: PyYAML reports it
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                mapping[key] = build(value_node, depth + 1)
            out = mapping
        elif cls is yaml.SequenceNode and node.tag == _SEQ:
            out = [build(item, depth + 1) for item in node.value]
        else:
            raise _Unsupported  # merge keys, sets, omaps, explicit tags
        built[id(node)] = out
        return out

    try:
        return build(root, 0)
    except _Unsupported:
        return loader.construct_document(root)


def load_documents(text: str, file: str) -> list[Document]:
    """Parse every document of a YAML stream. Empty documents (or only comments) are
    skipped. Raises YamlSyntaxError with file:line:column."""
    loader = _Loader(text)
    docs: list[Document] = []
    index = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                break
            data = _build(loader, node)
            if data is not None:
                docs.append(Document(index, node.start_mark.line + 1, data, _item_lines(node)))
            index += 1
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = e.problem or e.context or "invalid YAML"
        raise YamlSyntaxError(
            f"invalid YAML: {problem}", file=file, line=line, column=column
        ) from e
    except yaml.YAMLError as e:
        raise YamlSyntaxError(f"invalid YAML: {e}", file=file, line=1, column=1) from e
    finally:
        loader.dispose()
    return docs


def _item_lines(node: Any) -> tuple[int, ...]:
    if not isinstance(node, yaml.MappingNode):
        return ()
    for key, value in node.value:
        if key.value == "items" and isinstance(value, yaml.SequenceNode):
            return tuple(item.start_mark.line + 1 for item in value.value)
    return ()


def load_json_document(text: str, file: str) -> list[Document]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise YamlSyntaxError(
            f"invalid JSON: {e.msg}", file=file, line=e.lineno, column=e.colno
        ) from e
    return [Document(0, 1, data)] if data is not None else []


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
