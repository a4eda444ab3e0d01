"""`sync --wait` against the real API server. No controllers run there, so each test plays
the controllers' part: between two rounds of the wait it writes `status` through the status
subresource, as the Deployment, Job or Emissary controller would. The steps run at the wait's
own pauses (ambdiff.sync.wait.follow's `pause`), so each round sees exactly one step."""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from ambdiff.cli import main
from ambdiff.commands import sync as sync_command
from tests.e2e.diff_support import cluster_args
from tests.e2e.sample_repo import web_app
from tests.harness import APIServer

Step = Callable[[], None]


@pytest.fixture
def ns() -> str:
    return f"wait-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "gitops"
    root.mkdir()
    return root


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> list[Step]:
    """What the controllers do, one step per pause of the wait; once they are done the wait
    pauses for real."""
    todo: list[Step] = []
    real = sync_command.follow

    def follow(*args: Any, **kw: Any) -> Any:
        pause = kw["pause"]

        def controller_pause(seconds: float) -> bool:
            if todo:
                todo.pop(0)()
                return pause(0)
            return pause(seconds)

        return real(*args, **{**kw, "pause": controller_pause})

    monkeypatch.setattr(sync_command, "follow", follow)
    return todo


@pytest.fixture
def sync(
    apiserver: APIServer, repo: Path, ns: str, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    def run(*args: str) -> tuple[int, str, str]:
        code = main(
            [
                "sync",
                "--yes",
                *args,
                *cluster_args(apiserver, repo, f"inv-{ns}"),
            ]
        )
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def apps(api_client: kubernetes.client.ApiClient) -> kubernetes.client.AppsV1Api:
    return kubernetes.client.AppsV1Api(api_client)


@pytest.fixture
def custom(api_client: kubernetes.client.ApiClient) -> kubernetes.client.CustomObjectsApi:
    return kubernetes.client.CustomObjectsApi(api_client)


def write(repo: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (repo / name).write_text(text)


def rollout(apps: kubernetes.client.AppsV1Api, ns: str, **status: Any) -> Step:
    """The Deployment controller's status write for the Deployment `web`."""

    def step() -> None:
        generation = apps.read_namespaced_deployment("web", ns).metadata.generation
        apps.patch_namespaced_deployment_status(
            "web", ns, {"status": {"observedGeneration": generation, **status}}
        )

    return step


def test_a_rollout_that_becomes_available_is_followed_to_healthy(
    sync: Callable[..., tuple[int, str, str]],
    repo: Path,
    ns: str,
    steps: list[Step],
    apps: kubernetes.client.AppsV1Api,
) -> None:
    write(repo, web_app(ns, replicas=2, config=True))
    steps += [
        rollout(apps, ns, replicas=2, updatedReplicas=1, availableReplicas=0),
        rollout(apps, ns, replicas=2, updatedReplicas=2, readyReplicas=2, availableReplicas=2),
    ]
    code, out, err = sync("--wait")
    assert code == 0, out + err
    assert f"Deployment {ns}/web: waiting for the Deployment controller (no status yet)" in err
    assert f"progressing  Deployment {ns}/web: 1 of 2 replicas updated" in err
    assert f"✓ healthy      Deployment {ns}/web" in out
    # The Mapping, Service and ConfigMap report no health: counted, and the Mapping says why.
    assert "report no health to wait for" in out
    assert "AMBASSADOR_UPDATE_MAPPING_STATUS=true" in out
    assert "Healthy: 2 object(s) healthy" in out  # the Deployment and the Namespace
    assert not steps, "every controller step ran"


def test_a_rollout_past_its_progress_deadline_fails_with_the_controllers_reason(
    sync: Callable[..., tuple[int, str, str]],
    repo: Path,
    ns: str,
    steps: list[Step],
    apps: kubernetes.client.AppsV1Api,
) -> None:
    write(repo, web_app(ns))
    stuck = {
        "type": "Progressing",
        "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": 'ReplicaSet "web-7d4b9c" has timed out progressing.',
    }
    steps.append(rollout(apps, ns, replicas=2, updatedReplicas=2, conditions=[stuck]))
    code, out, err = sync("--wait", "-o", "json")
    assert code == 1, out + err
    health = json.loads(out)["health"]
    assert health["result"] == "failed"
    web = next(o for o in health["objects"] if o["kind"] == "Deployment")
    assert web["health"] == "failed"
    assert web["message"] == (
        'progress deadline exceeded: ReplicaSet "web-7d4b9c" has timed out progressing.'
    )
    # The writes stay: the Deployment is there, as git says.
    assert apps.read_namespaced_deployment("web", ns).spec.replicas == 2


def test_a_job_that_fails_fails_the_sync(
    sync: Callable[..., tuple[int, str, str]],
    repo: Path,
    ns: str,
    steps: list[Step],
    api_client: kubernetes.client.ApiClient,
) -> None:
    write(
        repo,
        {
            "ns.yaml": f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n",
            "job.yaml": f"""apiVersion: batch/v1
kind: Job
metadata: {{name: migrate, namespace: {ns}}}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{{name: migrate, image: busybox:1.36, command: ["false"]}}]
""",
        },
    )
    batch = kubernetes.client.BatchV1Api(api_client)

    def job_fails() -> None:
        now = "2026-01-01T00:00:00Z"
        reason = {
            "reason": "BackoffLimitExceeded",
            "message": "Job has reached the specified backoff limit",
            "lastTransitionTime": now,
            "lastProbeTime": now,
        }
        batch.patch_namespaced_job_status(
            "migrate",
            ns,
            {
                "status": {
                    "startTime": now,
                    "failed": 1,
                    "conditions": [
                        {"type": "FailureTarget", "status": "True", **reason},
                        {"type": "Failed", "status": "True", **reason},
                    ],
                }
            },
        )

    steps.append(job_fails)
    code, out, err = sync("--wait")
    assert code == 1, out + err
    assert (
        f"failed       Job {ns}/migrate: Failed=True (BackoffLimitExceeded): Job has "
        "reached the specified backoff limit"
    ) in out
    assert "Not healthy" in out and "1 failed" in out


def test_a_crd_and_its_custom_resources_are_healthy_once_established(
    sync: Callable[..., tuple[int, str, str]],
    repo: Path,
    ns: str,
) -> None:
    group = f"{ns}.example.com"
    write(
        repo,
        {
            "crd.yaml": f"""apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: widgets.{group}}}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: widgets, singular: widget, kind: Widget}}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {{openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}}}
"""
        },
    )
    code, out, err = sync("--wait")
    # The API server itself sets Established: no step is needed.
    assert code == 0, out + err
    assert f"✓ healthy      CustomResourceDefinition widgets.{group}" in out


def host(ns: str, name: str, secret: str, *, acme: bool = False) -> str:
    """A Host with its TLS in a Secret; with `acme`, one whose certificate Edge Stack's ACME
    client issues (and whose state Edge Stack reports)."""
    authority = "https://acme-v02.api.letsencrypt.org/directory" if acme else "none"
    return f"""apiVersion: getambassador.io/v3alpha1
kind: Host
metadata: {{name: {name}, namespace: {ns}}}
spec:
  hostname: {name}.example.com
  acmeProvider: {{authority: "{authority}", email: ops@example.com}}
  tlsSecret: {{name: {secret}}}
"""


TLS = """apiVersion: v1
kind: Secret
metadata: {{name: {name}, namespace: {ns}}}
type: kubernetes.io/tls
stringData: {{tls.crt: not-a-real-cert, tls.key: not-a-real-key}}
"""


def host_state(
    custom: kubernetes.client.CustomObjectsApi, ns: str, name: str, **status: Any
) -> Step:
    def step() -> None:
        custom.patch_namespaced_custom_object_status(
            "getambassador.io", "v3alpha1", ns, "hosts", name, {"status": status}
        )

    return step


def test_a_host_that_goes_ready_is_healthy_and_one_that_goes_to_error_fails(
    sync: Callable[..., tuple[int, str, str]],
    repo: Path,
    ns: str,
    steps: list[Step],
    custom: kubernetes.client.CustomObjectsApi,
) -> None:
    write(
        repo,
        {
            "ns.yaml": f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n",
            "tls.yaml": TLS.format(name="shop-tls", ns=ns),
            "hosts.yaml": host(ns, "shop", "shop-tls", acme=True)
            + "---\n"
            + host(ns, "admin", "shop-tls", acme=True),
        },
    )
    steps += [
        host_state(custom, ns, "shop", state="Pending", phaseCompleted="NA",
                   phasePending="ACMEUserPrivateKeyCreated"),
        host_state(custom, ns, "shop", state="Ready", tlsCertificateSource="Other"),
        host_state(custom, ns, "admin", state="Error",
                   errorReason="tlsSecret shop-tls: certificate is not valid PEM"),
    ]  # fmt: skip
    code, out, err = sync("--wait")
    assert code == 1, out + err
    assert f"progressing  Host {ns}/admin: waiting for Edge Stack to report the Host's state" in err
    assert f"progressing  Host {ns}/shop: Pending: ACMEUserPrivateKeyCreated" in err
    assert f"✓ healthy      Host {ns}/shop" in out
    assert (
        f"✗ failed       Host {ns}/admin: Emissary reports an error: "
        "tlsSecret shop-tls: certificate is not valid PEM"
    ) in out
    assert "1 failed, 0 timed out" in out
    # The Secret's values never reach the output.
    assert "not-a-real" not in out + err


def test_a_host_whose_tls_secret_never_appears_times_out_naming_it(
    sync: Callable[..., tuple[int, str, str]],
    repo: Path,
    ns: str,
) -> None:
    write(
        repo,
        {
            "ns.yaml": f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n",
            "hosts.yaml": host(ns, "shop", "cert-manager-makes-this"),
            "other.yaml": host(ns, "oss", "oss-tls") + "---\n" + TLS.format(name="oss-tls", ns=ns),
        },
    )
    code, out, err = sync("--wait", "--timeout", "1s")
    assert code == 1, out + err
    assert (
        f"✗ timed out    Host {ns}/shop: waiting for its TLS Secret "
        f"{ns}/cert-manager-makes-this (it does not exist)"
    ) in out
    assert "0 failed, 1 timed out (--timeout 1s)" in out
    # A Host whose Secret exists, and no ACME: open-source Emissary reports no state for it.
    assert f"Host {ns}/oss: only Ambassador Edge Stack reports a Host's state" in out


def test_a_rollout_that_never_finishes_times_out(
    sync: Callable[..., tuple[int, str, str]],
    repo: Path,
    ns: str,
) -> None:
    write(repo, web_app(ns))
    code, out, err = sync("--wait", "--timeout", "1s", "-o", "json")
    assert code == 1, out + err
    health = json.loads(out)["health"]
    assert health["result"] == "timed out"
    web = next(o for o in health["objects"] if o["kind"] == "Deployment")
    assert web == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "namespace": ns,
        "name": "web",
        "health": "timed out",
        "message": "waiting for the Deployment controller (no status yet)",
    }


def test_settings_turn_wait_on_and_the_flag_turns_it_off(
    sync: Callable[..., tuple[int, str, str]],
    repo: Path,
    ns: str,
) -> None:
    write(repo, web_app(ns))
    (repo / ".ambdiff.yaml").write_text("sync: {wait: true, timeout: 1s}\n")
    code, out, err = sync()
    assert code == 1 and "Not healthy" in out, out + err
    code, out, err = sync("--no-wait")
    assert code == 0, out + err
    assert "healthy" not in out.lower() and "Waiting" not in err


def test_user_rules_judge_their_own_kinds(
    sync: Callable[..., tuple[int, str, str]],
    repo: Path,
    ns: str,
    steps: list[Step],
    custom: kubernetes.client.CustomObjectsApi,
) -> None:
    """A rule in .ambdiff.yaml comes before the built-in ones: here a Mapping is healthy only
    once its (Emissary-written) state is Running, and Inactive fails with its reason."""
    write(repo, web_app(ns))
    (repo / ".ambdiff.yaml").write_text("""health:
  - group: getambassador.io
    kind: Mapping
    checks:
      - {result: healthy, when: [{field: status.state, equals: Running}]}
      - result: failed
        when: [{field: status.state, equals: Inactive}]
        message: "inactive: {status.reason}"
    otherwise: progressing
    message: waiting for Emissary
""")
    steps.append(
        lambda: custom.patch_namespaced_custom_object_status(
            "getambassador.io",
            "v3alpha1",
            ns,
            "mappings",
            "web",
            {"status": {"state": "Inactive", "reason": "service web.x:80 has no endpoints"}},
        )
    )
    code, out, err = sync("--wait", "--timeout", "30s")
    assert code == 1, out + err
    assert f"progressing  Mapping {ns}/web: waiting for Emissary" in err
    assert f"Mapping {ns}/web: inactive: service web.x:80 has no endpoints" in out


def test_ctrl_c_stops_waiting_and_keeps_every_write(
    sync: Callable[..., tuple[int, str, str]],
    repo: Path,
    ns: str,
    steps: list[Step],
    apps: kubernetes.client.AppsV1Api,
) -> None:
    write(repo, web_app(ns))
    steps.append(lambda: os.kill(os.getpid(), signal.SIGINT))
    code, out, err = sync("--wait")
    assert code == 130, out + err
    assert "Stopped waiting" in out and "Every write stays applied" in out
    assert apps.read_namespaced_deployment("web", ns).spec.replicas == 2


def test_a_pruned_object_is_followed_until_it_is_gone(
    sync: Callable[..., tuple[int, str, str]],
    repo: Path,
    ns: str,
) -> None:
    write(repo, web_app(ns, config=True))
    assert sync()[0] == 0
    (repo / "config.yaml").unlink()
    code, out, err = sync("--prune", "--wait", "--timeout", "1s")
    # The ConfigMap is gone at once; the Deployment never rolls out (no controller).
    assert f"✓ healthy      ConfigMap {ns}/settings: deleted" in out, out + err
    assert code == 1


def test_dry_run_with_wait_is_refused(
    sync: Callable[..., tuple[int, str, str]], repo: Path, ns: str
) -> None:
    write(repo, web_app(ns))
    code, _, err = sync("--dry-run", "--wait")
    assert code == 2
    assert "--wait follows what a sync writes, and --dry-run writes nothing" in err


@pytest.fixture(autouse=True)
def _no_leftover_handlers() -> Iterator[None]:
    """A test's Ctrl-C must not outlive it."""
    before = signal.getsignal(signal.SIGINT)
    yield
    assert signal.getsignal(signal.SIGINT) == before
