"""The health rules `sync --wait` judges objects by (ambdiff/data/health.yaml, parsed by
ambdiff.health.rules, applied by ambdiff.health.assess): each built-in rule on bodies as the
real controllers write them, the errors a user's `health:` rules can get, and bodies that no
controller would write but a cluster can still hold."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from ambdiff.errors import ConfigError
from ambdiff.health import Health, Result, Rule, assess, built_in, find
from ambdiff.health.assess import MAX_MESSAGE
from ambdiff.settings import load_text

RULES = built_in()
HEALTHY, FAILED, PROGRESSING, NONE = (
    Result.HEALTHY,
    Result.FAILED,
    Result.PROGRESSING,
    Result.NONE,
)


class Secrets:
    """The `exists` lookup of a `missing` test: the Secrets that exist, and what was asked."""

    def __init__(self, present: Iterable[str] = ()) -> None:
        self.present = set(present)  # "namespace/name"
        self.asked: list[tuple[str, str, str, str]] = []

    def __call__(self, api_version: str, kind: str, namespace: str, name: str) -> bool:
        self.asked.append((api_version, kind, namespace, name))
        return kind == "Secret" and f"{namespace}/{name}" in self.present


def judge(
    body: Mapping[str, Any], *, secrets: Iterable[str] = (), rules: tuple[Rule, ...] = RULES
) -> Health:
    group = str(body["apiVersion"]).rpartition("/")[0]
    return assess(body, find(rules, group, str(body["kind"])), Secrets(secrets))


def obj(
    api_version: str,
    kind: str,
    *,
    spec: Any = None,
    status: Any = None,
    generation: int = 1,
    namespace: str = "shop",
    name: str = "web",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "generation": generation},
    }
    if spec is not None:
        body["spec"] = spec
    if status is not None:
        body["status"] = status
    return body


def cond(type_: str, status: str, reason: str = "", message: str = "") -> dict[str, str]:
    found = {"type": type_, "status": status, "lastTransitionTime": "2026-01-01T00:00:00Z"}
    return (
        found | ({"reason": reason} if reason else {}) | ({"message": message} if message else {})
    )


# --- Deployment ----------------------------------------------------------------------------

AVAILABLE = cond(
    "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."
)


def deployment(want: int = 3, generation: int = 2, **status: Any) -> dict[str, Any]:
    """A Deployment of `want` replicas (spec.replicas) and this status."""
    return obj(
        "apps/v1",
        "Deployment",
        generation=generation,
        spec={"replicas": want, "strategy": {"type": "RollingUpdate"}},
        status=status,
    )


def test_a_deployment_mid_rollout_says_how_many_replicas_are_updated() -> None:
    body = deployment(
        observedGeneration=2,
        replicas=3,
        updatedReplicas=1,
        readyReplicas=3,
        availableReplicas=3,
        unavailableReplicas=0,
        conditions=[
            AVAILABLE,
            cond(
                "Progressing", "True", "ReplicaSetUpdated", 'ReplicaSet "web-5d8f" is progressing.'
            ),
        ],
    )
    assert judge(body) == Health(PROGRESSING, "1 of 3 replicas updated")


def test_a_complete_deployment_is_healthy() -> None:
    body = deployment(
        observedGeneration=2,
        replicas=3,
        updatedReplicas=3,
        readyReplicas=3,
        availableReplicas=3,
        conditions=[
            AVAILABLE,
            cond(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                'ReplicaSet "web-5d8f" has successfully progressed.',
            ),
        ],
    )
    assert judge(body) == Health(HEALTHY, "")


def test_a_deployment_past_its_progress_deadline_fails_with_the_controllers_message() -> None:
    stuck = cond(
        "Progressing",
        "False",
        "ProgressDeadlineExceeded",
        'ReplicaSet "web-7d4b9c" has timed out progressing.',
    )
    body = deployment(
        observedGeneration=2,
        replicas=3,
        updatedReplicas=1,
        readyReplicas=2,
        availableReplicas=2,
        unavailableReplicas=1,
        conditions=[cond("Available", "True", "MinimumReplicasAvailable"), stuck],
    )
    assert judge(body) == Health(
        FAILED, 'progress deadline exceeded: ReplicaSet "web-7d4b9c" has timed out progressing.'
    )


def test_a_deployment_whose_old_replicas_are_still_stopping_is_progressing() -> None:
    # 3 wanted, all 3 updated; the controller's surge left one old replica (4 in all)
    body = deployment(
        observedGeneration=2,
        replicas=4,
        updatedReplicas=3,
        readyReplicas=3,
        availableReplicas=3,
        unavailableReplicas=0,
        conditions=[AVAILABLE],
    )
    assert judge(body) == Health(
        PROGRESSING, "4 replicas running, 3 of them updated: old replicas are stopping"
    )


def test_a_deployment_whose_updated_replicas_are_not_available_yet_is_progressing() -> None:
    body = deployment(
        observedGeneration=2,
        replicas=3,
        updatedReplicas=3,
        readyReplicas=1,
        availableReplicas=1,
        unavailableReplicas=2,
        conditions=[AVAILABLE],
    )
    assert judge(body) == Health(PROGRESSING, "1 of 3 updated replicas available")


def test_a_deployment_scaled_to_zero_is_healthy_without_replica_counts() -> None:
    # The controller leaves the counts out of the status when they are 0.
    body = deployment(want=0, observedGeneration=2, conditions=[AVAILABLE])
    assert judge(body) == Health(HEALTHY, "")


def test_a_deployment_with_a_status_of_an_older_generation_waits_for_its_controller() -> None:
    body = deployment(
        generation=3,
        observedGeneration=2,
        replicas=3,
        updatedReplicas=3,
        availableReplicas=3,
        conditions=[AVAILABLE],
    )
    assert judge(body) == Health(
        PROGRESSING,
        "waiting for its controller to see generation 3 (its status is of generation 2)",
    )


def test_a_new_deployment_without_status_waits_for_its_controller() -> None:
    body = obj("apps/v1", "Deployment", spec={"replicas": 2})
    assert judge(body) == Health(
        PROGRESSING, "waiting for the Deployment controller (no status yet)"
    )


def test_a_deployment_with_a_replica_failure_says_the_controllers_message() -> None:
    failure = cond(
        "ReplicaFailure",
        "True",
        "FailedCreate",
        'pods "web-5d8f-" is forbidden: exceeded quota: compute',
    )
    body = deployment(observedGeneration=2, replicas=3, updatedReplicas=3, conditions=[failure])
    assert judge(body) == Health(
        PROGRESSING,
        'ReplicaFailure=True (FailedCreate): pods "web-5d8f-" is forbidden: exceeded quota: compute',
    )


# --- StatefulSet, DaemonSet -----------------------------------------------------------------


def statefulset(strategy: dict[str, Any], **status: Any) -> dict[str, Any]:
    return obj(
        "apps/v1",
        "StatefulSet",
        generation=2,
        spec={"replicas": 3, "serviceName": "db", "updateStrategy": strategy},
        status={"observedGeneration": 2, **status},
    )


ROLLING: dict[str, Any] = {"type": "RollingUpdate"}  # as written with no rollingUpdate
# What the API server stores for a StatefulSet whose manifest names no strategy
# (SetDefaults_StatefulSet in kubernetes pkg/apis/apps/v1/defaults.go).
DEFAULTED: dict[str, Any] = {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}


def test_a_statefulset_with_every_replica_ready_on_the_current_revision_is_healthy() -> None:
    for strategy in (ROLLING, DEFAULTED):
        body = statefulset(
            strategy,
            replicas=3,
            readyReplicas=3,
            currentReplicas=3,
            updatedReplicas=3,
            availableReplicas=3,
            currentRevision="db-6b9c",
            updateRevision="db-6b9c",
        )
        assert judge(body) == Health(HEALTHY, "")


def test_a_statefulset_short_of_ready_replicas_says_how_many() -> None:
    body = statefulset(
        ROLLING,
        replicas=3,
        readyReplicas=1,
        currentReplicas=3,
        currentRevision="db-6b9c",
        updateRevision="db-6b9c",
    )
    assert judge(body) == Health(PROGRESSING, "1 of 3 replicas ready")


def test_a_statefulset_rolling_to_a_new_revision_is_progressing() -> None:
    body = statefulset(
        ROLLING,
        replicas=3,
        readyReplicas=3,
        currentReplicas=2,
        updatedReplicas=1,
        availableReplicas=3,
        currentRevision="db-6b9c",
        updateRevision="db-7f1a",
    )
    assert judge(body) == Health(
        PROGRESSING, "rolling out revision db-7f1a: 1 of 3 replicas updated"
    )


def test_a_statefulset_rolling_to_a_new_revision_with_the_defaulted_partition_is_progressing() -> (
    None
):
    body = statefulset(
        DEFAULTED,
        replicas=3,
        readyReplicas=3,
        currentReplicas=2,
        updatedReplicas=1,
        availableReplicas=3,
        currentRevision="db-6b9c",
        updateRevision="db-7f1a",
    )
    assert judge(body).result is PROGRESSING


def test_an_ondelete_statefulset_does_not_wait_for_pods_nobody_deletes() -> None:
    body = statefulset(
        {"type": "OnDelete"},
        replicas=3,
        readyReplicas=3,
        currentReplicas=3,
        updatedReplicas=0,
        currentRevision="db-6b9c",
        updateRevision="db-7f1a",
    )
    assert judge(body) == Health(HEALTHY, "")


def test_a_partitioned_statefulset_does_not_wait_for_the_replicas_below_the_partition() -> None:
    body = statefulset(
        {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
        replicas=3,
        readyReplicas=3,
        currentReplicas=2,
        updatedReplicas=1,
        currentRevision="db-6b9c",
        updateRevision="db-7f1a",
    )
    assert judge(body) == Health(HEALTHY, "")


def daemonset(**status: Any) -> dict[str, Any]:
    return obj(
        "apps/v1",
        "DaemonSet",
        generation=4,
        spec={"selector": {}},
        status={
            "observedGeneration": 4,
            "currentNumberScheduled": 3,
            "numberMisscheduled": 0,
            **status,
        },
    )


def test_a_daemonset_on_every_node_is_healthy() -> None:
    body = daemonset(
        desiredNumberScheduled=3, updatedNumberScheduled=3, numberReady=3, numberAvailable=3
    )
    assert judge(body) == Health(HEALTHY, "")


def test_a_daemonset_updating_its_nodes_says_how_many_are_updated_then_available() -> None:
    updating = daemonset(
        desiredNumberScheduled=3, updatedNumberScheduled=1, numberReady=3, numberAvailable=3
    )
    assert judge(updating) == Health(PROGRESSING, "1 of 3 nodes updated")
    # numberAvailable is left out while it is 0
    starting = daemonset(
        desiredNumberScheduled=3, updatedNumberScheduled=3, numberReady=0, numberUnavailable=3
    )
    assert judge(starting) == Health(PROGRESSING, "0 of 3 nodes available")


def test_a_new_daemonset_without_status_waits_for_its_controller() -> None:
    body = obj(
        "apps/v1",
        "DaemonSet",
        spec={"selector": {}},
        status={
            "currentNumberScheduled": 0,
            "desiredNumberScheduled": 0,
            "numberMisscheduled": 0,
            "numberReady": 0,
        },
    )
    assert judge(body) == Health(
        PROGRESSING, "waiting for the DaemonSet controller (no status yet)"
    )


# --- Job, CRD, Namespace, Service, PVC, Pod -------------------------------------------------


def job(**status: Any) -> dict[str, Any]:
    return obj(
        "batch/v1",
        "Job",
        name="migrate",
        spec={"backoffLimit": 0},
        status={"startTime": "2026-01-01T00:00:00Z", **status},
    )


def test_a_complete_job_is_healthy() -> None:
    body = job(
        succeeded=1,
        completionTime="2026-01-01T00:01:00Z",
        ready=0,
        terminating=0,
        conditions=[
            cond(
                "SuccessCriteriaMet",
                "True",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
            ),
            cond(
                "Complete",
                "True",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
            ),
        ],
    )
    assert judge(body) == Health(HEALTHY, "")


def test_a_failed_job_says_the_controllers_reason_and_message() -> None:
    reason = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
    body = job(
        failed=1,
        ready=0,
        terminating=0,
        conditions=[cond("FailureTarget", "True", *reason), cond("Failed", "True", *reason)],
    )
    assert judge(body) == Health(
        FAILED, "Failed=True (BackoffLimitExceeded): Job has reached the specified backoff limit"
    )


def test_a_running_job_says_what_its_pods_are_doing() -> None:
    assert judge(job(active=2, ready=1, terminating=0)) == Health(
        PROGRESSING, "running: 2 active, 0 succeeded, 0 failed"
    )


def crd(*conditions: dict[str, str]) -> dict[str, Any]:
    return obj(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        namespace="",
        name="widgets.example.com",
        spec={"group": "example.com"},
        status={
            "acceptedNames": {"kind": "Widget", "plural": "widgets"},
            "storedVersions": ["v1"],
            "conditions": list(conditions),
        },
    )


def test_an_established_crd_is_healthy() -> None:
    body = crd(
        cond("NamesAccepted", "True", "NoConflicts", "no conflicts found"),
        cond("Established", "True", "InitialNamesAccepted", "the initial names have been accepted"),
    )
    assert judge(body) == Health(HEALTHY, "")


def test_a_crd_whose_names_are_taken_fails_with_the_api_servers_message() -> None:
    body = crd(
        cond("NamesAccepted", "False", "ListKindConflict", '"WidgetList" is already in use'),
        cond("Established", "False", "NotAccepted", "not all names are accepted"),
    )
    assert judge(body) == Health(
        FAILED, 'NamesAccepted=False (ListKindConflict): "WidgetList" is already in use'
    )


def test_a_crd_not_yet_established_is_progressing() -> None:
    body = crd(cond("NamesAccepted", "True", "NoConflicts", "no conflicts found"))
    assert judge(body) == Health(
        PROGRESSING, "waiting to be Established (served by the API server)"
    )


def namespace(phase: str | None) -> dict[str, Any]:
    return obj(
        "v1",
        "Namespace",
        namespace="",
        name="shop",
        spec={"finalizers": ["kubernetes"]},
        status={"phase": phase} if phase else None,
    )


def test_a_namespace_is_healthy_when_active_and_failed_when_terminating() -> None:
    assert judge(namespace("Active")) == Health(HEALTHY, "")
    assert judge(namespace("Terminating")) == Health(FAILED, "it is being deleted (Terminating)")
    assert judge(namespace(None)) == Health(PROGRESSING, "waiting to be Active (no phase yet)")


def service(type_: str | None, ingress: list[dict[str, str]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"ports": [{"port": 80}], "clusterIP": "10.96.12.7"}
    if type_:
        spec["type"] = type_
    return obj(
        "v1", "Service", spec=spec, status={"loadBalancer": {"ingress": ingress} if ingress else {}}
    )


def test_a_clusterip_service_reports_no_health() -> None:
    assert judge(service("ClusterIP")) == Health(NONE, "")
    assert judge(service(None)) == Health(NONE, "")  # ClusterIP by default
    assert judge(service("NodePort")) == Health(NONE, "")


def test_a_load_balancer_service_waits_for_its_address() -> None:
    assert judge(service("LoadBalancer")) == Health(
        PROGRESSING, "waiting for a load balancer address (status.loadBalancer.ingress)"
    )
    addressed = service("LoadBalancer", [{"ip": "203.0.113.10", "ipMode": "VIP"}])
    assert judge(addressed) == Health(HEALTHY, "")


def pvc(phase: str) -> dict[str, Any]:
    return obj(
        "v1",
        "PersistentVolumeClaim",
        name="data",
        spec={"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        status={"phase": phase},
    )


def test_a_pvc_is_healthy_bound_progressing_pending_and_failed_lost() -> None:
    assert judge(pvc("Bound")) == Health(HEALTHY, "")
    assert judge(pvc("Pending")) == Health(PROGRESSING, "waiting to be Bound (Pending)")
    assert judge(pvc("Lost")) == Health(FAILED, "its volume is lost (phase Lost)")


def pod(phase: str, *conditions: dict[str, str], **status: Any) -> dict[str, Any]:
    return obj(
        "v1",
        "Pod",
        name="web-5d8f-x2k4q",
        spec={"containers": [{"name": "web"}]},
        status={"phase": phase, "conditions": list(conditions), **status},
    )


def test_a_pod_is_healthy_once_ready_or_succeeded() -> None:
    running = pod(
        "Running",
        cond("Initialized", "True"),
        cond("Ready", "True"),
        cond("ContainersReady", "True"),
        cond("PodScheduled", "True"),
    )
    assert judge(running) == Health(HEALTHY, "")
    assert judge(pod("Succeeded", cond("Ready", "False", "PodCompleted"))) == Health(HEALTHY, "")


def test_a_pod_on_its_way_says_its_phase() -> None:
    starting = pod(
        "Running",
        cond("Ready", "False", "ContainersNotReady", "containers with unready status: [web]"),
    )
    assert judge(starting) == Health(PROGRESSING, "Running")
    assert judge(pod("Pending", cond("PodScheduled", "False", "Unschedulable"))) == Health(
        PROGRESSING, "Pending"
    )


def test_a_failed_pod_says_the_kubelets_reason_and_message() -> None:
    evicted = pod("Failed", reason="Evicted", message="The node was low on resource: memory.")
    assert judge(evicted) == Health(FAILED, "Evicted: The node was low on resource: memory.")
    assert judge(pod("Failed")) == Health(FAILED, "failed: no message")


# --- Emissary: Host, TLSContext, Mapping ----------------------------------------------------


def host(
    spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None
) -> dict[str, Any]:
    return obj(
        "getambassador.io/v3alpha1",
        "Host",
        name="shop",
        generation=5,
        spec={"hostname": "shop.example.com", **(spec or {})},
        status=status,
    )


def test_a_ready_host_is_healthy() -> None:
    body = host(status={"state": "Ready", "tlsCertificateSource": "None"})
    assert judge(body) == Health(HEALTHY, "")


def test_a_host_in_error_says_emissarys_reason() -> None:
    body = host(
        status={
            "state": "Error",
            "phaseCompleted": "ACMEUserRegistered",
            "phasePending": "ACMECertificateChallenge",
            "errorReason": "acme: error: 403 :: urn:ietf:params:acme:error:unauthorized",
            "errorTimestamp": "2026-01-01T00:00:00Z",
        }
    )
    assert judge(body) == Health(
        FAILED,
        "Emissary reports an error: acme: error: 403 :: urn:ietf:params:acme:error:unauthorized",
    )
    assert judge(host(status={"state": "Error"})) == Health(
        FAILED, "Emissary reports an error: no reason given"
    )


def test_a_pending_host_says_its_phases() -> None:
    body = host(
        status={
            "state": "Pending",
            "phaseCompleted": "ACMEUserPrivateKeyCreated",
            "phasePending": "ACMEUserRegistered",
        }
    )
    assert judge(body) == Health(
        PROGRESSING, "Pending: ACMEUserRegistered (done: ACMEUserPrivateKeyCreated)"
    )
    assert judge(host(status={"state": "Initial"})) == Health(
        PROGRESSING, "Initial: next phase not reported (done: none)"
    )


OSS_HOST = (
    "only Ambassador Edge Stack reports a Host's state (open-source Emissary leaves it "
    "empty); a rule in .ambdiff.yaml can wait for it"
)


def test_a_host_without_a_state_reports_no_health() -> None:
    assert judge(host()) == Health(NONE, OSS_HOST)  # open-source Emissary writes no status
    assert judge(host(status={"state": ""})) == Health(NONE, OSS_HOST)
    assert judge(host(status={})) == Health(NONE, OSS_HOST)


def test_an_acme_host_without_a_state_waits_for_edge_stack() -> None:
    acme = {
        "acmeProvider": {
            "authority": "https://acme-v02.api.letsencrypt.org/directory",
            "email": "ops@example.com",
        },
        "tlsSecret": {"name": "shop-cert"},
    }
    assert judge(host(acme), secrets=["shop/shop-cert"]) == Health(
        PROGRESSING, "waiting for Edge Stack to report the Host's state (status.state)"
    )
    assert judge(host(acme)) == Health(
        PROGRESSING, "waiting for ACME to issue its certificate into Secret shop/shop-cert"
    )
    # `authority: none` turns ACME off: nothing issues the certificate, nothing to wait for.
    manual = {"acmeProvider": {"authority": "none"}}
    assert judge(host(manual)) == Health(NONE, OSS_HOST)


def test_a_host_whose_tls_secret_is_missing_names_the_secret() -> None:
    own = host({"tlsSecret": {"name": "shop-cert"}}, {"state": "Ready"})
    assert judge(own) == Health(
        PROGRESSING, "waiting for its TLS Secret shop/shop-cert (it does not exist)"
    )
    assert judge(own, secrets=["shop/shop-cert"]) == Health(HEALTHY, "")
    other = host({"tlsSecret": {"name": "wildcard", "namespace": "certs"}}, {"state": "Ready"})
    assert judge(other, secrets=["shop/wildcard"]) == Health(
        PROGRESSING, "waiting for its TLS Secret certs/wildcard (it does not exist)"
    )
    assert judge(other, secrets=["certs/wildcard"]) == Health(HEALTHY, "")


def test_a_host_asks_for_its_secret_where_the_reference_says() -> None:
    secrets = Secrets()
    body = host({"tlsSecret": {"name": "wildcard", "namespace": "certs"}})
    assess(body, find(RULES, "getambassador.io", "Host"), secrets)
    assert set(secrets.asked) == {("v1", "Secret", "certs", "wildcard")}


def tls_context(**spec: Any) -> dict[str, Any]:
    return obj(
        "getambassador.io/v3alpha1",
        "TLSContext",
        name="shop",
        spec={"hosts": ["shop.example.com"], **spec},
    )


def test_a_tls_context_reads_name_dot_namespace_by_default() -> None:
    body = tls_context(secret="shop-cert.certs")
    assert judge(body) == Health(
        PROGRESSING, "waiting for its TLS Secret certs/shop-cert (it does not exist)"
    )
    assert judge(body, secrets=["certs/shop-cert"]) == Health(NONE, "")
    assert judge(tls_context(secret="shop-cert")) == Health(
        PROGRESSING, "waiting for its TLS Secret shop/shop-cert (it does not exist)"
    )


def test_a_tls_context_without_secret_namespacing_reads_the_dotted_name_whole() -> None:
    body = tls_context(secret="shop.example.com", secret_namespacing=False)
    assert judge(body) == Health(
        PROGRESSING, "waiting for its TLS Secret shop/shop.example.com (it does not exist)"
    )
    assert judge(body, secrets=["shop/shop.example.com"]) == Health(NONE, "")
    assert judge(tls_context()) == Health(NONE, "")  # no secret to wait for


def mapping(status: dict[str, Any] | None) -> dict[str, Any]:
    return obj(
        "getambassador.io/v3alpha1",
        "Mapping",
        name="web",
        spec={"prefix": "/", "service": "web:80", "hostname": "*"},
        status=status,
    )


def test_a_mapping_is_judged_by_the_state_emissary_reports() -> None:
    assert judge(mapping({"state": "Running"})) == Health(HEALTHY, "")
    assert judge(mapping({"state": "Inactive", "reason": "service web:80 not found"})) == Health(
        FAILED, "Emissary reports it Inactive: service web:80 not found"
    )
    assert judge(mapping(None)) == Health(
        NONE, "Emissary reports a Mapping's state only with AMBASSADOR_UPDATE_MAPPING_STATUS=true"
    )


# --- any other kind: kstatus ----------------------------------------------------------------


def widget(*conditions: Any, generation: int = 1) -> dict[str, Any]:
    return obj(
        "example.com/v1",
        "Widget",
        name="w",
        generation=generation,
        spec={"size": 1},
        status={"observedGeneration": 1, "conditions": list(conditions)},
    )


def test_a_custom_resource_follows_its_ready_condition() -> None:
    assert judge(widget(cond("Ready", "True", "Reconciled", "all good"))) == Health(HEALTHY, "")
    assert judge(widget(cond("Ready", "False", "Provisioning", "creating the volume"))) == Health(
        PROGRESSING, "Ready=False (Provisioning): creating the volume"
    )
    assert judge(widget(cond("Ready", "Unknown"))) == Health(PROGRESSING, "Ready=Unknown")


def test_a_stalled_custom_resource_fails_before_any_other_condition_counts() -> None:
    body = widget(
        cond("Ready", "False", "Failed"),
        cond("Reconciling", "True", "Progressing", "retrying"),
        cond("Stalled", "True", "InvalidSpec", "spec.size must be positive"),
    )
    assert judge(body) == Health(FAILED, "Stalled=True (InvalidSpec): spec.size must be positive")


def test_a_reconciling_custom_resource_is_progressing_even_when_ready() -> None:
    body = widget(cond("Ready", "True"), cond("Reconciling", "True", "NewGeneration"))
    assert judge(body) == Health(PROGRESSING, "Reconciling=True (NewGeneration)")


def test_a_custom_resource_falls_back_to_available() -> None:
    assert judge(widget(cond("Available", "True"))) == Health(HEALTHY, "")
    assert judge(widget(cond("Available", "False", "MinimumReplicasUnavailable"))) == Health(
        PROGRESSING, "Available=False (MinimumReplicasUnavailable)"
    )


def test_a_custom_resource_without_conditions_reports_no_health() -> None:
    assert judge(widget()) == Health(NONE, "")
    assert judge(widget(cond("Synced", "True"))) == Health(NONE, "")
    stale = widget(cond("Ready", "True"), generation=2)  # its status is of generation 1
    assert judge(stale) == Health(
        PROGRESSING,
        "waiting for its controller to see generation 2 (its status is of generation 1)",
    )


def test_a_kind_without_a_rule_reports_no_health() -> None:
    assert assess(widget(cond("Ready", "False")), None, Secrets()) == Health(NONE, "")


# --- parsing: rules under `health:` in .ambdiff.yaml ----------------------------------------


def user_rules(yaml: str) -> tuple[Rule, ...]:
    return load_text(yaml, ".ambdiff.yaml").health


def error(yaml: str) -> str:
    with pytest.raises(ConfigError) as raised:
        user_rules(yaml)
    return str(raised.value)


DATABASE = """\
health:
  - group: example.com
    kind: Database
    checks:
      - result: failed
        when: [{condition: Ready, status: "False", reason: [Failed, Misconfigured]}]
      - result: healthy
        when: [{condition: Ready}]
      - result: progressing
        when: [{field: status.phase, in: [Pending, Provisioning]}]
        message: "{status.phase}"
    otherwise: progressing
"""


def test_a_users_rule_is_read_from_the_settings_file() -> None:
    (rule,) = user_rules(DATABASE)
    db = obj("example.com/v1", "Database", name="orders")
    assert assess(db | {"status": {"phase": "Provisioning"}}, rule, Secrets()) == Health(
        PROGRESSING, "Provisioning"
    )
    failed = db | {"status": {"conditions": [cond("Ready", "False", "Misconfigured", "no disk")]}}
    assert assess(failed, rule, Secrets()) == Health(FAILED, "Ready=False (Misconfigured): no disk")
    other = db | {"status": {"conditions": [cond("Ready", "False", "Scaling")]}}
    assert assess(other, rule, Secrets()) == Health(PROGRESSING, "")


@pytest.mark.parametrize(
    ("yaml", "expected"),
    [
        (
            "health: [{group: x, kind: X, chekcs: []}]",
            ".ambdiff.yaml: health[0]: unknown key 'chekcs' in a health rule. Did you mean 'checks'?",
        ),
        (
            "health: [{group: x, kind: X, checks: [{result: healthy, when: [{conditon: Ready}]}]}]",
            ".ambdiff.yaml: health[0]: checks[0]: when[0]: unknown key 'conditon' in a test. "
            "Did you mean 'condition'?",
        ),
        (
            "health: [{group: x, kind: X, checks: [{result: healthy, when: [{field: a, atleast: 1}]}]}]",
            ".ambdiff.yaml: health[0]: checks[0]: when[0]: unknown key 'atleast' in a test. "
            "Did you mean 'atLeast'?",
        ),
        (
            "health: [{group: x}]",
            ".ambdiff.yaml: health[0]: a health rule needs 'kind' (and 'group', or 'apiVersion').",
        ),
        (
            "health: [{kind: Database}]",
            ".ambdiff.yaml: health[0]: a health rule needs 'group' (\"\" for Kubernetes' core kinds, "
            "\"*\" for any) or 'apiVersion', so that it cannot match another group's kind of that name.",
        ),
        (
            "health: [{group: example.com, apiVersion: example.com/v1, kind: Database}]",
            ".ambdiff.yaml: health[0]: give 'group' or 'apiVersion', not both.",
        ),
        (
            "health: [{group: x, kind: X, checks: [{result: healthy, when: [{field: a, exists: true}]},"
            " {result: failed, when: [{condition: Ready, status: True}]}]}]",
            ".ambdiff.yaml: health[0]: checks[1]: when[0]: status must be a string, not a boolean "
            "(quote it).",
        ),
        (
            "health: [{group: x, kind: X, checks: [{result: healty, when: [{condition: Ready}]}]}]",
            ".ambdiff.yaml: health[0]: checks[0]: result: 'healty' is not a result; use healthy, "
            "failed, progressing or none. Did you mean 'healthy'?",
        ),
        (
            "health: [{group: x, kind: X, otherwise: ok}]",
            ".ambdiff.yaml: health[0]: otherwise: 'ok' is not a result; use healthy, failed, "
            "progressing or none.",
        ),
        (
            "health: [{group: x, kind: X, checks: [{when: [{condition: Ready}]}]}]",
            ".ambdiff.yaml: health[0]: checks[0]: a check needs 'result' (healthy, failed or "
            "progressing).",
        ),
        (
            "health: [{group: x, kind: X, checks: [{result: healthy, when: []}]}]",
            ".ambdiff.yaml: health[0]: checks[0]: 'when' must be a list of one or more tests.",
        ),
        (
            "health: [{group: x, kind: X, checks: [{result: healthy, when: [{condition: Ready, field: a}]}]}]",
            ".ambdiff.yaml: health[0]: checks[0]: when[0]: a test has exactly one of 'condition', "
            "'field' or 'missing'.",
        ),
        (
            "health: [{group: x, kind: X, checks: [{result: healthy, when: [{field: status.phase}]}]}]",
            ".ambdiff.yaml: health[0]: checks[0]: when[0]: a field test has exactly one of equals, in, "
            "exists, atLeast, below, sameAs.",
        ),
        (
            "health: [{group: x, kind: X, checks: [{result: healthy, when: [{field: a, equals: 1, in: [1]}]}]}]",
            ".ambdiff.yaml: health[0]: checks[0]: when[0]: a field test has exactly one of equals, in, "
            "exists, atLeast, below, sameAs.",
        ),
        (
            "health: [{group: x, kind: X, checks: [{result: healthy, when: [{field: a, in: Ready}]}]}]",
            ".ambdiff.yaml: health[0]: checks[0]: when[0]: 'in' must be a list of values.",
        ),
        (
            'health: [{group: x, kind: X, checks: [{result: healthy, when: [{field: a, exists: "true"}]}]}]',
            ".ambdiff.yaml: health[0]: checks[0]: when[0]: 'exists' must be true or false.",
        ),
        (
            "health: [{group: x, kind: X, checks: [{result: healthy, when: [{condition: Ready, equals: a}]}]}]",
            ".ambdiff.yaml: health[0]: checks[0]: when[0]: a condition test takes 'status' and "
            "'reason', not 'equals'.",
        ),
        (
            "health: [{group: x, kind: X, checks: [{result: healthy, when: [{field: a, equals: b, status: 'True'}]}]}]",
            ".ambdiff.yaml: health[0]: checks[0]: when[0]: 'status' and 'reason' belong to a "
            "condition test.",
        ),
        (
            "health: [{group: x, kind: X, checks: [{result: healthy, when: [{field: 'a..b', exists: true}]}]}]",
            ".ambdiff.yaml: health[0]: checks[0]: when[0]: field: 'a..b' is not a field path such as "
            "status.readyReplicas.",
        ),
        (
            "health: [{group: x, kind: X, checks: [{result: healthy, when: [{condition: Ready, not: 1}]}]}]",
            ".ambdiff.yaml: health[0]: checks[0]: when[0]: 'not' must be true or false.",
        ),
        (
            "health: [{group: x, kind: X, checks: [{result: healthy, when: [{missing: {kind: Secret, name: a}}]}]}]",
            ".ambdiff.yaml: health[0]: checks[0]: when[0]: missing: needs 'apiVersion', 'kind' and "
            "'name' (a field path).",
        ),
        (
            "health: [{group: x, kind: X, checks: [{result: healthy, when: [{missing: {apiVersion: v1, "
            "kind: Secret, name: spec.secret, namespace: spec.ns, qualified: true}}]}]}]",
            ".ambdiff.yaml: health[0]: checks[0]: when[0]: missing: 'qualified' (the name may be "
            "NAME.NAMESPACE) is true or false, and not given with 'namespace'.",
        ),
        (
            "health: [{group: x, kind: X, checks: [{result: healthy, when: [{missing: {apiVersion: v1, "
            "kind: Secret, name: spec.secret}, exists: true}]}]}]",
            ".ambdiff.yaml: health[0]: checks[0]: when[0]: a missing test takes no 'exists'.",
        ),
        (
            "health: [{group: x, kind: 3}]",
            ".ambdiff.yaml: health[0]: kind must be a string, not a number (quote it).",
        ),
        (
            "health: [{group: x, kind: X, observedGeneration: 'no'}]",
            ".ambdiff.yaml: health[0]: 'observedGeneration' must be true or false.",
        ),
        (
            "health: [{group: x, kind: X, checks: {result: healthy}}]",
            ".ambdiff.yaml: health[0]: 'checks' must be a list of checks.",
        ),
        (
            "health: [[group, x]]",
            ".ambdiff.yaml: health[0]: a health rule must be a mapping, not a list.",
        ),
    ],
)
def test_a_bad_rule_gets_one_sentence_saying_where(yaml: str, expected: str) -> None:
    message = error(yaml)
    assert message == expected
    assert "\n" not in message and "Traceback" not in message


def test_a_users_rule_comes_before_the_built_in_one_for_the_same_kind() -> None:
    mine = user_rules("health: [{group: apps, kind: Deployment, otherwise: healthy}]")
    rules = (*mine, *RULES)  # as `sync --wait` puts them
    rule = find(rules, "apps", "Deployment")
    assert rule is mine[0]
    # the built-in one would wait for a Deployment without status; this one does not
    assert assess(obj("apps/v1", "Deployment"), rule, Secrets()) == Health(HEALTHY, "")
    assert find(rules, "apps", "StatefulSet") is not None
    assert find(rules, "apps", "StatefulSet") not in mine


def test_an_api_version_matches_every_version_of_its_group_and_no_other_group() -> None:
    (rule,) = user_rules("health: [{apiVersion: example.com/v1, kind: Database}]")
    assert rule.matches("example.com", "Database")  # v1, v1beta1, v2: the group is what counts
    assert not rule.matches("other.example.com", "Database")
    assert not rule.matches("example.com", "Table")
    (core,) = user_rules("health: [{apiVersion: v1, kind: ConfigMap}]")
    assert core.matches("", "ConfigMap") and not core.matches("example.com", "ConfigMap")


def test_group_star_matches_the_kind_in_any_group() -> None:
    (rule,) = user_rules('health: [{group: "*", kind: Database, otherwise: healthy}]')
    assert find((rule, *RULES), "example.com", "Database") is rule
    assert find((rule, *RULES), "db.example.org", "Database") is rule
    assert find((rule, *RULES), "example.com", "Widget") is not rule


def test_a_default_after_a_bar_is_used_when_the_field_is_absent() -> None:
    (rule,) = user_rules("""\
health:
  - {group: x, kind: X, otherwise: progressing, message: "{status.ready|0} of {spec.size|1}",
     checks: [{result: healthy, when: [{field: "status.ready|0", atLeast: "spec.size|1"}]}]}
""")
    assert assess({"spec": {"size": 3}, "status": {"ready": 2}}, rule, Secrets()) == Health(
        PROGRESSING, "2 of 3"
    )
    assert assess({}, rule, Secrets()) == Health(PROGRESSING, "0 of 1")
    assert assess({"status": {"ready": 1}}, rule, Secrets()) == Health(HEALTHY, "")


# --- hostile bodies -------------------------------------------------------------------------

HOSTILE_STATUSES: list[Any] = [
    [],
    ["Ready"],
    "Ready",
    7,
    True,
    {"conditions": "Ready"},
    {"conditions": {"type": "Ready", "status": "True"}},
    {"conditions": ["Ready", 7, None, ["Ready", "True"]]},
    {"conditions": [{"type": ["Ready"], "status": {"x": 1}}]},
    {"observedGeneration": "2", "replicas": "2", "updatedReplicas": "1", "readyReplicas": "2"},
    {"observedGeneration": True, "updatedReplicas": True, "availableReplicas": False},
    {"phase": True, "state": False, "loadBalancer": []},
    {"state": ["Error"], "errorReason": {"a": 1}},
    {"phase": None, "state": None, "conditions": None},
]


@pytest.mark.parametrize("status", HOSTILE_STATUSES)
@pytest.mark.parametrize(
    ("api_version", "kind"),
    [
        ("apps/v1", "Deployment"),
        ("apps/v1", "StatefulSet"),
        ("apps/v1", "DaemonSet"),
        ("batch/v1", "Job"),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
        ("v1", "Namespace"),
        ("v1", "Service"),
        ("v1", "PersistentVolumeClaim"),
        ("v1", "Pod"),
        ("getambassador.io/v3alpha1", "Host"),
        ("getambassador.io/v3alpha1", "Mapping"),
        ("getambassador.io/v3alpha1", "TLSContext"),
        ("example.com/v1", "Widget"),
    ],
)
def test_a_hostile_status_is_judged_without_an_exception(
    api_version: str, kind: str, status: Any
) -> None:
    spec = {
        "replicas": "3",
        "type": "LoadBalancer",
        "tlsSecret": {"name": 7},
        "secret": ["x"],
        "updateStrategy": "OnDelete",
        "acmeProvider": True,
    }
    health = judge(obj(api_version, kind, spec=spec, status=status))
    assert health.result in set(Result)
    assert "\n" not in health.message and len(health.message) <= MAX_MESSAGE


def test_numbers_written_as_strings_are_not_compared_as_numbers() -> None:
    # "2" < "10" as text but not as numbers: a string is no count, so no count says "fewer".
    body = deployment(want=10, observedGeneration=2, updatedReplicas="2")
    assert judge(body) == Health(HEALTHY, "")


def test_a_boolean_is_not_the_string_true() -> None:
    (rule,) = user_rules(
        "health: [{group: x, kind: X, checks: [{result: healthy, when: "
        '[{field: status.ok, equals: "true"}]}]}]'
    )
    assert assess({"status": {"ok": True}}, rule, Secrets()).result is NONE
    assert assess({"status": {"ok": "true"}}, rule, Secrets()).result is HEALTHY


def test_a_huge_message_is_cut_to_one_line_with_an_ellipsis() -> None:
    body = widget(cond("Stalled", "True", "Crash", "x" * 100_000))
    health = judge(body)
    assert health.result is FAILED
    assert len(health.message) == MAX_MESSAGE
    assert health.message.startswith("Stalled=True (Crash): xxx") and health.message.endswith("…")


def test_a_templated_huge_message_is_cut_too() -> None:
    body = host(status={"state": "Error", "errorReason": "e" * 5000})
    health = judge(body)
    assert len(health.message) == MAX_MESSAGE and health.message.endswith("…")
    assert health.message.startswith("Emissary reports an error: eee")


def test_a_message_with_newlines_becomes_one_line() -> None:
    message = 'Back-off pulling image\n\n  "web:1.2"\r\n\tErrImagePull'
    body = widget(cond("Ready", "False", "ImagePull", message))
    assert judge(body) == Health(
        PROGRESSING, 'Ready=False (ImagePull): Back-off pulling image "web:1.2" ErrImagePull'
    )
    evicted = pod("Failed", reason="Evicted", message="line one\nline two")
    assert judge(evicted) == Health(FAILED, "Evicted: line one line two")


# --- what an independent tester found ---------------------------------------------------------


def test_edge_stacks_minimal_acme_host_is_waited_for() -> None:
    """Edge Stack's documented minimal Host names only an email: its authority defaults to
    Let's Encrypt, and Edge Stack reports its state."""
    body = host(spec={"acmeProvider": {"email": "ops@example.com"}})
    assert judge(body) == Health(
        PROGRESSING, "waiting for Edge Stack to report the Host's state (status.state)"
    )
    body = host(spec={"acmeProvider": {"email": "ops@example.com"}, "tlsSecret": {"name": "t"}})
    assert judge(body) == Health(
        PROGRESSING, "waiting for ACME to issue its certificate into Secret shop/t"
    )
    assert judge(host(spec={"acmeProvider": {"authority": "none"}})).result is NONE


def test_a_paused_deployment_and_a_suspended_job_report_nothing_to_wait_for() -> None:
    paused = obj(
        "apps/v1",
        "Deployment",
        spec={"replicas": 2, "paused": True},
        status={"observedGeneration": 1},
    )
    assert judge(paused) == Health(
        NONE, "paused (spec.paused): its rollout waits until it is resumed"
    )
    suspended = obj(
        "batch/v1",
        "Job",
        spec={"suspend": True},
        status={"conditions": [{"type": "Suspended", "status": "True"}]},
    )
    assert judge(suspended) == Health(NONE, "suspended (spec.suspend): it runs once that is false")


def test_a_job_without_status_says_so() -> None:
    assert judge(obj("batch/v1", "Job", spec={})) == Health(
        PROGRESSING, "waiting for the Job controller (no status yet)"
    )


@pytest.mark.parametrize(
    ("rule", "said"),
    [
        (
            "{group: databases.example.com/v1, kind: Database}",
            "health[0]: group 'databases.example.com/v1' holds a version; write the group alone "
            "(databases.example.com), or apiVersion: with the version.",
        ),
        (
            "{group: x, kind: database}",
            "health[0]: kind 'database' would match nothing: kinds are written as the API writes "
            "them (Database).",
        ),
        (
            "{group: x, kind: Database, message: '{status.x'}",
            "health[0]: message: '{status.x' has a '{' or '}' without its pair; a placeholder is "
            "written {status.phase}.",
        ),
        (
            '{group: x, kind: Database, checks: [{result: healthy, when: [{field: "a|x", atLeast: b}]}]}',
            "health[0]: checks[0]: when[0]: field 'a|x': atLeast compares numbers, so the default "
            "after | must be a number.",
        ),
    ],
)
def test_a_rule_that_could_never_match_is_refused(rule: str, said: str) -> None:
    assert error(f"health: [{rule}]\n") == f".ambdiff.yaml: {said}"


def test_a_sync_timeout_setting_is_a_duration() -> None:
    assert load_text("sync: {timeout: 90}\n", ".ambdiff.yaml").timeout == 90.0
    assert load_text("sync: {timeout: 2m}\n", ".ambdiff.yaml").timeout == 120.0
    with pytest.raises(ConfigError) as raised:
        load_text("sync: {timeout: true}\n", ".ambdiff.yaml")
    assert str(raised.value) == (
        ".ambdiff.yaml: sync: timeout must be a duration such as 5m or 90s, not a boolean."
    )
