"""End-to-end fixtures: a real kube-apiserver + etcd (tests/harness) with ambdiff's CRDs.

The binaries come from tools/testbin.py: `python3 tools/testbin.py build` (needs Go), or
KUBEBUILDER_ASSETS pointing at a directory with kube-apiserver and etcd. Without them these
tests skip, except in CI (CI=true), where they fail.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import kubernetes
import kubernetes.dynamic
import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CRDS = ROOT / "ambdiff" / "crds" / "ambassador.yaml"

# Plain `pytest` (unlike `python -m pytest`) does not put the repository root on sys.path.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.e2e.diff_support import isolate  # noqa: E402
from tests.harness import APIServer, start  # noqa: E402

JsonObject = dict[str, Any]
SERVER_KEY = pytest.StashKey[APIServer]()
ENABLE_HINT = (
    "no kube-apiserver/etcd binaries for the e2e tests: run `python3 tools/testbin.py build` "
    "(needs Go) or set KUBEBUILDER_ASSETS"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    server = item.config.stash.get(SERVER_KEY, None)
    if report.failed and server is not None and item.get_closest_marker("e2e"):
        for name, tail in server.log_tails().items():
            report.sections.append((f"{name} log (tail)", tail))
    return report


@pytest.fixture(scope="session")
def testbin() -> ModuleType:
    """tools/testbin.py, imported from its path (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location("ambdiff_testbin", ROOT / "tools" / "testbin.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def testbin_assets(testbin: ModuleType) -> Any:
    assets = testbin.find_assets()
    if assets is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{ENABLE_HINT} (CI=true, so this fails instead of skipping)")
        pytest.skip(ENABLE_HINT)
    return assets


@pytest.fixture(scope="session")
def apiserver(request: pytest.FixtureRequest, testbin_assets: Any) -> Iterator[APIServer]:
    server = start(testbin_assets.kube_apiserver, testbin_assets.etcd)
    request.config.stash[SERVER_KEY] = server
    try:
        server.install_crds(CRDS)
        yield server
    finally:
        del request.config.stash[SERVER_KEY]
        server.close()


@pytest.fixture(scope="session")
def crds_path() -> Path:
    return CRDS


@pytest.fixture(scope="session")
def api_client(apiserver: APIServer) -> kubernetes.client.ApiClient:
    """An admin client (system:masters) built from the harness kubeconfig."""
    return kubernetes.config.new_client_from_config(
        config_file=str(apiserver.kubeconfig), context=apiserver.context
    )


@pytest.fixture(scope="session")
def dynamic_client(
    api_client: kubernetes.client.ApiClient, tmp_path_factory: pytest.TempPathFactory
) -> kubernetes.dynamic.DynamicClient:
    """A dynamic client; its discovery cache goes to a temporary file, not the shared /tmp one."""
    cache = tmp_path_factory.mktemp("discovery") / "cache.json"
    return kubernetes.dynamic.DynamicClient(api_client, cache_file=str(cache))


@pytest.fixture
def create(
    dynamic_client: kubernetes.dynamic.DynamicClient, namespace: str
) -> Callable[[JsonObject], JsonObject]:
    """Create an object of any kind in the test's namespace; returns what the server stored."""

    def create(obj: JsonObject) -> JsonObject:
        resource = dynamic_client.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        return dict(resource.create(body=obj, namespace=namespace).to_dict())

    return create


@pytest.fixture
def read(
    dynamic_client: kubernetes.dynamic.DynamicClient, namespace: str
) -> Callable[[str, str, str], JsonObject]:
    """Read (apiVersion, kind, name) from the test's namespace."""

    def read(api_version: str, kind: str, name: str) -> JsonObject:
        resource = dynamic_client.resources.get(api_version=api_version, kind=kind)
        return dict(resource.get(name=name, namespace=namespace).to_dict())

    return read


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME for ambdiff and kubectl, never the developer's: KUBECONFIG points nowhere and
    AMBDIFF_* is cleared, so a test passes the cluster by flag (tests/e2e/diff_support.py)."""
    home = tmp_path / "home"
    home.mkdir()
    isolate(monkeypatch, home)
    return home


@pytest.fixture
def namespace(api_client: kubernetes.client.ApiClient) -> Iterator[str]:
    """A fresh namespace. Nothing runs the namespace controller, so a deleted namespace stays
    Terminating with its contents: isolation comes from the unique name."""
    core = kubernetes.client.CoreV1Api(api_client)
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)
