"""`ambdiff diff` against the real local API server (issue 3, "Done when").

- No false positives: the quickstart example, a spread of built-in kinds and Ambassador
  resources in getambassador.io/v2 and v3alpha1, applied by a peer (kubectl, server-side),
  are all reported unchanged, in the default mode and with --server-side.
- Every kind of drift is found with its exact field path, in both modes, and both modes
  report the same set of (object, op, path).
- ambdiff and `kubectl diff` agree on which objects differ.
- --rev reads another commit without touching the working tree.
- Secret values (plaintext and base64) appear in no output format.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import yaml

from tests.e2e.diff_support import (
    Row,
    Run,
    apply,
    changes_of,
    cluster_args,
    git,
    identities,
    isolate,
    kubectl,
    record_inventory,
    rows,
    run_ambdiff,
    statuses,
    write,
)
from tests.harness import APIServer

ROOT = Path(__file__).resolve().parents[2]
INVENTORY_LABEL = "ambdiff.io/inventory"
QUICKSTART = ROOT / "examples" / "quickstart" / "manifests"
MODES = {"default": [], "server-side": ["--server-side"]}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """HOME for ambdiff and kubectl: never the developer's; KUBECONFIG points nowhere."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, home)
        yield home


def new_namespace(api_client: kubernetes.client.ApiClient, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    kubernetes.client.CoreV1Api(api_client).create_namespace({"metadata": {"name": name}})
    return name


# ---- 1. no false positives ---------------------------------------------------------------

BUILTINS = """
    apiVersion: v1
    kind: ServiceAccount
    metadata:
      name: web
      namespace: {ns}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: web-config
      namespace: {ns}
    data:
      LOG_LEVEL: info
      app.properties: |
        color=blue
        retries=3
    ---
    apiVersion: v1
    kind: Secret
    metadata:
      name: web-credentials
      namespace: {ns}
    type: Opaque
    stringData:
      username: admin
      token: s3cr3t-t0ken
    data:
      extra: ZXh0cmEtdmFsdWU=
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      namespace: {ns}
      labels: {app: web, tier: frontend}
      annotations:
        example.com/owner: team-web
    spec:
      replicas: 2
      selector:
        matchLabels: {app: web}
      strategy:
        type: RollingUpdate
        rollingUpdate: {maxSurge: 25%, maxUnavailable: 1}
      template:
        metadata:
          labels: {app: web}
        spec:
          serviceAccountName: web
          containers:
            - name: web
              image: nginx:1.27
              args: ["--port", "8080"]
              ports:
                - name: http
                  containerPort: 8080
                - name: metrics
                  containerPort: 9090
                  protocol: TCP
              env:
                - name: LOG_LEVEL
                  valueFrom:
                    configMapKeyRef: {name: web-config, key: LOG_LEVEL}
                - name: MODE
                  value: "production"
              resources:
                requests: {cpu: 1000m, memory: 1Gi}
                limits: {cpu: 2, memory: 2048Mi, ephemeral-storage: 0.5Gi}
              readinessProbe:
                httpGet: {path: /healthz, port: http}
              livenessProbe:
                httpGet: {path: /healthz, port: 8080}
              volumeMounts:
                - {name: config, mountPath: /etc/web}
                - {name: cache, mountPath: /var/cache/web}
            - name: sidecar
              image: busybox:1.36
              command: [sh, -c, "sleep infinity"]
              resources:
                requests: {cpu: 0.1, memory: 67108864}
          volumes:
            - name: config
              configMap: {name: web-config}
            - name: cache
              emptyDir: {}
    ---
    apiVersion: v1
    kind: Service
    metadata:
      name: web
      namespace: {ns}
    spec:
      type: ClusterIP
      selector: {app: web}
      ports:
        - name: http
          port: 80
          targetPort: http
        - name: metrics
          port: 9090
          targetPort: 9090
          protocol: TCP
    ---
    apiVersion: v1
    kind: Service
    metadata:
      name: dns
      namespace: {ns}
      annotations: {}
    spec:
      selector: {app: dns}
      ports:
        - {name: dns-udp, port: 53, protocol: UDP, targetPort: 5353}
        - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 5353}
    ---
    apiVersion: apps/v1
    kind: StatefulSet
    metadata:
      name: db
      namespace: {ns}
    spec:
      serviceName: db
      replicas: 1
      selector:
        matchLabels: {app: db}
      template:
        metadata:
          labels: {app: db}
        spec:
          containers:
            - name: postgres
              image: postgres:16
              ports: [{containerPort: 5432, name: pg}]
              volumeMounts: [{name: data, mountPath: /var/lib/postgresql/data}]
      volumeClaimTemplates:
        - metadata:
            name: data
          spec:
            accessModes: [ReadWriteOnce]
            resources:
              requests: {storage: 1Gi}
    ---
    apiVersion: apps/v1
    kind: DaemonSet
    metadata:
      name: node-agent
      namespace: {ns}
    spec:
      selector:
        matchLabels: {app: node-agent}
      template:
        metadata:
          labels: {app: node-agent}
        spec:
          tolerations:
            - {operator: Exists}
          containers:
            - name: agent
              image: busybox:1.36
              resources:
                limits: {memory: 128Mi}
    ---
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata:
      name: web
      namespace: {ns}
      annotations:
        getambassador.io/ambassador-id: default
    spec:
      rules:
        - host: web.example.com
          http:
            paths:
              - path: /
                pathType: Prefix
                backend:
                  service:
                    name: web
                    port: {number: 80}
              - path: /metrics
                pathType: Exact
                backend:
                  service:
                    name: web
                    port: {name: metrics}
    ---
    apiVersion: batch/v1
    kind: CronJob
    metadata:
      name: cleanup
      namespace: {ns}
    spec:
      schedule: "*/30 * * * *"
      jobTemplate:
        spec:
          template:
            spec:
              restartPolicy: OnFailure
              containers:
                - name: cleanup
                  image: busybox:1.36
                  command: [sh, -c, "echo cleaning"]
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: Role
    metadata:
      name: web-reader
      namespace: {ns}
    rules:
      - apiGroups: [""]
        resources: [configmaps, secrets]
        verbs: [get, list, watch]
      - apiGroups: [getambassador.io]
        resources: [mappings]
        verbs: [get]
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: RoleBinding
    metadata:
      name: web-reader
      namespace: {ns}
    subjects:
      - kind: ServiceAccount
        name: web
        namespace: {ns}
    roleRef:
      apiGroup: rbac.authorization.k8s.io
      kind: Role
      name: web-reader
    ---
    apiVersion: autoscaling/v2
    kind: HorizontalPodAutoscaler
    metadata:
      name: web
      namespace: {ns}
    spec:
      scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
      minReplicas: 1
      maxReplicas: 5
      metrics:
        - type: Resource
          resource:
            name: cpu
            target: {type: AverageValue, averageValue: 1000m}
        - type: Resource
          resource:
            name: memory
            target: {type: AverageValue, averageValue: 1024Mi}
    """

# Written the way generators (`kubectl create --dry-run=client -o yaml`) write them, and applied
# client-side: nulls, empty maps, `status: {}`, and the last-applied-configuration annotation.
GENERATED = """
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      creationTimestamp: null
      labels: {app: gen}
      name: gen
      namespace: {ns}
    spec:
      replicas: 1
      selector:
        matchLabels: {app: gen}
      strategy: {}
      template:
        metadata:
          creationTimestamp: null
          labels: {app: gen}
        spec:
          containers:
          - image: busybox:1.36
            name: gen
            resources: {}
            ports:
            - {containerPort: 53, protocol: UDP}
            - {containerPort: 53, protocol: TCP}
    status: {}
    ---
    apiVersion: v1
    kind: LimitRange
    metadata: {name: limits, namespace: {ns}}
    spec:
      limits:
        - type: Container
          default: {cpu: 0.5, memory: 1Gi}
          defaultRequest: {cpu: 100m}
    ---
    apiVersion: v1
    kind: ResourceQuota
    metadata: {name: quota, namespace: {ns}}
    spec:
      hard: {requests.cpu: "4000m", limits.memory: 4096Mi, pods: "10"}
    ---
    apiVersion: policy/v1
    kind: PodDisruptionBudget
    metadata: {name: web, namespace: {ns}}
    spec:
      minAvailable: 50%
      selector: {matchLabels: {app: web}}
    ---
    apiVersion: v1
    kind: PersistentVolumeClaim
    metadata: {name: scratch, namespace: {ns}}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1.5Gi}}
    """

AMBASSADOR = """
    apiVersion: getambassador.io/v2
    kind: Mapping
    metadata:
      name: legacy-api
      namespace: {ns}
    spec:
      prefix: /legacy/api/
      service: web.{ns}:80
      host: legacy.example.com
      ambassador_id: default
      timeout_ms: 4000
      add_request_headers:
        x-legacy: "true"
      cors:
        origins: https://legacy.example.com
        credentials: true
    ---
    apiVersion: getambassador.io/v3alpha1
    kind: Mapping
    metadata:
      name: api
      namespace: {ns}
      labels: {host: web}
    spec:
      hostname: web.example.com
      prefix: /api/
      service: web.{ns}:80
      ambassador_id: [default]
      rewrite: /
      weight: 100
      headers:
        x-canary: "false"
      circuit_breakers:
        - max_connections: 2048
          priority: default
    ---
    apiVersion: getambassador.io/v2
    kind: Host
    metadata:
      name: legacy
      namespace: {ns}
    spec:
      hostname: legacy.example.com
      acmeProvider:
        authority: none
      tlsSecret:
        name: legacy-tls
    ---
    apiVersion: getambassador.io/v3alpha1
    kind: Host
    metadata:
      name: web
      namespace: {ns}
    spec:
      hostname: web.example.com
      mappingSelector:
        matchLabels: {host: web}
      requestPolicy:
        insecure:
          action: Redirect
    ---
    apiVersion: getambassador.io/v3alpha1
    kind: TLSContext
    metadata:
      name: web-tls
      namespace: {ns}
    spec:
      hosts: [web.example.com]
      secret: web-tls
      min_tls_version: v1.2
    ---
    apiVersion: getambassador.io/v2
    kind: TLSContext
    metadata:
      name: legacy-tls
      namespace: {ns}
    spec:
      hosts: [legacy.example.com]
      secret: legacy-tls
    ---
    apiVersion: getambassador.io/v2
    kind: Module
    metadata:
      name: ambassador
      namespace: {ns}
    spec:
      config:
        diagnostics:
          enabled: false
        use_remote_address: true
    ---
    apiVersion: getambassador.io/v3alpha1
    kind: Listener
    metadata:
      name: http
      namespace: {ns}
    spec:
      port: 8080
      protocol: HTTPS
      securityModel: XFP
      hostBinding:
        namespace:
          from: SELF
    ---
    apiVersion: getambassador.io/v3alpha1
    kind: TCPMapping
    metadata:
      name: db
      namespace: {ns}
    spec:
      port: 5432
      service: db.{ns}:5432
    ---
    apiVersion: v1
    kind: Service
    metadata:
      name: annotated
      namespace: {ns}
      annotations:
        getambassador.io/config: |
          ---
          apiVersion: ambassador/v2
          kind:  Mapping
          name:  annotated-a
          prefix: /a/
          service: web.{ns}:80
          ---
          apiVersion: getambassador.io/v3alpha1
          kind: Mapping
          name: annotated-b
          prefix: /b/
          service: web.{ns}:80
          hostname: "*"
    spec:
      selector: {app: web}
      ports:
        - port: 8080
          targetPort: 8080
    """


def copy_quickstart(dest: Path, namespace: str) -> list[Path]:
    """The quickstart manifests, moved from namespace `shop` into `namespace`."""
    dest.mkdir(parents=True)
    written = []
    for source in sorted(QUICKSTART.glob("*.yaml")):
        text = source.read_text().replace("namespace: shop", f"namespace: {namespace}")
        if source.name == "00-namespace.yaml":
            text = text.replace("name: shop", f"name: {namespace}")
        target = dest / source.name
        target.write_text(text)
        written.append(target)
    return written


# A `kind: List` (as `kubectl get -o yaml` writes) and a .json manifest.
LIST = """
    apiVersion: v1
    kind: List
    items:
      - apiVersion: v1
        kind: ServiceAccount
        metadata: {name: listed, namespace: {ns}}
      - apiVersion: getambassador.io/v3alpha1
        kind: Mapping
        metadata: {name: listed, namespace: {ns}}
        spec: {prefix: /listed/, service: listed:80}
    """

JSON_MANIFEST = """
    {"apiVersion": "v1", "kind": "ConfigMap",
     "metadata": {"name": "from-json", "namespace": "{ns}"},
     "data": {"port": "8080", "enabled": "true"}}
    """


# Applied the way `ambdiff sync` applies: field manager ambdiff, ownership labels added.
SYNCED = """
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: synced
      namespace: {ns}
      labels: {app: synced}
    data: {color: blue}
    ---
    apiVersion: getambassador.io/v3alpha1
    kind: Mapping
    metadata:
      name: synced
      namespace: {ns}
    spec:
      prefix: /synced/
      service: synced:80
    ---
    apiVersion: getambassador.io/v2
    kind: Mapping
    metadata:
      name: synced-v2
      namespace: {ns}
    spec:
      prefix: /synced-v2/
      service: synced:80
      ambassador_id: [default, canary]
    ---
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRole
    metadata:
      name: {ns}-mapping-reader
    rules:
      - apiGroups: [getambassador.io]
        resources: [mappings, hosts]
        verbs: [get, list, watch]
    """


def with_ownership_labels(source: Path, target: Path, inventory: str) -> Path:
    """The manifests of `source` as `sync` sends them: with its two ownership labels."""
    docs = [d for d in yaml.safe_load_all(source.read_text()) if d]
    for doc in docs:
        labels = doc["metadata"].setdefault("labels", {})
        labels.update({"app.kubernetes.io/managed-by": "ambdiff", INVENTORY_LABEL: inventory})
    target.write_text(yaml.safe_dump_all(docs))
    return target


def test_no_false_positives_in_either_mode(
    apiserver: APIServer, namespace: str, tmp_path: Path, home: Path
) -> None:
    repo = tmp_path / "repo"
    files = copy_quickstart(repo / "quickstart", namespace)
    files += [
        write(repo, "builtins.yaml", BUILTINS, ns=namespace),
        write(repo, "ambassador.yaml", AMBASSADOR, ns=namespace),
        write(repo, "generated/generated.yaml", GENERATED, ns=namespace),
        write(repo, "synced.yaml", SYNCED, ns=namespace),
        write(repo, "formats/list.yaml", LIST, ns=namespace),
        write(repo, "formats/settings.json", JSON_MANIFEST, ns=namespace),
    ]
    apply(apiserver, home, repo / "quickstart" / "00-namespace.yaml")
    apply(
        apiserver,
        home,
        *(repo / p for p in ("quickstart", "builtins.yaml", "ambassador.yaml", "formats")),
    )
    kubectl(apiserver, home, "apply", "-f", str(repo / "generated"))  # client-side
    synced = with_ownership_labels(repo / "synced.yaml", tmp_path / "synced.yaml", "nfp")
    apply(apiserver, home, synced, manager="ambdiff")
    expected = identities(files)
    assert len(expected) >= 35

    for mode, flags in MODES.items():
        run = run_ambdiff("diff", *cluster_args(apiserver, repo, "nfp"), *flags, "-o", "json")
        assert run.code == 0, f"{mode}: {run.text}"
        report = run.json()
        found = statuses(report)
        assert found == dict.fromkeys(expected, "unchanged"), f"{mode}: {rows(report)}"
        assert report["summary"] == {
            "added": 0, "changed": 0, "unchanged": len(expected), "removed": 0
        }  # fmt: skip

        human = run_ambdiff("diff", *cluster_args(apiserver, repo, "nfp"), *flags)
        assert human.code == 0, human.text
        assert f"0 changed, 0 added, 0 removed, {len(expected)} unchanged" in human.out
        assert "in sync with" in human.out


# ---- 2. every kind of drift, in both modes --------------------------------------------

OLD_PASSWORD = "first-horse-battery-staple"  # applied by ambdiff, then rotated by hand
LIVE_PASSWORD = "rotated-by-hand-Zq9xW"  # what the cluster holds
GIT_PASSWORD = "correct-horse-battery-staple-7"  # what git holds now
REMOVED_SECRET = "removed-from-git-token-Q1"  # a Secret in the inventory that git dropped
ADDED_SECRET = "added-in-git-token-W2"  # a Secret only git has (as base64 `data`)
ANNOTATION = "getambassador.io/config"

BASE = """
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      namespace: {ns}
      labels:
        app: web
        tier: frontend
    spec:
      replicas: 2
      selector:
        matchLabels: {app: web}
      template:
        metadata:
          labels: {app: web}
        spec:
          containers:
            - name: web
              image: nginx:1.27
              env:
                - {name: MODE, value: production}
                - {name: DEBUG, value: "1"}
            - name: sidecar
              image: busybox:1.36
    ---
    apiVersion: v1
    kind: Service
    metadata:
      name: web
      namespace: {ns}
      annotations:
        getambassador.io/config: |
          ---
          apiVersion: getambassador.io/v3alpha1
          kind: Mapping
          name: ann-a
          prefix: /ann-a/
          service: web:80
          ---
          apiVersion: getambassador.io/v3alpha1
          kind: Mapping
          name: ann-b
          prefix: /ann-b/
          service: web:80
    spec:
      selector: {app: web}
      ports:
        - {name: http, port: 80, targetPort: 8080}
    ---
    apiVersion: getambassador.io/v3alpha1
    kind: Mapping
    metadata:
      name: api
      namespace: {ns}
    spec:
      prefix: /api/
      service: web:80
      rewrite: /
      timeout_ms: 3000
    ---
    apiVersion: getambassador.io/v2
    kind: Mapping
    metadata:
      name: legacy
      namespace: {ns}
    spec:
      prefix: /legacy/
      service: web:80
    ---
    apiVersion: getambassador.io/v3alpha1
    kind: Host
    metadata:
      name: web
      namespace: {ns}
    spec:
      hostname: web.example.com
    ---
    apiVersion: v1
    kind: Secret
    metadata:
      name: creds
      namespace: {ns}
    stringData:
      password: {old_password}
      user: app
    ---
    apiVersion: v1
    kind: Secret
    metadata:
      name: old-secret
      namespace: {ns}
    stringData:
      token: {removed_secret}
    ---
    apiVersion: getambassador.io/v3alpha1
    kind: Mapping
    metadata:
      name: old-mapping
      namespace: {ns}
    spec:
      prefix: /old/
      service: web:80
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: settings
      namespace: {ns}
    data: {color: blue}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: gone
      namespace: {ns}
    data: {color: red}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: elsewhere
      namespace: {other_ns}
    data: {color: red}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: foreign
      namespace: {ns}
    data: {color: green}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: unlabelled
      namespace: {ns}
    data: {color: white}
    """

# Git now: the label `tier`, env DEBUG and the Mapping's `rewrite` are dropped; the containers
# are reordered and the sidecar's image bumped; the legacy Mapping gains a timeout; the
# annotation's ann-a is reformatted (not a change) and ann-b re-prefixed; a new password; a
# new ConfigMap; `gone`, `foreign` and `unlabelled` are not in git.
GIT = """
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      namespace: {ns}
      labels:
        app: web
    spec:
      replicas: 2
      selector:
        matchLabels: {app: web}
      template:
        metadata:
          labels: {app: web}
        spec:
          containers:
            - name: sidecar
              image: busybox:1.37
            - name: web
              image: nginx:1.27
              env:
                - {name: MODE, value: production}
    ---
    apiVersion: v1
    kind: Service
    metadata:
      name: web
      namespace: {ns}
      annotations:
        getambassador.io/config: |
          apiVersion: getambassador.io/v3alpha1
          kind: Mapping
          name: ann-b
          prefix: /ann-b/v2/
          service: web:80
          ---
          {kind: Mapping, service: "web:80", name: ann-a, prefix: '/ann-a/',
           apiVersion: getambassador.io/v3alpha1}
    spec:
      selector: {app: web}
      ports:
        - {name: http, port: 80, targetPort: 8080}
    ---
    apiVersion: getambassador.io/v3alpha1
    kind: Mapping
    metadata:
      name: api
      namespace: {ns}
    spec:
      prefix: /api/
      service: web:80
      timeout_ms: 3000
    ---
    apiVersion: getambassador.io/v2
    kind: Mapping
    metadata:
      name: legacy
      namespace: {ns}
    spec:
      prefix: /legacy/
      service: web:80
      timeout_ms: 5000
    ---
    apiVersion: getambassador.io/v3alpha1
    kind: Host
    metadata:
      name: web
      namespace: {ns}
    spec:
      hostname: web.example.com
    ---
    apiVersion: v1
    kind: Secret
    metadata:
      name: creds
      namespace: {ns}
    stringData:
      password: {git_password}
      user: app
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: settings
      namespace: {ns}
    data: {color: blue}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: new-settings
      namespace: {ns}
    data: {color: yellow}
    ---
    apiVersion: v1
    kind: Secret
    metadata:
      name: new-secret
      namespace: {ns}
    data:
      token: {added_secret_b64}
    """

CONTAINERS = "spec.template.spec.containers"
ANN = f'metadata.annotations["{ANNOTATION}"]'


@dataclass(frozen=True)
class Drift:
    server: APIServer
    home: Path
    namespace: str
    other_namespace: str
    inventory: str
    repo: Path
    reports: dict[str, dict[str, Any]]  # mode -> `-o json` report
    codes: dict[str, int]  # mode -> exit code

    def run(self, *args: str) -> Run:
        return run_ambdiff("diff", *cluster_args(self.server, self.repo, self.inventory), *args)


@pytest.fixture(scope="module")
def drift(
    apiserver: APIServer,
    api_client: kubernetes.client.ApiClient,
    home: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Drift:
    """A namespace synced from an earlier revision by ambdiff's field manager, drifted by
    other hands, and a repository holding the newer revision."""
    ns = new_namespace(api_client, "drift")
    other_ns = new_namespace(api_client, "drift-other")  # git names no object in it
    inventory = f"inv-{uuid.uuid4().hex[:6]}"
    base = write(
        tmp_path_factory.mktemp("base"),
        "base.yaml",
        BASE,
        ns=ns,
        other_ns=other_ns,
        old_password=OLD_PASSWORD,
        removed_secret=REMOVED_SECRET,
    )
    apply(apiserver, home, base, manager="ambdiff")
    ours = [
        "deployment/web",
        "service/web",
        "secret/creds",
        "configmap/settings",
        "configmap/gone",
        "secret/old-secret",
        "mapping.v3alpha1.getambassador.io/api",
        "mapping.v2.getambassador.io/legacy",
        "mapping.v2.getambassador.io/old-mapping",
        "host.v3alpha1.getambassador.io/web",
    ]
    for where, obj in [*((ns, o) for o in ours), (other_ns, "configmap/elsewhere")]:
        kubectl(
            apiserver,
            home,
            "label",
            "-n",
            where,
            obj,
            f"ambdiff.io/inventory={inventory}",
            "app.kubernetes.io/managed-by=ambdiff",
        )
    kubectl(
        apiserver, home, "label", "-n", ns, "configmap/foreign", "ambdiff.io/inventory=someone-else"
    )

    # Drift by other hands.
    kubectl(apiserver, home, "scale", "-n", ns, "deployment/web", "--replicas=5")
    kubectl(
        apiserver,
        home,
        "patch",
        "-n",
        ns,
        "mapping.v3alpha1.getambassador.io/api",
        "--type=merge",
        "-p",
        '{"spec":{"timeout_ms":9000}}',
        "--field-manager=hotfix",
    )
    rotated = kubectl(
        apiserver,
        home,
        "create",
        "secret",
        "generic",
        "creds",
        "-n",
        ns,
        f"--from-literal=password={LIVE_PASSWORD}",
        "--dry-run=client",
        "-o",
        "yaml",
    )
    kubectl(
        apiserver,
        home,
        "apply",
        "--server-side",
        "--field-manager=rotator",
        "--force-conflicts",
        "-f",
        "-",
        stdin=rotated.stdout,
    )

    repo = tmp_path_factory.mktemp("drift-repo")
    added_b64 = base64.b64encode(ADDED_SECRET.encode()).decode()
    write(repo, "app/all.yaml", GIT, ns=ns, git_password=GIT_PASSWORD, added_secret_b64=added_b64)
    # What that earlier sync recorded (the labels alone make nothing `removed`).
    record_inventory(
        apiserver,
        home,
        inventory,
        repo,
        [*((ns, o) for o in ours), (other_ns, "configmap/elsewhere")],
    )
    state = Drift(apiserver, home, ns, other_ns, inventory, repo, {}, {})
    for mode, flags in MODES.items():
        run = state.run(*flags, "-o", "json")
        state.codes[mode] = run.code
        state.reports[mode] = run.json()
    return state


def expected_rows(drift: Drift) -> set[Row]:
    ns = drift.namespace
    return {
        ("Deployment", ns, "web", "change", "spec.replicas"),
        ("Deployment", ns, "web", "remove", "metadata.labels.tier"),
        ("Deployment", ns, "web", "remove", f"{CONTAINERS}[name=web].env[name=DEBUG]"),
        ("Deployment", ns, "web", "change", f"{CONTAINERS}[name=sidecar].image"),
        ("Service", ns, "web", "change", f"{ANN}[kind=Mapping,name=ann-b].prefix"),
        ("Mapping", ns, "api", "change", "spec.timeout_ms"),
        ("Mapping", ns, "api", "remove", "spec.rewrite"),
        ("Mapping", ns, "legacy", "add", "spec.timeout_ms"),
        ("Host", ns, "web", "unchanged", ""),
        ("Secret", ns, "creds", "change", "data.password"),
        ("ConfigMap", ns, "settings", "unchanged", ""),
        ("ConfigMap", ns, "new-settings", "added", ""),
        ("ConfigMap", ns, "gone", "removed", ""),
        ("Secret", ns, "new-secret", "added", ""),
        ("Secret", ns, "old-secret", "removed", ""),
        ("Mapping", ns, "old-mapping", "removed", ""),  # listed in v2 and v3alpha1: once
        ("ConfigMap", drift.other_namespace, "elsewhere", "removed", ""),
    }


@pytest.mark.parametrize("mode", MODES)
def test_drift_reports_exactly_these_paths(drift: Drift, mode: str) -> None:
    assert drift.codes[mode] == 1
    assert rows(drift.reports[mode]) == expected_rows(drift)
    assert drift.reports[mode]["summary"] == {
        "added": 2, "changed": 5, "unchanged": 2, "removed": 4
    }  # fmt: skip


def test_both_modes_report_the_same_changes(drift: Drift) -> None:
    assert rows(drift.reports["default"]) == rows(drift.reports["server-side"])
    # ...with the same old and new values, in the same order.
    assert drift.reports["default"] == drift.reports["server-side"]


def _change(report: dict[str, Any], kind: str, name: str, path: str) -> dict[str, Any]:
    found = [c for c in changes_of(report, kind, name) if c["path"] == path]
    assert len(found) == 1, f"{kind} {name}: no single change at {path}: {report}"
    return found[0]


# (what drifted, kind, name, the change a user sees)
DRIFTS = [
    ("live field changed by kubectl scale", "Deployment", "web",
     {"op": "change", "path": "spec.replicas", "old": 5, "new": 2}),
    ("live field changed by kubectl patch", "Mapping", "api",
     {"op": "change", "path": "spec.timeout_ms", "old": 9000, "new": 3000}),
    ("field added in git (a v2 Mapping)", "Mapping", "legacy",
     {"op": "add", "path": "spec.timeout_ms", "new": 5000}),
    ("field ambdiff applied, removed from git", "Mapping", "api",
     {"op": "remove", "path": "spec.rewrite", "old": "/"}),
    ("label ambdiff applied, removed from git", "Deployment", "web",
     {"op": "remove", "path": "metadata.labels.tier", "old": "frontend"}),
    ("list item ambdiff applied, removed from git", "Deployment", "web",
     {"op": "remove", "path": f"{CONTAINERS}[name=web].env[name=DEBUG]",
      "old": {"name": "DEBUG", "value": "1"}}),
    ("list item changed, containers reordered", "Deployment", "web",
     {"op": "change", "path": f"{CONTAINERS}[name=sidecar].image",
      "old": "busybox:1.36", "new": "busybox:1.37"}),
    ("Mapping inside the annotation changed", "Service", "web",
     {"op": "change", "path": f"{ANN}[kind=Mapping,name=ann-b].prefix",
      "old": "/ann-b/", "new": "/ann-b/v2/"}),
    ("Secret value changed (masked)", "Secret", "creds",
     {"op": "change", "path": "data.password", "old": "***", "new": "***", "masked": True}),
]  # fmt: skip


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("what", "kind", "name", "change"), DRIFTS, ids=[d[0] for d in DRIFTS])
def test_each_drift_is_found_at_its_path(
    drift: Drift, mode: str, what: str, kind: str, name: str, change: dict[str, Any]
) -> None:
    assert _change(drift.reports[mode], kind, name, change["path"]) == change


@pytest.mark.parametrize("mode", MODES)
def test_reordered_containers_and_reformatted_annotation_are_not_changes(
    drift: Drift, mode: str
) -> None:
    paths = {c["path"] for c in changes_of(drift.reports[mode], "Deployment", "web")}
    assert {p for p in paths if p.startswith(CONTAINERS)} == {
        f"{CONTAINERS}[name=sidecar].image",
        f"{CONTAINERS}[name=web].env[name=DEBUG]",
    }
    service = changes_of(drift.reports[mode], "Service", "web")
    assert [c["path"] for c in service] == [f"{ANN}[kind=Mapping,name=ann-b].prefix"]


@pytest.mark.parametrize("mode", MODES)
def test_object_missing_live_is_added_and_inventory_decides_removed(
    drift: Drift, mode: str
) -> None:
    found = statuses(drift.reports[mode])
    ns = drift.namespace
    assert found[("ConfigMap", ns, "new-settings")] == "added"
    assert found[("ConfigMap", ns, "gone")] == "removed"
    # Same kind, same namespace, not in git: another inventory's, or nobody's.
    assert ("ConfigMap", ns, "foreign") not in found
    assert ("ConfigMap", ns, "unlabelled") not in found
    # ...but they are live: the LIST that found `gone` saw them too.
    live = kubectl(drift.server, drift.home, "get", "configmaps", "-n", ns, "-o", "name")
    assert {"configmap/foreign", "configmap/unlabelled"} <= set(live.stdout.split())


@pytest.mark.parametrize("mode", MODES)
def test_human_output_shows_headers_paths_and_summary(drift: Drift, mode: str) -> None:
    run = drift.run(*MODES[mode])
    assert run.code == 1, run.err
    ns = drift.namespace
    lines = [line.strip() for line in run.out.splitlines()]
    assert f"~ Deployment {ns}/web  (apps/v1)  app/all.yaml:1" in lines
    assert "~ spec.replicas: 5 → 2" in lines
    assert f'~ {CONTAINERS}[name=sidecar].image: "busybox:1.36" → "busybox:1.37"' in lines
    assert f'~ {ANN}[kind=Mapping,name=ann-b].prefix: "/ann-b/" → "/ann-b/v2/"' in lines
    assert '- spec.rewrite: "/"' in lines
    assert "~ data.password: (secret value changed; hidden)" in lines
    assert any(line.startswith(f"- ConfigMap {ns}/gone  (v1)") for line in lines)
    assert any(line.startswith(f"+ ConfigMap {ns}/new-settings  (v1)") for line in lines)
    assert "5 changed, 2 added, 4 removed, 2 unchanged: git differs from" in run.out


def test_both_modes_print_the_same_report(drift: Drift) -> None:
    default, server_side = drift.run(), drift.run("--server-side")
    assert default.out == server_side.out


def _changed_lines(unified: str, header: str) -> set[str]:
    """The -/+ lines of one object's section in `-o diff` output."""
    section = unified.split(header, 1)[1].split("\n--- ", 1)[0]
    return {
        line for line in section.splitlines()[1:] if line[:1] in "+-" and line[:3] not in "+++---"
    }


@pytest.mark.parametrize("mode", MODES)
def test_unified_diff_shows_only_what_changed(drift: Drift, mode: str) -> None:
    run = drift.run(*MODES[mode], "-o", "diff")
    assert run.code == 1, run.err
    header = f"--- live/Deployment.apps/{drift.namespace}/web\n+++ git/Deployment.apps/{drift.namespace}/web"
    # Containers are in a different order in git: that is not a change, in either mode.
    assert _changed_lines(run.out, header) == {
        "-    tier: frontend",
        "-  replicas: 5",
        "+  replicas: 2",
        "-      - image: busybox:1.36",
        "+      - image: busybox:1.37",
        "-        - name: DEBUG",
        "-          value: '1'",
    }


@pytest.mark.parametrize("mode", MODES)
def test_ignore_rules_hide_fields_and_objects_in_both_modes(
    drift: Drift, mode: str, tmp_path: Path
) -> None:
    config = write(
        tmp_path,
        "ambdiff.yaml",
        """
        ignore:
          - kind: Deployment
            paths: [/spec/replicas, /metadata/labels/tier]
          - group: getambassador.io
            kind: Mapping
            name: leg*
          - kind: ConfigMap
            name: gone
        """,
    )
    report = drift.run(*MODES[mode], "--config", str(config), "-o", "json").json()
    ns = drift.namespace
    found = rows(report)
    assert found == expected_rows(drift) - {
        ("Deployment", ns, "web", "change", "spec.replicas"),
        ("Deployment", ns, "web", "remove", "metadata.labels.tier"),
        ("Mapping", ns, "legacy", "add", "spec.timeout_ms"),
        ("ConfigMap", ns, "gone", "removed", ""),
    }


NEW_NAMESPACE = """
    apiVersion: v1
    kind: Namespace
    metadata:
      name: {ns}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: settings
      namespace: {ns}
    data: {color: blue}
    ---
    apiVersion: getambassador.io/v3alpha1
    kind: Mapping
    metadata:
      name: first
      namespace: {ns}
    spec:
      prefix: /first/
      service: first:80
    ---
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: widgets{suffix}.example.com
    spec:
      group: widgets{suffix}.example.com
      names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
      scope: Namespaced
      versions:
        - name: v1
          served: true
          storage: true
          schema:
            openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
    ---
    apiVersion: widgets{suffix}.example.com/v1
    kind: Widget
    metadata:
      name: first
      namespace: {ns}
    spec: {size: 3}
    """


@pytest.mark.parametrize("mode", MODES)
def test_a_first_deploy_into_a_new_namespace_with_a_new_crd_is_all_added(
    apiserver: APIServer, tmp_path: Path, mode: str
) -> None:
    """Nothing exists yet: not the namespace, not the CRD. Both modes say `added` for every
    object, without asking the server to dry-run what it cannot know yet."""
    suffix = uuid.uuid4().hex[:6]
    ns = f"new-{suffix}"
    repo = tmp_path / "repo"
    files = [write(repo, "all.yaml", NEW_NAMESPACE, ns=ns, suffix=suffix)]
    run = run_ambdiff("diff", *cluster_args(apiserver, repo, "new"), *MODES[mode], "-o", "json")
    assert run.code == 1, run.err
    assert statuses(run.json()) == dict.fromkeys(identities(files), "added")


def test_namespace_defaults_to_the_flag_then_the_context(
    apiserver: APIServer, namespace: str, tmp_path: Path, home: Path
) -> None:
    repo = tmp_path / "repo"
    write(
        repo,
        "cm.yaml",
        """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: no-namespace
        data: {color: blue}
        """,
    )
    kubectl(apiserver, home, "apply", "--server-side", "-n", namespace, "-f", str(repo))
    args = cluster_args(apiserver, repo, "ns")
    in_namespace = run_ambdiff("diff", *args, "-n", namespace, "-o", "json")
    assert in_namespace.code == 0, in_namespace.err
    assert statuses(in_namespace.json()) == {("ConfigMap", namespace, "no-namespace"): "unchanged"}
    # Without -n: the context's namespace, which the test kubeconfig leaves at "default".
    in_default = run_ambdiff("diff", *args, "-o", "json")
    assert statuses(in_default.json()) == {("ConfigMap", "default", "no-namespace"): "added"}


# ---- 6. Secret values never appear -------------------------------------------------------


def _secret_forms(*values: str) -> dict[str, str]:
    forms = {}
    for value in values:
        forms[value] = value
        forms[f"base64({value})"] = base64.b64encode(value.encode()).decode()
    return forms


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fmt", ["human", "json", "diff", "markdown"])
def test_secret_values_appear_in_no_output_format(drift: Drift, mode: str, fmt: str) -> None:
    run = drift.run(*MODES[mode], "-o", fmt, "-v")
    assert run.code == 1, run.err
    assert "password" in run.out  # the change is reported...
    assert "***" in run.out or "hidden" in run.out
    values = (OLD_PASSWORD, LIVE_PASSWORD, GIT_PASSWORD, REMOVED_SECRET, ADDED_SECRET)
    for what, text in _secret_forms(*values).items():
        assert text not in run.text, f"{what} leaked in -o {fmt}"  # ...its values are not


def test_show_secrets_opts_out_so_the_search_above_can_fail(drift: Drift) -> None:
    run = drift.run("-o", "json", "--show-secrets")
    forms = _secret_forms(LIVE_PASSWORD, GIT_PASSWORD)
    change = _change(run.json(), "Secret", "creds", "data.password")
    assert change == {
        "op": "change", "path": "data.password",
        "old": forms[f"base64({LIVE_PASSWORD})"], "new": forms[f"base64({GIT_PASSWORD})"],
    }  # fmt: skip


# ---- 3. agreement with kubectl diff ------------------------------------------------------


def test_ambdiff_and_kubectl_diff_agree_on_which_objects_differ(drift: Drift) -> None:
    result = kubectl(
        drift.server,
        drift.home,
        "diff",
        "--server-side",
        "--field-manager=ambdiff",
        "--force-conflicts",
        "-R",
        "-f",
        str(drift.repo),
        check=False,
    )
    assert result.returncode == 1, result.stderr  # 1: differences found (>1 is an error)
    # `diff -u -N /tmp/LIVE-1/apps.v1.Deployment.NS.web /tmp/MERGED-1/apps.v1.Deployment.NS.web`
    pattern = re.compile(
        rf"^diff .* \S*/MERGED-\S+/(?:\S+\.)?([A-Za-z]+)\.{drift.namespace}\.(\S+)$"
    )
    by_kubectl = {
        (m.group(1), m.group(2))
        for line in result.stdout.splitlines()
        if (m := pattern.match(line))
    }
    assert by_kubectl, result.stdout
    for mode, report in drift.reports.items():
        in_git = [r for r in report["resources"] if r["status"] != "removed"]
        by_ambdiff = {(r["kind"], r["name"]) for r in in_git if r["status"] != "unchanged"}
        assert by_ambdiff == by_kubectl, mode
        assert len(in_git) > len(by_ambdiff)  # some objects are unchanged for both


# ---- 4. --rev ----------------------------------------------------------------------------

REV_MANIFEST = """
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: site
      namespace: {ns}
    data:
      color: {color}
    ---
    apiVersion: getambassador.io/v3alpha1
    kind: Mapping
    metadata:
      name: site
      namespace: {ns}
    spec:
      prefix: {prefix}
      service: site:80
    """


def test_rev_reads_another_commit_without_touching_the_working_tree(
    apiserver: APIServer, namespace: str, tmp_path: Path, home: Path
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    manifest = write(
        repo, "k8s/site.yaml", REV_MANIFEST, ns=namespace, color="blue", prefix="/site/"
    )
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first")
    first = git(repo, "rev-parse", "HEAD").strip()
    apply(apiserver, home, manifest)  # the cluster runs the first commit

    write(repo, "k8s/site.yaml", REV_MANIFEST, ns=namespace, color="green", prefix="/site/")
    git(repo, "commit", "-q", "-am", "second: green")
    # Uncommitted work on top: a changed prefix and a new, untracked file.
    write(repo, "k8s/site.yaml", REV_MANIFEST, ns=namespace, color="green", prefix="/site/v2/")
    (repo / "notes.txt").write_text("work in progress\n")
    status_before = git(repo, "status", "--porcelain")
    head_before = git(repo, "rev-parse", "HEAD")
    tree_before = {
        p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts
    }

    args = cluster_args(apiserver, repo, "rev")
    at_first = run_ambdiff("diff", *args, "--rev", first, "-o", "json")
    at_first_by_name = run_ambdiff("diff", *args, "--rev", "HEAD~1", "-o", "json")
    at_head = run_ambdiff("diff", *args, "--rev", "main", "-o", "json")
    worktree = run_ambdiff("diff", *args, "-o", "json")
    human = run_ambdiff("diff", *args, "--rev", first)

    assert (at_first.code, at_first_by_name.code, at_head.code, worktree.code) == (0, 0, 1, 1)
    unchanged = {
        ("ConfigMap", namespace, "site", "unchanged", ""),
        ("Mapping", namespace, "site", "unchanged", ""),
    }
    assert rows(at_first.json()) == rows(at_first_by_name.json()) == unchanged
    assert rows(at_head.json()) == {
        ("ConfigMap", namespace, "site", "change", "data.color"),
        ("Mapping", namespace, "site", "unchanged", ""),
    }
    assert rows(worktree.json()) == {
        ("ConfigMap", namespace, "site", "change", "data.color"),
        ("Mapping", namespace, "site", "change", "spec.prefix"),
    }
    assert human.code == 0 and f"git {first}" in human.out

    # No checkout happened: HEAD, the index and every file are as they were.
    assert git(repo, "rev-parse", "HEAD") == head_before
    assert git(repo, "status", "--porcelain") == status_before
    assert {p: p.read_bytes() for p in tree_before} == tree_before
