"""Failures that share a cause are said once; a failed connection is said in words."""

from __future__ import annotations

import http.client
import json
import ssl

import pytest
import urllib3

from ambdiff.cluster.errors import reason, translate
from ambdiff.errors import ClusterError
from ambdiff.model import ObjectId
from ambdiff.sync.executor import Failure, grouped
from ambdiff.sync.plan import Action, Verb


def action(name: str) -> Action:
    return Action(
        Verb.CREATE,
        ObjectId("getambassador.io", "Mapping", "shop", name),
        "getambassador.io/v3alpha1",
        None,
        (),
        "",
    )


def forbidden(name: str, verb: str = "patch", resource: str = "mappings") -> ClusterError:
    message = (
        f'{resource}.getambassador.io "{name}" is forbidden: User "ci" cannot {verb} '
        f'resource "{resource}" in API group "getambassador.io" in the namespace "shop"'
    )
    body = json.dumps({"message": message})
    return translate(403, "Forbidden", body, f"dry-run apply Mapping {name}", "prod")


def test_rbac_refusals_of_one_verb_share_a_cause_and_another_verb_is_another() -> None:
    failures = [Failure.of(action(n), forbidden(n)) for n in ("a", "b", "c")]
    failures.append(Failure.of(action("d"), forbidden("d", verb="create")))
    failures.append(Failure(action("e"), "its own problem"))
    groups = grouped(failures)
    assert [(g.cause, len(g.failures)) for g in groups] == [
        (
            "user 'ci' may not patch mappings.getambassador.io in namespace shop (HTTP 403, "
            "context prod)",
            3,
        ),
        ("", 1),  # one refusal of its kind is reported as it is
        ("", 1),
    ]
    assert groups[0].hint.startswith("Your credentials lack permission")
    assert groups[1].failures[0].message.startswith("dry-run apply Mapping d was refused")


def test_the_order_of_groups_is_the_order_causes_first_appear() -> None:
    dead = ClusterError(
        "cannot reach the cluster at https://k8s (context prod): connection refused."
    )
    dead.cause = dead.message.rstrip(".")
    failures = [
        Failure(action("x"), "own"),
        Failure.of(action("a"), dead),
        Failure.of(action("b"), forbidden("b")),
        Failure.of(action("c"), dead),
        Failure.of(action("d"), forbidden("d")),
    ]
    assert [g.cause[:20] for g in grouped(failures)] == [
        "",
        "cannot reach the clu",
        "user 'ci' may not pa",
    ]


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (
            urllib3.exceptions.ProtocolError(
                "Connection aborted.",
                http.client.RemoteDisconnected("Remote end closed connection without response"),
            ),
            "the server closed the connection without answering",
        ),
        (
            urllib3.exceptions.ProtocolError(
                "Connection aborted.", ConnectionResetError(104, "Connection reset by peer")
            ),
            "the connection was reset",
        ),
        (
            urllib3.exceptions.MaxRetryError(
                None,
                "/api",
                reason=urllib3.exceptions.NewConnectionError(
                    None, "Failed to establish a new connection: [Errno 111] Connection refused"
                ),
            ),
            "connection refused (nothing listens there, or the server is down)",
        ),
        (
            urllib3.exceptions.MaxRetryError(
                None,
                "/api",
                reason=urllib3.exceptions.NameResolutionError(
                    "k8s.invalid", None, OSError("[Errno -2] Name or service not known")
                ),
            ),
            "the host name does not resolve",
        ),
        (
            urllib3.exceptions.SSLError(
                ssl.SSLCertVerificationError(
                    "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate"
                )
            ),
            "its TLS certificate is not trusted (certificate verify failed)",
        ),
        (
            urllib3.exceptions.ReadTimeoutError(None, "/api", "Read timed out. (read timeout=60)"),
            "it did not answer in time",
        ),
    ],
)
def test_a_failed_connection_is_said_in_words_not_as_a_python_repr(
    error: BaseException, words: str
) -> None:
    assert reason(error) == words
