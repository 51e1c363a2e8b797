#!/usr/bin/env python3
"""Generates charts/scoreboard/values.schema.json from values.yaml.

Types come from the defaults, descriptions from the `# --` comments, and OVERRIDES below add
enums, ranges and the free-form maps. Every object is closed (`additionalProperties: false`)
unless listed in FREE_FORM, so a typo in a value name fails `helm install`.
Usage: python3 charts/scoreboard/hack/gen_schema.py [--check] (or `make chart-docs`, which also
runs helm-docs for the README).

Why not a maintained generator: the ones that read these annotations (losisin's
helm-values-schema-json, dadav's helm-schema) are not served by the Go module proxy this
project builds from (checked 2026-11-26, `go list -m -versions` → 403), and helm-docs, which
is, writes only the README. Replace this script with one of them once reachable.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parent.parent
VALUES = CHART / "values.yaml"
SCHEMA = CHART / "values.schema.json"

# Paths whose value is a Kubernetes object or a user map: any keys.
FREE_FORM = {
    "commonLabels",
    "sampleLeaderboard.spec",
    "networkPolicy.ingressControllerNamespaceSelector",
    "networkPolicy.monitoringNamespaceSelector",
    "monitoring.serviceMonitor.labels",
    "monitoring.prometheusRule.labels",
    "monitoring.dashboards.annotations",
    "ingress.annotations",
}
FREE_FORM_SUFFIXES = (
    "podAnnotations",
    "podLabels",
    "nodeSelector",
    "affinity",
    "service.annotations",
    "serviceAccount.annotations",
    "resources",
)
STRING_MAP = {
    "commonLabels",
    "ingress.annotations",
    "monitoring.serviceMonitor.labels",
    "monitoring.prometheusRule.labels",
    "monitoring.dashboards.annotations",
}
STRING_MAP_SUFFIXES = (
    "podAnnotations",
    "podLabels",
    "nodeSelector",
    "service.annotations",
    "serviceAccount.annotations",
)

PULL_POLICY = {"type": "string", "enum": ["Always", "IfNotPresent", "Never"]}
PERCENT_OR_INT = {
    "anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": "^[0-9]+%$"}]
}
K8S_NAME = {"type": "string", "pattern": "^$|^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253}
DURATION = {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"}
QUANTITY = {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$"}

OVERRIDES: dict[str, dict[str, Any]] = {
    "config.logLevel": {"type": "string", "enum": ["DEBUG", "INFO", "WARNING", "ERROR"]},
    "config.auth.algorithms": {
        "type": "array",
        "minItems": 1,
        "uniqueItems": True,
        "items": {"type": "string", "enum": ["ES256", "EdDSA", "RS256"]},
    },
    "config.auth.external.jwksUrl": {"type": "string", "pattern": "^$|^https?://"},
    "config.trustedProxies": {
        "type": "array",
        "items": {"type": "string", "pattern": "^[0-9a-fA-F.:]+/[0-9]{1,3}$"},
    },
    "realtime.drainSeconds": {"type": "integer", "minimum": 0, "maximum": 300},
    "api.groupCommit.maxBatch": {"type": "integer", "minimum": 1, "maximum": 1000},
    "realtime.websocket.writeHighWaterBytes": {"type": "integer", "minimum": 0},
    "realtime.websocket.socketSendBufferBytes": {"type": "integer", "minimum": 0},
    "realtime.websocket.socketReceiveBufferBytes": {"type": "integer", "minimum": 0},
    "tracing.sampleRatio": {"type": "number", "minimum": 0, "maximum": 1},
    "tracing.otlpEndpoint": {"type": "string", "pattern": "^$|^https?://"},
    "externalDatabase.url": {"type": "string", "pattern": "^$|^postgres(ql)?(\\+[a-z]+)?://"},
    "externalRedis.url": {"type": "string", "pattern": "^$|^(redis|rediss|redis\\+cluster)://"},
    "auth.existingSecret": K8S_NAME,
    "externalDatabase.existingSecret": K8S_NAME,
    "externalRedis.existingSecret": K8S_NAME,
    "postgresql.auth.existingSecret": K8S_NAME,
    "redis.auth.existingSecret": K8S_NAME,
    "operator.watchNamespace": K8S_NAME,
    "ingress.tls.secretName": K8S_NAME,
    "monitoring.dashboards.namespace": K8S_NAME,
    "monitoring.serviceMonitor.interval": DURATION,
    "monitoring.prometheusRule.runbookBaseUrl": {"type": "string", "pattern": "^$|^https?://"},
    "postgresql.persistence.size": QUANTITY,
    "redis.persistence.size": QUANTITY,
    "global.imagePullSecrets": {"type": "array", "items": {"type": "string", "minLength": 1}},
    "networkPolicy.extraEgress": {"type": "array", "items": {"type": "object"}},
    "networkPolicy.webhookEgress": {"type": "array", "items": {"type": "object"}},
    "networkPolicy.dnsPeers": {"type": "array", "minItems": 1, "items": {"type": "object"}},
    "networkPolicy.kubeApiServerPorts": {
        "type": "array",
        "minItems": 1,
        "items": {"type": "integer", "minimum": 1, "maximum": 65535},
    },
    "operator.replicaCount": {"type": "integer", "minimum": 1, "maximum": 5},
    "operator.metrics.port": {"type": "integer", "minimum": 1, "maximum": 65535},
}
SUFFIX_OVERRIDES: dict[str, dict[str, Any]] = {
    "image.pullPolicy": PULL_POLICY,
    "image.digest": {"type": "string", "pattern": "^$|^sha256:[a-f0-9]{64}$"},
    "image.tag": {"type": "string"},
    "replicaCount": {"type": "integer", "minimum": 0},
    "autoscaling.minReplicas": {"type": "integer", "minimum": 1},
    "autoscaling.maxReplicas": {"type": "integer", "minimum": 1},
    "autoscaling.targetCPUUtilizationPercentage": {"type": "integer", "minimum": 1, "maximum": 100},
    "pdb.maxUnavailable": PERCENT_OR_INT,
    "service.type": {"type": "string", "enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
    "service.port": {"type": "integer", "minimum": 1, "maximum": 65535},
    "serviceAccount.name": K8S_NAME,
    "terminationGracePeriodSeconds": {"type": "integer", "minimum": 0},
    "preStopSleepSeconds": {"type": "integer", "minimum": 0, "maximum": 300},
    "trustedProxies": {
        "type": "array",
        "items": {"type": "string", "pattern": "^[0-9a-fA-F.:]+/[0-9]{1,3}$"},
    },
    "corsAllowedOrigins": {
        "type": "array",
        "items": {"type": "string", "pattern": "^(\\*|https?://.+)$"},
    },
    "extraEnv": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string", "minLength": 1}},
        },
    },
    "tolerations": {"type": "array", "items": {"type": "object"}},
    "topologySpreadConstraints": {
        "type": "array",
        "items": {"type": "object", "required": ["maxSkew", "topologyKey", "whenUnsatisfiable"]},
    },
    "migration.backoffLimit": {"type": "integer", "minimum": 0},
    "migration.activeDeadlineSeconds": {"type": "integer", "minimum": 1},
}


def comments(text: str) -> dict[str, str]:
    """Map dotted value paths to their `# --` description."""
    out: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] = []
    collecting = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            pending, collecting = [stripped[4:].strip()], True
            continue
        if stripped.startswith("#"):
            if collecting:
                pending.append(stripped[1:].strip())
            continue
        collecting = False
        m = re.match(r"^(\s*)([A-Za-z0-9_.\-/]+):", line)
        if not m or stripped.startswith("-"):
            continue
        indent, key = len(m.group(1)), m.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([k for _, k in stack] + [key])
        stack.append((indent, key))
        if pending:
            out[path] = " ".join(pending)
            pending = []
    return out


def matches(path: str, suffix: str) -> bool:
    return path == suffix or path.endswith("." + suffix)


def node(path: str, value: Any, docs: dict[str, str]) -> dict[str, Any]:
    schema: dict[str, Any]
    if path in OVERRIDES:
        schema = dict(OVERRIDES[path])
    elif any(matches(path, s) for s in SUFFIX_OVERRIDES):
        schema = dict(next(v for s, v in SUFFIX_OVERRIDES.items() if matches(path, s)))
    elif path in FREE_FORM or any(matches(path, s) for s in FREE_FORM_SUFFIXES):
        schema = {"type": "object"}
        if path in STRING_MAP or any(matches(path, s) for s in STRING_MAP_SUFFIXES):
            schema["additionalProperties"] = {"type": "string"}
    elif isinstance(value, dict):
        schema = {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                k: node(f"{path}.{k}" if path else k, v, docs) for k, v in value.items()
            },
        }
    elif isinstance(value, bool):
        schema = {"type": "boolean"}
    elif isinstance(value, int):
        schema = {"type": "integer"}
    elif isinstance(value, float):
        schema = {"type": "number"}
    elif isinstance(value, str):
        schema = {"type": "string"}
    elif isinstance(value, list):
        raise SystemExit(f"{path}: list value needs an entry in OVERRIDES/SUFFIX_OVERRIDES")
    else:
        raise SystemExit(f"{path}: cannot infer a type from {value!r}")
    if path in docs:
        schema = {"description": docs[path], **schema}
    return schema


def build() -> str:
    text = VALUES.read_text(encoding="utf-8")
    values = yaml.safe_load(text)
    root = node("", values, comments(text))
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "scoreboard chart values",
        **root,
    }
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    fresh = build()
    if "--check" in sys.argv:
        if SCHEMA.read_text(encoding="utf-8") != fresh:
            raise SystemExit(
                "values.schema.json is stale: run python3 charts/scoreboard/hack/gen_schema.py"
            )
        print("values.schema.json is up to date")
        return
    SCHEMA.write_text(fresh, encoding="utf-8")
    print(f"wrote {SCHEMA}")


if __name__ == "__main__":
    main()
