#!/usr/bin/env bash
# Builds the three images (needs a Docker engine; not available on the project's CI machines).
set -euo pipefail
cd "$(dirname "$0")/.."
registry="${IMAGE_REGISTRY:-ghcr.io/scoreboard-dev}"
tag="${IMAGE_TAG:-dev}"
for context in services/api services/realtime operator; do
  name="scoreboard-$(basename "$context")"
  docker build -f "$context/Dockerfile" -t "$registry/$name:$tag" .
done
