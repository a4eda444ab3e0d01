"""A realistic GitOps repository of N objects for the benchmarks, and the drift to put on it.

The repository (plus 20 Namespace manifests, not counted in N) holds, by count:

| kind | share | shape |
| --- | --- | --- |
| Mapping (getambassador.io) | ~45 % | v3alpha1 (a few legacy v2), hostnames, retries, headers, cors, weights |
| Service | ~14 % | ClusterIP; about a third carry Mappings in `getambassador.io/config` |
| Deployment | ~13 % | one container, env, ports, resources, probes |
| ConfigMap | ~13 % | a few keys, one of them a small file |
| Secret | ~10 % | `stringData` or base64 `data` |
| Host (getambassador.io) | ~5 % | hostname, TLS secret, mapping selector |

Annotation Mappings come on top (about 5 % of N), so about half of all Mappings-in-git is
N/2. Laid out as a team would: `namespaces.yaml`, `apps/<ns>/<app>.yaml` (a Deployment,
Service, ConfigMap and maybe a Secret per file), `routing/<ns>/<app>.yaml` (that app's
Mappings) and `routing/<ns>/hosts.yaml`.

Every object carries ambdiff's ownership labels in git already, so that a peer applying the
same files with the same field manager (`kubectl diff --server-side --field-manager=ambdiff`)
sees the same objects in sync that ambdiff does.

Deterministic: the same N and seed give the same files.
"""

from __future__ import annotations

import base64
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

NAMESPACES = 20
MANIFESTS = "k8s"  # the folder below the repository root that holds the manifests
INVENTORY = "bench"
MANAGED_BY = {"app.kubernetes.io/managed-by": "ambdiff", "ambdiff.io/inventory": INVENTORY}
SHARES = {  # kind -> share of N (Namespaces not counted)
    "Mapping": 0.45,
    "Service": 0.14,
    "Deployment": 0.13,
    "ConfigMap": 0.13,
    "Secret": 0.10,
    "Host": 0.05,
}
# `kubectl get` names for the LIST floor (the types git names).
KUBECTL_TYPES = (
    "namespaces",
    "services",
    "deployments.apps",
    "configmaps",
    "secrets",
    "mappings.getambassador.io",
    "hosts.getambassador.io",
)

JsonObject = dict[str, Any]


@dataclass
class Repository:
    root: Path
    n: int

    @property
    def manifests(self) -> Path:
        return self.root / MANIFESTS

    objects: list[JsonObject] = field(default_factory=list)  # Namespaces included
    files: int = 0
    annotation_mappings: int = 0

    @property
    def counts(self) -> Counter[str]:
        return Counter(o["kind"] for o in self.objects)


def _namespace(i: int) -> str:
    return f"team-{i:02d}"


def _kind_plan(n: int) -> list[str]:
    """N kinds in the shares above, rounded so they add up to N."""
    counts = {k: int(n * s) for k, s in SHARES.items()}
    missing = n - sum(counts.values())
    for kind in list(SHARES)[: max(missing, 0)]:
        counts[kind] += 1
    return [k for k, c in counts.items() for _ in range(c)]


def generate(root: Path, n: int, *, seed: int = 0) -> Repository:
    """Write the repository for N objects below `root` (which must not exist yet)."""
    rng = random.Random(seed * 1_000_003 + n)
    root.mkdir(parents=True)
    (root / ".ambdiff.yaml").write_text(f"inventory: {INVENTORY}\npaths: [{MANIFESTS}]\n")
    repo = Repository(root, n)
    root = root / MANIFESTS
    namespaces = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": _namespace(i), "labels": {"team": f"t{i:02d}", **MANAGED_BY}},
        }
        for i in range(NAMESPACES)
    ]
    _write(root / "namespaces.yaml", namespaces)
    repo.objects.extend(namespaces)
    repo.files = 1

    kinds = Counter(_kind_plan(n))
    # An app owns one Deployment; the other kinds are dealt out to the apps in turn.
    apps = max(kinds["Deployment"], 1)
    per_app: list[dict[str, int]] = [Counter() for _ in range(apps)]  # type: ignore[misc]
    for kind, count in kinds.items():
        for i in range(count):
            per_app[i % apps][kind] += 1
    hosts_by_ns: dict[str, list[str]] = {}
    app_files: dict[Path, list[JsonObject]] = {}
    route_files: dict[Path, list[JsonObject]] = {}
    for a, wanted in enumerate(per_app):
        ns = _namespace(a % NAMESPACES)
        app = f"app-{a:05d}"
        for h in range(wanted["Host"]):
            hosts_by_ns.setdefault(ns, []).append(f"{app}-h{h}")
        docs: list[JsonObject] = []
        if wanted["Deployment"]:
            docs.append(_deployment(rng, ns, app))
        for s in range(wanted["Service"]):
            service, embedded = _service(rng, ns, app, s, annotated=rng.random() < 0.35)
            repo.annotation_mappings += embedded
            docs.append(service)
        docs.extend(_configmap(rng, ns, app, c) for c in range(wanted["ConfigMap"]))
        docs.extend(_secret(rng, ns, app, s) for s in range(wanted["Secret"]))
        if docs:
            app_files[root / "apps" / ns / f"{app}.yaml"] = docs
        mappings = [_mapping(rng, ns, app, m) for m in range(wanted["Mapping"])]
        if mappings:
            route_files[root / "routing" / ns / f"{app}.yaml"] = mappings
    host_docs: dict[Path, list[JsonObject]] = {}
    for ns, names in hosts_by_ns.items():
        host_docs[root / "routing" / ns / "hosts.yaml"] = [_host(ns, name) for name in names]
    for files in (app_files, route_files, host_docs):
        for path, docs in files.items():
            _write(path, docs)
            repo.objects.extend(docs)
            repo.files += 1
    assert len(repo.objects) == n + NAMESPACES, (len(repo.objects), n)
    return repo


def _write(path: Path, docs: list[JsonObject]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False))


def _meta(ns: str, name: str, app: str, **labels: str) -> JsonObject:
    return {
        "name": name,
        "namespace": ns,
        "labels": {"app": app, "tier": "backend", **labels, **MANAGED_BY},
    }


def _deployment(rng: random.Random, ns: str, app: str) -> JsonObject:
    port = rng.choice((8080, 8000, 3000, 9090))
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(ns, app, app),
        "spec": {
            "replicas": rng.choice((1, 2, 3)),
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app, "tier": "backend"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": f"registry.example.com/{ns}/{app}:1.{rng.randrange(40)}.0",
                            "ports": [{"name": "http", "containerPort": port}],
                            "env": [
                                {"name": "PORT", "value": str(port)},
                                {"name": "LOG_LEVEL", "value": rng.choice(("info", "debug"))},
                                {
                                    "name": "CONFIG_HASH",
                                    "value": f"{rng.getrandbits(64):016x}",
                                },
                            ],
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "64Mi"},
                                "limits": {"cpu": "1", "memory": "256Mi"},
                            },
                            "readinessProbe": {
                                "httpGet": {"path": "/healthz", "port": "http"},
                                "periodSeconds": 10,
                            },
                        }
                    ]
                },
            },
        },
    }


def _service(
    rng: random.Random, ns: str, app: str, index: int, *, annotated: bool
) -> tuple[JsonObject, int]:
    name = app if index == 0 else f"{app}-{index}"
    meta = _meta(ns, name, app)
    embedded = 0
    if annotated:
        embedded = rng.choice((1, 1, 2))
        docs = [
            {
                "apiVersion": "getambassador.io/v2",
                "kind": "Mapping",
                "name": f"{name}-legacy-{k}",
                "prefix": f"/legacy/{ns}/{name}/{k}/",
                "service": f"{name}.{ns}:80",
                "timeout_ms": rng.choice((3000, 5000, 10000)),
            }
            for k in range(embedded)
        ]
        meta["annotations"] = {
            "getambassador.io/config": yaml.safe_dump_all(
                docs, explicit_start=True, sort_keys=False
            )
        }
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "selector": {"app": app},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
        },
    }, embedded


def _configmap(rng: random.Random, ns: str, app: str, index: int) -> JsonObject:
    settings = {"feature_x": rng.random() < 0.5, "pool": rng.randrange(1, 64), "app": app}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(ns, f"{app}-config-{index}", app),
        "data": {
            "LOG_FORMAT": "json",
            "UPSTREAM_TIMEOUT": f"{rng.choice((1, 2, 5))}s",
            "settings.json": json.dumps(settings, indent=2) + "\n",
        },
    }


def _secret(rng: random.Random, ns: str, app: str, index: int) -> JsonObject:
    password = f"{rng.getrandbits(96):024x}"
    body: JsonObject = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(ns, f"{app}-secret-{index}", app),
        "type": "Opaque",
    }
    if rng.random() < 0.5:
        body["stringData"] = {"username": app, "password": password}
    else:
        body["data"] = {
            "username": base64.b64encode(app.encode()).decode(),
            "password": base64.b64encode(password.encode()).decode(),
        }
    return body


def _mapping(rng: random.Random, ns: str, app: str, index: int) -> JsonObject:
    name = f"{app}-r{index}"
    legacy = rng.random() < 0.05
    spec: JsonObject = {
        "prefix": f"/{ns}/{app}/{index}/",
        "service": f"{app}.{ns}:80",
        "timeout_ms": rng.choice((3000, 5000, 15000)),
    }
    if legacy:
        spec["host"] = f"{ns}.example.com"
    else:
        spec["hostname"] = f"{ns}.example.com"
    roll = rng.random()
    if roll < 0.3:
        spec["retry_policy"] = {"retry_on": "5xx", "num_retries": rng.choice((1, 2, 3))}
    elif roll < 0.5:
        spec["rewrite"] = "/"
        spec["headers"] = {"x-tenant": ns}
    elif roll < 0.6:
        spec["cors"] = {"origins": [f"https://{ns}.example.com"], "methods": ["GET", "POST"]}
    elif roll < 0.7:
        spec["weight"] = 10
    return {
        "apiVersion": "getambassador.io/v2" if legacy else "getambassador.io/v3alpha1",
        "kind": "Mapping",
        "metadata": _meta(ns, name, app, host=ns),
        "spec": spec,
    }


def _host(ns: str, name: str) -> JsonObject:
    return {
        "apiVersion": "getambassador.io/v3alpha1",
        "kind": "Host",
        "metadata": {"name": name, "namespace": ns, "labels": dict(MANAGED_BY)},
        "spec": {
            "hostname": f"{name}.{ns}.example.com",
            "tlsSecret": {"name": f"{name}-tls"},
            "mappingSelector": {"matchLabels": {"host": ns}},
        },
    }


# ---- drift ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Drift:
    """One change made live behind git's back: a merge patch, a delete, or a create."""

    method: str  # PATCH, DELETE or POST
    path: str
    body: JsonObject | None
    what: str  # changed, added (deleted live: git adds it back), removed (only live)
    content_type: str = "application/json"


_PLURALS = {
    ("v1", "Service"): "services",
    ("apps/v1", "Deployment"): "deployments",
    ("v1", "ConfigMap"): "configmaps",
    ("v1", "Secret"): "secrets",
    ("getambassador.io/v3alpha1", "Mapping"): "mappings",
    ("getambassador.io/v2", "Mapping"): "mappings",
    ("getambassador.io/v3alpha1", "Host"): "hosts",
}


def object_path(obj: JsonObject, name: str | None = None) -> str:
    api_version = obj["apiVersion"]
    base = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
    plural = _PLURALS[(api_version, obj["kind"])]
    path = f"{base}/namespaces/{obj['metadata']['namespace']}/{plural}"
    return path if name == "" else f"{path}/{name or obj['metadata']['name']}"


def drift(repo: Repository, share: float, *, seed: int = 0) -> list[Drift]:
    """Changes for `share` of the objects: most edit a field git sets (as `kubectl edit`
    would), a tenth delete an object git has, and a tenth of that again adds a labelled
    object git no longer has (what `sync --prune` would delete)."""
    rng = random.Random(seed * 7919 + repo.n)
    candidates = [o for o in repo.objects if o["kind"] != "Namespace"]
    count = max(1, round(len(candidates) * share))
    chosen = rng.sample(candidates, count)
    drifts: list[Drift] = []
    for i, obj in enumerate(chosen):
        if i % 10 == 9:
            drifts.append(Drift("DELETE", object_path(obj), None, "added"))
        else:
            # Built-in kinds take a strategic merge patch (lists merged by key, as `kubectl
            # edit` does); custom resources only a JSON merge patch.
            builtin = "getambassador.io" not in obj["apiVersion"]
            patch_type = "strategic-merge-patch" if builtin else "merge-patch"
            drifts.append(
                Drift(
                    "PATCH",
                    object_path(obj),
                    _edit(obj, i),
                    "changed",
                    f"application/{patch_type}+json",
                )
            )
    for i in range(max(1, count // 10)):
        ns = _namespace(i % NAMESPACES)
        stray = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"retired-{i:04d}", "namespace": ns, "labels": dict(MANAGED_BY)},
            "data": {"note": "removed from git"},
        }
        drifts.append(Drift("POST", object_path(stray, ""), stray, "removed"))
    return drifts


def _edit(obj: JsonObject, i: int) -> JsonObject:
    kind = obj["kind"]
    if kind == "Mapping":
        return {"spec": {"timeout_ms": obj["spec"]["timeout_ms"] + 1000}}
    if kind == "Deployment":
        container = obj["spec"]["template"]["spec"]["containers"][0]
        if i % 2:
            return {"spec": {"replicas": obj["spec"]["replicas"] + 1}}
        image = container["image"].rsplit(":", 1)[0] + ":hotfix"
        return {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}}
    if kind == "Service":
        notes = obj["metadata"].get("annotations")
        if notes and i % 2:
            text = notes["getambassador.io/config"].replace("timeout_ms: ", "timeout_ms: 9")
            return {"metadata": {"annotations": {"getambassador.io/config": text}}}
        return {"spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8081}]}}
    if kind == "ConfigMap":
        return {"data": {"UPSTREAM_TIMEOUT": "30s"}}
    if kind == "Secret":
        return {"data": {"password": base64.b64encode(b"rotated-by-hand").decode()}}
    if kind == "Host":
        return {"spec": {"hostname": f"edited.{obj['spec']['hostname']}"}}
    raise AssertionError(kind)
