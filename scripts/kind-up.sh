#!/usr/bin/env bash
# Local cluster with everything: kind + ingress-nginx + images + the chart (bundled databases).
#   bash scripts/kind-up.sh            # create (or reuse) the cluster, build, load, install
#   KIND_CLUSTER=scoreboard TAG=dev RELEASE=sb NAMESPACE=scoreboard bash scripts/kind-up.sh
# Needs: docker (with a running engine), kind, kubectl, helm, internet access. CI does not use
# kind: it runs the chart on the in-repo single-node cluster (`make cluster-up`, docs/cluster.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER="${KIND_CLUSTER:-scoreboard}"
TAG="${TAG:-dev}"
RELEASE="${RELEASE:-sb}"
NAMESPACE="${NAMESPACE:-scoreboard}"
HOST="${HOST:-scoreboard.localtest.me}"
REPO="ghcr.io/scoreboard-dev"  # the chart's default image.registry/repository
INGRESS_NGINX_MANIFEST="${INGRESS_NGINX_MANIFEST:-https://raw.githubusercontent.com/kubernetes/ingress-nginx/controller-v1.12.1/deploy/static/provider/kind/deploy.yaml}"

log() { printf '[kind-up] %s\n' "$*" >&2; }
die() { printf '[kind-up] ERROR: %s\n' "$*" >&2; exit 1; }

for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || die "$tool is required"
done
docker info >/dev/null 2>&1 || die "the Docker engine is not running"

if ! kind get clusters | grep -qx "$CLUSTER"; then
  log "creating kind cluster $CLUSTER"
  kind create cluster --name "$CLUSTER" --config "$ROOT/deploy/kind/kind-config.yaml" --wait 120s
fi
kubectl config use-context "kind-$CLUSTER" >/dev/null

log "installing ingress-nginx"
kubectl apply -f "$INGRESS_NGINX_MANIFEST"
kubectl -n ingress-nginx rollout status deploy/ingress-nginx-controller --timeout=180s

log "building images ($REPO/scoreboard-{api,realtime,operator}:$TAG)"
for target in api realtime operator; do
  docker build --target "$target" -t "$REPO/scoreboard-$target:$TAG" "$ROOT"
done
for image in api realtime operator; do
  kind load docker-image --name "$CLUSTER" "$REPO/scoreboard-$image:$TAG"
done

log "installing the chart as $RELEASE in $NAMESPACE"
# The pod CIDR of kind (10.244.0.0/16) holds the ingress controller: trust its X-Forwarded-For.
helm upgrade --install "$RELEASE" "$ROOT/charts/scoreboard" \
  --namespace "$NAMESPACE" --create-namespace \
  --set "api.image.tag=$TAG" --set "api.image.pullPolicy=Never" \
  --set "realtime.image.tag=$TAG" --set "realtime.image.pullPolicy=Never" \
  --set "operator.image.tag=$TAG" --set "operator.image.pullPolicy=Never" \
  --set "ingress.host=$HOST" \
  --set "config.trustedProxies[0]=10.244.0.0/16" \
  --set "networkPolicy.enabled=true" \
  --set "sampleLeaderboard.enabled=true" \
  --wait --timeout 10m

helm test "$RELEASE" -n "$NAMESPACE"
log "ready: http://$HOST/  (kubectl get leaderboards -A)"
