"""Hostile values in the comparison (issue #14): quantities that overflow, integers too long
for str(). A wrong value may be reported as a difference; it must never crash."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest

from ambdiff.check import check_resources
from ambdiff.compare import CompareOptions, build_report
from ambdiff.differ import MAX_QUANTITY_CHARS, compare, parse_quantity, same_meaning
from ambdiff.model import DiffReport, ObjectId, Op, Resource, Status
from ambdiff.normalize import normalize
from ambdiff.render.console import make_consoles
from ambdiff.render.diff import render
from ambdiff.schemas import builtin_kind_problem, offline_kind_problem

POD = ObjectId("", "Pod", "shop", "api")
HUGE = 10**5000  # 5001 digits: str() refuses it (sys.get_int_max_str_digits is 4300)


def pod(memory: object) -> Resource:
    body = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "api", "namespace": "shop"},
        "spec": {"containers": [{"name": "c", "image": "x",
                                 "resources": {"limits": {"memory": memory}}}]},
    }  # fmt: skip
    return Resource(POD, "v1", body)


@pytest.mark.parametrize(
    "value",
    [
        "1e9999999",
        "1e99999999999999999999",
        "9" * 5000,
        "1" + "0" * 5000 + "Ki",
        HUGE,
        float("inf"),
        1e308,
        "-1e-9999999",
    ],
    ids=[
        "exp",
        "exp20",
        "5000-digits",
        "5000-digits-Ki",
        "int-5001-digits",
        "inf",
        "1e308",
        "tiny",
    ],
)
def test_a_quantity_that_is_no_finite_number_is_not_parsed(value: object) -> None:
    assert parse_quantity(value) is None


def test_real_quantities_still_parse_exactly() -> None:
    assert parse_quantity("1Ei") == Decimal(2**60)  # was a crash: `E` read as an exponent
    assert parse_quantity("2e3") == Decimal(2000)
    assert parse_quantity("500m") == Decimal("0.5")
    assert parse_quantity("9" * (MAX_QUANTITY_CHARS - 1)) == Decimal("9" * (MAX_QUANTITY_CHARS - 1))
    # 28-digit rounding made two different long numbers equal.
    assert parse_quantity("1" * 40) != parse_quantity("1" * 39 + "2")


@pytest.mark.parametrize(
    "value", ["1e9999999", "9" * 5000, HUGE], ids=["exp", "5000-digits", "int-5001-digits"]
)
def test_an_overflowing_quantity_against_a_live_value_is_a_change_not_a_crash(
    value: object,
) -> None:
    report = build_report([pod(value)], {POD: pod("1Gi")}, CompareOptions(inventory="x"))
    (diff,) = report
    assert diff.status is Status.CHANGED
    assert [c.path[-1] for c in diff.changes] == ["memory"]


def test_the_same_overflowing_quantity_on_both_sides_is_no_difference() -> None:
    report = build_report([pod("1e9999999")], {POD: pod("1e9999999")}, CompareOptions("x"))
    assert [d.status for d in report] == [Status.UNCHANGED]
    assert same_meaning("1e9999999", "1E9999999", ("limits", "memory")) is False


def test_a_huge_integer_is_compared_exactly_and_rendered_in_every_format() -> None:
    report = build_report([pod(HUGE)], {POD: pod(HUGE + 1)}, CompareOptions(inventory="x"))
    (diff,) = report
    (change,) = diff.changes
    assert change.op is Op.CHANGE
    assert change.new == "1" + "0" * 5000
    for fmt in ("human", "diff", "markdown", "json"):
        out, err = io.StringIO(), io.StringIO()
        render(report, fmt, make_consoles("never", out, err), where="the snapshot s.yaml")
        assert "memory" in out.getvalue()
    assert json.loads(_json(report))["resources"][0]["status"] == "changed"
    same = build_report([pod(HUGE)], {POD: pod(HUGE)}, CompareOptions(inventory="x"))
    assert [d.status for d in same] == [Status.UNCHANGED]


def _json(report: DiffReport) -> str:
    out = io.StringIO()
    render(report, "json", make_consoles("never", out, io.StringIO()), where="s")
    return out.getvalue()


def test_normalize_turns_an_integer_too_long_for_str_into_its_digits() -> None:
    body = {"data": {"n": HUGE, "small": 7}, "spec": {"ports": [{"port": -HUGE}]}}
    out = normalize(ObjectId("", "ConfigMap", "a", "b"), body)
    assert out["data"] == {"n": "1" + "0" * 5000, "small": 7}
    assert out["spec"]["ports"] == [{"port": "-1" + "0" * 5000}]
    assert body["data"]["n"] == HUGE  # the input is not changed
    assert compare(out, normalize(ObjectId("", "ConfigMap", "a", "b"), body), symmetric=True) == []


def test_a_huge_integer_in_string_data_is_folded_without_a_crash() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "stringData": {"k": HUGE}}
    out = normalize(ObjectId("", "Secret", "a", "b"), secret)
    assert set(out["data"]) == {"k"}


# ---- kinds: one answer for check and offline diff -------------------------------------


def test_a_misspelt_builtin_kind_gets_a_suggestion_from_the_one_shared_function() -> None:
    problem = builtin_kind_problem("apps", "v1", "Deploymnet")
    assert problem is not None
    assert problem.text == "apps/v1 has no kind Deploymnet; did you mean Deployment?"
    assert offline_kind_problem("apps", "v1", "Deploymnet", set()) == problem
    assert builtin_kind_problem("apps", "v1", "Deployment") is None


def test_custom_kinds_are_known_from_crds_and_ambdiffs_own_ambassador_crds() -> None:
    assert offline_kind_problem("getambassador.io", "v3alpha1", "Mapping", set()) is None
    assert offline_kind_problem("example.com", "v1", "Widget", {("example.com", "Widget")}) is None
    unknown = offline_kind_problem("example.com", "v1", "Widget", set())
    assert unknown is not None and "CustomResourceDefinition" in unknown.message
    typo = offline_kind_problem("getambassador.io", "v3alpha1", "Mappin", set())
    assert typo is not None and typo.suggestion == "did you mean Mapping?"


# ---- sync's preflight sees the base64 rule -------------------------------------------


def test_sync_preflight_refuses_a_secret_whose_data_is_not_base64() -> None:
    oid = ObjectId("", "Secret", "shop", "db")
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "shop"},
        "data": {"password": "hunter2!"},
    }
    report = check_resources([Resource(oid, "v1", body)], default_namespace="default")
    (finding,) = [f for f in report.findings if f.rule == "secret-data-base64"]
    assert finding.severity.value == "error"
    assert "data.password" in finding.message
    assert "hunter2" not in finding.message
