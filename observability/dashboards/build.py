#!/usr/bin/env python3
"""Writes the Grafana dashboards (observability/dashboards/*.json) from this one description.

Run `python3 observability/dashboards/build.py && observability/sync-chart.sh` after a change;
the JSON files are committed and are what the chart ships. Every query uses only the metric
names of docs/architecture.md (a test checks) and the `${datasource}` template variable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DS = {"type": "prometheus", "uid": "${datasource}"}
NS = 'namespace=~"$namespace"'
RI = "$__rate_interval"


def target(expr: str, legend: str = "", ref: str = "A") -> dict[str, Any]:
    return {"datasource": DS, "expr": expr, "legendFormat": legend or "__auto", "refId": ref}


def panel(
    kind: str,
    title: str,
    targets: list[dict[str, Any]],
    unit: str,
    desc: str,
    w: int = 12,
    h: int = 8,
    **extra: Any,
) -> dict[str, Any]:
    refs = "ABCDEFGH"
    for i, t in enumerate(targets):
        t["refId"] = refs[i]
    p: dict[str, Any] = {
        "type": kind,
        "title": title,
        "description": desc,
        "datasource": DS,
        "targets": targets,
        "gridPos": {"w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
    }
    if kind == "timeseries":
        p["options"] = {
            "legend": {
                "displayMode": "table",
                "placement": "bottom",
                "calcs": ["lastNotNull", "max"],
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    if kind == "stat":
        p["options"] = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
        }
    p.update(extra)
    return p


def quantiles(metric: str, sel: str, by: str) -> list[dict[str, Any]]:
    out = []
    for q in ("0.5", "0.95", "0.99"):
        legend = f"p{int(float(q) * 100)}" + (f" {{{{{by}}}}}" if by else "")
        group = f"le, {by}" if by else "le"
        out.append(
            target(
                f"histogram_quantile({q}, sum by ({group}) (rate({metric}_bucket{{{sel}}}[{RI}])))",
                legend,
            )
        )
    return out


def layout(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    x = y = row_h = 0
    for i, p in enumerate(panels, start=1):
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        p["gridPos"] = {"x": x, "y": y, "w": w, "h": h}
        p["id"] = i
        x += w
        row_h = max(row_h, h)
    return panels


def variable(name: str, query: str, label: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "query": {"query": query, "refId": f"{name}-var"},
        "definition": query,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
        "hide": 0,
    }


def dashboard(
    uid: str, title: str, desc: str, panels: list[dict[str, Any]], board_var: bool = False
) -> dict[str, Any]:
    variables: list[dict[str, Any]] = [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "hide": 0,
            "refresh": 1,
        },
        variable(
            "namespace", "label_values(scoreboard_http_requests_total, namespace)", "Namespace"
        ),
    ]
    if board_var:
        variables.append(
            variable("board", f"label_values(scoreboard_board_players{{{NS}}}, board)", "Board")
        )
    return {
        "uid": uid,
        "title": title,
        "description": desc,
        "tags": ["scoreboard"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": variables},
        "annotations": {
            "list": [
                {
                    "name": "Scoreboard alerts",
                    "datasource": DS,
                    "enable": True,
                    "iconColor": "red",
                    "expr": 'ALERTS{alertname=~"Scoreboard.*", alertstate="firing"}',
                    "titleFormat": "{{alertname}}",
                    "textFormat": "{{summary}}",
                }
            ]
        },
        "links": [],
        "panels": layout(panels),
    }


API = f'service="api",{NS},route!~"/healthz|/readyz|/metrics"'
WRITE = f'service="api",{NS},method="POST",route=~".*/scores|/api/scores/update"'


def api_dashboard() -> dict[str, Any]:
    return dashboard(
        "scoreboard-api",
        "Scoreboard / API",
        "Score API traffic, errors and latency by route; SLOs, auth, caches and dependencies.",
        [
            panel(
                "stat",
                "Availability (1d, SLO 99.9%)",
                [target(f"1 - scoreboard:api_error_ratio:rate1d{{{NS}}}", "{{namespace}}")],
                "percentunit",
                "Share of api requests without a 5xx over one day.",
                w=6,
                h=4,
            ),
            panel(
                "stat",
                "Writes under 250 ms (1d, SLO 99%)",
                [target(f"1 - scoreboard:score_write_slow_ratio:rate1d{{{NS}}}", "{{namespace}}")],
                "percentunit",
                "Share of score writes answered within 250 ms over one day.",
                w=6,
                h=4,
            ),
            panel(
                "stat",
                "Requests/s",
                [target(f"sum(rate(scoreboard_http_requests_total{{{API}}}[{RI}]))", "req/s")],
                "reqps",
                "All api requests per second.",
                w=6,
                h=4,
            ),
            panel(
                "stat",
                "5xx ratio",
                [
                    target(
                        f'sum(rate(scoreboard_http_requests_total{{{API},status=~"5.."}}[{RI}])) / '
                        f"sum(rate(scoreboard_http_requests_total{{{API}}}[{RI}]))",
                        "5xx",
                    )
                ],
                "percentunit",
                "Share of api requests answered with a 5xx.",
                w=6,
                h=4,
            ),
            panel(
                "timeseries",
                "Request rate by route",
                [
                    target(
                        f"sum by (method, route) (rate(scoreboard_http_requests_total{{{API}}}[{RI}]))",
                        "{{method}} {{route}}",
                    )
                ],
                "reqps",
                "Requests per second per route template.",
            ),
            panel(
                "timeseries",
                "Responses by status",
                [
                    target(
                        f"sum by (status) (rate(scoreboard_http_requests_total{{{API}}}[{RI}]))",
                        "{{status}}",
                    )
                ],
                "reqps",
                "Responses per second per HTTP status.",
            ),
            panel(
                "timeseries",
                "Error ratio by route (4xx, 5xx)",
                [
                    target(
                        f'sum by (route) (rate(scoreboard_http_requests_total{{{API},status=~"5.."}}[{RI}])) / '
                        f"sum by (route) (rate(scoreboard_http_requests_total{{{API}}}[{RI}]))",
                        "5xx {{route}}",
                    ),
                    target(
                        f'sum by (route) (rate(scoreboard_http_requests_total{{{API},status=~"4.."}}[{RI}])) / '
                        f"sum by (route) (rate(scoreboard_http_requests_total{{{API}}}[{RI}]))",
                        "4xx {{route}}",
                    ),
                ],
                "percentunit",
                "Share of failed requests per route (4xx are client errors, 5xx count against the SLO).",
            ),
            panel(
                "timeseries",
                "Latency p50 / p95 / p99 by route",
                quantiles("scoreboard_http_request_duration_seconds", API, "route"),
                "s",
                "Request duration quantiles per route template.",
            ),
            panel(
                "timeseries",
                "Score write latency",
                quantiles("scoreboard_http_request_duration_seconds", WRITE, ""),
                "s",
                "Duration of score submissions (the 250 ms SLO).",
            ),
            panel(
                "timeseries",
                "Error budget burn rate",
                [
                    target(f"scoreboard:api_error_ratio:rate1h{{{NS}}} / 0.001", "availability 1h"),
                    target(f"scoreboard:api_error_ratio:rate6h{{{NS}}} / 0.001", "availability 6h"),
                    target(
                        f"scoreboard:score_write_slow_ratio:rate1h{{{NS}}} / 0.01", "latency 1h"
                    ),
                    target(
                        f"scoreboard:score_write_slow_ratio:rate6h{{{NS}}} / 0.01", "latency 6h"
                    ),
                ],
                "none",
                "Burn rate (1 = spending the 30-day budget exactly; 14.4 over 1h pages).",
            ),
            panel(
                "timeseries",
                "Auth failures by reason",
                [
                    target(
                        f"sum by (reason) (rate(scoreboard_auth_failures_total{{{NS}}}[{RI}]))",
                        "{{reason}}",
                    )
                ],
                "reqps",
                "Rejected tokens and logins per second.",
            ),
            panel(
                "timeseries",
                "Cache hit ratio",
                [
                    target(
                        f'sum by (cache) (rate(scoreboard_cache_requests_total{{{NS},result="hit"}}[{RI}])) / '
                        f"sum by (cache) (rate(scoreboard_cache_requests_total{{{NS}}}[{RI}]))",
                        "{{cache}}",
                    )
                ],
                "percentunit",
                "Share of cache lookups served from Redis.",
            ),
            panel(
                "timeseries",
                "Dependencies up",
                [
                    target(
                        f"min by (job, dependency) (scoreboard_dependency_up{{{NS}}})",
                        "{{job}} → {{dependency}}",
                    )
                ],
                "none",
                "1 when every pod reached the dependency at its last check.",
                max=1,
                min=0,
            ),
            panel(
                "timeseries",
                "Dependency errors",
                [
                    target(
                        f"sum by (dependency) (rate(scoreboard_dependency_errors_total{{{NS}}}[{RI}]))",
                        "{{dependency}}",
                    )
                ],
                "reqps",
                "Errors talking to PostgreSQL and Redis per second.",
            ),
            panel(
                "timeseries",
                "Board rebuilds from PostgreSQL",
                [
                    target(
                        f"sum by (reason) (increase(scoreboard_board_rebuilds_total{{{NS}}}[{RI}]))",
                        "{{reason}}",
                    )
                ],
                "none",
                "Boards whose Redis state an api replica rebuilt from PostgreSQL: created, reset, "
                "missing (keys vanished: Redis restarted empty) or dirty (a Redis update failed). "
                "One per board after a Redis loss; a steady rate means Redis keeps losing data.",
            ),
            panel(
                "timeseries",
                "Write batch size",
                [
                    target(
                        f"sum by (stage) (rate(scoreboard_write_batch_size_sum{{{NS}}}[{RI}])) / "
                        f"sum by (stage) (rate(scoreboard_write_batch_size_count{{{NS}}}[{RI}]))",
                        "{{stage}}",
                    )
                ],
                "none",
                "Mean submissions per group commit and script calls per Redis pipeline. Near 1 "
                "under load: each write pays a whole commit and pipeline (more CPU per write).",
            ),
        ],
    )


LIVE = f'{NS},board=~"$board"'


def live_dashboard() -> dict[str, Any]:
    return dashboard(
        "scoreboard-live",
        "Scoreboard / Live feed",
        "WebSocket connections, broadcasts, delivery latency, slow clients and Pub/Sub.",
        [
            panel(
                "stat",
                "Connections",
                [target(f"sum(scoreboard_ws_connections{{{LIVE}}})", "connections")],
                "none",
                "Open live-feed WebSockets.",
                w=6,
                h=4,
            ),
            panel(
                "stat",
                "Broadcasts/s",
                [
                    target(
                        f"sum(rate(scoreboard_ws_broadcasts_total{{{LIVE}}}[{RI}]))", "broadcasts/s"
                    )
                ],
                "ops",
                "Coalesced board broadcasts per second.",
                w=6,
                h=4,
            ),
            panel(
                "stat",
                "Delivery p99",
                [
                    target(
                        f"histogram_quantile(0.99, sum by (le) (rate(scoreboard_ws_broadcast_latency_seconds_bucket{{{LIVE}}}[{RI}])))",
                        "p99",
                    )
                ],
                "s",
                "Event received → message written, 99th percentile.",
                w=6,
                h=4,
            ),
            panel(
                "stat",
                "Slow-client drops (1h)",
                [
                    target(
                        f"sum(increase(scoreboard_ws_slow_client_drops_total{{{LIVE}}}[1h]))",
                        "drops",
                    )
                ],
                "none",
                "Clients disconnected for staying behind, last hour.",
                w=6,
                h=4,
            ),
            panel(
                "timeseries",
                "Connections by board",
                [target(f"sum by (board) (scoreboard_ws_connections{{{LIVE}}})", "{{board}}")],
                "none",
                "Open WebSockets per board.",
            ),
            panel(
                "timeseries",
                "Connections by pod",
                [target(f"sum by (pod) (scoreboard_ws_connections{{{NS}}})", "{{pod}}")],
                "none",
                "Spread of WebSockets over realtime pods (rebalances after rollouts).",
            ),
            panel(
                "timeseries",
                "Broadcasts by board",
                [
                    target(
                        f"sum by (board) (rate(scoreboard_ws_broadcasts_total{{{LIVE}}}[{RI}]))",
                        "{{board}}",
                    )
                ],
                "ops",
                "Broadcasts per second (at most one per board per broadcast interval).",
            ),
            panel(
                "timeseries",
                "Messages sent by type",
                [
                    target(
                        f"sum by (type) (rate(scoreboard_ws_messages_sent_total{{{LIVE}}}[{RI}]))",
                        "{{type}}",
                    )
                ],
                "ops",
                "Snapshot and rank messages written to sockets per second.",
            ),
            panel(
                "timeseries",
                "Delivery latency p50 / p95 / p99",
                quantiles("scoreboard_ws_broadcast_latency_seconds", LIVE, ""),
                "s",
                "From the Pub/Sub event to the message written on the sockets.",
            ),
            panel(
                "timeseries",
                "Slow-client drops by board",
                [
                    target(
                        f"sum by (board) (rate(scoreboard_ws_slow_client_drops_total{{{LIVE}}}[{RI}]))",
                        "{{board}}",
                    )
                ],
                "ops",
                "Clients dropped per second because they stayed behind.",
            ),
            panel(
                "timeseries",
                "Rejected connections by reason",
                [
                    target(
                        f"sum by (reason) (rate(scoreboard_ws_rejected_total{{{NS}}}[{RI}]))",
                        "{{reason}}",
                    )
                ],
                "ops",
                "Refused WebSocket handshakes and policy closes per second.",
            ),
            panel(
                "timeseries",
                "Pub/Sub reconnects",
                [
                    target(
                        f"sum by (pod) (increase(scoreboard_pubsub_reconnects_total{{{NS}}}[{RI}]))",
                        "{{pod}}",
                    )
                ],
                "none",
                "Re-subscriptions to Redis Pub/Sub per pod.",
            ),
            panel(
                "timeseries",
                "Realtime HTTP latency p95 by route",
                [
                    target(
                        f'histogram_quantile(0.95, sum by (le, route) (rate(scoreboard_http_request_duration_seconds_bucket{{service="realtime",{NS}}}[{RI}])))',
                        "{{route}}",
                    )
                ],
                "s",
                "Page and health endpoints of the realtime service.",
            ),
            panel(
                "timeseries",
                "Redis up (realtime)",
                [
                    target(
                        f'min by (pod) (scoreboard_dependency_up{{dependency="redis",job="scoreboard-realtime",{NS}}})',
                        "{{pod}}",
                    )
                ],
                "none",
                "1 when the pod's Redis connection works.",
                max=1,
                min=0,
            ),
        ],
        board_var=True,
    )


def boards_dashboard() -> dict[str, Any]:
    return dashboard(
        "scoreboard-leaderboards",
        "Scoreboard / Leaderboards",
        "Per-board writes, players, top score, fraud and abuse signals.",
        [
            panel(
                "stat",
                "Writes/s",
                [target(f"sum(rate(scoreboard_score_writes_total{{{LIVE}}}[{RI}]))", "writes/s")],
                "ops",
                "Accepted score submissions per second.",
                w=6,
                h=4,
            ),
            panel(
                "stat",
                "Players",
                [target(f"sum(max by (board) (scoreboard_board_players{{{LIVE}}}))", "players")],
                "none",
                "Players with a score on the selected boards.",
                w=6,
                h=4,
            ),
            panel(
                "stat",
                "Fraud hits (24h)",
                [target(f"sum(increase(scoreboard_fraud_hits_total{{{LIVE}}}[24h]))", "hits")],
                "none",
                "Fraud rule hits in the last day.",
                w=6,
                h=4,
            ),
            panel(
                "stat",
                "Rate-limited (1h)",
                [
                    target(
                        f"sum(increase(scoreboard_rate_limited_total{{{LIVE}}}[1h]))", "rejections"
                    )
                ],
                "none",
                "Submissions rejected by rate limits in the last hour.",
                w=6,
                h=4,
            ),
            panel(
                "timeseries",
                "Writes per board",
                [
                    target(
                        f"sum by (board) (rate(scoreboard_score_writes_total{{{LIVE}}}[{RI}]))",
                        "{{board}}",
                    )
                ],
                "ops",
                "Accepted (committed) submissions per second.",
            ),
            panel(
                "timeseries",
                "Points per board vs. previous-day baseline",
                [
                    target(
                        f"sum by (board) (scoreboard:board_points:rate5m{{{LIVE}}})", "{{board}}"
                    ),
                    target(
                        f"sum by (board) (avg_over_time(scoreboard:board_points:rate5m{{{LIVE}}}[1d] offset 10m))",
                        "{{board}} baseline",
                    ),
                ],
                "none",
                "Points per second; the velocity alert fires at 10x the baseline.",
            ),
            panel(
                "timeseries",
                "Players per board",
                [target(f"max by (board) (scoreboard_board_players{{{LIVE}}})", "{{board}}")],
                "none",
                "Players with a score this season.",
            ),
            panel(
                "timeseries",
                "Top score per board",
                [target(f"max by (board) (scoreboard_board_top_score{{{LIVE}}})", "{{board}}")],
                "none",
                "Highest total this season (a sudden jump raises ScoreboardTopScoreJump).",
            ),
            panel(
                "timeseries",
                "Fraud hits by rule and action",
                [
                    target(
                        f"sum by (board, rule, action) (increase(scoreboard_fraud_hits_total{{{LIVE}}}[{RI}]))",
                        "{{board}} {{rule}} ({{action}})",
                    )
                ],
                "none",
                "Fraud rule hits (flag only records; reject refuses the write).",
            ),
            panel(
                "timeseries",
                "Rate-limit rejections by scope",
                [
                    target(
                        f"sum by (board, scope) (rate(scoreboard_rate_limited_total{{{LIVE}}}[{RI}]))",
                        "{{board}} {{scope}}",
                    )
                ],
                "ops",
                "429 answers per second per limit scope.",
            ),
            panel(
                "timeseries",
                "Replays per board",
                [
                    target(
                        f"sum by (board) (rate(scoreboard_score_replays_total{{{LIVE}}}[{RI}]))",
                        "{{board}}",
                    )
                ],
                "ops",
                "Idempotent replays (same action_id) per second.",
            ),
            panel(
                "timeseries",
                "Season resets",
                [
                    target(
                        f"sum by (board) (increase(scoreboard_operator_season_resets_total{{{LIVE}}}[1h]))",
                        "{{board}}",
                    )
                ],
                "none",
                "Resets performed by the operator per hour.",
            ),
        ],
        board_var=True,
    )


def operator_dashboard() -> dict[str, Any]:
    return dashboard(
        "scoreboard-operator",
        "Scoreboard / Operator",
        "Leaderboard reconciliation: rate, errors, latency, api reachability.",
        [
            panel(
                "stat",
                "Reconciles/s",
                [
                    target(
                        f"sum(rate(scoreboard_operator_reconciles_total{{{NS}}}[{RI}]))",
                        "reconciles/s",
                    )
                ],
                "ops",
                "Reconciliations per second.",
                w=6,
                h=4,
            ),
            panel(
                "stat",
                "Error ratio",
                [
                    target(
                        f'sum(rate(scoreboard_operator_reconciles_total{{{NS},result="error"}}[{RI}])) / '
                        f"sum(rate(scoreboard_operator_reconciles_total{{{NS}}}[{RI}]))",
                        "errors",
                    )
                ],
                "percentunit",
                "Share of failed reconciliations.",
                w=6,
                h=4,
            ),
            panel(
                "stat",
                "api reachable",
                [target(f"max(scoreboard_operator_api_up{{{NS}}})", "api")],
                "none",
                "1 when the active operator reaches the api's admin endpoints.",
                w=6,
                h=4,
            ),
            panel(
                "stat",
                "Operator pods up",
                [target(f'sum(up{{job="scoreboard-operator",{NS}}})', "pods")],
                "none",
                "Scraped operator replicas (one active, the others standby).",
                w=6,
                h=4,
            ),
            panel(
                "timeseries",
                "Reconciles by result",
                [
                    target(
                        f"sum by (result) (rate(scoreboard_operator_reconciles_total{{{NS}}}[{RI}]))",
                        "{{result}}",
                    )
                ],
                "ops",
                "Successful and failed reconciliations per second.",
            ),
            panel(
                "timeseries",
                "Reconcile latency p50 / p95 / p99",
                quantiles("scoreboard_operator_reconcile_duration_seconds", NS, ""),
                "s",
                "Time to reconcile one Leaderboard (includes the api calls).",
            ),
            panel(
                "timeseries",
                "api reachability by pod",
                [target(f"scoreboard_operator_api_up{{{NS}}}", "{{pod}}")],
                "none",
                "Per replica view of the api's admin endpoints.",
                max=1,
                min=0,
            ),
            panel(
                "timeseries",
                "Season resets by board",
                [
                    target(
                        f"sum by (board) (increase(scoreboard_operator_season_resets_total{{{NS}}}[1h]))",
                        "{{board}}",
                    )
                ],
                "none",
                "Scheduled season resets per hour.",
            ),
        ],
    )


def main() -> None:
    for name, build in {
        "api": api_dashboard,
        "live-feed": live_dashboard,
        "leaderboards": boards_dashboard,
        "operator": operator_dashboard,
    }.items():
        path = HERE / f"scoreboard-{name}.json"
        path.write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {path.relative_to(HERE.parent.parent)}")


if __name__ == "__main__":
    main()
