#!/usr/bin/env bash
# Builds what the single-node test cluster (`scoreboard-cluster`, `make cluster-up`) runs
# besides the Kubernetes components (scripts/tools.sh builds those from one module), into the
# tool cache:
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

# go_install <module> <version> <destination>: `go install` of a module whose go.mod has no
# replace directives; <destination>.build records what was built.
go_install() {
  local module="$1" version="$2" dst="$3" start
  built "$dst" "$module@$version" && return 0
  go_env
  start=$SECONDS
  log "building $(basename "$dst") $version"
  GOBIN="$(dirname "$dst")" go install -trimpath -ldflags="-s -w" "$module@$version"
  mark "$dst" "$module@$version"
  log "built $(basename "$dst") in $((SECONDS - start))s"
}

# --- CoreDNS ----------------------------------------------------------------------------
COREDNS="$TOOLS/coredns-$COREDNS_VERSION/coredns"
go_install "$COREDNS_MODULE" "$COREDNS_VERSION" "$COREDNS"

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

# --- kube-router (NetworkPolicy enforcement) ---------------------------------------------
KUBE_ROUTER="$TOOLS/kube-router-$KUBE_ROUTER_VERSION/kube-router"
go_install "$KUBE_ROUTER_MODULE/cmd/kube-router" "$KUBE_ROUTER_VERSION" "$KUBE_ROUTER"

# --- cluster-env.sh -------------------------------------------------------------------
cat >"$TOOLS/cluster-env.sh.tmp" <<ENV
# Written by scripts/cluster-tools.sh; read by scoreboard-cluster and the cluster tests.
SCOREBOARD_COREDNS=$COREDNS
SCOREBOARD_TRAEFIK=$TRAEFIK
SCOREBOARD_KUBE_ROUTER=$KUBE_ROUTER
ENV
mv -f "$TOOLS/cluster-env.sh.tmp" "$TOOLS/cluster-env.sh"
log "ready: $TOOLS/cluster-env.sh"
