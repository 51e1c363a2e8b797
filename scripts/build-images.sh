#!/usr/bin/env bash
# Builds the three images from the root Dockerfile (needs a Docker engine; the project's CI
# machines have none).
set -euo pipefail
cd "$(dirname "$0")/.."
registry="${IMAGE_REGISTRY:-ghcr.io/scoreboard-dev}"
tag="${IMAGE_TAG:-dev}"
for target in api realtime operator; do
  docker build --target "$target" -t "$registry/scoreboard-$target:$tag" .
done
