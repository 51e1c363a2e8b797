"""The Helm chart, checked with the real `helm` binary (lint, template, schema).

helm comes from SCOREBOARD_HELM or .cache/tools/env.sh (`make tools`); when missing the tests
fail, never skip. Rendered manifests are parsed and checked for the chart's contracts:
hardened pods, least-privilege RBAC, secrets kept out of ConfigMaps, monitoring objects only
where the monitoring API exists, the CRD from files/crds with `resource-policy: keep`.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import shlex
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "scoreboard"
ENV_SH = Path(os.environ.get("SCOREBOARD_CACHE") or ROOT / ".cache") / "tools" / "env.sh"
MONITORING = ["--api-versions", "monitoring.coreos.com/v1"]

# Value sets every check runs against (helm args after the chart path).
VALUE_SETS: dict[str, list[str]] = {
    "defaults": [],
    "monitoring": MONITORING,
    "external-databases": [
        "--set",
        "postgresql.enabled=false",
        "--set",
        "redis.enabled=false",
        "--set",
        "externalDatabase.url=postgresql://sb:pw@db.example.internal:5432/sb",
        "--set",
        "externalRedis.url=rediss://:pw@redis.example.internal:6380/0",
    ],
    "existing-secrets": [
        "--set",
        "postgresql.enabled=false",
        "--set",
        "redis.enabled=false",
        "--set",
        "externalDatabase.existingSecret=db-conn",
        "--set",
        "externalRedis.existingSecret=redis-conn",
        "--set",
        "auth.existingSecret=scoreboard-auth",
    ],
    "no-ingress-single-operator": [
        "--set",
        "ingress.enabled=false",
        "--set",
        "operator.replicaCount=1",
        "--set",
        "operator.peering.enabled=false",
        "--set",
        "api.autoscaling.enabled=false",
        "--set",
        "realtime.autoscaling.enabled=false",
    ],
    "everything-on": [
        *MONITORING,
        "--set",
        "networkPolicy.enabled=true",
        "--set",
        "ingress.tls.enabled=true",
        "--set",
        "ingress.tls.secretName=scoreboard-tls",
        "--set",
        "tracing.enabled=true",
        "--set",
        "tracing.otlpEndpoint=http://otel-collector.observability:4318",
        "--set",
        "sampleLeaderboard.enabled=true",
        "--set",
        "monitoring.prometheusRule.runbookBaseUrl=https://runbooks.example.com/scoreboard",
    ],
    "namespaced-operator": [
        "--set",
        "operator.watchNamespace=games",
        "--set",
        "networkPolicy.enabled=true",
    ],
    "no-persistence": [
        "--set",
        "postgresql.persistence.enabled=false",
        "--set",
        "redis.persistence.enabled=false",
    ],
}

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job", "DaemonSet", "Pod"}


def _tool_from_env_sh(var: str) -> str | None:
    if not ENV_SH.is_file():
        return None
    for line in ENV_SH.read_text().splitlines():
        line = line.strip()
        if line.startswith(f"export {var}="):
            parts = shlex.split(line.split("=", 1)[1])
            return parts[0] if parts else None
    return None


@cache
def tool_bin(var: str) -> str:
    path = os.environ.get(var) or _tool_from_env_sh(var)
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"tool not found ({var}={path!r}, {ENV_SH}): run `make tools`", pytrace=False)
    return path


def helm_bin() -> str:
    return tool_bin("SCOREBOARD_HELM")


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    # Keep helm's caches out of $HOME.
    for var, sub in (
        ("HELM_CACHE_HOME", "cache"),
        ("HELM_CONFIG_HOME", "config"),
        ("HELM_DATA_HOME", "data"),
    ):
        env.setdefault(var, str(ROOT / ".cache" / "helm" / sub))
    result = subprocess.run(
        [helm_bin(), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    if check and result.returncode != 0:
        pytest.fail(f"helm {shlex.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@cache
def render(name: str, namespace: str = "scoreboard") -> tuple[dict[str, Any], ...]:
    out = helm("template", "sb", str(CHART), "--namespace", namespace, *VALUE_SETS[name]).stdout
    return tuple(d for d in yaml.safe_load_all(out) if d)


def kinds(docs: tuple[dict[str, Any], ...]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for d in docs:
        out.setdefault(d["kind"], []).append(d)
    return out


def pod_specs(docs: tuple[dict[str, Any], ...]) -> Iterator[tuple[str, dict[str, Any]]]:
    for d in docs:
        if d["kind"] in WORKLOAD_KINDS:
            spec = d["spec"] if d["kind"] == "Pod" else d["spec"]["template"]["spec"]
            yield f"{d['kind']}/{d['metadata']['name']}", spec


def named(docs: tuple[dict[str, Any], ...], kind: str, suffix: str) -> dict[str, Any]:
    matches = [
        d
        for d in docs
        if d["kind"] == kind
        and (
            d["metadata"]["name"] == suffix or d["metadata"]["name"].endswith("scoreboard" + suffix)
        )
    ]
    assert len(matches) == 1, (
        f"expected one {kind} *{suffix}, got {[m['metadata']['name'] for m in matches]}"
    )
    return matches[0]


# ------------------------------------------------------------------ lint and render


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_lint_strict(value_set: str) -> None:
    args = [
        a
        for a in VALUE_SETS[value_set]
        if a != "--api-versions" and a != "monitoring.coreos.com/v1"
    ]
    result = helm("lint", "--strict", str(CHART), *args)
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_template_renders_core_objects(value_set: str) -> None:
    by_kind = kinds(render(value_set))
    deployments = {d["metadata"]["name"] for d in by_kind["Deployment"]}
    assert deployments == {"sb-scoreboard-api", "sb-scoreboard-realtime", "sb-scoreboard-operator"}
    assert {s["metadata"]["name"] for s in by_kind["Service"]} >= {
        "sb-scoreboard-api",
        "sb-scoreboard-realtime",
        "sb-scoreboard-operator-metrics",
    }
    crd = by_kind["CustomResourceDefinition"][0]
    assert crd["metadata"]["name"] == "leaderboards.scoreboard.dev"
    assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_pod_is_hardened(value_set: str) -> None:
    specs = list(pod_specs(render(value_set)))
    assert len(specs) >= 4
    for where, spec in specs:
        psc = spec["securityContext"]
        assert psc["runAsNonRoot"] is True, where
        assert psc["seccompProfile"]["type"] == "RuntimeDefault", where
        containers = spec["containers"] + spec.get("initContainers", [])
        for c in containers:
            sc = c["securityContext"]
            label = f"{where}/{c['name']}"
            assert sc["runAsNonRoot"] is True, label
            assert sc["readOnlyRootFilesystem"] is True, label
            assert sc["allowPrivilegeEscalation"] is False, label
            assert sc["capabilities"]["drop"] == ["ALL"], label
            assert sc["seccompProfile"]["type"] == "RuntimeDefault", label
            assert "resources" in c and c["resources"].get("limits", {}).get("memory"), label
            mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{label}: needs a writable /tmp on a read-only root"


def test_deployments_have_probes_spread_and_checksums() -> None:
    docs = render("defaults")
    for name, port in (("api", 8000), ("realtime", 8001)):
        dep = named(docs, "Deployment", f"-{name}")
        pod = dep["spec"]["template"]
        c = pod["spec"]["containers"][0]
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert c["ports"][0]["containerPort"] == port
        assert c["command"] == [f"scoreboard-{name}"] and c["args"][0] == "serve"
        assert "checksum/config" in pod["metadata"]["annotations"]
        assert "replicas" not in dep["spec"], "the HPA owns replicas"
        spread = pod["spec"]["topologySpreadConstraints"]
        assert spread and all(
            s["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == name for s in spread
        )
        assert pod["spec"]["automountServiceAccountToken"] is False
    rt = named(docs, "Deployment", "-realtime")["spec"]["template"]["spec"]
    assert rt["containers"][0]["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "10"]
    assert rt["terminationGracePeriodSeconds"] > 10
    op = named(docs, "Deployment", "-operator")["spec"]["template"]["spec"]["containers"][0]
    assert op["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert {p["containerPort"] for p in op["ports"]} == {8080, 9090}
    assert op["command"] == ["scoreboard-operator"] and op["args"] == ["run"]


def test_image_tags_default_to_app_version_and_registry_is_optional() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    docs = render("defaults")
    image = named(docs, "Deployment", "-api")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"ghcr.io/scoreboard-dev/scoreboard-api:{chart['appVersion']}"
    out = helm(
        "template", "sb", str(CHART), "--set", "api.image.registry=", "--set", "api.image.tag=dev"
    ).stdout
    assert "image: scoreboard-dev/scoreboard-api:dev" in out


def test_env_contract_of_the_services() -> None:
    docs = render("defaults")

    def env_of(suffix: str) -> tuple[dict[str, Any], dict[str, str]]:
        dep = named(docs, "Deployment", suffix)
        c = dep["spec"]["template"]["spec"]["containers"][0]
        cm_name = c["envFrom"][0]["configMapRef"]["name"]
        cm = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == cm_name)
        return {e["name"]: e for e in c["env"]}, cm["data"]

    env, cm = env_of("-api")
    assert {"DATABASE_URL", "REDIS_URL", "ADMIN_API_KEY"} <= env.keys()
    assert env["DATABASE_URL"]["value"].startswith("postgresql://scoreboard:$(DATABASE_PASSWORD)@")
    assert cm["JWT_PRIVATE_KEY_FILE"] == "/etc/scoreboard/auth/jwt-private-key.pem"
    assert {
        "LOG_LEVEL",
        "AUTH_ISSUER",
        "AUTH_AUDIENCE",
        "REGISTRATION_ENABLED",
        "TRUSTED_PROXIES",
        "CORS_ALLOWED_ORIGINS",
        "OTEL_TRACES_EXPORTER",
    } <= cm.keys()
    assert json.loads(cm["TRUSTED_PROXIES"]) == []
    assert (cm["GROUP_COMMIT"], cm["GROUP_COMMIT_MAX_BATCH"]) == ("true", "64")
    env, cm = env_of("-realtime")
    assert cm["WS_WRITE_HIGH_WATER_BYTES"] == "16384"
    assert cm["WS_SOCKET_SEND_BUFFER_BYTES"] == cm["WS_SOCKET_RECEIVE_BUFFER_BYTES"] == "0"
    assert "REDIS_URL" in env and "DATABASE_URL" not in env, "realtime never talks to PostgreSQL"
    assert (
        cm["AUTH_JWKS_URL"] == "http://sb-scoreboard-api.scoreboard.svc:8000/.well-known/jwks.json"
    )
    assert cm["PUBLIC_API_URL"] == ""
    assert cm["WS_DRAIN_SECONDS"] == "15" and cm["TRUSTED_PROXIES"] == "[]"
    env, cm = env_of("-operator")
    assert env["SCOREBOARD_API_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "admin-api-key"
    assert cm["SCOREBOARD_API_URL"] == "http://sb-scoreboard-api.scoreboard.svc:8000"
    assert cm["WATCH_NAMESPACE"] == ""
    assert cm["PEERING_NAME"] == "sb-scoreboard-scoreboard"
    assert "DATABASE_URL" not in env and "REDIS_URL" not in env


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_no_secret_values_outside_secrets(value_set: str) -> None:
    docs = render(value_set)
    secrets = [
        base64.b64decode(v).decode()
        for d in docs
        if d["kind"] == "Secret"
        for v in (d.get("data") or {}).values()
    ]
    secrets += ["pw@db.example.internal", ":pw@redis"]
    for d in docs:
        if d["kind"] == "Secret":
            continue
        text = yaml.safe_dump(d)
        for value in secrets:
            first_line = value.strip().splitlines()[0] if value.strip() else ""
            if len(first_line) >= 8 and "BEGIN" not in first_line:
                assert first_line not in text, f"{d['kind']}/{d['metadata']['name']} leaks a secret"
            elif "BEGIN" in first_line:
                body = value.strip().splitlines()[1]
                assert body not in text, f"{d['kind']}/{d['metadata']['name']} leaks the JWT key"


def test_generated_secrets_are_valid() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    auth = named(render("defaults"), "Secret", "-auth")
    key = load_pem_private_key(base64.b64decode(auth["data"]["jwt-private-key.pem"]), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    admin = base64.b64decode(auth["data"]["admin-api-key"]).decode()
    assert len(admin) == 48 and admin.isalnum()
    # The sealing key file the api reads: one base64 32-byte key.
    key_file = base64.b64decode(auth["data"]["secrets-key"]).decode()
    assert key_file.endswith("\n") and len(base64.b64decode(key_file, validate=False)) == 32


def test_the_api_reads_its_sealing_key_from_an_optional_mount() -> None:
    """An `auth.existingSecret` made before the sealing key existed still starts the api."""
    docs = render("defaults")
    api = named(docs, "Deployment", "-api")["spec"]["template"]["spec"]
    sealing = next(v for v in api["volumes"] if v["name"] == "sealing")["secret"]
    assert sealing["optional"] is True
    assert sealing["items"] == [{"key": "secrets-key", "path": "secrets-key"}]
    mount = next(m for m in api["containers"][0]["volumeMounts"] if m["name"] == "sealing")
    config = next(
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-api")
    )["data"]
    assert config["SECRETS_KEY_FILE"] == mount["mountPath"] + "/secrets-key"


def test_external_oidc_issuer_reaches_the_api_only() -> None:
    out = helm(
        "template",
        "sb",
        str(CHART),
        "--set",
        "config.auth.external.issuer=https://idp.example.com",
        "--set",
        "config.auth.external.jwksUrl=https://idp.example.com/jwks",
        "--set",
        "config.trustedProxies[0]=10.0.0.0/8",
    ).stdout
    docs = tuple(d for d in yaml.safe_load_all(out) if d)
    api = named(docs, "ConfigMap", "sb-scoreboard-api")["data"]
    assert api["AUTH_EXTERNAL_ISSUER"] == "https://idp.example.com"
    assert api["AUTH_EXTERNAL_AUDIENCE"] == "scoreboard"
    assert api["AUTH_JWKS_URL"] == "https://idp.example.com/jwks"
    assert json.loads(api["TRUSTED_PROXIES"]) == ["10.0.0.0/8"]
    realtime = named(docs, "ConfigMap", "sb-scoreboard-realtime")["data"]
    assert realtime["AUTH_JWKS_URL"].endswith(":8000/.well-known/jwks.json")
    assert json.loads(realtime["TRUSTED_PROXIES"]) == ["10.0.0.0/8"]


def test_existing_secrets_are_referenced_not_created() -> None:
    docs = render("existing-secrets")
    assert not [d for d in docs if d["kind"] == "Secret"]
    api = named(docs, "Deployment", "-api")["spec"]["template"]["spec"]
    env = {e["name"]: e for e in api["containers"][0]["env"]}
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "db-conn",
        "key": "database-url",
    }
    assert env["REDIS_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "redis-conn",
        "key": "redis-url",
    }
    assert api["volumes"][1]["secret"]["secretName"] == "scoreboard-auth"
    assert not [d for d in docs if d["kind"] == "StatefulSet"]
    job = named(docs, "Job", "-migration")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "initContainers" not in named(docs, "Deployment", "-api")["spec"]["template"]["spec"]


def test_external_database_urls_go_to_a_secret() -> None:
    docs = render("external-databases")
    conn = named(docs, "Secret", "-connections")
    assert base64.b64decode(conn["data"]["database-url"]).decode().startswith("postgresql://sb:pw@")
    assert base64.b64decode(conn["data"]["redis-url"]).decode().startswith("rediss://")
    job = named(docs, "Job", "-migration")
    # The URL Secret is made by this release: the api pods migrate on install (a post-install
    # hook would deadlock `helm install --wait`), the Job on every upgrade.
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-upgrade"
    init = named(docs, "Deployment", "-api")["spec"]["template"]["spec"]["initContainers"]
    assert [(c["name"], c["args"]) for c in init] == [("migrate", ["migrate"])]
    assert init[0]["securityContext"]["readOnlyRootFilesystem"] is True


def test_migration_and_test_hooks() -> None:
    docs = render("defaults")
    job = named(docs, "Job", "-migration")
    ann = job["metadata"]["annotations"]
    assert ann["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    c = job["spec"]["template"]["spec"]["containers"][0]
    assert c["command"] == ["scoreboard-api"] and c["args"] == ["migrate"]
    assert "serviceAccountName" not in job["spec"]["template"]["spec"], "pre-install has no SA yet"
    test = named(docs, "Job", "-test")
    assert test["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert (
        test["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
        == "before-hook-creation,hook-succeeded"
    )


def test_ingress_routes_api_and_live_paths() -> None:
    ing = kinds(render("everything-on"))["Ingress"][0]
    rule = ing["spec"]["rules"][0]
    routes = {p["path"]: p["backend"]["service"]["name"] for p in rule["http"]["paths"]}
    assert routes == {
        "/api": "sb-scoreboard-api",
        "/.well-known": "sb-scoreboard-api",
        "/users/auth": "sb-scoreboard-api",
        "/scores": "sb-scoreboard-api",
        "/ws": "sb-scoreboard-realtime",
        "/scores/live": "sb-scoreboard-realtime",
        "/scores/websocket": "sb-scoreboard-realtime",
        "/": "sb-scoreboard-realtime",
    }
    assert ing["spec"]["ingressClassName"] == "nginx"
    assert ing["spec"]["tls"][0]["secretName"] == "scoreboard-tls"
    assert (
        ing["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"
    )
    assert "Ingress" not in kinds(render("no-ingress-single-operator"))


def test_autoscaling_and_disruption_budgets() -> None:
    by_kind = kinds(render("defaults"))
    hpas = {h["metadata"]["name"]: h for h in by_kind["HorizontalPodAutoscaler"]}
    assert set(hpas) == {"sb-scoreboard-api", "sb-scoreboard-realtime"}
    assert all(h["apiVersion"] == "autoscaling/v2" for h in hpas.values())
    pdbs = {p["metadata"]["name"] for p in by_kind["PodDisruptionBudget"]}
    assert pdbs == {"sb-scoreboard-api", "sb-scoreboard-realtime", "sb-scoreboard-operator"}
    single = kinds(render("no-ingress-single-operator"))
    assert "HorizontalPodAutoscaler" not in single
    op = named(render("no-ingress-single-operator"), "Deployment", "-operator")
    assert op["spec"]["strategy"]["type"] == "Recreate"
    assert {p["metadata"]["name"] for p in single["PodDisruptionBudget"]} == {
        "sb-scoreboard-api",
        "sb-scoreboard-realtime",
    }


def _rules(role: dict[str, Any]) -> set[tuple[str, str, str, tuple[str, ...]]]:
    out = set()
    for r in role["rules"]:
        for g in r["apiGroups"]:
            for res in r["resources"]:
                names = ",".join(r.get("resourceNames", []))
                out.add((g, res, names, tuple(sorted(r["verbs"]))))
    return out


def test_operator_rbac_is_least_privilege() -> None:
    docs = render("defaults")
    role = named(docs, "ClusterRole", "-operator-scoreboard")
    assert _rules(role) == {
        ("apiextensions.k8s.io", "customresourcedefinitions", "", ("get", "list", "watch")),
        ("", "namespaces", "", ("list", "watch")),
        ("scoreboard.dev", "leaderboards", "", ("get", "list", "patch", "watch")),
        ("scoreboard.dev", "leaderboards/status", "", ("get", "patch", "update")),
        ("scoreboard.dev", "leaderboards/finalizers", "", ("update",)),
        ("", "events", "", ("create", "patch")),
        ("", "secrets", "", ("get",)),
        ("events.k8s.io", "events", "", ("create", "patch")),
        ("", "secrets", "", ("get",)),  # signing keys: one named Secret, never list/watch
        ("kopf.dev", "clusterkopfpeerings", "", ("list", "watch")),
        ("kopf.dev", "clusterkopfpeerings", "sb-scoreboard-scoreboard", ("get", "patch")),
    }
    for r in role["rules"]:
        assert "*" not in r["verbs"] and "*" not in r["resources"]
        assert not {"pods", "configmaps"} & set(r["resources"])
        if "secrets" in r["resources"]:  # webhook secrets: read by name only
            assert r["verbs"] == ["get"] and r["resources"] == ["secrets"]
    peering = kinds(docs)["ClusterKopfPeering"][0]
    assert peering["metadata"]["name"] == "sb-scoreboard-scoreboard"
    for sa in kinds(docs)["ServiceAccount"]:
        if not sa["metadata"]["name"].endswith("-operator"):
            assert sa["automountServiceAccountToken"] is False


def test_namespaced_operator_gets_a_role_in_that_namespace() -> None:
    docs = render("namespaced-operator")
    cluster = named(docs, "ClusterRole", "-operator-scoreboard")
    assert _rules(cluster) == {
        ("apiextensions.k8s.io", "customresourcedefinitions", "", ("get", "list", "watch"))
    }
    role = named(docs, "Role", "-operator")
    assert role["metadata"]["namespace"] == "games"
    assert ("kopf.dev", "kopfpeerings", "sb-scoreboard", ("get", "patch")) in _rules(role)
    assert ("scoreboard.dev", "leaderboards", "", ("get", "list", "patch", "watch")) in _rules(role)
    assert ("", "secrets", "", ("get",)) in _rules(role)
    peering = kinds(docs)["KopfPeering"][0]
    assert peering["metadata"]["namespace"] == "games"


def test_network_policies_cover_every_component() -> None:
    assert "NetworkPolicy" not in kinds(render("defaults"))
    pols = {p["metadata"]["name"]: p for p in kinds(render("everything-on"))["NetworkPolicy"]}
    assert set(pols) == {
        f"sb-scoreboard-{c}"
        for c in ("api", "realtime", "operator", "migration", "postgresql", "redis")
    }
    for p in pols.values():
        assert set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    api_from = pols["sb-scoreboard-api"]["spec"]["ingress"][0]["from"]
    components = {
        f.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/component")
        for f in api_from
    }
    assert {"realtime", "operator", "test"} <= components
    pg_from = pols["sb-scoreboard-postgresql"]["spec"]["ingress"][0]["from"]
    assert {f["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for f in pg_from} == {
        "api",
        "migration",
    }
    redis_from = pols["sb-scoreboard-redis"]["spec"]["ingress"][0]["from"]
    assert {f["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for f in redis_from} == {
        "api",
        "realtime",
    }
    for name in ("api", "realtime", "operator"):
        egress = pols[f"sb-scoreboard-{name}"]["spec"]["egress"]
        assert any(p.get("port") == 53 for rule in egress for p in rule.get("ports", [])), name


def test_bundled_data_stores_are_optional() -> None:
    docs = render("defaults")
    sts = {s["metadata"]["name"]: s for s in kinds(docs)["StatefulSet"]}
    assert set(sts) == {"sb-scoreboard-postgresql", "sb-scoreboard-redis"}
    for s in sts.values():
        assert s["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
    redis = sts["sb-scoreboard-redis"]["spec"]["template"]["spec"]["containers"][0]
    assert "requirepass ${REDISCLI_AUTH}" in redis["args"][0], "password via stdin, not argv"
    no_pvc = kinds(render("no-persistence"))["StatefulSet"]
    assert all("volumeClaimTemplates" not in s["spec"] for s in no_pvc)
    assert "StatefulSet" not in kinds(render("external-databases"))


# ------------------------------------------------------------------ monitoring


def test_monitoring_objects_only_with_the_monitoring_api() -> None:
    plain = kinds(render("defaults"))
    assert "ServiceMonitor" not in plain and "PrometheusRule" not in plain
    mon = kinds(render("monitoring"))
    monitors = {m["metadata"]["name"]: m for m in mon["ServiceMonitor"]}
    assert set(monitors) == {f"sb-scoreboard-{c}" for c in ("api", "realtime", "operator")}
    for m in monitors.values():
        assert m["spec"]["jobLabel"] == "scoreboard.dev/job"
        assert m["spec"]["endpoints"][0]["path"] == "/metrics"
    assert monitors["sb-scoreboard-operator"]["spec"]["endpoints"][0]["port"] == "metrics"
    # Realtime's /metrics has its own port: the Ingress routes `/` to realtime's `http` port.
    assert monitors["sb-scoreboard-realtime"]["spec"]["endpoints"][0]["port"] == "metrics"
    realtime = named(render("defaults"), "Service", "-realtime")["spec"]["ports"]
    assert {p["name"]: p["port"] for p in realtime} == {"http": 8001, "metrics": 9102}
    rule = mon["PrometheusRule"][0]
    canonical = yaml.safe_load((ROOT / "observability/alerts/scoreboard-rules.yaml").read_text())
    assert rule["spec"] == canonical
    forced = kinds(
        tuple(
            d
            for d in yaml.safe_load_all(
                helm(
                    "template",
                    "sb",
                    str(CHART),
                    "--set",
                    "monitoring.serviceMonitor.force=true",
                    "--set",
                    "monitoring.prometheusRule.force=true",
                ).stdout
            )
            if d
        )
    )
    assert len(forced["ServiceMonitor"]) == 3 and len(forced["PrometheusRule"]) == 1
    off = kinds(
        tuple(
            d
            for d in yaml.safe_load_all(
                helm(
                    "template",
                    "sb",
                    str(CHART),
                    *MONITORING,
                    "--set",
                    "monitoring.serviceMonitor.enabled=false",
                    "--set",
                    "monitoring.prometheusRule.enabled=false",
                ).stdout
            )
            if d
        )
    )
    assert "ServiceMonitor" not in off and "PrometheusRule" not in off


def test_services_carry_the_job_label_the_alerts_use() -> None:
    services = {s["metadata"]["name"]: s for s in kinds(render("defaults"))["Service"]}
    assert (
        services["sb-scoreboard-api"]["metadata"]["labels"]["scoreboard.dev/job"]
        == "scoreboard-api"
    )
    assert (
        services["sb-scoreboard-realtime"]["metadata"]["labels"]["scoreboard.dev/job"]
        == "scoreboard-realtime"
    )
    assert (
        services["sb-scoreboard-operator-metrics"]["metadata"]["labels"]["scoreboard.dev/job"]
        == "scoreboard-operator"
    )


def test_runbook_base_url_can_be_replaced() -> None:
    rule = kinds(render("everything-on"))["PrometheusRule"][0]
    urls = [
        r["annotations"]["runbook_url"]
        for g in rule["spec"]["groups"]
        for r in g["rules"]
        if "alert" in r
    ]
    assert urls and all(u.startswith("https://runbooks.example.com/scoreboard#") for u in urls)


def test_dashboards_ship_as_labelled_configmaps() -> None:
    files = sorted((ROOT / "observability" / "dashboards").glob("*.json"))
    assert len(files) >= 4
    cms = [
        d
        for d in render("defaults")
        if d["kind"] == "ConfigMap"
        and d["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    ]
    shipped = {k: v for cm in cms for k, v in cm["data"].items()}
    assert set(shipped) == {f.name for f in files}
    for f in files:
        assert json.loads(shipped[f.name]) == json.loads(f.read_text())


# ------------------------------------------------------------------ CRD and sample


def test_crd_comes_verbatim_from_files_crds() -> None:
    source = yaml.safe_load((CHART / "files/crds/leaderboards.scoreboard.dev.yaml").read_text())
    crd = kinds(render("defaults"))["CustomResourceDefinition"][0]
    assert crd["spec"] == source["spec"]
    assert crd["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    out = helm("template", "sb", str(CHART), "--set", "crds.create=false").stdout
    assert "kind: CustomResourceDefinition" not in out


def test_sample_leaderboard_is_a_post_install_hook() -> None:
    lb = kinds(render("everything-on"))["Leaderboard"][0]
    assert lb["apiVersion"] == "scoreboard.dev/v1alpha1"
    assert lb["metadata"]["name"] == "default"
    assert lb["metadata"]["annotations"]["helm.sh/hook"] == "post-install"
    assert lb["spec"] == {"displayName": "Global", "size": 10}
    assert "Leaderboard" not in kinds(render("defaults"))


# ------------------------------------------------------------------ schema


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "api.replicaCount=two"], "api/replicaCount"),
        (["--set", "api.replcaCount=2"], "replcaCount"),
        (["--set", "unknownTopLevel=1"], "unknownTopLevel"),
        (["--set", "config.logLevel=LOUD"], "logLevel"),
        (["--set", "api.image.pullPolicy=Sometimes"], "pullPolicy"),
        (["--set", "tracing.sampleRatio=2"], "sampleRatio"),
        (["--set", "ingress.enabled=yes"], "ingress/enabled"),
        (["--set", "realtime.service.port=70000"], "realtime/service/port"),
        (["--set", "config.trustedProxies[0]=not-a-cidr"], "trustedProxies"),
        (["--set", "externalDatabase.url=mysql://x"], "externalDatabase/url"),
        (["--set", "operator.replicaCount=0"], "operator/replicaCount"),
    ],
)
def test_schema_rejects_bad_values(args: list[str], message: str) -> None:
    result = helm("template", "sb", str(CHART), *args, check=False)
    assert result.returncode != 0, f"{args} was accepted"
    assert message in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "postgresql.enabled=false"], "a database is required"),
        (["--set", "redis.enabled=false"], "Redis is required"),
        (["--set", "operator.peering.enabled=false"], "needs operator.peering.enabled=true"),
        (["--set", "ingress.tls.enabled=true"], "ingress.tls.secretName is required"),
        (["--set", "tracing.enabled=true"], "tracing.otlpEndpoint is required"),
        (["--set", "realtime.terminationGracePeriodSeconds=20"], "must exceed preStopSleepSeconds"),
        (["--set", "config.auth.external.issuer=https://idp"], "external.jwksUrl is required"),
    ],
)
def test_contradictory_values_fail_with_a_clear_message(args: list[str], message: str) -> None:
    result = helm("template", "sb", str(CHART), *args, check=False)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


def _gen_schema() -> Any:
    spec = importlib.util.spec_from_file_location("gen_schema", CHART / "hack" / "gen_schema.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    return gen


def test_schema_is_generated_from_values() -> None:
    assert (CHART / "values.schema.json").read_text() == _gen_schema().build(), (
        "values.schema.json is stale: python3 charts/scoreboard/hack/gen_schema.py"
    )


def test_readme_is_generated_from_values_by_helm_docs() -> None:
    """charts/scoreboard/README.md is helm-docs' output for README.md.gotmpl and values.yaml."""
    result = subprocess.run(
        [
            tool_bin("SCOREBOARD_HELM_DOCS"),
            "--dry-run",
            "--chart-search-root",
            ".",
            "--sort-values-order",
            "file",
            "--log-level",
            "warning",
        ],
        cwd=CHART,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == (CHART / "README.md").read_text().strip(), (
        "charts/scoreboard/README.md is stale: run `make chart-docs`"
    )
    assert "| api.replicaCount | int | `2` |" in result.stdout


def test_every_value_is_documented() -> None:
    text = (CHART / "values.yaml").read_text()
    docs = _gen_schema().comments(text)
    undocumented: list[str] = []

    def walk(path: str, value: Any) -> None:
        if path in docs:
            return  # documented (a free-form map or list is documented as a whole)
        if isinstance(value, dict) and value:
            for key, child in value.items():
                walk(f"{path}.{key}" if path else key, child)
        else:
            undocumented.append(path)

    walk("", yaml.safe_load(text))
    assert not undocumented, f"values without a `# --` comment: {undocumented}"


def test_package_contains_the_observability_files(tmp_path: Path) -> None:
    helm("package", str(CHART), "--destination", str(tmp_path))
    (pkg,) = tmp_path.glob("scoreboard-*.tgz")
    import tarfile

    with tarfile.open(pkg) as tar:
        names = set(tar.getnames())
    assert "scoreboard/files/observability/alerts/scoreboard-rules.yaml" in names
    assert "scoreboard/files/crds/leaderboards.scoreboard.dev.yaml" in names
    assert "scoreboard/crds/kopf-peering.yaml" in names
    assert not any("/hack/" in n for n in names)
