"""The platform as a frontend sees it, through the cluster's ingress controller (Traefik, no
controller-specific annotations): register, score, the live feed over a WebSocket, and the
page in Chromium updating live."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
import websockets
from playwright.async_api import async_playwright, expect

from tests.cluster.release import HOST, NOT_YET, PASSWORD, Release, register
from tests.support.api import make_board
from tests.support.browser import ARTIFACTS, CHROMIUM_ARGS, chromium_path, open_page
from tests.support.waits import wait_for


def _score(ingress: httpx.Client, board: str, headers: dict[str, str], points: int) -> int:
    body = {
        "action_id": f"a-{secrets.token_hex(8)}",
        "score_increment": points,
        "timestamp": datetime.now(UTC).isoformat(),
    }
    response = ingress.post(f"/api/v1/leaderboards/{board}/scores", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return int(response.json()["new_total_score"])


async def test_websocket_through_the_ingress_gets_the_new_snapshot(
    release: Release, ingress: httpx.Client
) -> None:
    board = make_board(ingress, release.admin_headers)
    player = register(ingress)
    target = urlsplit(release.cluster.ingress_url)
    async with websockets.connect(
        f"ws://{HOST}/ws/v1/leaderboards/{board}",
        host=target.hostname,
        port=target.port,
        open_timeout=15,
    ) as socket:
        first = json.loads(await socket.recv())
        assert first["type"] == "snapshot" and first["entries"] == []
        sent = time.monotonic()
        _score(ingress, board, player.headers, 5)
        async with asyncio.timeout(15):
            while True:
                message = json.loads(await socket.recv())
                if message["type"] == "snapshot" and message["entries"]:
                    break
        latency = time.monotonic() - sent
    entry = message["entries"][0]
    assert entry["user_id"] == player.user_id and entry["score"] == 5
    print(f"\n[cluster] write -> snapshot through the ingress: {latency * 1000:.0f} ms")


def test_the_api_sees_the_visitors_address(release: Release, ingress: httpx.Client) -> None:
    """The chart's trustedProxies name the ingress controller, so the api takes the visitor's
    address from X-Forwarded-For, not the controller's (10.244.0.1): per-IP limits stay per
    visitor. A spoofed X-Forwarded-For from the visitor is not believed."""
    response = ingress.get("/api/v1/leaderboards", headers={"X-Forwarded-For": "198.51.100.23"})
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]

    def access_line() -> dict[str, object] | None:
        for pod in release.pods("api"):
            logs = release.kubectl("logs", pod["metadata"]["name"], "--tail=200")
            for line in logs.splitlines():
                if line.startswith("{") and request_id in line:
                    parsed: dict[str, object] = json.loads(line)
                    return parsed
        return None

    line = wait_for(access_line, 30, "the request's access log line", ignoring=NOT_YET)
    assert line["client_ip"] == "127.0.0.1", line


async def test_page_through_the_ingress_updates_live(
    release: Release, ingress: httpx.Client
) -> None:
    board = make_board(ingress, release.admin_headers)
    username = f"page{secrets.token_hex(3)}"
    created = ingress.post(
        "/api/v1/auth/register", json={"username": username, "password": PASSWORD}
    )
    assert created.status_code == 201, created.text
    port = urlsplit(release.cluster.ingress_url).port
    url = f"http://{HOST}:{port}/?board={board}"
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(),
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {HOST} 127.0.0.1"],
            headless=True,
        )
        try:
            player = await open_page(browser, url)
            errors: list[str] = []
            player.on("pageerror", lambda error: errors.append(str(error)))
            watcher = await open_page(browser, url)
            await player.get_by_label("Username").fill(username)
            await player.get_by_label("Password").fill(PASSWORD)
            await player.get_by_role("button", name="Sign in").click()
            await expect(player.locator("#me-name")).to_have_text(username)
            await expect(player.locator("#connection")).to_contain_text("Live")
            await player.get_by_role("button", name="Do action").click()
            await expect(player.locator("#message")).to_contain_text(
                re.compile(r"total 1, rank 1|rank 1 with 1 points")
            )
            row = watcher.locator("#entries tr", has_text=username)
            await expect(row.locator("td.num")).to_have_text("1")
            await watcher.screenshot(path=str(ARTIFACTS / "cluster-page.png"), full_page=True)
            # Plain HTTP behind the ingress is not a secure context: the page must not need one.
            assert errors == [], errors
        finally:
            await browser.close()
