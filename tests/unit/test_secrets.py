"""Secret values are masked wherever they appear in a change or a view."""

from __future__ import annotations

from ambdiff.model import MISSING, Change, ObjectId, Op
from ambdiff.secrets import mask_bodies, mask_change

SECRET = ObjectId("", "Secret", "shop", "db")
FILTER = ObjectId("getambassador.io", "Filter", "shop", "sso")


def test_secret_value_change_is_masked() -> None:
    c = mask_change(SECRET, Change(Op.CHANGE, ("data", "password"), old="b2xk", new="bmV3"))
    assert (c.old, c.new, c.masked) == ("***", "***", True)


def test_whole_data_map_added_is_masked_per_key() -> None:
    c = mask_change(SECRET, Change(Op.ADD, ("data",), new={"user": "YQ==", "password": "Yg=="}))
    assert c.new == {"user": "***", "password": "***"} and c.old is MISSING and c.masked


def test_other_secret_fields_are_shown() -> None:
    c = Change(Op.CHANGE, ("type",), old="Opaque", new="kubernetes.io/tls")
    assert mask_change(SECRET, c) is c


def test_filter_oauth2_client_secret_is_masked_at_any_depth() -> None:
    leaf = mask_change(FILTER, Change(Op.CHANGE, ("spec", "OAuth2", "secret"), old="s1", new="s2"))
    assert (leaf.old, leaf.new, leaf.masked) == ("***", "***", True)
    added = mask_change(
        FILTER,
        Change(Op.ADD, ("spec", "OAuth2"), new={"clientID": "shop", "secret": "hunter2"}),
    )
    assert added.new == {"clientID": "shop", "secret": "***"} and added.masked
    other = Change(Op.CHANGE, ("spec", "OAuth2", "clientID"), old="a", new="b")
    assert mask_change(FILTER, other) is other


def test_views_show_which_secret_values_differ() -> None:
    want, have = mask_bodies(
        SECRET,
        {"data": {"a": "eA==", "b": "eQ=="}, "type": "Opaque"},
        {"data": {"a": "eA==", "b": "eg=="}, "type": "Opaque"},
    )
    assert want == {"data": {"a": "***", "b": "*** (git)"}, "type": "Opaque"}
    assert have == {"data": {"a": "***", "b": "*** (live)"}, "type": "Opaque"}
    want, have = mask_bodies(FILTER, {"spec": {"OAuth2": {"secret": "x"}}}, None)
    assert want == {"spec": {"OAuth2": {"secret": "*** (git)"}}} and have is None
