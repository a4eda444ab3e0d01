"""Mappings as Emissary sees them: which Mappings make up one route, and in which order the
routes are tried.

Emissary puts Mappings into one group (one Envoy route) when they agree on the method
(default GET), the prefix, the header matchers (name and value; `host`/`hostname` is an
`:authority` header, `method` a `:method` header), the query-parameter matchers and a
non-zero precedence. Namespace, name, service and weight are not part of it. For v3alpha1
Mappings without a hostname, the Hosts whose mappingSelector picks them up decide where the
route lives, so their selectors are part of the key here. Groups are tried in descending
"route weight": precedence, prefix length, matcher lengths, then the prefix text. See
Emissary's python/ambassador/ir/irhttpmapping.py (_group_id, _route_weight) and
irbasemappinggroup.py (normalize_weights_in_mappings).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ambdiff.ambassador import DEFAULT_AMBASSADOR_ID, ambassador_ids
from ambdiff.check.inputs import spec_of
from ambdiff.model import JSON, Resource, split_api_version

V3 = "v3alpha1"


@dataclass(frozen=True, order=True)
class Matcher:
    """A header or query-parameter match; `value` None means "present, any value"."""

    name: str
    value: str | None
    regex: bool = False

    def __str__(self) -> str:
        if self.value is None:
            return self.name
        return f"{self.name}{'~' if self.regex else '='}{self.value}"


@dataclass(frozen=True)
class HostInfo:
    resource: Resource
    hostname: str
    selector: Mapping[str, JSON] | None
    ids: frozenset[str]

    def selects(self, mapping: Resource) -> bool:
        return self.selector is not None and _selector_matches(self.selector, mapping.labels)


@dataclass(frozen=True, order=True)
class RouteKey:
    """What makes two Mappings the same route for one Ambassador installation."""

    ambassador_id: str
    method: str
    prefix: str
    matchers: tuple[tuple[str, str | None], ...]
    query: tuple[tuple[str, str | None], ...]
    precedence: int
    selectors: tuple[str, ...] = ()


@dataclass(frozen=True)
class MappingRoute:
    """One Mapping's contribution to a route."""

    resource: Resource
    ambassador_ids: frozenset[str]
    method: str | None
    prefix: str
    prefix_regex: bool
    prefix_exact: bool
    headers: tuple[Matcher, ...]  # in Emissary's order, :authority and :method included
    query: tuple[Matcher, ...]
    precedence: int
    host: str | None
    host_regex: bool
    hosts: tuple[str, ...]  # hostnames of the Hosts that take this Mapping by selector
    selectors: tuple[str, ...]
    unbound: bool
    service: str
    weight: int | None
    shadow: bool
    host_redirect: bool
    spec: Mapping[str, JSON]

    def key(self, ambassador_id: str) -> RouteKey:
        return RouteKey(
            ambassador_id,
            self.method or "GET",
            self.prefix,
            tuple(sorted(((h.name, h.value) for h in self.headers), key=_matcher_order)),
            tuple(sorted(((q.name, q.value) for q in self.query), key=_matcher_order)),
            self.precedence,
            self.selectors,
        )

    @property
    def route_weight(self) -> tuple[Any, ...]:
        def length(m: Matcher) -> int:
            return len(m.name) + len(m.value or "*") + (1 if m.regex else 0)

        return (
            self.precedence,
            len(self.prefix),
            sum(length(h) for h in self.headers),
            sum(length(q) for q in self.query),
            self.prefix,
            self.method or "GET",
            *(f"{h.name}-{h.value or '*'}" for h in self.headers),
            *(f"{q.name}-{q.value or '*'}" for q in self.query),
        )

    @property
    def host_display(self) -> str:
        if self.host is not None:
            return f"~{self.host}" if self.host_regex else self.host
        if self.hosts:
            return ",".join(self.hosts)
        return "(no Host)" if self.unbound else "*"


@dataclass
class RouteGroup:
    key: RouteKey
    members: list[MappingRoute] = field(default_factory=list)

    @property
    def weight(self) -> tuple[Any, ...]:
        return max(m.route_weight for m in self.members)

    @property
    def backends(self) -> list[MappingRoute]:
        """The Mappings that receive traffic (not shadows)."""
        return [m for m in self.members if not m.shadow]


def hosts_of(objects: Iterable[Resource]) -> list[HostInfo]:
    hosts: list[HostInfo] = []
    for obj in objects:
        if obj.id.kind != "Host":
            continue
        spec = spec_of(obj)
        selector = spec.get("mappingSelector", spec.get("selector"))
        hostname = spec.get("hostname")
        hosts.append(
            HostInfo(
                obj,
                hostname if isinstance(hostname, str) else obj.id.name,
                selector if isinstance(selector, Mapping) and selector else None,
                ambassador_ids(obj.body),
            )
        )
    return hosts


def mapping_routes(objects: Sequence[Resource]) -> list[MappingRoute]:
    """Every routable HTTP Mapping in `objects` (Mappings whose prefix or service is not a
    string are left to the schema check)."""
    hosts = hosts_of(objects)
    routes: list[MappingRoute] = []
    for obj in objects:
        if obj.id.kind == "Mapping":
            route = _mapping_route(obj, hosts)
            if route is not None:
                routes.append(route)
    return routes


def group(routes: Iterable[MappingRoute]) -> list[RouteGroup]:
    """Routes grouped per Ambassador installation, in the order Emissary tries them."""
    groups: dict[RouteKey, RouteGroup] = {}
    ordered = sorted(routes, key=lambda r: (*where(r.resource), r.resource.id))
    for route in ordered:
        for ambassador_id in sorted(route.ambassador_ids):
            key = route.key(ambassador_id)
            groups.setdefault(key, RouteGroup(key)).members.append(route)
    by_host = sorted(groups.values(), key=lambda g: g.members[0].host_display)
    by_weight = sorted(by_host, key=lambda g: g.weight, reverse=True)
    return sorted(
        by_weight, key=lambda g: (g.key.ambassador_id != DEFAULT_AMBASSADOR_ID, g.key.ambassador_id)
    )


def shares(members: Sequence[MappingRoute]) -> list[int]:
    """Each backend's percentage of the route's traffic. Weights are kept as given, the
    Mappings without one share what is left (Emissary), and Envoy splits in proportion."""
    # A negative weight (a schema error) counts as 0: each share then stays within 0..100.
    weights = [max(m.weight or 0, 0) for m in members]
    explicit = sum(w for w, m in zip(weights, members, strict=True) if m.weight is not None)
    weightless = [i for i, m in enumerate(members) if m.weight is None]
    if weightless:
        remaining = max(100 - explicit, 0)
        each = round(remaining / len(weightless))
        for n, index in enumerate(weightless):
            weights[index] = each if n < len(weightless) - 1 else remaining - each * n
    total = sum(weights)
    return [round(100 * w / total) if total > 0 else 0 for w in weights]


def where(resource: Resource) -> tuple[str, int]:
    origin = resource.origin
    return (origin.file, origin.line) if origin else ("", 0)


def _mapping_route(obj: Resource, hosts: Sequence[HostInfo]) -> MappingRoute | None:
    spec = obj.body.get("spec")
    if not isinstance(spec, Mapping):
        return None
    prefix, service = spec.get("prefix"), spec.get("service")
    if not isinstance(prefix, str) or not isinstance(service, str):
        return None
    version = split_api_version(obj.api_version)[1]
    headers = [
        *_matchers(spec.get("headers"), regex=False),
        *_matchers(spec.get("regex_headers"), regex=True),
    ]
    host, host_regex = _host(spec)
    if host is not None:
        headers.append(Matcher(":authority", host, host_regex))
    else:  # an exact :authority header binds the Mapping to a host just the same
        host = next(
            (h.value for h in headers if h.name.lower() == ":authority" and not h.regex), None
        )
    method = spec.get("method")
    method = method if isinstance(method, str) and method else None
    if method is not None:
        headers.append(Matcher(":method", method, spec.get("method_regex") is True))
    ids = ambassador_ids(obj.body)
    selecting: list[HostInfo] = []
    if host is None and version == V3:
        selecting = [h for h in hosts if h.ids & ids and h.selects(obj)]
    precedence = spec.get("precedence")
    weight = spec.get("weight")
    return MappingRoute(
        resource=obj,
        ambassador_ids=ids,
        method=method,
        prefix=prefix,
        prefix_regex=spec.get("prefix_regex") is True,
        prefix_exact=spec.get("prefix_exact") is True,
        headers=tuple(headers),
        query=(
            *_matchers(spec.get("query_parameters"), regex=False),
            *_matchers(spec.get("regex_query_parameters"), regex=True),
        ),
        precedence=precedence
        if isinstance(precedence, int) and not isinstance(precedence, bool)
        else 0,
        host=host,
        host_regex=host_regex,
        hosts=tuple(sorted({h.hostname for h in selecting})),
        selectors=tuple(sorted({_selector_text(h.selector) for h in selecting if h.selector})),
        unbound=host is None and version == V3 and not selecting,
        service=service,
        weight=weight if isinstance(weight, int) and not isinstance(weight, bool) else None,
        shadow=spec.get("shadow") is True,
        host_redirect=spec.get("host_redirect") is True,
        spec=spec,
    )


def _host(spec: Mapping[str, JSON]) -> tuple[str | None, bool]:
    hostname = spec.get("hostname")
    if isinstance(hostname, str) and hostname:
        return hostname, False
    host = spec.get("host")
    if isinstance(host, str) and host:
        return host, spec.get("host_regex") is True
    return None, False


def _matchers(values: JSON, *, regex: bool) -> list[Matcher]:
    if not isinstance(values, Mapping):
        return []
    out: list[Matcher] = []
    for name, value in values.items():
        if value is True:
            out.append(Matcher(str(name), None, regex))
        else:
            out.append(Matcher(str(name), value if isinstance(value, str) else _json(value), regex))
    return out


def _selector_matches(selector: Mapping[str, JSON], labels: Mapping[str, str]) -> bool:
    match_labels = selector.get("matchLabels") or {}
    if isinstance(match_labels, Mapping):
        for key, value in match_labels.items():
            if labels.get(str(key)) != value:
                return False
    # A selector of the wrong shape is the schema rule's to report; its parts are skipped.
    expressions = selector.get("matchExpressions")
    for expression in expressions if isinstance(expressions, list) else ():
        if not isinstance(expression, Mapping):
            continue
        key, operator = str(expression.get("key")), expression.get("operator")
        values = expression.get("values")
        values = values if isinstance(values, list) else []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _selector_text(selector: Mapping[str, JSON] | None) -> str:
    return json.dumps(selector, sort_keys=True, separators=(",", ":"), default=str)


def _json(value: JSON) -> str:
    return json.dumps(value, default=str)  # a sealed value shows as ***


def _matcher_order(matcher: tuple[str, str | None]) -> tuple[str, bool, str]:
    """Orders (name, value) pairs; a value None ("present") cannot be compared to a string."""
    name, value = matcher
    return name, value is not None, value or ""
