"""Output formats read the same report (docs/diff.md, "Output formats")."""

from __future__ import annotations

import io
import json

from ambdiff.model import (
    Change,
    DiffReport,
    ListKey,
    ObjectDiff,
    ObjectId,
    Op,
    Origin,
    Status,
    format_path,
)
from ambdiff.render.console import make_consoles
from ambdiff.render.diff import markdown, render, to_json

MAPPING = ObjectId("getambassador.io", "Mapping", "default", "api")


def report() -> DiffReport:
    changed = ObjectDiff(
        MAPPING,
        "getambassador.io/v3alpha1",
        Status.CHANGED,
        Origin("mappings/api.yaml", 1),
        (
            Change(Op.CHANGE, ("spec", "prefix"), old="/api/", new="/api/v2/"),
            Change(Op.ADD, ("spec", "timeout_ms"), new=3000),
            Change(Op.REMOVE, ("spec", "rewrite"), old="/"),
        ),
        desired={"spec": {"prefix": "/api/v2/", "timeout_ms": 3000}},
        live={"spec": {"prefix": "/api/", "rewrite": "/"}},
    )
    same = ObjectDiff(
        ObjectId("", "Service", "default", "api"), "v1", Status.UNCHANGED, Origin("svc.yaml", 3)
    )
    return DiffReport((changed, same))


def test_json_has_exactly_the_contract_shape() -> None:
    assert to_json(report()) == {
        "summary": {"added": 0, "changed": 1, "unchanged": 1, "removed": 0},
        "resources": [
            {"apiVersion": "getambassador.io/v3alpha1", "kind": "Mapping", "namespace": "default",
             "name": "api", "status": "changed", "origin": {"file": "mappings/api.yaml", "line": 1},
             "changes": [
                 {"op": "change", "path": "spec.prefix", "old": "/api/", "new": "/api/v2/"},
                 {"op": "add", "path": "spec.timeout_ms", "new": 3000},
                 {"op": "remove", "path": "spec.rewrite", "old": "/"},
             ]},
            {"apiVersion": "v1", "kind": "Service", "namespace": "default", "name": "api",
             "status": "unchanged", "origin": {"file": "svc.yaml", "line": 3}, "changes": []},
        ],
        "errors": [],
    }  # fmt: skip


def test_masked_change_in_json() -> None:
    secret = ObjectDiff(
        ObjectId("", "Secret", "d", "s"),
        "v1",
        Status.CHANGED,
        None,
        (Change(Op.CHANGE, ("data", "pw"), old="***", new="***", masked=True),),
    )
    [change] = to_json(DiffReport((secret,)))["resources"][0]["changes"]
    assert change == {"op": "change", "path": "data.pw", "old": "***", "new": "***", "masked": True}


def test_field_paths_follow_the_contract() -> None:
    assert format_path(
        ("spec", "template", "spec", "containers", ListKey((("name", "web"),)), "image")
    ) == ("spec.template.spec.containers[name=web].image")
    assert format_path(
        (
            "metadata",
            "annotations",
            "getambassador.io/config",
            ListKey((("kind", "Mapping"), ("name", "api"))),
            "prefix",
        )
    ) == ('metadata.annotations["getambassador.io/config"][kind=Mapping,name=api].prefix')
    assert format_path(("spec", "args", 2)) == "spec.args[2]"


def capture(fmt: str, color: str = "never") -> str:
    out, err = io.StringIO(), io.StringIO()
    render(report(), fmt, make_consoles(color, out, err), where="context dev")
    assert err.getvalue() == ""
    return out.getvalue()


def test_human_output_has_header_with_origin_one_line_per_change_and_summary() -> None:
    text = capture("human")
    assert "~ Mapping default/api  (getambassador.io/v3alpha1)  mappings/api.yaml:1" in text
    assert '~ spec.prefix: "/api/" → "/api/v2/"' in text
    assert "+ spec.timeout_ms: 3000" in text
    assert '- spec.rewrite: "/"' in text
    assert "Service default/api" not in text  # unchanged objects are only counted
    assert text.rstrip().endswith(
        "1 changed, 0 added, 0 removed, 1 unchanged: git differs from context dev"
    )
    assert "\x1b[" not in text


def test_colour_only_when_asked_or_on_a_terminal() -> None:
    assert "\x1b[" in capture("human", color="always")
    assert "\x1b[" not in capture("human", color="auto")  # a StringIO is no terminal


def test_unified_diff_of_normalised_yaml() -> None:
    text = capture("diff")
    assert "--- live/Mapping.getambassador.io/default/api" in text
    assert "-  prefix: /api/\n" in text and "+  prefix: /api/v2/\n" in text


def test_markdown_for_a_pull_request_comment() -> None:
    text = markdown(report(), where="context dev")
    assert text.startswith("### ambdiff: git differs from context dev")
    assert (
        "| ~ | `Mapping default/api` | `getambassador.io/v3alpha1` | `mappings/api.yaml:1` | 3 |"
        in text
    )
    assert '```diff\n- spec.prefix: "/api/"\n+ spec.prefix: "/api/v2/"' in text


def test_json_output_is_valid_json() -> None:
    assert json.loads(capture("json"))["summary"]["changed"] == 1
