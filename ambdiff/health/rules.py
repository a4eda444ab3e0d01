"""Health rules as data: what makes an object of a kind healthy, failed or still on its way.

A rule names a kind (`group` + `kind`, `*` for any) and lists checks in order; the first check
whose tests all hold decides. The built-in rules are `ambdiff/data/health.yaml`; users add
their own under `health:` in `.ambdiff.yaml`, in the same format, and theirs come first.

    - group: example.com
      kind: Database
      checks:
        - result: failed
          when: [{condition: Ready, status: "False", reason: [Failed, Misconfigured]}]
        - result: healthy
          when: [{condition: Ready}]
        - result: progressing
          when: [{field: status.phase, in: [Pending, Provisioning]}]
          message: "{status.phase}"
      otherwise: progressing

A test is `{condition: TYPE, status: S, reason: R}` (status defaults to "True"; S and R take
a value or a list), `{field: PATH, equals | in | exists | atLeast | below | sameAs: …}`, or
`{missing: {apiVersion, kind, name: PATH, namespace: PATH}}` (the object it names does not
exist; without a namespace, in the object's own; `qualified: true` reads a name NAME.NAMESPACE
as Emissary's TLSContext does); any test can say `not: true`. A PATH is dotted (`status.readyReplicas`) and may end
in `|DEFAULT` for when the field is absent (`spec.replicas|1`); `atLeast`, `below` and
`sameAs` take a PATH or a number. A message is a template of `{PATH}` and `{condition.message}`
/ `{condition.reason}` (of the last condition a test matched).
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from ambdiff.errors import ConfigError
from ambdiff.yamlio import YamlSyntaxError, load_one


class Result(StrEnum):
    HEALTHY = "healthy"
    FAILED = "failed"
    PROGRESSING = "progressing"
    NONE = "not reported"  # nothing says how it is: there is nothing to wait for


@dataclass(frozen=True)
class Path:
    """A dotted field path and the value to use when the field is absent."""

    keys: tuple[str, ...]
    default: Any = None
    has_default: bool = False

    def get(self, body: Mapping[str, Any]) -> Any:
        value: Any = body
        for key in self.keys:
            if not isinstance(value, Mapping) or key not in value:
                return self.default
            value = value[key]
        return value

    def __str__(self) -> str:
        return ".".join(self.keys) + (f"|{self.default}" if self.has_default else "")


@dataclass(frozen=True)
class Test:
    """One test of a check: a condition, a field, or a referenced object that is missing."""

    condition: str = ""
    status: tuple[str, ...] = ("True",)
    reason: tuple[str, ...] = ()
    field: Path | None = None
    op: str = ""  # equals | in | exists | atLeast | below | sameAs
    value: Any = None  # a literal, a tuple (in), or a Path (atLeast, below, sameAs)
    missing: Mapping[str, Any] | None = None  # apiVersion, kind, name: Path, namespace: Path
    negate: bool = False


@dataclass(frozen=True)
class Check:
    result: Result
    when: tuple[Test, ...]
    message: str = ""


@dataclass(frozen=True)
class Rule:
    group: str
    kind: str
    checks: tuple[Check, ...]
    otherwise: Result = Result.NONE
    message: str = ""  # the message of `otherwise`
    observed_generation: bool = True  # a status older than the spec says nothing yet
    where: str = ""  # for messages: where the rule was written

    def matches(self, group: str, kind: str) -> bool:
        return self.group in ("*", group) and self.kind in ("*", kind)


_RULE_KEYS = ("group", "apiVersion", "kind", "checks", "otherwise", "message", "observedGeneration")
_CHECK_KEYS = ("result", "when", "message")
_OPS = ("equals", "in", "exists", "atLeast", "below", "sameAs")
_TEST_KEYS = ("condition", "status", "reason", "field", "missing", "not", *_OPS)
_MISSING_KEYS = ("apiVersion", "kind", "name", "namespace", "qualified")
BUILT_IN = "ambdiff/data/health.yaml"


def with_built_in(users: Sequence[Rule]) -> tuple[Rule, ...]:
    """The rules in the order they are tried: the users' (from `.ambdiff.yaml`), then ours."""
    return (*users, *built_in())


@cache
def built_in() -> tuple[Rule, ...]:
    """The rules ambdiff ships (docs/sync.md lists them), read once."""
    text = resources.files("ambdiff").joinpath("data/health.yaml").read_text(encoding="utf-8")
    return parse(load_one(text, BUILT_IN), BUILT_IN)


def load(text: str, where: str) -> tuple[Rule, ...]:
    """Rules from YAML text (a list of rules)."""
    try:
        return parse(load_one(text, where), where)
    except YamlSyntaxError as e:
        raise ConfigError(f"{e.message.rstrip('.')}.", hint="Fix the health rules.") from e


def parse(data: Any, where: str) -> tuple[Rule, ...]:
    """Rules from data already read (the `health:` list of a settings file)."""
    if not isinstance(data, list):
        raise ConfigError(f"{where}: health rules must be a list, not {_type(data)}.")
    return tuple(_rule(raw, f"{where}[{i}]") for i, raw in enumerate(data))


def find(rules: Sequence[Rule], group: str, kind: str) -> Rule | None:
    """The first rule for this kind (users' rules come before the built-in ones)."""
    return next((r for r in rules if r.matches(group, kind)), None)


def _rule(raw: Any, where: str) -> Rule:
    _mapping(raw, _RULE_KEYS, where, "a health rule")
    if "kind" not in raw:
        raise ConfigError(f"{where}: a health rule needs 'kind' (and 'group', or 'apiVersion').")
    if "group" in raw and "apiVersion" in raw:
        raise ConfigError(f"{where}: give 'group' or 'apiVersion', not both.")
    if "group" not in raw and "apiVersion" not in raw:
        raise ConfigError(
            f'{where}: a health rule needs \'group\' ("" for Kubernetes\' core kinds, "*" for '
            "any) or 'apiVersion', so that it cannot match another group's kind of that name.",
        )
    group = (
        _string(raw["group"], f"{where}: group")
        if "group" in raw
        else _string(raw["apiVersion"], f"{where}: apiVersion").rpartition("/")[0]
    )
    if "/" in group:
        raise ConfigError(
            f"{where}: group {group!r} holds a version; write the group alone "
            f"({group.split('/')[0]}), or apiVersion: with the version."
        )
    kind = _string(raw["kind"], f"{where}: kind")
    if kind != "*" and not kind[:1].isupper():
        raise ConfigError(
            f"{where}: kind {kind!r} would match nothing: kinds are written as "
            f"the API writes them ({kind[:1].upper() + kind[1:]})."
        )
    checks = raw.get("checks") or []
    if not isinstance(checks, list):
        raise ConfigError(f"{where}: 'checks' must be a list of checks.")
    generation = raw.get("observedGeneration", True)
    if not isinstance(generation, bool):
        raise ConfigError(f"{where}: 'observedGeneration' must be true or false.")
    return Rule(
        group=group,
        kind=kind,
        checks=tuple(_check(c, f"{where}: checks[{i}]") for i, c in enumerate(checks)),
        otherwise=_result(raw.get("otherwise", Result.NONE.value), f"{where}: otherwise"),
        message=_template(raw.get("message", ""), f"{where}: message"),
        observed_generation=generation,
        where=where,
    )


def _check(raw: Any, where: str) -> Check:
    _mapping(raw, _CHECK_KEYS, where, "a check")
    if "result" not in raw:
        raise ConfigError(f"{where}: a check needs 'result' (healthy, failed or progressing).")
    when = raw.get("when")
    if not isinstance(when, list) or not when:
        raise ConfigError(f"{where}: 'when' must be a list of one or more tests.")
    return Check(
        result=_result(raw["result"], f"{where}: result"),
        when=tuple(_test(t, f"{where}: when[{i}]") for i, t in enumerate(when)),
        message=_template(raw.get("message", ""), f"{where}: message"),
    )


def _test(raw: Any, where: str) -> Test:
    _mapping(raw, _TEST_KEYS, where, "a test")
    negate = raw.get("not", False)
    if not isinstance(negate, bool):
        raise ConfigError(f"{where}: 'not' must be true or false.")
    kinds = [k for k in ("condition", "field", "missing") if k in raw]
    if len(kinds) != 1:
        raise ConfigError(f"{where}: a test has exactly one of 'condition', 'field' or 'missing'.")
    ops = [k for k in _OPS if k in raw]
    if kinds[0] == "condition":
        if ops:
            raise ConfigError(
                f"{where}: a condition test takes 'status' and 'reason', not {ops[0]!r}."
            )
        return Test(
            condition=_string(raw["condition"], f"{where}: condition"),
            status=_strings(raw.get("status", "True"), f"{where}: status"),
            reason=_strings(raw.get("reason", []), f"{where}: reason"),
            negate=negate,
        )
    if "status" in raw or "reason" in raw:
        raise ConfigError(f"{where}: 'status' and 'reason' belong to a condition test.")
    if kinds[0] == "missing":
        if ops:
            raise ConfigError(f"{where}: a missing test takes no {ops[0]!r}.")
        return Test(missing=_missing(raw["missing"], f"{where}: missing"), negate=negate)
    if len(ops) != 1:
        raise ConfigError(f"{where}: a field test has exactly one of {', '.join(_OPS)}.")
    op = ops[0]
    value = raw[op]
    if op == "in":
        if not isinstance(value, list):
            raise ConfigError(f"{where}: 'in' must be a list of values.")
        value = tuple(value)
    elif op == "exists" and not isinstance(value, bool):
        raise ConfigError(f"{where}: 'exists' must be true or false.")
    elif op in ("atLeast", "below", "sameAs"):
        value = (
            value if _number(value) else path(_string(value, f"{where}: {op}"), f"{where}: {op}")
        )
    field = path(_string(raw["field"], f"{where}: field"), f"{where}: field")
    if op in ("atLeast", "below"):
        for name, compared in (("field", field), (op, value)):
            if (
                isinstance(compared, Path)
                and compared.has_default
                and not _number(compared.default)
            ):
                raise ConfigError(
                    f"{where}: {name} {str(compared)!r}: {op} compares numbers, so "
                    "the default after | must be a number."
                )
    return Test(field=field, op=op, value=value, negate=negate)


def _missing(raw: Any, where: str) -> Mapping[str, Any]:
    _mapping(raw, _MISSING_KEYS, where, "a missing test")
    for key in ("apiVersion", "kind", "name"):
        if key not in raw:
            raise ConfigError(f"{where}: needs 'apiVersion', 'kind' and 'name' (a field path).")
    found: dict[str, Any] = {
        "apiVersion": _string(raw["apiVersion"], f"{where}: apiVersion"),
        "kind": _string(raw["kind"], f"{where}: kind"),
        "name": path(_string(raw["name"], f"{where}: name"), f"{where}: name"),
    }
    if "namespace" in raw:
        found["namespace"] = path(_string(raw["namespace"], f"{where}: namespace"), where)
    qualified = raw.get("qualified", False)
    if not isinstance(qualified, bool) or (qualified and "namespace" in raw):
        raise ConfigError(
            f"{where}: 'qualified' (the name may be NAME.NAMESPACE) is true or "
            "false, and not given with 'namespace'."
        )
    found["qualified"] = qualified
    return found


def path(text: str, where: str) -> Path:
    """`status.readyReplicas`, `spec.replicas|1`: a dotted path, an optional default."""
    dotted, bar, default = text.partition("|")
    keys = tuple(dotted.strip().split("."))
    if not all(keys):
        raise ConfigError(f"{where}: {text!r} is not a field path such as status.readyReplicas.")
    if not bar:
        return Path(keys)
    value: Any = default.strip()
    with contextlib.suppress(ValueError):
        value = int(value)
    return Path(keys, value, has_default=True)


def _template(value: Any, where: str) -> str:
    """A message: text with `{PATH}` placeholders, each brace closed."""
    text = _string(value, where)
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth not in (0, 1):
            break
    if depth != 0:
        raise ConfigError(
            f"{where}: {text!r} has a '{{' or '}}' without its pair; a placeholder "
            "is written {status.phase}."
        )
    return text


def _result(value: Any, where: str) -> Result:
    names = {r.value: r for r in Result} | {"none": Result.NONE}
    if value not in names:
        close = difflib.get_close_matches(str(value), list(names), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"{where}: {value!r} is not a result; use healthy, failed, progressing or none.{hint}"
        )
    return names[value]


def _mapping(raw: Any, keys: Sequence[str], where: str, what: str) -> None:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: {what} must be a mapping, not {_type(raw)}.")
    for key in raw:
        if key not in keys:
            close = difflib.get_close_matches(str(key), keys, n=1)
            hint = f"Did you mean {close[0]!r}?" if close else f"Known keys: {', '.join(keys)}."
            raise ConfigError(f"{where}: unknown key {key!r} in {what}.", hint=hint)


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string, not {_type(value)} (quote it).")
    return value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    return tuple(_string(v, where) for v in values)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if _number(value) else "nothing" if value is None else "a value"
    )
