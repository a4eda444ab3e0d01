"""Field-level comparison (docs/diff.md, "What counts as a difference" and "Field paths")."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ambdiff.differ import (
    align,
    compare,
    graft,
    owned_removals,
    parse_quantity,
    project,
    same_meaning,
    sort_changes,
)
from ambdiff.model import Op


def paths(changes) -> list[tuple[str, str]]:
    return [(c.op.value, c.path_str) for c in changes]


def pod(*containers: dict) -> dict:
    return {"spec": {"template": {"spec": {"containers": list(containers)}}}}


def test_scalar_change_reports_old_and_new() -> None:
    [change] = compare({"spec": {"replicas": 3}}, {"spec": {"replicas": 2}}, symmetric=False)
    assert (change.op, change.path_str, change.old, change.new) == (
        Op.CHANGE,
        "spec.replicas",
        2,
        3,
    )


def test_field_only_in_git_is_an_add() -> None:
    assert paths(compare({"spec": {"a": 1}}, {"spec": {}}, symmetric=False)) == [("add", "spec.a")]


def test_fields_only_live_are_server_defaults() -> None:
    assert compare({"spec": {"a": 1}}, {"spec": {"a": 1, "b": 2}}, symmetric=False) == []


def test_symmetric_mode_reports_live_only_fields_as_removals() -> None:
    assert paths(compare({"spec": {"a": 1}}, {"spec": {"a": 1, "b": 2}}, symmetric=True)) == [
        ("remove", "spec.b")
    ]


def test_empty_values_in_git_equal_absent_live() -> None:
    desired = {"metadata": {"labels": {}}, "spec": {"x": None, "y": []}}
    assert compare(desired, {"metadata": {}, "spec": {}}, symmetric=False) == []


def test_containers_are_matched_by_name_not_position() -> None:
    desired = pod({"name": "b", "image": "b:2"}, {"name": "a", "image": "a:1"})
    live = pod({"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"})
    assert paths(compare(desired, live, symmetric=False)) == [
        ("change", "spec.template.spec.containers[name=b].image")
    ]


def test_new_list_item_is_one_add_at_its_key() -> None:
    desired = pod({"name": "a"}, {"name": "sidecar", "image": "s"})
    live = pod({"name": "a"})
    [change] = compare(desired, live, symmetric=False)
    assert change.path_str == "spec.template.spec.containers[name=sidecar]"
    assert change.new == {"name": "sidecar", "image": "s"}


def test_service_ports_match_by_port_and_container_ports_by_container_port() -> None:
    svc = compare(
        {"spec": {"ports": [{"port": 80, "targetPort": 8081}]}},
        {"spec": {"ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}},
        symmetric=False,
    )
    assert paths(svc) == [("change", "spec.ports[port=80].targetPort")]
    ctr = compare(
        {"ports": [{"containerPort": 8080, "name": "web"}]},
        {"ports": [{"containerPort": 8080, "name": "http"}]},
        symmetric=False,
    )
    assert paths(ctr) == [("change", "ports[containerPort=8080].name")]


def test_volume_mounts_match_by_mount_path() -> None:
    out = compare(
        {"volumeMounts": [{"mountPath": "/data", "name": "new"}]},
        {"volumeMounts": [{"mountPath": "/data", "name": "old"}]},
        symmetric=False,
    )
    assert paths(out) == [("change", "volumeMounts[mountPath=/data].name")]


def test_any_list_whose_items_all_have_unique_names_is_keyed_by_name() -> None:
    out = compare(
        {"rules": [{"name": "y", "v": 2}, {"name": "x", "v": 1}]},
        {"rules": [{"name": "x", "v": 1}, {"name": "y", "v": 1}]},
        symmetric=False,
    )
    assert paths(out) == [("change", "rules[name=y].v")]


def test_list_without_key_of_other_length_is_one_change() -> None:
    [change] = compare({"args": ["a", "b"]}, {"args": ["a"]}, symmetric=False)
    assert (change.path_str, change.old, change.new) == ("args", ["a"], ["a", "b"])


def test_positional_list_items_compare_by_index() -> None:
    assert paths(compare({"args": ["a", "c"]}, {"args": ["a", "b"]}, symmetric=False)) == [
        ("change", "args[1]")
    ]


def test_duplicate_names_fall_back_to_position() -> None:
    out = compare(
        {"subjects": [{"name": "a", "kind": "User"}, {"name": "a", "kind": "Group"}]},
        {"subjects": [{"name": "a", "kind": "User"}, {"name": "a", "kind": "ServiceAccount"}]},
        symmetric=False,
    )
    assert paths(out) == [("change", "subjects[1].kind")]


@pytest.mark.parametrize(
    ("git", "live"),
    [
        ("1", "1000m"),
        ("1Gi", "1024Mi"),
        ("0.5", "500m"),
        (2, "2"),
        ("1e3", "1k"),
        ("129e6", "129M"),
    ],
)
def test_quantities_compare_by_meaning_under_resources(git: object, live: object) -> None:
    desired = {"resources": {"limits": {"cpu": git}}}
    assert compare(desired, {"resources": {"limits": {"cpu": live}}}, symmetric=False) == []


def test_quantity_difference_is_still_a_change() -> None:
    out = compare(
        {"resources": {"limits": {"memory": "1Gi"}}},
        {"resources": {"limits": {"memory": "1G"}}},
        symmetric=False,
    )
    assert paths(out) == [("change", "resources.limits.memory")]


def test_quantity_rules_do_not_apply_outside_resource_fields() -> None:
    out = compare(
        {"env": [{"name": "X", "value": "1k"}]},
        {"env": [{"name": "X", "value": "1000"}]},
        symmetric=False,
    )
    assert paths(out) == [("change", "env[name=X].value")]


def test_int_or_string_by_meaning() -> None:
    assert same_meaning(8080, "8080")
    assert not same_meaning(True, "true")
    assert compare({"targetPort": 8080}, {"targetPort": "8080"}, symmetric=False) == []


def test_parse_quantity() -> None:
    assert parse_quantity("250m") == Decimal("0.25")
    assert parse_quantity("2Ki") == Decimal(2048)
    assert parse_quantity("web") is None
    assert parse_quantity(True) is None


ANNOTATION = 'metadata.annotations["getambassador.io/config"]'


def annotated(text: str) -> dict:
    return {"metadata": {"annotations": {"getambassador.io/config": text}}}


def test_annotation_documents_are_compared_field_by_field() -> None:
    git = "---\napiVersion: getambassador.io/v2\nkind: Mapping\nname: api\nprefix: /api/\nservice: api\n"
    live = "apiVersion: getambassador.io/v2\nkind:  Mapping\nname: api\nservice: 'api'\nprefix: /v2/\ntimeout_ms: 10\n"
    out = compare(annotated(git), annotated(live), symmetric=False)
    assert paths(out) == [
        ("change", f"{ANNOTATION}[kind=Mapping,name=api].prefix"),
        ("remove", f"{ANNOTATION}[kind=Mapping,name=api].timeout_ms"),
    ]


def test_annotation_formatting_order_quoting_and_legacy_api_version_are_not_differences() -> None:
    git = "apiVersion: ambassador/v2\nkind: Mapping\nname: api\nprefix: /api/\nservice: api\n"
    live = '---\nservice: "api"\nprefix: "/api/"\nname: api\nkind: Mapping\napiVersion: getambassador.io/v2\n'
    assert compare(annotated(git), annotated(live), symmetric=False) == []


def test_annotation_documents_added_and_removed_by_kind_and_name() -> None:
    one = "kind: Mapping\nname: a\nprefix: /a/\n"
    two = "kind: Mapping\nname: b\nprefix: /b/\n"
    out = compare(
        annotated(one + "---\n" + two),
        annotated(one + "---\nkind: Mapping\nname: c\n"),
        symmetric=False,
    )
    assert paths(out) == [
        ("add", f"{ANNOTATION}[kind=Mapping,name=b]"),
        ("remove", f"{ANNOTATION}[kind=Mapping,name=c]"),
    ]


def test_annotation_that_is_not_yaml_compares_as_a_string() -> None:
    out = compare(annotated("a: [1"), annotated("a: [2"), symmetric=False)
    assert paths(out) == [("change", ANNOTATION)]


def managed(fields: dict, manager: str = "ambdiff", operation: str = "Apply") -> list[dict]:
    return [{"manager": manager, "operation": operation, "fieldsV1": fields}]


def test_fields_owned_by_ambdiff_and_gone_from_git_are_removals() -> None:
    live = {"spec": {"prefix": "/a/", "rewrite": "/", "timeout_ms": 5}}
    desired = {"spec": {"prefix": "/a/"}}
    fields = {"f:spec": {"f:prefix": {}, "f:rewrite": {}}}
    out = owned_removals(desired, live, managed(fields))
    assert [(c.op.value, c.path_str, c.old) for c in out] == [("remove", "spec.rewrite", "/")]


def test_fields_owned_by_other_managers_are_not_removals() -> None:
    live = {"spec": {"prefix": "/a/", "rewrite": "/"}}
    fields = {"f:spec": {"f:rewrite": {}}}
    assert owned_removals({"spec": {}}, live, managed(fields, manager="kubectl")) == []
    assert owned_removals({"spec": {}}, live, managed(fields, operation="Update")) == []


def test_removed_list_item_is_reported_once_at_its_key() -> None:
    live = pod({"name": "web", "image": "w"}, {"name": "old", "image": "o"})
    desired = pod({"name": "web", "image": "w"})
    fields = {
        "f:spec": {
            "f:template": {
                "f:spec": {
                    "f:containers": {
                        'k:{"name":"web"}': {".": {}, "f:image": {}, "f:name": {}},
                        'k:{"name":"old"}': {".": {}, "f:image": {}, "f:name": {}},
                    }
                }
            }
        }
    }
    out = owned_removals(desired, live, managed(fields))
    assert paths(out) == [("remove", "spec.template.spec.containers[name=old]")]


def test_removal_path_uses_the_same_merge_key_as_compare() -> None:
    live = {
        "spec": {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080, "name": "http"}]}
    }
    fields = {"f:spec": {"f:ports": {'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:name": {}}}}}
    out = owned_removals(
        {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}, live, managed(fields)
    )
    assert paths(out) == [("remove", "spec.ports[port=80].name")]


def test_project_cuts_live_to_what_git_sets() -> None:
    live = {
        "spec": {
            "replicas": 2,
            "strategy": {"type": "RollingUpdate"},
            "containers": [{"name": "x", "image": "1", "imagePullPolicy": "Always"}],
        }
    }
    desired = {"spec": {"replicas": 3, "containers": [{"name": "x", "image": "2"}]}}
    assert project(live, desired) == {
        "spec": {"replicas": 2, "containers": [{"name": "x", "image": "1"}]}
    }


def test_graft_copies_a_removed_field_into_the_view() -> None:
    view: dict = {"spec": {"containers": [{"name": "web"}]}}
    live = {"spec": {"containers": [{"name": "web", "image": "x"}], "paused": True}}
    graft(view, live, ("spec", "paused"))
    assert view["spec"]["paused"] is True


def test_hpa_metric_targets_are_quantities() -> None:
    metric = {"resource": {"name": "cpu", "target": {"averageValue": "1000m", "value": "1Gi"}}}
    live = {"resource": {"name": "cpu", "target": {"averageValue": "1", "value": "1024Mi"}}}
    assert (
        compare({"spec": {"metrics": [metric]}}, {"spec": {"metrics": [live]}}, symmetric=False)
        == []
    )


def test_empty_list_in_git_removes_a_live_list_as_the_server_side_dry_run_shows() -> None:
    desired = pod({"name": "a", "args": []})
    live = pod({"name": "a", "args": ["sleep", "1"]})
    expected = [("remove", "spec.template.spec.containers[name=a].args")]
    assert paths(compare(desired, live, symmetric=False)) == expected
    dry_run = pod({"name": "a"})  # what the API server answers: no empty list
    assert paths(compare(dry_run, live, symmetric=True)) == expected


def test_changes_are_sorted_by_path_whichever_way_they_were_found() -> None:
    unsorted = compare(
        {"spec": {"b": 1, "a": 1, "items": [1, 2, 3]}},
        {"spec": {"b": 2, "a": 2, "items": [1, 9, 8]}},
        symmetric=False,
    )
    assert paths(sort_changes(reversed(unsorted))) == [
        ("change", "spec.a"), ("change", "spec.b"),
        ("change", "spec.items[1]"), ("change", "spec.items[2]"),
    ]  # fmt: skip


def test_align_orders_keyed_live_lists_like_git_and_keeps_every_field() -> None:
    live = pod({"name": "a", "image": "a", "x": 1}, {"name": "b", "image": "b"}, {"name": "c"})
    desired = pod({"name": "b"}, {"name": "a"})
    assert align(live, desired) == pod(
        {"name": "b", "image": "b"}, {"name": "a", "image": "a", "x": 1}, {"name": "c"}
    )


@pytest.mark.parametrize("empty", [[], {}, None])
def test_an_empty_value_in_git_equals_null_live(empty) -> None:
    # A ClusterRole with `rules: []` is read back from the API server as `rules: null`.
    assert compare({"rules": empty}, {"rules": None}, symmetric=False) == []
    assert compare({"rules": None}, {"rules": empty}, symmetric=True) == []


def test_a_dropped_annotation_is_removed_key_by_key_not_the_whole_map() -> None:
    # git dropped ambdiff's last annotation; another manager owns a sibling key.
    live = {"metadata": {"annotations": {"mine": "1", "theirs": "2"}}}
    fields = {"f:metadata": {"f:annotations": {"f:mine": {}}}}
    entries = managed(fields) + managed(
        {"f:metadata": {"f:annotations": {"f:theirs": {}}}},
        manager="kubectl-annotate",
        operation="Update",
    )
    out = owned_removals({"metadata": {}}, live, entries)
    assert [(c.path_str, c.old) for c in out] == [("metadata.annotations.mine", "1")]


def test_a_field_another_manager_also_owns_is_not_a_removal() -> None:
    live = {"spec": {"replicas": 3, "paused": True}}
    ours = managed({"f:spec": {"f:replicas": {}, "f:paused": {}}})
    hpa = managed({"f:spec": {"f:replicas": {}}}, manager="hpa-controller", operation="Update")
    assert paths(owned_removals({"spec": {}}, live, ours + hpa)) == [("remove", "spec.paused")]


def test_a_list_item_ambdiff_owns_is_removed_whole_even_when_its_list_is_gone() -> None:
    live = pod({"name": "web", "image": "w"})
    fields = {
        "f:spec": {
            "f:template": {
                "f:spec": {
                    "f:containers": {
                        'k:{"name":"web"}': {".": {}, "f:image": {}, "f:name": {}},
                    }
                }
            }
        }
    }
    out = owned_removals({"spec": {}}, live, managed(fields))
    assert paths(out) == [("remove", "spec.template.spec.containers[name=web]")]


def _report(api_version: str, kind: str, desired: dict, live: dict):
    from ambdiff.compare import CompareOptions, build_report
    from ambdiff.model import ObjectId, Resource, split_api_version

    oid = ObjectId(split_api_version(api_version)[0], kind, "shop", "web")
    [diff] = build_report(
        [Resource(oid, api_version, desired)],
        {oid: Resource(oid, api_version, live)},
        CompareOptions(inventory="i"),
    ).objects
    return diff


def test_a_zero_the_api_server_drops_is_no_difference() -> None:
    # Go non-pointer fields with omitempty (table: ambdiff/data/zero-omitted.json).
    desired = {
        "spec": {
            "minReadySeconds": 0,
            "paused": True,
            "template": {
                "spec": {
                    "hostNetwork": False,
                    "containers": [
                        {
                            "name": "web",
                            "readinessProbe": {"initialDelaySeconds": 0},
                            "volumeMounts": [{"name": "v", "mountPath": "/v", "readOnly": False}],
                        }
                    ],
                }
            },
        }
    }
    live = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "readinessProbe": {"timeoutSeconds": 1},
                            "volumeMounts": [{"name": "v", "mountPath": "/v"}],
                        },
                    ]
                }
            }
        }
    }
    diff = _report("apps/v1", "Deployment", desired, live)
    assert paths(diff.changes) == [("add", "spec.paused")]  # (a change: the view is kept)
    # The unified view shows git's zero on both sides: no spurious `+` line.
    assert diff.live is not None and diff.live["spec"]["minReadySeconds"] == 0
    del desired["spec"]["paused"]
    assert _report("apps/v1", "Deployment", desired, live).changes == ()


def test_a_zero_the_api_server_keeps_is_a_difference() -> None:
    # replicas and automountServiceAccountToken are pointers: 0 / false are stored.
    desired = {
        "spec": {"replicas": 0, "template": {"spec": {"automountServiceAccountToken": False}}}
    }
    diff = _report("apps/v1", "Deployment", desired, {"spec": {"template": {"spec": {}}}})
    assert paths(diff.changes) == [
        ("add", "spec.replicas"), ("add", "spec.template.spec.automountServiceAccountToken"),
    ]  # fmt: skip


def test_a_zero_in_a_custom_resource_is_a_difference() -> None:
    # A CRD's server stores what it is sent: no field is dropped at zero.
    diff = _report(
        "getambassador.io/v3alpha1", "Mapping", {"spec": {"timeout_ms": 0}}, {"spec": {}}
    )
    assert paths(diff.changes) == [("add", "spec.timeout_ms")]


def test_a_dropped_zero_still_differs_from_a_live_value() -> None:
    diff = _report(
        "apps/v1", "Deployment", {"spec": {"minReadySeconds": 0}}, {"spec": {"minReadySeconds": 5}}
    )
    assert paths(diff.changes) == [("change", "spec.minReadySeconds")]


def test_a_map_owned_itself_still_loses_only_the_keys_owned_inside_it() -> None:
    # kubectl's client-side apply records maps with ".": the server keeps the other keys.
    live = {"metadata": {"annotations": {"team": "a", "other": "b"}}}
    fields = {"f:metadata": {"f:annotations": {".": {}, "f:team": {}}}}
    assert paths(owned_removals({"metadata": {}}, live, managed(fields))) == [
        ("remove", "metadata.annotations.team")
    ]
