#!/usr/bin/env bash
# Builds what the single-node test cluster (scripts/cluster.py, `make cluster-up`) runs
# besides etcd and kube-apiserver (scripts/tools.sh builds those), into the tool cache:
#   kubelet, kube-controller-manager, kube-scheduler, kube-proxy   Go module k8s.io/kubernetes
#                                                                  (hack/k8s-tools/go.mod)
#   coredns                                                        Go module (hack/cluster)
#   traefik (ingress controller)                                   Go module (hack/cluster)
#   kube-router (NetworkPolicy enforcement only)                   Go module (hack/cluster)
# and checks the Debian packages it needs (containerd, runc, CNI plugins, docker.io,
# debootstrap, iptables, conntrack), installing the missing ones with apt-get.
# Idempotent: a second run only checks and rewrites $CACHE/tools/cluster-env.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${SCOREBOARD_CACHE:-$ROOT/.cache}"
mkdir -p "$CACHE"
CACHE="$(cd "$CACHE" && pwd)"
TOOLS="$CACHE/tools"
K8S_MODDIR="$ROOT/hack/k8s-tools"
mkdir -p "$TOOLS"
# shellcheck source=../hack/cluster/versions.env
. "$ROOT/hack/cluster/versions.env"

log() { printf '[cluster-tools] %s\n' "$*" >&2; }
die() { printf '[cluster-tools] ERROR: %s\n' "$*" >&2; exit 1; }

# --- Debian packages -------------------------------------------------------------
PACKAGES=(containerd runc containernetworking-plugins docker.io debootstrap iptables conntrack
  iproute2 ipset ca-certificates)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  log "installing Debian packages: ${missing[*]}"
  if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

go_env() {
  command -v go >/dev/null || die "go is required to build the cluster components"
  export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build"
  export GOFLAGS="-modcacherw -buildvcs=false" GOTOOLCHAIN=local CGO_ENABLED=0
  export GOPROXY="${GOPROXY:-https://proxy.golang.org,direct}"
}

# built <destination> <recipe>: true when <destination> exists and was built by <recipe>.
built() { [ -x "$1" ] && [ "$(cat "$1.build" 2>/dev/null || true)" = "$2" ]; }
mark() { printf '%s\n' "$2" >"$1.build"; }

# --- Kubernetes node and control-plane components ----------------------------------
gomod_version() {
  awk -v m="$1" '($1 == m) { print $2; exit } ($1 == "require" && $2 == m) { print $3; exit }' \
    "$K8S_MODDIR/go.mod"
}
K8S_VERSION="$(gomod_version k8s.io/kubernetes)"
k8s_minor="${K8S_VERSION#v1.}"; k8s_minor="${k8s_minor%%.*}"
k8s_ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$k8s_minor"
  k8s_ldflags+=" -X $p.gitTreeState=clean"
done
K8S_DIR="$TOOLS/k8s-$K8S_VERSION"
for cmd in kubelet kube-controller-manager kube-scheduler kube-proxy; do
  dst="$K8S_DIR/$cmd"
  recipe="k8s.io/kubernetes/cmd/$cmd $k8s_ldflags"
  built "$dst" "$recipe" && continue
  go_env
  start=$SECONDS
  log "building $cmd $K8S_VERSION (the first build takes several minutes)"
  (cd "$K8S_MODDIR" && go build -mod=mod -trimpath -ldflags="$k8s_ldflags" -o "$dst.tmp" \
    "k8s.io/kubernetes/cmd/$cmd")
  mv -f "$dst.tmp" "$dst"
  mark "$dst" "$recipe"
  log "built $cmd in $((SECONDS - start))s"
done

# --- CoreDNS (go install: its go.mod has no replace directives) ------------------------
COREDNS="$TOOLS/coredns-$COREDNS_VERSION/coredns"
if ! built "$COREDNS" "$COREDNS_MODULE@$COREDNS_VERSION"; then
  go_env
  start=$SECONDS
  log "building coredns $COREDNS_VERSION"
  GOBIN="$(dirname "$COREDNS")" go install -trimpath -ldflags="-s -w" \
    "$COREDNS_MODULE@$COREDNS_VERSION"
  mark "$COREDNS" "$COREDNS_MODULE@$COREDNS_VERSION"
  log "built coredns in $((SECONDS - start))s"
fi

# --- Traefik (its go.mod has replace directives: build inside a copy of the module) --
TRAEFIK="$TOOLS/traefik-$TRAEFIK_VERSION/traefik"
TRAEFIK_RECIPE="$TRAEFIK_MODULE@$TRAEFIK_VERSION ${TRAEFIK_REPLACES:-} no-dns01-providers"
if ! built "$TRAEFIK" "$TRAEFIK_RECIPE"; then
  go_env
  start=$SECONDS
  log "building traefik $TRAEFIK_VERSION (the first build takes several minutes)"
  tmpd="$(mktemp -d)"
  src="$(cd "$tmpd" && GOWORK=off go mod download -json "$TRAEFIK_MODULE@$TRAEFIK_VERSION" \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(d["Error"]) if d.get("Error") else print(d["Dir"])')"
  cp -r "$src/." "$tmpd/"
  chmod -R u+w "$tmpd"
  for r in ${TRAEFIK_REPLACES:-}; do (cd "$tmpd" && go mod edit -replace "$r"); done
  # lego's DNS-01 provider registry imports ~150 DNS vendors' SDKs, some of which the proxy
  # refuses; the test cluster needs no ACME, so that one import gets a stand-in that says so.
  mkdir -p "$tmpd/internal/nodnsproviders"
  cat >"$tmpd/internal/nodnsproviders/dns.go" <<'GO'
// Package nodnsproviders stands in for lego's DNS-01 provider registry in this build.
package nodnsproviders

import (
	"fmt"

	"github.com/go-acme/lego/v5/challenge"
)

// NewDNSChallengeProviderByName always fails: no DNS-01 provider is built in.
func NewDNSChallengeProviderByName(name string) (challenge.Provider, error) {
	return nil, fmt.Errorf("DNS-01 provider %q is not built into this traefik", name)
}
GO
  # ./pkg/config/dynamic/ext is a nested module, so the module zip leaves it out (and the proxy
  # does not serve it): its open-source form is four empty extension points.
  mkdir -p "$tmpd/pkg/config/dynamic/ext"
  printf 'module github.com/traefik/traefik/dynamic/ext\n\ngo 1.24.0\n' \
    >"$tmpd/pkg/config/dynamic/ext/go.mod"
  cat >"$tmpd/pkg/config/dynamic/ext/ext.go" <<'GO'
// Package ext holds the extension points of Traefik's dynamic configuration (empty here).
package ext

type HTTP struct{}
type Router struct{}
type RouterIng struct{}

func (r RouterIng) ToRouter() Router { return Router{} }
GO
  sed -i 's#"github.com/go-acme/lego/v5/providers/dns"#dns "github.com/traefik/traefik/v3/internal/nodnsproviders"#' \
    "$tmpd/pkg/provider/acme/provider.go"
  mkdir -p "$(dirname "$TRAEFIK")"
  (cd "$tmpd" && GOWORK=off go build -mod=mod -trimpath \
    -ldflags="-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" \
    -o "$TRAEFIK.tmp" ./cmd/traefik)
  rm -rf "$tmpd"
  mv -f "$TRAEFIK.tmp" "$TRAEFIK"
  mark "$TRAEFIK" "$TRAEFIK_RECIPE"
  log "built traefik in $((SECONDS - start))s"
fi

# --- kube-router (NetworkPolicy enforcement; go install: no replace directives) -------
KUBE_ROUTER="$TOOLS/kube-router-$KUBE_ROUTER_VERSION/kube-router"
if ! built "$KUBE_ROUTER" "$KUBE_ROUTER_MODULE@$KUBE_ROUTER_VERSION"; then
  go_env
  start=$SECONDS
  log "building kube-router $KUBE_ROUTER_VERSION"
  GOBIN="$(dirname "$KUBE_ROUTER")" go install -trimpath -ldflags="-s -w" \
    "$KUBE_ROUTER_MODULE/cmd/kube-router@$KUBE_ROUTER_VERSION"
  mark "$KUBE_ROUTER" "$KUBE_ROUTER_MODULE@$KUBE_ROUTER_VERSION"
  log "built kube-router in $((SECONDS - start))s"
fi

# --- cluster-env.sh -------------------------------------------------------------------
cat >"$TOOLS/cluster-env.sh.tmp" <<ENV
# Written by scripts/cluster-tools.sh; read by scripts/cluster.py and the cluster tests.
SCOREBOARD_KUBELET=$K8S_DIR/kubelet
SCOREBOARD_KUBE_CONTROLLER_MANAGER=$K8S_DIR/kube-controller-manager
SCOREBOARD_KUBE_SCHEDULER=$K8S_DIR/kube-scheduler
SCOREBOARD_KUBE_PROXY=$K8S_DIR/kube-proxy
SCOREBOARD_COREDNS=$COREDNS
SCOREBOARD_TRAEFIK=$TRAEFIK
SCOREBOARD_KUBE_ROUTER=$KUBE_ROUTER
ENV
mv -f "$TOOLS/cluster-env.sh.tmp" "$TOOLS/cluster-env.sh"
log "ready: $TOOLS/cluster-env.sh"
