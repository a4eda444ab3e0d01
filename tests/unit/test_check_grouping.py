"""How Mappings become routes: Emissary's group key, its route order, and weights."""

from __future__ import annotations

from ambdiff.check.grouping import group, mapping_routes, shares
from ambdiff.model import JSON, ObjectId, Origin, Resource


def res(
    name: str,
    version: str = "v2",
    kind: str = "Mapping",
    ns: str = "default",
    labels: dict[str, str] | None = None,
    **spec: JSON,
) -> Resource:
    if kind == "Mapping":
        spec = {"prefix": "/api/", "service": name, **spec}
    meta: dict[str, JSON] = {"name": name, "namespace": ns, "labels": labels or {}}
    body = {
        "apiVersion": f"getambassador.io/{version}",
        "kind": kind,
        "metadata": meta,
        "spec": spec,
    }
    return Resource(
        ObjectId("getambassador.io", kind, ns, name), body["apiVersion"], body, Origin("m.yaml")
    )


def grouped(*objects: Resource) -> list[list[str]]:
    return [[m.resource.id.name for m in g.members] for g in group(mapping_routes(objects))]


def test_namespace_name_service_and_weight_are_not_part_of_the_route() -> None:
    assert grouped(res("a"), res("b", ns="other", weight=10)) == [["a", "b"]]


def test_method_defaults_to_get_but_an_explicit_method_is_a_header() -> None:
    # Emissary adds a :method header for an explicit method, so GET and no method differ.
    assert grouped(res("a"), res("b", method="GET")) == [["b"], ["a"]]
    assert grouped(res("a", method="POST"), res("b", method="POST")) == [["a", "b"]]


def test_host_and_hostname_are_the_authority_literally() -> None:
    assert grouped(res("a", host="x.com"), res("b", version="v3alpha1", hostname="x.com")) == [
        ["a", "b"]
    ]
    assert len(grouped(res("a", host="x.com"), res("b", host="*.com"))) == 2


def test_headers_and_regex_headers_by_name_and_value() -> None:
    assert grouped(res("a", headers={"x": "1"}), res("b", regex_headers={"x": "1"})) == [["a", "b"]]
    assert len(grouped(res("a", headers={"x": "1"}), res("b", headers={"x": "2"}))) == 2
    assert len(grouped(res("a", headers={"x": True}), res("b", headers={"x": "1"}))) == 2


def test_query_parameters_and_nonzero_precedence() -> None:
    assert len(grouped(res("a", query_parameters={"v": "1"}), res("b"))) == 2
    assert grouped(res("a", precedence=0), res("b")) == [["a", "b"]]
    assert len(grouped(res("a", precedence=5), res("b"))) == 2


def test_hostless_v3alpha1_mappings_are_grouped_by_the_hosts_that_select_them() -> None:
    hosts = [
        res("h1", version="v3alpha1", kind="Host", hostname="a.com", mappingSelector={"matchLabels": {"t": "a"}}),
        res("h2", version="v3alpha1", kind="Host", hostname="b.com", mappingSelector={"matchLabels": {"t": "b"}}),
    ]  # fmt: skip
    a = res("a", version="v3alpha1", labels={"t": "a"})
    b = res("b", version="v3alpha1", labels={"t": "b"})
    routes = {r.resource.id.name: r for r in mapping_routes([*hosts, a, b])}
    assert routes["a"].hosts == ("a.com",) and routes["b"].hosts == ("b.com",)
    assert len(grouped(*hosts, a, b)) == 2
    assert grouped(*hosts, a, res("c", version="v3alpha1", labels={"t": "a"})) == [["a", "c"]]


def test_selector_match_expressions() -> None:
    host = res(
        "h",
        version="v3alpha1",
        kind="Host",
        hostname="a.com",
        mappingSelector={
            "matchExpressions": [{"key": "t", "operator": "In", "values": ["a", "b"]}]
        },
    )
    routes = mapping_routes([host, res("m", version="v3alpha1", labels={"t": "b"})])
    assert not routes[0].unbound
    routes = mapping_routes([host, res("m", version="v3alpha1", labels={"t": "c"})])
    assert routes[0].unbound


def test_ambassador_ids_make_separate_tables() -> None:
    found = group(
        mapping_routes([res("a", ambassador_id=["one", "two"]), res("b", ambassador_id="two")])
    )
    assert [(g.key.ambassador_id, [m.resource.id.name for m in g.members]) for g in found] == [
        ("one", ["a"]), ("two", ["a", "b"]),
    ]  # fmt: skip


def test_route_order_precedence_then_longer_prefixes_then_more_headers() -> None:
    objects = [
        res("root", prefix="/"),
        res("api", prefix="/api/"),
        res("api-v1", prefix="/api/v1/"),
        res("api-canary", prefix="/api/", headers={"x-canary": "1"}),
        res("first", prefix="/", precedence=10),
    ]
    assert grouped(*objects) == [["first"], ["api-v1"], ["api-canary"], ["api"], ["root"]]


def test_shares_follow_emissary_weight_normalisation() -> None:
    routes = mapping_routes([res("a"), res("b", weight=10), res("c", weight=30)])
    assert shares(routes) == [60, 10, 30]
    routes = mapping_routes([res("a"), res("b"), res("c")])
    assert shares(routes) == [33, 33, 34]
    routes = mapping_routes([res("a", weight=20), res("b", weight=20)])
    assert shares(routes) == [50, 50]
