"""The operator as a real subprocess with only the chart's RBAC, against a real api.

Timers are fast here (drift every 2 s, season check every 1 s, retries capped at 3 s)."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import httpx
import pytest
from scoreboard_common.policy import signing_keys_fingerprint

from tests.k8s.apiserver import KubeAPIServer
from tests.k8s.operator.harness import (
    GROUP_PATH,
    AdminClient,
    OperatorFactory,
    OperatorIdentity,
    OperatorProcess,
    Player,
    TcpProxy,
    apply_leaderboard,
    condition,
    event_reasons,
    get_leaderboard,
    wait_for,
    wait_ready,
)
from tests.support.seeds import hmac_b64url

pytestmark = pytest.mark.usefixtures("operator")


def annotate(kube: KubeAPIServer, namespace: str, name: str, *pairs: str) -> None:
    kube.kubectl("annotate", "--overwrite", "-n", namespace, f"leaderboard/{name}", *pairs)


def patch_spec(kube: KubeAPIServer, namespace: str, name: str, spec: dict[str, object]) -> None:
    kube.kubectl(
        "patch",
        "-n",
        namespace,
        f"leaderboard/{name}",
        "--type=merge",
        "-p",
        json.dumps({"spec": spec}),
    )


def test_create_makes_the_board_ready_in_the_api(
    kube: KubeAPIServer, namespace: str, admin: AdminClient
) -> None:
    apply_leaderboard(
        kube,
        namespace,
        "global",
        {
            "displayName": "Global",
            "size": 7,
            "scoring": {"maxIncrement": 50, "actions": {"win": 10}},
        },
    )
    started = time.monotonic()
    lb = wait_ready(kube, namespace, "global", timeout=20)
    assert time.monotonic() - started < 20
    board = admin.board("global")
    assert board is not None
    assert (board["display_name"], board["size"], board["generation"]) == ("Global", 7, 1)
    assert board["policy"]["scoring"] == {"maxIncrement": 50, "actions": {"win": 10}}
    status = lb["status"]
    assert status["observedGeneration"] == 1
    assert (status["players"], status["topScore"], status["season"]) == (0, 0, 1)
    for type_ in ("Ready", "Synced", "SeasonScheduleValid", "NameAvailable"):
        c = condition(lb, type_)
        assert c is not None
        assert c["status"] == "True"
        assert c["reason"][0].isupper() and " " not in c["reason"]
        assert c["lastTransitionTime"].endswith("Z")
    assert "scoreboard.dev/finalizer" in lb["metadata"]["finalizers"]
    annotations = lb["metadata"]["annotations"]
    assert "operator.scoreboard.dev/last-handled-configuration" in annotations
    assert not [k for k in annotations if k.startswith("kopf.zalando.org")]
    wait_for(lambda: "Synced" in event_reasons(kube, namespace, "global"), 10, "Synced event")


def test_policy_change_is_enforced_by_the_api_within_seconds(
    kube: KubeAPIServer, namespace: str, player: Player
) -> None:
    apply_leaderboard(
        kube,
        namespace,
        "ratelimited",
        {"rateLimit": {"perUser": {"limit": 100, "windowSeconds": 60}}},
    )
    wait_ready(kube, namespace, "ratelimited")
    for _ in range(3):
        r = player.submit("ratelimited", 5)
        assert r.status_code == 200, r.text
    patch_spec(
        kube,
        namespace,
        "ratelimited",
        {"rateLimit": {"perUser": {"limit": 2, "windowSeconds": 60}}},
    )
    changed = time.monotonic()
    wait_ready(kube, namespace, "ratelimited")
    # Until the api has the new policy its submissions are still accepted: count them.
    accepted = [3]

    def refused() -> httpx.Response | None:
        resp = player.submit("ratelimited", 5)
        if resp.status_code == 200:
            accepted[0] += 1
            return None
        return resp if resp.status_code == 429 else None

    r = wait_for(refused, 10, "a 429 under the new rate limit")
    assert time.monotonic() - changed < 10
    assert "Retry-After" in r.headers
    lb = get_leaderboard(kube, namespace, "ratelimited")
    assert lb is not None
    assert lb["status"]["observedGeneration"] == 2
    # Status follows the api's stats (drift timer): one player, 5 points per accepted write.
    expected = 5 * accepted[0]
    lb = wait_for(
        lambda: (
            lambda x: x
            if x and x["status"].get("players") == 1 and x["status"].get("topScore") == expected
            else None
        )(get_leaderboard(kube, namespace, "ratelimited")),
        10,
        f"players=1 and topScore={expected} in status",
    )
    assert lb["status"]["topScore"] == expected
    with kube.admin_client() as c:
        table = c.get(
            f"{GROUP_PATH}/namespaces/{namespace}/leaderboards",
            headers={"Accept": "application/json;as=Table;g=meta.k8s.io;v=v1"},
        ).json()
    names = [col["name"] for col in table["columnDefinitions"]]
    cells = dict(zip(names, table["rows"][0]["cells"], strict=True))
    assert (cells["Players"], cells["Top Score"], cells["Ready"]) == (1, expected, "True")


def test_api_down_sets_ready_false_then_recovers(
    kube: KubeAPIServer, namespace: str, api_proxy: TcpProxy, admin: AdminClient
) -> None:
    apply_leaderboard(kube, namespace, "steady", {})
    wait_ready(kube, namespace, "steady")
    api_proxy.down()
    try:
        apply_leaderboard(kube, namespace, "during-outage", {"size": 3})
        for name in ("steady", "during-outage"):

            def unavailable(name: str = name) -> dict[str, object] | None:
                lb = get_leaderboard(kube, namespace, name)
                ready = condition(lb, "Ready")
                return (
                    lb
                    if ready and ready["status"] == "False" and ready["reason"] == "ApiUnavailable"
                    else None
                )

            lb = wait_for(unavailable, 20, f"{name} Ready=False ApiUnavailable")
            synced = condition(lb, "Synced")  # type: ignore[arg-type]
            assert synced is not None
            assert synced["reason"] == "ApiUnavailable"
        assert admin.board("during-outage") is None
        wait_for(
            lambda: "ApiUnavailable" in event_reasons(kube, namespace, "during-outage"),
            10,
            "warning event",
        )
    finally:
        api_proxy.up()
    wait_ready(kube, namespace, "during-outage", timeout=30)
    wait_ready(kube, namespace, "steady", timeout=30)
    assert admin.board("during-outage") is not None
    assert "Recovered" in event_reasons(kube, namespace, "steady")


def test_drift_is_corrected_when_the_api_loses_the_board(
    kube: KubeAPIServer, namespace: str, admin: AdminClient
) -> None:
    apply_leaderboard(kube, namespace, "drifty", {"size": 4})
    wait_ready(kube, namespace, "drifty")
    r = admin.delete("drifty")
    assert r.status_code == 204, r.text
    # Not "it is gone now": the drift timer (every 2 s) may have put it back already on a slow
    # machine; the DriftCorrected event below says the operator re-created it.
    board = wait_for(lambda: admin.board("drifty"), 15, "the board re-created by the drift timer")
    assert (board["size"], board["generation"]) == (4, 1)
    wait_for(
        lambda: "DriftCorrected" in event_reasons(kube, namespace, "drifty"),
        10,
        "DriftCorrected event",
    )


def test_on_demand_reset_runs_once_per_annotation_value(
    kube: KubeAPIServer, namespace: str, admin: AdminClient, player: Player
) -> None:
    apply_leaderboard(kube, namespace, "ondemand", {})
    wait_ready(kube, namespace, "ondemand")
    assert player.submit("ondemand", 7).status_code == 200

    def handled(token: str) -> dict[str, object] | None:
        lb = get_leaderboard(kube, namespace, "ondemand")
        request = (lb or {}).get("status", {}).get("resetRequest") or {}
        return lb if request.get("handled") == token else None

    annotate(kube, namespace, "ondemand", "scoreboard.dev/reset-requested=first")
    lb = wait_for(lambda: handled("first"), 15, "reset 'first' handled")
    first_season = lb["status"]["season"]  # type: ignore[index]
    assert first_season > 1
    seasons = admin.seasons("ondemand")
    assert seasons["current_season"] == first_season
    archived = [s for s in seasons["seasons"] if not s["current"]]
    assert [(s["season"], s["players"], s["top_score"]) for s in archived] == [(1, 1, 7)]
    # Re-applying the same value (or any other change) does not reset again.
    annotate(kube, namespace, "ondemand", "scoreboard.dev/reset-requested=first", "touch=1")
    time.sleep(3)
    assert admin.seasons("ondemand")["current_season"] == first_season
    # A new value resets once more.
    annotate(kube, namespace, "ondemand", "scoreboard.dev/reset-requested=second")
    lb = wait_for(lambda: handled("second"), 15, "reset 'second' handled")
    second_season = lb["status"]["season"]  # type: ignore[index]
    assert second_season > first_season
    seasons = admin.seasons("ondemand")
    assert seasons["current_season"] == second_season
    assert len([s for s in seasons["seasons"] if not s["current"]]) == 2
    reasons = event_reasons(kube, namespace, "ondemand")
    assert reasons.count("SeasonReset") == 2


def test_scheduled_reset_archives_each_season_once(
    kube: KubeAPIServer, namespace: str, admin: AdminClient, player: Player
) -> None:
    from scoreboard_operator.domain.seasons import parse_schedule, season_id

    # Start early in a minute, so the board is ready and scored before its first reset at the
    # minute's end (on a slow machine, a board created at :55 was reset before the score came).
    wait_for(lambda: datetime.now(UTC).second < 20, 61, "the start of a minute", interval=0.2)
    apply_leaderboard(
        kube,
        namespace,
        "minutely",
        {"season": {"schedule": "* * * * *", "timeZone": "Europe/Paris"}},
    )
    lb = wait_ready(kube, namespace, "minutely")
    assert player.submit("minutely", 3).status_code == 200
    scored_at = datetime.now(UTC)
    created = datetime.fromisoformat(lb["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    fire = parse_schedule("* * * * *", "Europe/Paris").next_fire(created)
    expected = season_id(fire)
    assert condition(lb, "SeasonScheduleValid")["reason"] == "ValidSchedule"  # type: ignore[index]

    def reset_done() -> dict[str, object] | None:
        got = get_leaderboard(kube, namespace, "minutely")
        return got if (got or {}).get("status", {}).get("season") == expected else None

    lb = wait_for(reset_done, 80, f"scheduled reset to season {expected}")
    status = lb["status"]
    assert status["lastReset"] == fire.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # type: ignore[index]
    assert status["nextReset"] > status["lastReset"]  # type: ignore[index,operator]
    # Several season checks later (1 s each), still exactly one archived season.
    time.sleep(4)
    seasons = admin.seasons("minutely")
    if datetime.now(UTC) < fire.replace(second=55):
        assert seasons["current_season"] == expected
        archived = [s for s in seasons["seasons"] if not s["current"]]
        assert [s["season"] for s in archived] == [1]
        in_archive, in_current = archived[0]["players"], admin.stats("minutely")["players"]  # type: ignore[index]
        # The score counts once: in season 1 if it was in before the season ended; if it came
        # as the minute turned, in whichever season the reset left it, never in both or none.
        if scored_at < fire:
            assert (in_archive, in_current) == (1, 0)
        else:
            assert in_archive + in_current == 1
    assert event_reasons(kube, namespace, "minutely").count("SeasonReset") >= 1


def test_invalid_time_zone_is_reported_as_a_condition(kube: KubeAPIServer, namespace: str) -> None:
    apply_leaderboard(
        kube,
        namespace,
        "martian",
        {"season": {"schedule": "0 0 * * 1", "timeZone": "Mars/Olympus"}},
    )
    lb = wait_ready(kube, namespace, "martian", status="False")
    schedule = condition(lb, "SeasonScheduleValid")
    ready = condition(lb, "Ready")
    assert schedule is not None and ready is not None
    assert (schedule["status"], schedule["reason"]) == ("False", "InvalidTimeZone")
    assert ready["reason"] == "InvalidTimeZone"
    assert "Mars/Olympus" in ready["message"]
    # The policy itself still reached the api.
    assert condition(lb, "Synced")["status"] == "True"  # type: ignore[index]


def test_deletion_honours_the_deletion_policy(
    kube: KubeAPIServer, namespace: str, admin: AdminClient, player: Player
) -> None:
    apply_leaderboard(kube, namespace, "kept", {"deletionPolicy": "Retain"})
    apply_leaderboard(kube, namespace, "dropped", {"deletionPolicy": "Delete"})
    wait_ready(kube, namespace, "kept")
    wait_ready(kube, namespace, "dropped")
    assert player.submit("dropped", 9).status_code == 200
    kube.kubectl(
        "delete", "-n", namespace, "leaderboard/kept", "leaderboard/dropped", "--timeout=30s"
    )
    assert get_leaderboard(kube, namespace, "kept") is None
    assert get_leaderboard(kube, namespace, "dropped") is None
    assert admin.board("kept") is not None
    assert admin.board("dropped") is None
    assert admin.stats("dropped") is None


def test_skip_cleanup_annotation_releases_a_stuck_deletion(
    kube: KubeAPIServer, namespace: str, api_proxy: TcpProxy, admin: AdminClient
) -> None:
    apply_leaderboard(kube, namespace, "orphan", {"deletionPolicy": "Delete"})
    wait_ready(kube, namespace, "orphan")
    api_proxy.down()
    try:
        kube.kubectl("delete", "-n", namespace, "leaderboard/orphan", "--wait=false")
        time.sleep(3)
        lb = get_leaderboard(kube, namespace, "orphan")
        assert lb is not None and lb["metadata"].get("deletionTimestamp")  # held by the finalizer
        annotate(kube, namespace, "orphan", "scoreboard.dev/skip-cleanup=true")
        wait_for(
            lambda: get_leaderboard(kube, namespace, "orphan") is None, 20, "deletion to finish"
        )
    finally:
        api_proxy.up()
    assert admin.board("orphan") is not None  # left in the api, as the annotation asked


def test_deletion_does_not_wait_a_minute_for_a_timer_in_an_api_call(
    kube: KubeAPIServer, namespace: str, api_proxy: TcpProxy
) -> None:
    """The finalizer goes soon after the timers stop, even when one was in the middle of a slow
    api call that then succeeds (and so changes nothing that would wake kopf up): kopf's default
    looks at an exiting timer again only after 60 s."""
    apply_leaderboard(kube, namespace, "busy", {"deletionPolicy": "Retain"})
    wait_ready(kube, namespace, "busy")
    api_proxy.stall()  # the api is slow: the drift check's next call waits
    try:
        wait_for(lambda: api_proxy.held > 0, 30, "an api call from the operator to wait")
        kube.kubectl("delete", "-n", namespace, "leaderboard/busy", "--wait=false")
        wait_for(
            lambda: "BoardRetained" in event_reasons(kube, namespace, "busy"),
            30,
            "the retire handler to run",
        )
    finally:
        api_proxy.resume()  # within the operator's 3 s timeout: the drift check succeeds
    # A ceiling below kopf's default polling (60 s), far above what it takes here.
    wait_for(lambda: get_leaderboard(kube, namespace, "busy") is None, 45, "the deletion")


def test_same_name_in_two_namespaces_is_a_conflict(
    kube: KubeAPIServer, namespace: str, admin: AdminClient
) -> None:
    other = f"{namespace}-b"
    kube.ensure_namespace(other)
    apply_leaderboard(kube, namespace, "shared", {"size": 5, "deletionPolicy": "Retain"})
    wait_ready(kube, namespace, "shared")
    time.sleep(1.1)  # a later creation second
    apply_leaderboard(kube, other, "shared", {"size": 9, "deletionPolicy": "Delete"})
    lb = wait_ready(kube, other, "shared", status="False")
    ready = condition(lb, "Ready")
    assert ready is not None and ready["reason"] == "NameConflict"
    assert f"{namespace}/shared" in ready["message"]
    assert admin.board("shared")["size"] == 5  # type: ignore[index]
    # The owner goes (Retain): the other one takes the board over on its next drift check.
    # A ceiling, not a speed: kopf lifts the finalizer after the retire handler and once the
    # object's timers have stopped (it looks again every TIMER_EXIT_POLL_SECONDS; with kopf's
    # default of 60 s this deletion took over 30 s twice on a loaded machine).
    kube.kubectl("delete", "-n", namespace, "leaderboard/shared", "--timeout=120s")
    wait_ready(kube, other, "shared", timeout=20)
    wait_for(
        lambda: (admin.board("shared") or {}).get("size") == 9, 10, "size 9 from the new owner"
    )


def test_metrics_and_liveness(operator: OperatorProcess) -> None:
    health = httpx.get(f"http://127.0.0.1:{operator.health_port}/healthz", timeout=5)
    assert health.status_code == 200
    text = httpx.get(f"http://127.0.0.1:{operator.metrics_port}/metrics", timeout=5).text
    for metric in (
        'scoreboard_operator_reconciles_total{result="success"}',
        "scoreboard_operator_reconcile_duration_seconds_bucket",
        "scoreboard_operator_api_up 1.0",
    ):
        assert metric in text
    records = operator.log_records()
    assert records and all({"ts", "level", "logger", "msg"} <= r.keys() for r in records)


def test_the_chart_grants_no_more_than_needed(
    kube: KubeAPIServer, operator_identity: OperatorIdentity
) -> None:
    def can(*args: str) -> bool:
        r = kube.kubectl(
            "auth", "can-i", *args, kubeconfig=operator_identity.kubeconfig, check=False
        )
        return r.stdout.strip() == "yes"

    assert can("watch", "leaderboards.scoreboard.dev", "--all-namespaces")
    assert can("patch", "leaderboards.scoreboard.dev/status", "-n", "default")
    assert can("create", "events", "-n", "default")
    assert not can("delete", "leaderboards.scoreboard.dev", "-n", "default")
    assert not can("create", "leaderboards.scoreboard.dev", "-n", "default")
    # Secrets: read one by name (spec.webhook.secretRef), never list or watch them.
    assert can("get", "secrets", "-n", operator_identity.namespace)
    assert not can("list", "secrets", "-n", operator_identity.namespace)
    assert not can("watch", "secrets", "--all-namespaces")
    assert not can("patch", "clusterkopfpeerings.kopf.dev/someone-else")


def _put_signing_secret(kube: KubeAPIServer, namespace: str, keys: dict[str, str]) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "board-keys", "namespace": namespace},
        # `data`, not `stringData`: apply then drops a key id the new content leaves out.
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in keys.items()},
    }
    kube.kubectl("apply", "-f", "-", input=json.dumps(secret))


def _signed_submit(player: Player, board: str, key_id: str, key: str) -> httpx.Response:
    body = json.dumps(
        {
            "action_id": f"k8s-{time.time_ns()}",
            "score_increment": 3,
            "timestamp": datetime.now(UTC).isoformat(),
        }
    ).encode()
    signature = hmac_b64url(key, body)
    return httpx.post(
        f"{player.api_url}/api/v1/leaderboards/{board}/scores",
        content=body,
        headers={
            "Authorization": f"Bearer {player.token}",
            "Content-Type": "application/json",
            "X-Signature": f"keyId={key_id},sig={signature}",
        },
        timeout=10,
    )


def test_signing_secret_keys_reach_the_api(
    kube: KubeAPIServer, namespace: str, player: Player, admin: AdminClient
) -> None:
    """A Leaderboard with `signing.secretRef`: the operator reads the Secret (with only the
    chart's RBAC) and the api then requires signatures made with its keys; a rotated Secret
    reaches the api by the drift check, with no edit of the Leaderboard."""
    key = "k8s-signing-key-material-42"
    _put_signing_secret(kube, namespace, {"ci": key})
    apply_leaderboard(
        kube,
        namespace,
        "signed",
        {"writers": ["users"], "signing": {"required": True, "secretRef": {"name": "board-keys"}}},
    )
    wait_ready(kube, namespace, "signed", timeout=30)
    unsigned = player.submit("signed")
    assert unsigned.status_code == 401 and unsigned.json()["code"] == "bad_signature"
    signed = _signed_submit(player, "signed", "ci", key)
    assert signed.status_code == 200, signed.text
    lb = get_leaderboard(kube, namespace, "signed")
    assert key not in json.dumps(lb)  # never written back to the resource

    # Rotation: a new key id in the Secret, the old one removed.
    rotated = "k8s-rotated-signing-key-material-43"
    _put_signing_secret(kube, namespace, {"ci2": rotated})
    wait_for(
        lambda: (admin.stats("signed") or {}).get("signing_keys_fingerprint")
        == signing_keys_fingerprint({"ci2": rotated}),
        30,
        "the rotated signing keys in the api",
    )
    assert _signed_submit(player, "signed", "ci2", rotated).status_code == 200
    old = _signed_submit(player, "signed", "ci", key)
    assert old.status_code == 401 and old.json()["code"] == "bad_signature", old.text


def handled(process: OperatorProcess, obj: str) -> bool:
    return any(
        r.get("object") == obj and "reconcile" in r.get("msg", "") for r in process.log_records()
    )


def handled_only_by(active: OperatorProcess, others: list[OperatorProcess], obj: str) -> None:
    """``active`` reconciled ``obj`` and none of ``others`` did. Waits for the active replica's
    log line: Ready can be written first by its drift timer (the same sync), and a CI run saw
    the status before the reconcile line."""
    wait_for(lambda: handled(active, obj), 30, f"{active.name} to reconcile {obj}")
    assert [p.name for p in others if handled(p, obj)] == []


def test_two_replicas_one_active_by_peering_priority(
    kube: KubeAPIServer,
    namespace: str,
    start_operator: OperatorFactory,
    operator: OperatorProcess,
    operator_identity: OperatorIdentity,
) -> None:
    def peers() -> dict[str, dict[str, object]]:
        with kube.admin_client() as c:
            r = c.get(f"/apis/kopf.dev/v1/clusterkopfpeerings/{operator_identity.peering_name}")
        r.raise_for_status()
        return dict(r.json().get("status") or {})

    standby = start_operator(PEERING_PRIORITY="500")
    wait_for(lambda: standby.name in peers(), 20, "the standby in the peering object")
    assert peers()[operator.name]["priority"] == 1000
    apply_leaderboard(kube, namespace, "peered-a", {})
    wait_ready(kube, namespace, "peered-a")
    handled_only_by(operator, [standby], f"{namespace}/peered-a")
    # A higher-priority replica takes over; the session replica pauses.
    leader = start_operator(PEERING_PRIORITY="2000")
    wait_for(
        lambda: any("Pausing operations" in r.get("msg", "") for r in operator.log_records()),
        20,
        "the session replica to pause",
    )
    apply_leaderboard(kube, namespace, "peered-b", {})
    wait_ready(kube, namespace, "peered-b")
    handled_only_by(leader, [standby, operator], f"{namespace}/peered-b")
    # The leader leaves cleanly: the session replica resumes (the standby stays paused).
    leader.stop()
    apply_leaderboard(kube, namespace, "peered-c", {})
    wait_ready(kube, namespace, "peered-c", timeout=30)
    handled_only_by(operator, [standby], f"{namespace}/peered-c")
    assert not any(r.get("object") for r in standby.log_records())
    standby.stop()
