"""The route table and what a change does to it."""

from __future__ import annotations

from ambdiff.check.table import route_changes, route_rows
from ambdiff.model import JSON, ObjectId, Origin, Resource


def mapping(name: str, line: int = 1, **spec: JSON) -> Resource:
    spec = {"prefix": "/api/", "service": name, **spec}
    body = {
        "apiVersion": "getambassador.io/v2",
        "kind": "Mapping",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }
    return Resource(
        ObjectId("getambassador.io", "Mapping", "default", name),
        body["apiVersion"],
        body,
        Origin("routes.yaml", line),
    )


def test_rows_show_every_column_in_emissary_order() -> None:
    rows = route_rows([
        mapping("root", 1, prefix="/"),
        mapping("api", 5),
        mapping("api-canary", 9, weight=10),
        mapping("mirror", 13, shadow=True),
        mapping("v2", 17, prefix="/api/v2/", method="POST", host="api.example.com",
                headers={"x-team": "a"}, regex_headers={"x-id": "^[0-9]+$"}, query_parameters={"debug": True}),
    ])  # fmt: skip
    assert [r.cells() for r in rows] == [
        ("POST", "api.example.com", "/api/v2/", "x-team=a, x-id~^[0-9]+$, ?debug", "v2", "100", "routes.yaml:17"),
        ("*", "*", "/api/", "", "api", "90", "routes.yaml:5"),
        ("*", "*", "/api/", "", "api-canary", "10", "routes.yaml:9"),
        ("*", "*", "/api/", "", "mirror", "shadow", "routes.yaml:13"),
        ("*", "*", "/", "", "root", "100", "routes.yaml:1"),
    ]  # fmt: skip


def test_route_changes_added_removed_and_repointed() -> None:
    old = route_rows(
        [mapping("api"), mapping("old", prefix="/old/"), mapping("same", prefix="/same/")]
    )
    new = route_rows([
        mapping("api-v2", service="api-v2"),
        mapping("new", prefix="/new/"),
        mapping("same", prefix="/same/"),
    ])  # fmt: skip
    changes = {c.status: c for c in route_changes(old, new)}
    assert set(changes) == {"added", "removed", "re-pointed"}
    assert changes["added"].new[0].prefix == "/new/"
    assert changes["removed"].old[0].prefix == "/old/"
    assert changes["re-pointed"].rows()[0][4] == "api 100% → api-v2 100%"


def test_a_weight_change_is_a_repointed_route() -> None:
    old = route_rows([mapping("api"), mapping("canary", weight=10)])
    new = route_rows([mapping("api"), mapping("canary", weight=50)])
    [change] = route_changes(old, new)
    assert change.status == "re-pointed"
    assert change.rows()[0][4] == "api 90%, canary 10% → api 50%, canary 50%"
    assert route_changes(new, new) == []
