"""A broken kubeconfig entry is one sentence naming the file, the entry and the field
(ambdiff.cluster.connection), checked before any request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ambdiff.cluster.connection import configure
from ambdiff.cluster.kubeconfig import Selection
from ambdiff.errors import ClusterError

ORIGIN = Path("/home/me/.kube/config")


def selection(cluster: dict[str, Any], user: dict[str, Any] | None = None) -> Selection:
    return Selection(
        context="prod",
        cluster_name="prod-eu",
        user_name="ci",
        namespace="default",
        cluster={"server": "https://prod:6443", **cluster},
        user=user or {},
        cluster_origin=ORIGIN,
        user_origin=ORIGIN,
    )


@pytest.mark.parametrize(
    ("cluster", "user", "message"),
    [
        (
            {"certificate-authority": "/nope/ca.crt"},
            {},
            "cluster 'prod-eu': certificate-authority /nope/ca.crt does not exist",
        ),
        ({}, {"client-key": "/"}, "user 'ci': client-key / is not a file"),
        ({}, {"tokenFile": "/nope/token"}, "user 'ci': tokenFile /nope/token does not exist"),
        (
            {"certificate-authority-data": "not base64!"},
            {},
            "cluster 'prod-eu': certificate-authority-data is not valid base64",
        ),
        (
            {"proxy-url": "ftp://proxy:21"},
            {},
            "proxy-url 'ftp://proxy:21' is not an http, https or socks5 URL",
        ),
        ({"tls-server-name": "a/b"}, {}, "tls-server-name 'a/b' is not a host name"),
        ({"server": "prod:6443"}, {}, "server 'prod:6443' is not an http(s) URL"),
        (
            {"certificate-authority-data": "aGVsbG8="},
            {},
            "cluster 'prod-eu': certificate-authority-data holds no PEM certificate",
        ),
        (
            {},
            {"client-key-data": "aGVsbG8="},
            "user 'ci': client-key-data holds no PEM private key",
        ),
        ({}, {"token": "TOPSECRET\nwith-newline"}, "user 'ci': token holds a line break"),
        (
            {
                "insecure-skip-tls-verify": True,
                "certificate-authority-data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=",
            },
            {},
            "sets both insecure-skip-tls-verify and a certificate authority; kubectl refuses that too",
        ),
    ],
)
def test_each_broken_field_is_named(
    cluster: dict[str, Any], user: dict[str, Any], message: str
) -> None:
    with pytest.raises(ClusterError) as e:
        configure(selection(cluster, user))
    assert message in str(e.value)
    assert str(ORIGIN) in str(e.value)
    assert "TOPSECRET" not in str(e.value)


def test_a_good_entry_configures_tls_and_the_server(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    connection = configure(
        selection({"certificate-authority": str(ca), "tls-server-name": "api"}, {"token": "t"})
    )
    assert connection.configuration.host == "https://prod:6443"
    assert connection.configuration.ssl_ca_cert == str(ca)
    assert connection.configuration.tls_server_name == "api"
    assert connection.credentials is None and not connection.insecure
