#!/usr/bin/env bash
# `make images`: builds the platform's images with the local Docker engine, with no image
# registry needed:
#   ghcr.io/scoreboard-dev/scoreboard-{api,realtime,operator}:$IMAGE_TAG   root Dockerfile
#   scoreboard.local/postgresql:15-bookworm, scoreboard.local/redis:7-bookworm
#                                   the chart's bundled databases (deploy/images/data.Dockerfile)
#   scoreboard.local/pause:3.10     the pod sandbox image of the in-repo cluster
# The Python base is python:3.11-slim-bookworm when it is present or pullable; otherwise a
# stand-in made from Debian's packages (debootstrap -> docker import -> python3), selected
# with the Dockerfile's PYTHON_IMAGE argument. Set PYTHON_IMAGE to force one.
# Builds that download packages get the host's CA bundle in their build stages only.
#   IMAGE_REGISTRY (ghcr.io/scoreboard-dev)  IMAGE_TAG (dev)  DOCKER_HOST (the engine)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${SCOREBOARD_CACHE:-$ROOT/.cache}"
REGISTRY="${IMAGE_REGISTRY:-ghcr.io/scoreboard-dev}"
TAG="${IMAGE_TAG:-dev}"
UPSTREAM_PYTHON="python:3.11-slim-bookworm"
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
LOCAL_DEBIAN="scoreboard.local/debian:$DEBIAN_SUITE"
LOCAL_PYTHON="scoreboard.local/python:3.11-$DEBIAN_SUITE"
DATA_POSTGRES="scoreboard.local/postgresql:15-$DEBIAN_SUITE"
DATA_REDIS="scoreboard.local/redis:7-$DEBIAN_SUITE"
PAUSE="scoreboard.local/pause:3.10"

log() { printf '[images] %s\n' "$*" >&2; }
die() { printf '[images] ERROR: %s\n' "$*" >&2; exit 1; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

command -v docker >/dev/null || die "docker is required (Debian: apt-get install docker.io)"
docker info >/dev/null 2>&1 || die "the Docker engine is not running (scripts/docker-engine.sh starts one)"

# Build stages that download packages trust what the host trusts (a proxy's CA, say).
mkdir -p "$ROOT/.build"
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt "$ROOT/.build/ca-certificates.crt"
fi
# Quiet unless it fails (the legacy builder also warns that BuildKit is missing: harmless).
build() {
  local out
  out="$(mktemp)"
  DOCKER_BUILDKIT=0 docker build --network host "$@" >"$out" 2>&1 || { tail -40 "$out" >&2; rm -f "$out"; die "docker build $* failed"; }
  rm -f "$out"
}

# --- the Debian base (debootstrap -> docker import), only when something needs it ----
debian_base() {
  have_image "$LOCAL_DEBIAN" && return 0
  command -v debootstrap >/dev/null || die "debootstrap is required (apt-get install debootstrap)"
  local rootfs start=$SECONDS
  rootfs="$(mktemp -d "$CACHE/debootstrap.XXXXXX")"
  log "debootstrap $DEBIAN_SUITE (minbase) from $DEBIAN_MIRROR"
  debootstrap --variant=minbase "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" >"$rootfs.log" 2>&1 \
    || { tail -20 "$rootfs.log" >&2; die "debootstrap failed"; }
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/usr/share/doc/* \
    "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/* "$rootfs"/var/log/* "$rootfs"/tmp/*
  tar -C "$rootfs" --numeric-owner -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' - "$LOCAL_DEBIAN" >/dev/null
  rm -rf "$rootfs" "$rootfs.log"
  log "made $LOCAL_DEBIAN in $((SECONDS - start))s"
}

# --- the Python base ----------------------------------------------------------------
if [ -n "${PYTHON_IMAGE:-}" ]; then
  python_image="$PYTHON_IMAGE"
elif have_image "$UPSTREAM_PYTHON" || timeout 60 docker pull --quiet "$UPSTREAM_PYTHON" >/dev/null 2>&1; then
  python_image="$UPSTREAM_PYTHON"
else
  log "$UPSTREAM_PYTHON cannot be pulled: using a base made from Debian's packages"
  if ! have_image "$LOCAL_PYTHON"; then
    debian_base
    build -f "$ROOT/deploy/images/python-base.Dockerfile" --build-arg "DEBIAN_IMAGE=$LOCAL_DEBIAN" \
      -t "$LOCAL_PYTHON" "$ROOT/deploy/images"
  fi
  python_image="$LOCAL_PYTHON"
fi

# --- the platform's images ------------------------------------------------------------
for target in api realtime operator; do
  start=$SECONDS
  build --build-arg "PYTHON_IMAGE=$python_image" --target "$target" \
    -t "$REGISTRY/scoreboard-$target:$TAG" "$ROOT"
  log "built $REGISTRY/scoreboard-$target:$TAG on $python_image in $((SECONDS - start))s"
done

# --- bundled databases and the pause image (for the in-repo cluster) ---------------------
if [ "${DATA_IMAGES:-1}" = 1 ]; then
  debian_base
  for target in postgresql redis; do
    ref="$DATA_POSTGRES"; [ "$target" = redis ] && ref="$DATA_REDIS"
    build -f "$ROOT/deploy/images/data.Dockerfile" --build-arg "DEBIAN_IMAGE=$LOCAL_DEBIAN" \
      --target "$target" -t "$ref" "$ROOT/deploy/images"
  done
  if ! have_image "$PAUSE"; then
    # Kubernetes' own pause.c (from the k8s.io/kubernetes module scripts/tools.sh downloads),
    # linked statically: the image is that one file.
    pause_c="$(ls "$CACHE"/go/mod/k8s.io/kubernetes@*/build/pause/linux/pause.c 2>/dev/null | tail -n1)"
    [ -n "$pause_c" ] || die "pause.c not found under $CACHE/go/mod (run scripts/tools.sh first)"
    dir="$(mktemp -d)"
    gcc -Os -static -DVERSION=3.10-scoreboard -o "$dir/pause" "$pause_c"
    strip "$dir/pause"
    tar -C "$dir" -c pause | docker import --change 'ENTRYPOINT ["/pause"]' --change 'USER 65535:65535' \
      - "$PAUSE" >/dev/null
    rm -rf "$dir"
  fi
fi

log "images:"
docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' \
  | grep -E "^($REGISTRY/scoreboard-(api|realtime|operator):$TAG|scoreboard\.local/)" | sort >&2
