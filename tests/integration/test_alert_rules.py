"""Alert rules and dashboards in observability/, checked with the real `promtool`.

promtool (Debian package `prometheus`, installed by `make tools`) is found through
SCOREBOARD_PROMTOOL, .cache/tools/env.sh or PATH; when missing these tests fail, never skip.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
OBS = ROOT / "observability"
RULES = OBS / "alerts" / "scoreboard-rules.yaml"
RULE_TESTS = sorted((OBS / "alerts" / "tests").glob("*.yaml"))
DASHBOARDS = sorted((OBS / "dashboards").glob("*.json"))
CHART_COPY = ROOT / "charts" / "scoreboard" / "files" / "observability"
RUNBOOKS = ROOT / "docs" / "runbooks.md"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
ENV_SH = Path(os.environ.get("SCOREBOARD_CACHE") or ROOT / ".cache") / "tools" / "env.sh"
RUNBOOK_BASE = "https://github.com/scoreboard-dev/scoreboard/blob/main/docs/runbooks.md#"

PROMQL_WORDS = {
    "sum",
    "by",
    "without",
    "rate",
    "increase",
    "irate",
    "avg_over_time",
    "max_over_time",
    "histogram_quantile",
    "max",
    "min",
    "avg",
    "count",
    "offset",
    "and",
    "or",
    "unless",
    "clamp_min",
    "le",
    "on",
    "ignoring",
    "group_left",
    "bool",
    "abs",
    "vector",
    "time",
}


@cache
def promtool() -> str:
    path = os.environ.get("SCOREBOARD_PROMTOOL")
    if not path and ENV_SH.is_file():
        for line in ENV_SH.read_text().splitlines():
            if line.strip().startswith("export SCOREBOARD_PROMTOOL="):
                path = shlex.split(line.split("=", 1)[1])[0]
    path = path or shutil.which("promtool")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(
            "promtool not found: run `make tools` (installs Debian's `prometheus`)", pytrace=False
        )
    return path


def run_promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=240, check=False
    )


@cache
def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [r for g in doc["groups"] for r in g["rules"]]


def alerts() -> list[dict[str, Any]]:
    return [r for r in rules() if "alert" in r]


@cache
def known_metrics() -> frozenset[str]:
    """Metric names documented in docs/architecture.md (the contract), plus Prometheus' own."""
    names = set(re.findall(r"`(scoreboard_[a-z0-9_]+)", ARCHITECTURE.read_text()))
    names.discard("scoreboard_common")  # the Python package, not a metric
    assert len(names) > 20, "docs/architecture.md lists the metrics"
    return frozenset(names | {"up", "ALERTS"})


def metric_names(expr: str) -> set[str]:
    expr = re.sub(r'"[^"]*"', '""', expr)  # drop label values
    expr = re.sub(r"\{[^}]*\}", "{}", expr)  # drop label matchers
    expr = re.sub(r"\[[^\]]*\]", "[]", expr)  # drop ranges
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\b\d+(\.\d+)?[smhdwy]?\b", " ", expr)  # numbers and durations
    tokens = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr))
    return {
        t
        for t in tokens
        if t not in PROMQL_WORDS
        and not re.fullmatch(r"\d+[smhdwy]", t)
        and t not in {"e", "Inf", "NaN"}
    }


def base_metric(name: str) -> str:
    return re.sub(r"_(bucket|count|sum)$", "", name)


# ------------------------------------------------------------------ promtool


def test_promtool_check_rules() -> None:
    result = run_promtool("check", "rules", str(RULES), cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_pass() -> None:
    assert RULE_TESTS
    result = run_promtool("test", "rules", *[str(p) for p in RULE_TESTS], cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAILED" not in result.stdout


def test_a_broken_rule_file_fails_promtool(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum(rate(foo[5m]\n"
    )
    assert run_promtool("check", "rules", str(bad), cwd=tmp_path).returncode != 0


# ------------------------------------------------------------------ rule contracts


def test_every_alert_has_severity_for_and_a_runbook() -> None:
    anchors = {
        "#" + re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-")
        for h in re.findall(r"^#+ (.+)$", RUNBOOKS.read_text(), flags=re.M)
    }
    names = [a["alert"] for a in alerts()]
    assert len(names) == len(set(names)), "alert names are unique"
    assert len(names) >= 15
    for a in alerts():
        assert a["labels"]["severity"] in {"critical", "warning", "info"}, a["alert"]
        assert re.fullmatch(r"\d+[smh]", a["for"]), a["alert"]
        url = a["annotations"]["runbook_url"]
        assert url == RUNBOOK_BASE + a["alert"].lower(), a["alert"]
        assert "#" + a["alert"].lower() in anchors, f"docs/runbooks.md has no section {a['alert']}"
        assert a["annotations"]["summary"] and a["annotations"]["description"], a["alert"]


def test_required_alerts_exist() -> None:
    names = {a["alert"] for a in alerts()}
    assert {
        "ScoreboardFraudHits",
        "ScoreboardScoreVelocityAnomaly",
        "ScoreboardTopScoreJump",
        "ScoreboardAuthFailureSpike",
        "ScoreboardRateLimitSpike",
        "ScoreboardReplaySpike",
        "ScoreboardErrorBudgetBurnFast",
        "ScoreboardErrorBudgetBurnSlow",
        "ScoreboardWriteLatencyBudgetBurnFast",
        "ScoreboardWriteLatencyBudgetBurnSlow",
        "ScoreboardLiveConnectionsCollapse",
        "ScoreboardDependencyDown",
        "ScoreboardTargetDown",
        "ScoreboardOperatorReconcileFailing",
    } <= names


def test_every_alert_is_tested_firing_and_silent() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {a["alert"] for a in alerts()}
    assert names - firing == set(), "alerts without a test where they fire"
    assert names - silent == set(), "alerts without a test where they stay silent"


def test_rules_use_only_documented_metrics() -> None:
    recorded = {r["record"] for r in rules() if "record" in r}
    for r in rules():
        for name in metric_names(r["expr"]):
            if name in recorded:
                continue
            assert base_metric(name) in known_metrics(), (
                f"{r.get('alert') or r.get('record')}: {name}"
            )


def test_recording_rules_are_defined_before_use() -> None:
    recorded = {r["record"] for r in rules() if "record" in r}
    used = {n for r in rules() for n in metric_names(r["expr"]) if ":" in n}
    assert used <= recorded


# ------------------------------------------------------------------ dashboards


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_is_valid_and_uses_the_datasource_variable(path: Path) -> None:
    board = json.loads(path.read_text())
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert board["uid"] and board["title"].startswith("Scoreboard / ")
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    recorded = {r["record"] for r in rules() if "record" in r}
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for t in panel["targets"]:
            assert t["datasource"]["uid"] == "${datasource}"
            expr = t["expr"].replace("$__rate_interval", "5m")
            expr = re.sub(r'=~?"\$[a-z]+"', '=""', expr)
            for name in metric_names(expr):
                assert name in recorded or base_metric(name) in known_metrics(), (
                    f"{path.name} / {panel['title']}: unknown metric {name}"
                )


def test_dashboards_cover_the_required_views() -> None:
    text = " ".join(p.read_text() for p in DASHBOARDS)
    for metric in (
        "scoreboard_http_request_duration_seconds_bucket",
        "scoreboard_http_requests_total",
        "scoreboard_ws_connections",
        "scoreboard_ws_broadcasts_total",
        "scoreboard_ws_broadcast_latency_seconds_bucket",
        "scoreboard_ws_slow_client_drops_total",
        "scoreboard_pubsub_reconnects_total",
        "scoreboard_score_writes_total",
        "scoreboard_board_players",
        "scoreboard_board_top_score",
        "scoreboard_fraud_hits_total",
        "scoreboard_rate_limited_total",
        "scoreboard_operator_reconciles_total",
        "scoreboard_operator_reconcile_duration_seconds_bucket",
    ):
        assert metric in text, metric


def test_dashboards_are_built_by_the_generator(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("build", OBS / "dashboards" / "build.py")
    assert spec and spec.loader
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    vars(build)["HERE"] = tmp_path
    build.main()
    for path in DASHBOARDS:
        assert (tmp_path / path.name).read_text() == path.read_text(), (
            f"{path.name} is stale: python3 observability/dashboards/build.py"
        )


# ------------------------------------------------------------------ the chart's copies


def test_chart_copies_are_byte_identical() -> None:
    pairs = [(RULES, CHART_COPY / "alerts" / RULES.name)]
    pairs += [(p, CHART_COPY / "dashboards" / p.name) for p in DASHBOARDS]
    for canonical, copy in pairs:
        assert copy.is_file(), f"{copy} missing: run observability/sync-chart.sh"
        assert copy.read_bytes() == canonical.read_bytes(), (
            f"{copy} differs: run observability/sync-chart.sh"
        )
    shipped = {p.name for p in (CHART_COPY / "dashboards").glob("*.json")}
    assert shipped == {p.name for p in DASHBOARDS}, "stale dashboard in the chart"


def test_otel_collector_example_is_valid() -> None:
    cfg = yaml.safe_load((OBS / "otel-collector.yaml").read_text())
    assert "otlp" in cfg["receivers"]
    pipeline = cfg["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"]
    assert {"debug", "otlp"} <= set(pipeline["exporters"])
    for name in pipeline["processors"]:
        assert name in cfg["processors"]
