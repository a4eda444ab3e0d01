"""Secret values are sealed as objects enter ambdiff, and shown only as `***`."""

from __future__ import annotations

import json

import pytest

from ambdiff.differ import compare
from ambdiff.model import MISSING, Change, Op, Sealed, reveal
from ambdiff.secrets import SealedText, seal, seal_flat, seal_response, shown_bodies, shown_change

SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}}
FILTER = {"apiVersion": "getambassador.io/v3alpha1", "kind": "Filter", "metadata": {"name": "sso"}}
CONFIG = """\
apiVersion: getambassador.io/v3alpha1
kind: Filter
name: sso
OAuth2:
  clientID: shop
  secret: Zq-OLD-SECRET
"""


def test_a_sealed_value_prints_as_a_mask_everywhere() -> None:
    value = Sealed("hunter2")
    logged = "%s" % value  # noqa: UP031 - as logging formats it
    assert (str(value), repr(value), f"{value}", f"{value:>10}", logged) == ("***",) * 5
    assert "hunter2" not in str({"a": value}) and "hunter2" not in repr([value])
    with pytest.raises(TypeError):
        json.dumps({"a": value})
    assert value == "hunter2" and value == Sealed("hunter2") and value != "other"
    assert reveal({"a": [value]}) == {"a": ["hunter2"]}


def test_secret_data_is_sealed_key_by_key_and_other_fields_are_not() -> None:
    body = seal({**SECRET, "type": "Opaque", "data": {"a": "eA==", "b": None}})
    assert isinstance(body["data"]["a"], Sealed) and body["data"]["b"] is None
    assert body["type"] == "Opaque" and body["metadata"] == {"name": "db"}


@pytest.mark.parametrize("data", ["c2VjcmV0", ["c2VjcmV0"], 98765432123, {"x": 1}])
def test_secret_data_that_is_not_a_map_is_sealed_whole(data: object) -> None:
    body = seal({**SECRET, "data": data, "stringData": data})
    for field in ("data", "stringData"):
        value = body[field]
        assert isinstance(value, Sealed) or all(isinstance(v, Sealed) for v in value.values())
    assert "c2VjcmV0" not in str(body) and "98765432123" not in str(body)


def test_kubectls_copy_on_a_secret_is_sealed() -> None:
    applied = json.dumps({**SECRET, "data": {"a": "c2VjcmV0"}})
    body = seal(
        {
            **SECRET,
            "metadata": {
                "name": "db",
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied},
            },
        }
    )
    assert "c2VjcmV0" not in str(body)


def test_filter_secret_is_sealed_as_crd_and_as_annotation_document() -> None:
    crd = seal({**FILTER, "spec": {"OAuth2": {"clientID": "shop", "secret": "Zq-S"}}})
    assert isinstance(crd["spec"]["OAuth2"]["secret"], Sealed)
    assert crd["spec"]["OAuth2"]["clientID"] == "shop"
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "sso", "annotations": {"getambassador.io/config": CONFIG}},
    }
    sealed = seal(service)
    text = sealed["metadata"]["annotations"]["getambassador.io/config"]
    assert isinstance(text, SealedText) and text == CONFIG
    assert "Zq-OLD-SECRET" not in text.shown() and "clientID: shop" in text.shown()


def test_objects_without_secrets_are_left_as_they_are() -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "a",
            "annotations": {"getambassador.io/config": "kind: Mapping\nname: a\n"},
        },
    }
    assert seal(service) is service
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"secret": "x"}}
    assert seal(deployment) is deployment


def test_api_lists_are_sealed_item_by_item() -> None:
    page = {"apiVersion": "v1", "kind": "SecretList", "items": [{"data": {"a": "c2VjcmV0"}}]}
    assert isinstance(seal_response(page)["items"][0]["data"]["a"], Sealed)


def test_changes_show_only_that_a_secret_changed() -> None:
    want = seal({**SECRET, "data": {"password": "bmV3", "user": "YQ=="}})
    have = seal({**SECRET, "data": {"password": "b2xk", "user": "YQ=="}})
    [change] = [shown_change(c) for c in compare(want, have, symmetric=True)]
    assert (change.path, change.old, change.new, change.masked) == (
        ("data", "password"),
        "***",
        "***",
        True,
    )
    added = shown_change(Change(Op.ADD, ("data",), new=want["data"]))
    assert added.new == {"password": "***", "user": "***"} and added.old is MISSING
    plain = Change(Op.CHANGE, ("type",), old="Opaque", new="kubernetes.io/tls")
    assert shown_change(plain) is plain
    revealed = shown_change(change_of(want, have), reveal_secrets=True)
    assert (revealed.old, revealed.new, revealed.masked) == ("b2xk", "bmV3", False)


def change_of(want: dict[str, object], have: dict[str, object]) -> Change:
    [change] = compare(want, have, symmetric=True)
    return change


def test_annotation_filter_secret_change_is_masked() -> None:
    def service(config: str) -> dict[str, object]:
        return seal(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "sso", "annotations": {"getambassador.io/config": config}},
            }
        )

    changes = compare(service(CONFIG.replace("OLD", "NEW")), service(CONFIG), symmetric=False)
    [change] = [shown_change(c) for c in changes]
    assert change.path[-2:] == ("OAuth2", "secret") and (change.old, change.new) == ("***",) * 2
    assert "SECRET" not in repr(change)


def test_views_show_which_secret_values_differ() -> None:
    want, have = shown_bodies(
        seal({**SECRET, "data": {"a": "eA==", "b": "eQ=="}, "type": "Opaque"}),
        seal({**SECRET, "data": {"a": "eA==", "b": "eg=="}, "type": "Opaque"}),
    )
    assert want is not None and have is not None
    assert want["data"] == {"a": "***", "b": "*** (git)"} and want["type"] == "Opaque"
    assert have["data"] == {"a": "***", "b": "*** (live)"}
    want, have = shown_bodies(seal({**FILTER, "spec": {"OAuth2": {"secret": "x"}}}), None)
    assert want is not None and want["spec"] == {"OAuth2": {"secret": "*** (git)"}}
    assert have is None


@pytest.mark.parametrize(
    "doc",
    [
        {"kind": "Filter", "name": "a", "OAuth2": {"secret": "Zq-S"}},
        {"kind": "Filter", "name": "a", "spec": {"OAuth2": {"secret": "Zq-S"}}},
        {"kind": "Filter", "name": "a", "spec": {"OAuth2": {"secret": {"nested": "Zq-S"}}}},
    ],
)
def test_an_annotation_filter_secret_is_sealed_wherever_it_is_written(
    doc: dict[str, object],
) -> None:
    sealed = seal_flat(doc)
    assert sealed is not doc and "Zq-S" not in str(sealed)
