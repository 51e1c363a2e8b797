#!/usr/bin/env bash
# Copies the canonical observability files into the chart (Helm cannot read files outside the
# chart directory, and symlinks are fragile across `helm package`, Git on Windows and OCI
# pushes). tests/integration/test_alert_rules.py fails when the copies drift.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="$here/../charts/scoreboard/files/observability"
rm -rf "$dest"
mkdir -p "$dest/alerts" "$dest/dashboards"
cp "$here/alerts/scoreboard-rules.yaml" "$dest/alerts/"
cp "$here"/dashboards/*.json "$dest/dashboards/"
echo "synced observability/ -> charts/scoreboard/files/observability/"
