#!/usr/bin/env bash
# How cluster-snapshot.yaml was made: apply an earlier revision of manifests/ the way
# `ambdiff sync` does (server-side apply, field manager "ambdiff", inventory labels),
# drift the cluster by hand the way people do, then dump it with kubectl.
# Needs kubectl and a throwaway cluster with ambdiff/crds/ambassador.yaml installed
# (the test API server is one: see docs/testing.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${KUBECONFIG:?point KUBECONFIG at a throwaway cluster}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The earlier revision: quote-admin had a timeout_ms that git has since dropped, a
# quote-v1 Mapping that git has since deleted, and no admin Filter or FilterPolicy yet.
cp "$here"/manifests/00-namespace.yaml "$here"/manifests/quote.yaml \
   "$here"/manifests/quote-db-secret.yaml "$work"/
awk '/^kind: Filter$/ {exit} {print}' "$here/manifests/ambassador.yaml" \
  | sed '$d' | sed 's|^  rewrite: /admin/$|  rewrite: /admin/\n  timeout_ms: 10000|' \
  > "$work/ambassador.yaml"
cat >> "$work/ambassador.yaml" <<'YAML'
---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata:
  name: quote-v1
  namespace: shop
  labels:
    host: shop
spec:
  hostname: shop.example.com
  prefix: /v1/quote/
  service: quote.shop:80
YAML
kubectl apply --server-side --field-manager=ambdiff -f "$work/00-namespace.yaml"
kubectl apply --server-side --field-manager=ambdiff -f "$work"
types=deployments,services,secrets,mappings.v3alpha1.getambassador.io,hosts.v3alpha1.getambassador.io
kubectl label -n shop "$types" --all \
  app.kubernetes.io/managed-by=ambdiff ambdiff.io/inventory=quickstart --overwrite

# Drift, by other hands: a manual scale-up, a hot-fixed image, a raised timeout, an edited
# annotation Mapping, and a rotated password.
kubectl scale -n shop deployment/quote --replicas=5
kubectl set image -n shop deployment/quote backend=docker.io/datawire/quote:0.4.1
kubectl patch -n shop mapping.v3alpha1.getambassador.io/quote --type merge -p '{"spec":{"timeout_ms":10000}}'
kubectl annotate -n shop service/quote --overwrite "getambassador.io/config=---
apiVersion: getambassador.io/v2
kind: Mapping
name: quote-legacy
prefix: /legacy/quotes/
service: quote.shop:80
timeout_ms: 5000
"
kubectl create secret generic quote-db -n shop --from-literal=password=rotated-by-hand \
  --dry-run=client -o yaml | kubectl apply --server-side --field-manager=rotator --force-conflicts -f -

{
  echo "# A snapshot of a cluster that has drifted from manifests/, made by make-snapshot.sh"
  echo "# with \`kubectl get -o yaml\`. The Secret value in it is a throwaway example."
  kubectl get namespace/shop -o yaml --show-managed-fields
  echo "---"
  kubectl get -n shop "$types,filters.v3alpha1.getambassador.io,filterpolicies.v3alpha1.getambassador.io" -o yaml --show-managed-fields
} > "$here/cluster-snapshot.yaml"
echo "wrote $here/cluster-snapshot.yaml"
