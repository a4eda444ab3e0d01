"""A small GitOps repository that the sync and watch tests apply and change: a Namespace, a
Deployment and Service, a Mapping, and optionally a ConfigMap, a second Mapping, a Secret."""

from __future__ import annotations


def web_app(
    ns: str,
    *,
    replicas: int = 2,
    timeout: int = 3000,
    config: bool = False,
    extra_mapping: bool = False,
    secret: str | None = None,
) -> dict[str, str]:
    """File name -> manifest text."""
    files = {
        "namespace.yaml": f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n",
        "app.yaml": f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {ns}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
        - name: web
          image: nginx:1.27
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {ns}}}
spec:
  selector: {{app: web}}
  ports: [{{name: http, port: 80, targetPort: 8080}}]
""",
        "routes.yaml": f"""apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {{name: web, namespace: {ns}}}
spec:
  hostname: "*"
  prefix: /web/
  service: web.{ns}:80
  timeout_ms: {timeout}
""",
    }
    if extra_mapping:
        files["routes.yaml"] += f"""---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {{name: extra, namespace: {ns}}}
spec: {{hostname: "*", prefix: /extra/, service: web.{ns}:80}}
"""
    if secret is not None:
        files["secret.yaml"] = f"""apiVersion: v1
kind: Secret
metadata: {{name: db, namespace: {ns}}}
stringData: {{password: {secret}}}
"""
    if config:
        files["config.yaml"] = (
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings, namespace: {ns}}}\n"
            "data: {mode: blue}\n"
        )
    return files
