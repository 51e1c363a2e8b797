"""The scoreboard page in a real headless Chromium (Debian's package, never a downloaded one):
sign in, press the action button, and watch a second browser update without a reload."""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from scoreboard_devstack.servers import ServiceProcess, free_port

CHROMIUM = os.environ.get("SCOREBOARD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "correct-horse-battery-staple-7"
ServiceFactory = Callable[..., ServiceProcess]


@pytest.fixture(scope="module")
def stack(
    start_api: ServiceFactory,
    base_env: dict[str, str],
    redis_url: str,
    log_dir: Path,
) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    """An api that allows the page's origin (CORS) and a realtime that points the page at it."""
    port = free_port()
    api = start_api(CORS_ALLOWED_ORIGINS=json.dumps([f"http://127.0.0.1:{port}"]))
    argv = [str(Path(sys.executable).parent / "scoreboard-realtime"), "serve", "--port", str(port)]
    env = {**base_env, "REDIS_URL": redis_url, "PUBLIC_API_URL": api.url}
    realtime = ServiceProcess("realtime", argv, port, env, log_dir)
    realtime.start()
    yield api, realtime
    realtime.stop()


def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: run `make system-deps` (apt-get install chromium)",
            pytrace=False,
        )
    return CHROMIUM


async def open_page(browser: Browser, url: str, **context: object) -> Page:
    ctx = await browser.new_context(**context)  # type: ignore[arg-type]
    page = await ctx.new_page()
    page.set_default_timeout(10_000)
    await page.goto(url)
    await expect(page.locator("#connection")).to_contain_text("Live")
    return page


async def test_sign_in_act_and_watch_live(
    stack: tuple[ServiceProcess, ServiceProcess], admin_token: str
) -> None:
    api, realtime = stack
    board = f"e2e-{secrets.token_hex(3)}"
    username = f"player{secrets.token_hex(3)}"
    async with httpx.AsyncClient(base_url=api.url, timeout=10) as http:
        put = await http.put(
            f"/api/v1/admin/leaderboards/{board}",
            json={"displayName": "E2E board", "size": 10, "generation": 1},
            headers={"Authorization": f"Bearer {admin_token}"},
        )
        assert put.status_code == 200, put.text
        created = await http.post(
            "/api/v1/auth/register", json={"username": username, "password": PASSWORD}
        )
        assert created.status_code == 201, created.text

    url = f"{realtime.url}/?board={board}"
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
        )
        try:
            phone = await open_page(
                browser, url, viewport={"width": 390, "height": 844}, is_mobile=True
            )
            watcher = await open_page(browser, url, viewport={"width": 1200, "height": 800})
            await expect(watcher.locator("#entries")).to_contain_text("No scores yet")

            await phone.get_by_label("Username").fill(username)
            await phone.get_by_label("Password").fill(PASSWORD)
            await phone.get_by_role("button", name="Sign in").click()
            await expect(phone.locator("#me-name")).to_have_text(username)
            # Reconnected with the token (the socket closes and reopens): live again.
            await expect(phone.locator("#connection")).to_contain_text("Live")

            action = phone.get_by_role("button", name="Do action")
            await action.click()
            # The api's answer and the live `rank` message race to the status line; both say it.
            await expect(phone.locator("#message")).to_contain_text(
                re.compile(r"total 1, rank 1|rank 1 with 1 points")
            )
            mine = phone.locator("#entries tr.me")
            await expect(mine).to_contain_text(username)
            await expect(mine).to_have_attribute("aria-current", "true")

            # The other browser sees it live, without a reload.
            row = watcher.locator("#entries tr", has_text=username)
            await expect(row).to_contain_text("1")
            await action.click()
            await expect(row.locator("td.num")).to_have_text("2")
            await expect(phone.locator("#my-rank")).to_contain_text("rank 1 with 2 points")
            await expect(watcher.locator("#entries tr.me")).to_have_count(0)

            # Nothing overflows a phone's width.
            overflow = await phone.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0
            await phone.screenshot(path=str(ARTIFACTS / "page-phone.png"), full_page=True)
            await watcher.screenshot(path=str(ARTIFACTS / "page-watcher.png"), full_page=True)
        finally:
            await browser.close()


async def test_page_reconnects_after_the_server_restarts(
    stack: tuple[ServiceProcess, ServiceProcess], redis_url: str, admin_token: str
) -> None:
    api, realtime = stack
    board = f"e2e-{secrets.token_hex(3)}"
    async with httpx.AsyncClient(base_url=api.url, timeout=10) as http:
        put = await http.put(
            f"/api/v1/admin/leaderboards/{board}",
            json={"displayName": "E2E", "size": 5, "generation": 1},
            headers={"Authorization": f"Bearer {admin_token}"},
        )
        assert put.status_code == 200, put.text
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = await open_page(browser, f"{realtime.url}/?board={board}")
            realtime.stop()  # SIGTERM: the page sees 1001 and shows it is reconnecting
            await expect(page.locator("#connection")).not_to_contain_text("Live")
            realtime.start()
            await expect(page.locator("#connection")).to_contain_text("Live", timeout=30_000)
        finally:
            await browser.close()
