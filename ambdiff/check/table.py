"""The route table `ambdiff routes` prints, and what a change does to it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ambdiff.check.grouping import MappingRoute, RouteKey, group, mapping_routes, shares
from ambdiff.model import Resource


@dataclass(frozen=True)
class RouteRow:
    """One Mapping's line in the route table."""

    ambassador_id: str
    route: RouteKey
    method: str
    host: str
    prefix: str
    headers: tuple[str, ...]
    service: str
    weight: str  # the percentage of the route's traffic, or "shadow" / "redirect"
    file: str
    line: int
    mapping: str  # "Mapping default/api"

    @property
    def source(self) -> str:
        if not self.file:
            return "(cluster)"
        return f"{self.file}:{self.line}" if self.line else self.file

    @property
    def backend(self) -> str:
        return f"{self.service} {self.weight}" + ("%" if self.weight.isdigit() else "")

    def cells(self) -> tuple[str, str, str, str, str, str, str]:
        return (
            self.method,
            self.host,
            self.prefix,
            ", ".join(self.headers),
            self.service,
            self.weight,
            self.source,
        )

    def as_json(self) -> dict[str, object]:
        return {
            "ambassador_id": self.ambassador_id,
            "method": self.method,
            "host": self.host,
            "prefix": self.prefix,
            "headers": list(self.headers),
            "precedence": self.route.precedence,
            "service": self.service,
            "weight": self.weight,
            "object": self.mapping,
            "source": {"file": self.file, "line": self.line},
        }


def route_rows(objects: Sequence[Resource]) -> list[RouteRow]:
    """Every Mapping's row, routes in the order Emissary tries them, each route's Mappings
    by share of its traffic."""
    rows: list[RouteRow] = []
    for route_group in group(mapping_routes(objects)):
        backends = [m for m in route_group.members if not m.shadow and not m.host_redirect]
        percent = dict(zip(map(id, backends), shares(backends), strict=True))
        weights = {
            id(m): "shadow" if m.shadow else "redirect" if m.host_redirect else str(percent[id(m)])
            for m in route_group.members
        }
        members = sorted(
            route_group.members,
            key=lambda m: (m.shadow, m.host_redirect, -percent.get(id(m), 0)),
        )
        rows.extend(_row(route_group.key, m, weights[id(m)]) for m in members)
    return rows


def _row(key: RouteKey, m: MappingRoute, weight: str) -> RouteRow:
    prefix = f"~{m.prefix}" if m.prefix_regex else f"={m.prefix}" if m.prefix_exact else m.prefix
    headers = [str(h) for h in m.headers if h.name not in (":authority", ":method")]
    headers += [f"?{q}" for q in m.query]
    origin = m.resource.origin
    return RouteRow(
        ambassador_id=key.ambassador_id,
        route=key,
        method=m.method or "*",
        host=m.host_display,
        prefix=prefix,
        headers=tuple(headers),
        service=m.service,
        weight=weight,
        file=origin.file if origin else "",
        line=origin.line if origin else 0,
        mapping=str(m.resource.id),
    )


@dataclass(frozen=True)
class RouteChange:
    status: str  # "added", "removed" or "re-pointed"
    old: tuple[RouteRow, ...]
    new: tuple[RouteRow, ...]

    def rows(self) -> list[tuple[str, str, str, str, str, str, str]]:
        if self.status != "re-pointed":
            return [r.cells() for r in (self.new or self.old)]
        first = self.new[0]
        before = ", ".join(r.backend for r in self.old)
        after = ", ".join(r.backend for r in self.new)
        sources = ", ".join(
            dict.fromkeys(r.source for r in sorted(self.new, key=lambda r: (r.file, r.line)))
        )
        return [
            (
                first.method,
                first.host,
                first.prefix,
                ", ".join(first.headers),
                f"{before} → {after}",
                "",
                sources,
            )
        ]

    def as_json(self) -> dict[str, object]:
        return {
            "status": self.status,
            "old": [r.as_json() for r in self.old],
            "new": [r.as_json() for r in self.new],
        }


def route_changes(old_rows: Sequence[RouteRow], new_rows: Sequence[RouteRow]) -> list[RouteChange]:
    """Routes only in `new` (added), only in `old` (removed), or in both with other
    services, weights or roles (re-pointed), in the new table's order."""
    old = _by_route(old_rows)
    new = _by_route(new_rows)
    changes: list[RouteChange] = []
    for key, rows in new.items():
        before = old.get(key)
        if before is None:
            changes.append(RouteChange("added", (), rows))
        elif _backends(before) != _backends(rows):
            changes.append(RouteChange("re-pointed", before, rows))
    changes.extend(RouteChange("removed", rows, ()) for key, rows in old.items() if key not in new)
    return changes


def _by_route(rows: Sequence[RouteRow]) -> dict[tuple[str, RouteKey], tuple[RouteRow, ...]]:
    out: dict[tuple[str, RouteKey], list[RouteRow]] = {}
    for row in rows:
        out.setdefault((row.ambassador_id, row.route), []).append(row)
    return {key: tuple(value) for key, value in out.items()}


def _backends(rows: Sequence[RouteRow]) -> list[tuple[str, str]]:
    return sorted((r.service, r.weight) for r in rows)
