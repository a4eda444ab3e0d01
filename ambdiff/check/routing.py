"""Rules about routes: `route-collision`, `route-group-conflict`, `mapping-unbound`."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from ambdiff.ambassador import DEFAULT_AMBASSADOR_ID
from ambdiff.check.findings import Emit
from ambdiff.check.grouping import MappingRoute, RouteGroup, shares, where
from ambdiff.check.inputs import Declared

# Settings that every Mapping of one route must agree on: Emissary rejects a Mapping whose
# value differs from (or is unset in) the route's first Mapping
# (IRHTTPMappingGroup.CoreMappingKeys).
CORE_KEYS = (
    "bypass_auth",
    "bypass_error_response_overrides",
    "circuit_breakers",
    "cluster_timeout_ms",
    "connect_timeout_ms",
    "cluster_idle_timeout_ms",
    "cluster_max_connection_lifetime_ms",
    "keepalive",
    "labels",
    "load_balancer",
    "prefix_regex",
    "prefix_exact",
)


def route_text(route: MappingRoute, ambassador_id: str = DEFAULT_AMBASSADOR_ID) -> str:
    """`GET host api.example.com prefix /api/ header x-canary=1`, as a reviewer reads it."""
    parts = [
        route.method or "any method",
        f"host {route.host_display}",
        f"prefix {'~' if route.prefix_regex else ''}{route.prefix}",
    ]
    parts += [f"header {h}" for h in route.headers if h.name not in (":authority", ":method")]
    parts += [f"query {q}" for q in route.query]
    if route.precedence:
        parts.append(f"precedence {route.precedence}")
    if ambassador_id != DEFAULT_AMBASSADOR_ID:
        parts.append(f"ambassador_id {ambassador_id}")
    return " ".join(parts)


def check_routes(groups: Sequence[RouteGroup], declared: Declared, emit: Emit) -> None:
    for group in groups:
        members = [m for m in group.members if not m.unbound]
        if members:
            _collision(group, members, declared, emit)
            _conflicts(group, members, declared, emit)


def check_unbound(routes: Sequence[MappingRoute], declared: Declared, emit: Emit) -> None:
    selecting = sorted({s for r in routes for s in r.selectors})
    for route in routes:
        if not route.unbound:
            continue
        labels = dict(route.resource.labels)  # strings only (manifests._essentials)
        known = f"; the Hosts here select {', '.join(selecting)}" if selecting else ""
        emit(
            "mapping-unbound",
            route.resource,
            f"has no hostname, and no Host's mappingSelector matches its labels "
            f"{json.dumps(labels, sort_keys=True)}{known}, so no Host routes to it; set "
            'spec.hostname ("*" for every Host) or label it for a Host\'s mappingSelector',
            line=declared.line_of(route.resource),
        )


def _collision(
    group: RouteGroup, members: Sequence[MappingRoute], declared: Declared, emit: Emit
) -> None:
    backends = [m for m in members if not m.shadow]
    places = {(m.resource.id.namespace, where(m.resource)[0]) for m in backends}
    if len(places) < 2:
        return  # one file and namespace: a deliberate canary or a single Mapping
    percent = dict(zip((id(m) for m in backends), shares(backends), strict=True))
    for route in backends:
        others = [m for m in backends if m is not route]
        named = ", ".join(f"{m.resource.id} ({_at(m)}, {percent[id(m)]}%)" for m in others)
        emit(
            "route-collision",
            route.resource,
            f"shares the route {route_text(route, group.key.ambassador_id)} with {named}; "
            f"Emissary splits its traffic between them ({percent[id(route)]}% here). Give the "
            "Mappings different prefixes, hosts or headers, or keep a deliberate canary in one file",
            line=declared.line_of(route.resource, ("spec", "prefix")),
        )


def _conflicts(
    group: RouteGroup, members: Sequence[MappingRoute], declared: Declared, emit: Emit
) -> None:
    route = route_text(members[0], group.key.ambassador_id)
    backends = [m for m in members if not m.shadow]
    for m in backends:
        if m.weight is not None and m.weight > 100:
            emit(
                "route-group-conflict",
                m.resource,
                f"has weight {m.weight}, over 100; Emissary rejects the route {route}",
                line=declared.line_of(m.resource, ("spec", "weight")),
            )
    weighted = [m for m in backends if m.weight is not None]
    total = sum(m.weight or 0 for m in weighted)
    if total > 100 and len(weighted) > 1:
        listed = ", ".join(f"{m.resource.id} {m.weight} ({_at(m)})" for m in weighted)
        for m in weighted:
            emit(
                "route-group-conflict",
                m.resource,
                f"the weights of route {route} add up to {total}, over 100 ({listed}); Emissary "
                "drops the whole route",
                line=declared.line_of(m.resource, ("spec", "weight")),
            )
    for m in members:
        if m.shadow and m.host_redirect:
            emit(
                "route-group-conflict",
                m.resource,
                "sets both shadow and host_redirect; Emissary ignores host_redirect",
                line=declared.line_of(m.resource, ("spec", "host_redirect")),
            )
    _only_one(route, [m for m in members if m.shadow], "shadow", declared, emit)
    redirects = [m for m in members if m.host_redirect and not m.shadow]
    _only_one(route, redirects, "host_redirect", declared, emit)
    plain = [m for m in backends if not m.host_redirect]
    if redirects and plain:
        named = ", ".join(f"{m.resource.id} ({_at(m)})" for m in plain)
        for m in redirects:
            emit(
                "route-group-conflict",
                m.resource,
                f"is a host_redirect on route {route}, which also has plain Mappings ({named}); "
                "Emissary rejects whichever it reads second",
                line=declared.line_of(m.resource, ("spec", "host_redirect")),
            )
    for finding in _core_mismatches(members):
        m, key, value, first = finding
        emit(
            "route-group-conflict",
            m.resource,
            f"has {key}: {value} but {first.resource.id} ({_at(first)}) on the same route has "
            f"{key}: {_value(first, key)}; Emissary rejects a Mapping whose core settings differ "
            "from the route's first Mapping (set the same value on every Mapping of the route)",
            line=declared.line_of(m.resource, ("spec", key)),
        )


def _only_one(
    route: str, mappings: Sequence[MappingRoute], what: str, declared: Declared, emit: Emit
) -> None:
    if len(mappings) < 2:
        return
    first = mappings[0]
    for m in mappings[1:]:
        emit(
            "route-group-conflict",
            m.resource,
            f"is a second {what} Mapping on route {route} (first: {first.resource.id}, {_at(first)}); "
            f"Emissary accepts only one",
            line=declared.line_of(m.resource, ("spec", what)),
        )


def _core_mismatches(
    members: Sequence[MappingRoute],
) -> Iterator[tuple[MappingRoute, str, str, MappingRoute]]:
    first = members[0]
    for m in members[1:]:
        for key in CORE_KEYS:
            if _value(m, key) != _value(first, key):
                yield m, key, _value(m, key), first
        if sorted(map(str, m.headers)) != sorted(map(str, first.headers)):
            yield m, "regex_headers", _matchers(m), first


def _value(route: MappingRoute, key: str) -> str:
    if key == "regex_headers":
        return _matchers(route)
    if key not in route.spec:
        return "unset"
    return json.dumps(route.spec[key], sort_keys=True, default=str)


def _matchers(route: MappingRoute) -> str:
    return "[" + ", ".join(sorted(map(str, route.headers))) + "]"


def _at(route: MappingRoute) -> str:
    file, line = where(route.resource)
    return f"{file}:{line}" if line else file
