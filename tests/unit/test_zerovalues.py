"""Which built-in fields the API server drops at their zero value (ambdiff.zerovalues)."""

from __future__ import annotations

import pytest

from ambdiff.model import ListKey
from ambdiff.zerovalues import dropped_at_zero, zero_value

WEB = ListKey((("name", "web"),))
POD = ("spec", "template", "spec")
SCHEMA = ("spec", "versions", 0, "schema", "openAPIV3Schema", "properties", "spec", "properties")


@pytest.mark.parametrize(
    ("api_version", "kind", "path", "expected"),
    [
        # non-pointer omitempty scalars: gone when zero
        ("apps/v1", "Deployment", ("spec", "minReadySeconds"), True),
        ("apps/v1", "Deployment", (*POD, "hostNetwork"), True),
        ("apps/v1", "Deployment", (*POD, "hostname"), True),
        (
            "apps/v1",
            "Deployment",
            (*POD, "containers", WEB, "readinessProbe", "initialDelaySeconds"),
            True,
        ),
        (
            "apps/v1",
            "Deployment",
            (*POD, "containers", 0, "readinessProbe", "initialDelaySeconds"),
            True,
        ),
        (
            "apps/v1",
            "Deployment",
            (
                *POD,
                "containers",
                WEB,
                "volumeMounts",
                ListKey((("mountPath", "/data"),)),
                "readOnly",
            ),
            True,
        ),
        (
            "apps/v1",
            "Deployment",
            (*POD, "containers", WEB, "ports", ListKey((("containerPort", 80),)), "hostPort"),
            True,
        ),
        ("v1", "Service", ("spec", "ports", ListKey((("port", 80),)), "nodePort"), True),
        ("apps/v1", "StatefulSet", ("spec", "minReadySeconds"), True),
        ("apps/v1", "StatefulSet", (*POD, "initContainers", 0, "tty"), True),
        (
            "batch/v1",
            "CronJob",
            ("spec", "jobTemplate", "spec", "template", "spec", "hostNetwork"),
            True,
        ),
        ("v1", "Pod", ("spec", "volumes", 0, "secret", "optional"), False),  # *bool
        ("v1", "ConfigMap", ("metadata", "generateName"), True),
        ("apps/v1", "Deployment", ("metadata", "generateName"), True),
        # pointer fields keep their zero: absent live means unset
        ("apps/v1", "Deployment", ("spec", "replicas"), False),
        ("apps/v1", "Deployment", (*POD, "automountServiceAccountToken"), False),
        ("apps/v1", "StatefulSet", ("spec", "replicas"), False),
        # fields without omitempty, and custom-encoded values, are never dropped
        ("apps/v1", "Deployment", (*POD, "containers", WEB, "name"), False),
        ("v1", "Service", ("spec", "ports", 0, "port"), False),
        ("v1", "Service", ("spec", "ports", 0, "targetPort"), False),  # IntOrString
        # map values: a str key under a map-typed field
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition", (*SCHEMA, "x", "nullable"), True),
        ("apiregistration.k8s.io/v1", "APIService", ("spec", "insecureSkipTLSVerify"), True),
        # custom resources, unknown kinds, versions and paths
        ("getambassador.io/v3alpha1", "Mapping", ("spec", "prefix"), False),
        ("getambassador.io/v3alpha1", "Mapping", ("metadata", "generateName"), False),
        ("apps/v9", "Deployment", ("spec", "minReadySeconds"), False),
        ("apps/v1", "Deployment", ("spec", "noSuchField"), False),
        ("apps/v1", "Deployment", ("spec", "minReadySeconds", "deeper"), False),
        ("apps/v1", "Deployment", ("spec",), False),  # a struct, not a leaf
        ("apps/v1", "Deployment", (), False),
        (
            "apps/v1",
            "Deployment",
            (*POD, "containers", "web", "image"),
            False,
        ),  # str where a list item belongs
        (
            "apps/v1",
            "Deployment",
            ("spec", "template", 0),
            False,
        ),  # list item where a field belongs
    ],
)
def test_dropped_at_zero(
    api_version: str, kind: str, path: tuple[object, ...], expected: bool
) -> None:
    assert dropped_at_zero(api_version, kind, path) is expected


def test_zero_values() -> None:
    for value in (0, 0.0, False, ""):
        assert zero_value(value), value
    for value in (None, 1, -1, 0.5, True, "0", "false", [], {}):
        assert not zero_value(value), value
