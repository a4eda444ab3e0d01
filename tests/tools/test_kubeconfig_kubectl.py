"""kubectl is the oracle for which context, cluster, user and namespace a kubeconfig layout
selects: `kubectl config view --minify` against ambdiff's choice, for merged `$KUBECONFIG`
lists whose files overlap in names and disagree on current-context, with and without the
override flags. `config view` does not apply --cluster and --user, so the server kubectl would
really call is read from its own request log (`-v=6`, a GET to a closed loopback port). No API
server is needed: this is about choosing, not connecting."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ambdiff.cluster.kubeconfig import Overrides, load, select
from ambdiff.errors import ClusterError

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(
    KUBECTL is None and os.environ.get("CI") != "true", reason="kubectl is not installed"
)

# Three teams' kubeconfigs: each names "shared" cluster/user/context differently, and each has
# its own current-context.
FILES: dict[str, dict[str, Any]] = {
    "dev.yaml": {
        "current-context": "dev",
        "clusters": {"dev": "https://127.0.0.11:1", "shared": "https://127.0.0.12:1"},
        "users": {"dev-user": {"token": "d"}, "shared": {"token": "sd"}},
        "contexts": {"dev": ("dev", "dev-user", "team-dev"), "shared": ("shared", "shared", "")},
    },
    "staging.yaml": {
        "current-context": "staging",
        "clusters": {"staging": "https://127.0.0.13:1", "shared": "https://127.0.0.14:1"},
        "users": {"stg-user": {"token": "s"}, "shared": {"token": "ss"}},
        "contexts": {"staging": ("staging", "stg-user", "shop"),
                     "shared": ("staging", "shared", "shop"), "dev": ("staging", "stg-user", "")},
    },
    "prod.yaml": {
        "current-context": "prod",
        "clusters": {"prod": "https://127.0.0.15:1", "dev": "https://127.0.0.16:1"},
        "users": {"prod-user": {"token": "p"}, "dev-user": {"token": "pd"}},
        "contexts": {"prod": ("prod", "prod-user", "payments"), "shared": ("prod", "prod-user", "")},
    },
}  # fmt: skip


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("kubeconfigs")
    for name, spec in FILES.items():
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": spec["current-context"],
            "clusters": [{"name": n, "cluster": {"server": s}} for n, s in spec["clusters"].items()],
            "users": [{"name": n, "user": u} for n, u in spec["users"].items()],
            "contexts": [
                {"name": n, "context": {"cluster": c, "user": u, **({"namespace": ns} if ns else {})}}
                for n, (c, u, ns) in spec["contexts"].items()
            ],
        }  # fmt: skip
        (folder / name).write_text(yaml.safe_dump(config))
    return folder


def kubectl_choice(kubeconfig_env: str, flags: list[str], home: Path) -> tuple[str, ...] | None:
    """(context, cluster, user, namespace) as `kubectl config view --minify` has them, and the
    server kubectl sends a request to; None when kubectl refuses the selection."""
    assert KUBECTL is not None
    environment = {"KUBECONFIG": kubeconfig_env, "HOME": str(home), "PATH": os.environ["PATH"]}
    view = subprocess.run(
        [
            KUBECTL,
            "config",
            "view",
            "--minify",
            "-o",
            "json",
            *_without(flags, "--cluster", "--user"),
        ],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if view.returncode != 0:
        return None
    body = json.loads(view.stdout)["contexts"][0]
    options = dict(zip(flags[::2], flags[1::2], strict=True))
    request = subprocess.run(
        [KUBECTL, *flags, "get", "--raw", "/version", "-v=6", "--request-timeout=2s"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    ).stderr
    called = re.search(r"GET (https://[^/ ]+)/version", request)
    assert called, request
    return (
        body["name"],
        options.get("--cluster") or body["context"]["cluster"],
        options.get("--user") or body["context"]["user"],
        options.get("--namespace") or body["context"].get("namespace") or "default",
        called.group(1),
    )


def _without(flags: list[str], *names: str) -> list[str]:
    pairs = zip(flags[::2], flags[1::2], strict=True)
    return [item for name, value in pairs if name not in names for item in (name, value)]


ORDERS = [
    list(p)
    for r in (2, 3)
    for p in itertools.permutations(["dev.yaml", "staging.yaml", "prod.yaml"], r)
]
FLAGS = [
    [],
    ["--context", "shared"],
    ["--context", "dev"],
    ["--context", "staging", "--cluster", "dev"],
    ["--context", "prod", "--user", "dev-user"],
    ["--context", "shared", "--namespace", "override"],
]


@pytest.mark.parametrize("flags", FLAGS, ids=lambda f: " ".join(f) or "current-context")
@pytest.mark.parametrize("order", ORDERS, ids=lambda o: ":".join(o))
def test_ambdiff_selects_what_kubectl_selects(
    layout: Path, order: list[str], flags: list[str], tmp_path: Path
) -> None:
    listed = os.pathsep.join(str(layout / name) for name in order)
    expected = kubectl_choice(listed, flags, tmp_path)
    options = dict(zip(flags[::2], flags[1::2], strict=True))
    overrides = Overrides(
        context=options.get("--context"),
        cluster=options.get("--cluster"),
        user=options.get("--user"),
        namespace=options.get("--namespace"),
    )
    merged = load(None, {"KUBECONFIG": listed})
    if expected is None:  # kubectl refuses (the context is in none of these files): so do we
        with pytest.raises(ClusterError, match=r"is not defined in"):
            select(merged, overrides)
        return
    chosen = select(merged, overrides)
    assert (
        chosen.context,
        chosen.cluster_name,
        chosen.user_name,
        chosen.namespace,
        chosen.server,
    ) == expected
