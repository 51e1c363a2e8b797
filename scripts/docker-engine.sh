#!/usr/bin/env bash
# Makes sure a Docker engine answers: starts Debian's dockerd (package docker.io, installed by
# scripts/cluster-tools.sh) in the background when none runs. Needs root. Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${SCOREBOARD_CACHE:-$ROOT/.cache}"
log() { printf '[docker-engine] %s\n' "$*" >&2; }
die() { printf '[docker-engine] ERROR: %s\n' "$*" >&2; exit 1; }

docker info >/dev/null 2>&1 && exit 0
command -v dockerd >/dev/null || die "dockerd not found (apt-get install docker.io)"
[ "$(id -u)" = 0 ] || die "starting dockerd needs root (or start your own engine)"
mkdir -p "$CACHE"
log "starting dockerd (log: $CACHE/dockerd.log)"
setsid dockerd --host unix:///var/run/docker.sock >>"$CACHE/dockerd.log" 2>&1 </dev/null &
for _ in $(seq 1 120); do
  docker info >/dev/null 2>&1 && { log "ready"; exit 0; }
  sleep 0.5
done
tail -20 "$CACHE/dockerd.log" >&2
die "dockerd did not answer within 60s"
