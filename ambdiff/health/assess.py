"""Judge one live object by its health rule: healthy, failed, progressing, or not reported."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ambdiff.health.rules import Check, Path, Result, Rule, Test

# exists(apiVersion, kind, namespace, name): does the object a `missing` test names exist?
Lookup = Callable[[str, str, str, str], bool]
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
MAX_MESSAGE = 300  # a controller's message can be a page; the first part says what


@dataclass(frozen=True)
class Health:
    result: Result
    message: str = ""


def assess(body: Mapping[str, Any], rule: Rule | None, exists: Lookup) -> Health:
    """The first check of `rule` whose tests all hold decides; else the rule's `otherwise`."""
    if rule is None:
        return Health(Result.NONE)
    if rule.observed_generation:
        stale = _stale(body)
        if stale:
            return Health(Result.PROGRESSING, stale)
    for check in rule.checks:
        matched = _holds(body, check, exists)
        if matched is not None:
            return Health(check.result, _message(check, body, matched))
    return Health(rule.otherwise, _fill(rule.message, body, {}))


def _stale(body: Mapping[str, Any]) -> str:
    """kstatus's rule: a status written for an older generation says nothing about this one."""
    meta = body.get("metadata")
    generation = meta.get("generation") if isinstance(meta, Mapping) else None
    status = body.get("status")
    observed = status.get("observedGeneration") if isinstance(status, Mapping) else None
    if isinstance(generation, int) and isinstance(observed, int) and observed < generation:
        return (
            f"waiting for its controller to see generation {generation} (its status is of "
            f"generation {observed})"
        )
    return ""


def _holds(body: Mapping[str, Any], check: Check, exists: Lookup) -> dict[str, Any] | None:
    """None when a test fails; else what the message may name: the last condition a test
    matched (`condition`) and the object a `missing` test found missing (`missing`)."""
    matched: dict[str, Any] = {}
    for test in check.when:
        ok, found = _test(body, test, exists)
        if ok == test.negate:
            return None
        if ok:
            matched.update(found)
    return matched


def _test(body: Mapping[str, Any], test: Test, exists: Lookup) -> tuple[bool, dict[str, Any]]:
    if test.condition:
        found = condition(body, test.condition)
        if found is None:
            return False, {}
        ok = str(found.get("status")) in test.status and (
            not test.reason or str(found.get("reason")) in test.reason
        )
        return ok, {"condition": found}
    if test.missing is not None:
        m = test.missing
        name = m["name"].get(body)
        if not isinstance(name, str) or not name:
            return False, {}
        # A reference without a namespace means the referring object's own.
        namespace = m["namespace"].get(body) if "namespace" in m else None
        if m["qualified"] and "." in name:  # Emissary's secret_namespacing: the last dot
            name, namespace = name.rsplit(".", 1)
        if not isinstance(namespace, str) or not namespace:
            meta = body.get("metadata")
            namespace = str((meta.get("namespace") if isinstance(meta, Mapping) else "") or "")
        gone = not exists(m["apiVersion"], m["kind"], namespace, name)
        return gone, {
            "missing": f"{m['kind']} {namespace}/{name}" if namespace else f"{m['kind']} {name}"
        }
    assert test.field is not None
    return _compare(test.field.get(body), test.op, test.value, body), {}


def _compare(value: Any, op: str, expected: Any, body: Mapping[str, Any]) -> bool:
    if op == "exists":
        return bool((value is not None) == expected)
    if op == "equals":
        return value is not None and _same(value, expected)
    if op == "in":
        return value is not None and any(_same(value, e) for e in expected)
    other = expected.get(body) if isinstance(expected, Path) else expected
    if op == "sameAs":
        return value is not None and other is not None and _same(value, other)
    if not _numeric(value) or not _numeric(other):
        return False
    return bool(value >= other) if op == "atLeast" else bool(value < other)


def condition(body: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    """The status condition of this type, if the object has one."""
    status = body.get("status")
    conditions = status.get("conditions") if isinstance(status, Mapping) else None
    if not isinstance(conditions, list):
        return None
    return next((c for c in conditions if isinstance(c, dict) and c.get("type") == kind), None)


def _message(check: Check, body: Mapping[str, Any], matched: dict[str, Any]) -> str:
    """The check's own message, else (not for healthy) the condition that decided."""
    if check.message:
        return _fill(check.message, body, matched)
    found = matched.get("condition")
    if not found or check.result is Result.HEALTHY:
        return ""
    reason = f" ({found['reason']})" if found.get("reason") else ""
    text = f"{found.get('type')}={found.get('status')}{reason}"
    return _cut(f"{text}: {found['message']}" if found.get("message") else text)


def _fill(template: str, body: Mapping[str, Any], matched: dict[str, Any]) -> str:
    def one(m: re.Match[str]) -> str:
        text = m.group(1).strip()
        if text.startswith("condition."):
            found = matched.get("condition") or {}
            return str(found.get(text.removeprefix("condition."), "") or "")
        if text == "missing":
            return str(matched.get("missing") or "?")
        dotted, bar, default = text.partition("|")
        value = Path(tuple(dotted.split("."))).get(body)
        if value is None or isinstance(value, Mapping | list):
            return default if bar else "?"
        return str(value).lower() if isinstance(value, bool) else str(value)

    return _cut(_PLACEHOLDER.sub(one, template))


def _cut(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 1] + "…"


def _same(value: Any, expected: Any) -> bool:
    if isinstance(value, bool) or isinstance(expected, bool):
        return value is expected
    if _numeric(value) and _numeric(expected):
        return bool(value == expected)
    return str(value) == str(expected)


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
