"""The scoreboard page in a real headless Chromium (Debian's package, never a downloaded one),
against real api and realtime processes: account, live top N, "you", the board picker, seasons,
the board's counting rules, keyboard use and an accessibility audit, on a phone and a desktop.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import re
import secrets
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from scoreboard_devstack.servers import ServiceProcess, free_port

from tests.support.browser import (
    CHROMIUM_ARGS,
    VIEWPORTS,
    accessibility_problems,
    chromium_path,
    horizontal_overflow,
    open_page,
    screenshot,
)
from tests.support.waits import wait_for_async

PASSWORD = "correct-horse-battery-staple-7"
ServiceFactory = Callable[..., ServiceProcess]
Stack = tuple[ServiceProcess, ServiceProcess]


def start_stack(
    start_api: ServiceFactory,
    base_env: dict[str, str],
    redis_url: str,
    log_dir: Path,
    **api_env: str,
) -> tuple[ServiceProcess, ServiceProcess]:
    """An api that allows the page's origin (CORS) and a realtime that points the page at it.
    The caller stops the realtime; the api stops with the session."""
    port = free_port()
    api = start_api(CORS_ALLOWED_ORIGINS=json.dumps([f"http://127.0.0.1:{port}"]), **api_env)
    argv = [str(Path(sys.executable).parent / "scoreboard-realtime"), "serve", "--port", str(port)]
    env = {**base_env, "REDIS_URL": redis_url, "PUBLIC_API_URL": api.url}
    realtime = ServiceProcess("realtime", argv, port, env, log_dir)
    realtime.start()
    return api, realtime


@pytest.fixture(scope="module")
def stack(
    start_api: ServiceFactory, base_env: dict[str, str], redis_url: str, log_dir: Path
) -> Iterator[Stack]:
    api, realtime = start_stack(start_api, base_env, redis_url, log_dir)
    yield api, realtime
    realtime.stop()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        await browser.close()


class Platform:
    """The api as the tests drive it besides the page: boards, players and their scores."""

    def __init__(self, api: ServiceProcess, admin_token: str) -> None:
        self.http = httpx.Client(base_url=api.url, timeout=10)
        self.admin = {"Authorization": f"Bearer {admin_token}"}

    def board(self, **spec: Any) -> str:
        name = f"e2e-{secrets.token_hex(3)}"
        body = {"displayName": f"E2E {name}", "size": 10, "generation": 1, **spec}
        put = self.http.put(f"/api/v1/admin/leaderboards/{name}", json=body, headers=self.admin)
        assert put.status_code == 200, put.text
        return name

    def player(self, prefix: str = "p") -> tuple[str, str]:
        """A registered player: (username, access token)."""
        username = f"{prefix}{secrets.token_hex(4)}"
        created = self.http.post(
            "/api/v1/auth/register", json={"username": username, "password": PASSWORD}
        )
        assert created.status_code == 201, created.text
        login = self.http.post(
            "/api/v1/auth/login", json={"username": username, "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        return username, login.json()["access_token"]

    def score(self, board: str, token: str, **amount: Any) -> dict[str, Any]:
        body = {
            "action_id": str(uuid.uuid4()),
            "timestamp": datetime.now(UTC).isoformat(),
            **(amount or {"score_increment": 1}),
        }
        answer = self.http.post(
            f"/api/v1/leaderboards/{board}/scores",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def reset(self, board: str, season: int) -> None:
        answer = self.http.post(
            f"/api/v1/admin/leaderboards/{board}/reset", json={"season": season}, headers=self.admin
        )
        assert answer.status_code == 200, answer.text


@pytest.fixture(scope="module")
def platform(stack: Stack, admin_token: str) -> Iterator[Platform]:
    platform = Platform(stack[0], admin_token)
    yield platform
    platform.http.close()


def page_url(stack: Stack, board: str) -> str:
    return f"{stack[1].url}/?board={board}"


async def sign_in(page: Page, username: str) -> None:
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#me-name")).to_have_text(username)
    await expect(page.locator("#connection")).to_contain_text("Live")


async def record_announcements(page: Page) -> None:
    """Keep every text the rank live region takes, in ``window.__announced``."""
    await page.evaluate(
        """() => {
          window.__announced = [];
          const node = document.getElementById("announcer");
          new MutationObserver(() => window.__announced.push(node.textContent))
            .observe(node, { childList: true, characterData: true, subtree: true });
        }"""
    )


# ---------------------------------------------------------------------------------- tests


async def test_sign_in_act_and_watch_live(
    browser: Browser, stack: Stack, platform: Platform
) -> None:
    board = platform.board()
    username, _ = platform.player("player")
    url = page_url(stack, board)
    phone = await open_page(browser, url, **VIEWPORTS["phone"])
    watcher = await open_page(browser, url, **VIEWPORTS["desktop"])
    await expect(watcher.locator("#entries")).to_contain_text("No scores yet")

    await sign_in(phone, username)
    action = phone.get_by_role("button", name="Do action")
    await action.click()
    # The api's answer and the live `rank` message race to the page; both say it.
    await expect(phone.locator("#message")).to_contain_text("total 1, rank 1")
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

    assert await horizontal_overflow(phone) <= 0
    await screenshot(phone, "page-phone")
    await screenshot(watcher, "page-watcher")
    await phone.context.close()
    await watcher.context.close()


@pytest.mark.parametrize("device", ["phone", "desktop"])
async def test_register_score_and_see_yourself(
    browser: Browser, stack: Stack, platform: Platform, device: str
) -> None:
    board = platform.board()
    errors: list[str] = []
    page = await open_page(browser, page_url(stack, board), errors, **VIEWPORTS[device])
    username = f"new{secrets.token_hex(4)}"
    create = page.get_by_role("button", name="Create account")

    # The api's refusals, said in words a player understands.
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill("password1")
    await create.click()
    await expect(page.locator("#error")).to_contain_text("too weak")
    taken, _ = platform.player("taken")
    await page.get_by_label("Username").fill(taken)
    await page.get_by_label("Password").fill(PASSWORD)
    await create.click()
    await expect(page.locator("#error")).to_contain_text("username is taken")

    await page.get_by_label("Username").fill(username)
    await create.click()
    await expect(page.locator("#me-name")).to_have_text(username)
    await expect(page.locator("#message")).to_contain_text("account is ready")
    await expect(page.locator("#error")).to_be_empty()
    await expect(page.locator("#my-rank")).to_contain_text("No score on this board yet")
    await record_announcements(page)

    await page.get_by_role("button", name="Do action").click()
    await expect(page.locator("#my-rank")).to_have_text("You are rank 1 with 1 point.")
    # "You": the players around you, yourself marked; and yourself in the live top N.
    await expect(page.locator("#around tr.me")).to_contain_text(username)
    await expect(page.locator("#entries tr.me")).to_contain_text(username)
    await expect(page.locator("#announcer")).to_have_text("You are rank 1.")

    # Someone overtakes: no `rank` message comes for that; the snapshot tells.
    rival, token = platform.player("rival")
    platform.score(board, token, score_increment=5)
    await expect(page.locator("#my-rank")).to_have_text("You are rank 2 with 1 point.")
    await expect(page.locator("#announcer")).to_have_text("You moved down to rank 2.")
    # The neighbours come from the api, reloaded at most every 5 s on snapshots.
    around = page.locator("#around tr")
    await expect(around).to_have_count(2, timeout=15_000)
    await expect(around.nth(0)).to_contain_text(rival)
    await expect(around.nth(1)).to_contain_text(username)

    for _ in range(6):  # six scores in a row, back to rank 1 (7 > 5)
        await page.get_by_role("button", name="Do action").click()
        await expect(page.get_by_role("button", name="Do action")).to_be_enabled()
    await expect(page.locator("#my-rank")).to_have_text("You are rank 1 with 7 points.")
    await expect(page.locator("#announcer")).to_have_text("You moved up to rank 1.")
    # Announced when the rank changed, not once per score or per snapshot.
    said = await page.evaluate("window.__announced")
    assert said == ["You are rank 1.", "You moved down to rank 2.", "You moved up to rank 1."]

    assert await horizontal_overflow(page) <= 0
    assert await accessibility_problems(page) == []
    await screenshot(page, f"page-you-{device}")

    # Sign out revokes the session: the login form is back, the refresh token is dead.
    refresh_token = await page.evaluate(
        "JSON.parse(sessionStorage.getItem('scoreboard.session')).refreshToken"
    )
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    await expect(page.locator("#entries tr.me")).to_have_count(0)

    def refused() -> bool:
        answer = platform.http.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})
        return answer.status_code == 401

    await wait_for_async(refused, what="the signed-out refresh token to be refused")
    assert errors == [], errors
    await page.context.close()


@pytest.mark.parametrize("device", ["phone", "desktop"])
async def test_board_picker_switches_board_and_feed(
    browser: Browser, stack: Stack, platform: Platform, device: str
) -> None:
    first, second = platform.board(), platform.board()
    alice, alice_token = platform.player("alice")
    bob, bob_token = platform.player("bob")
    platform.score(first, alice_token, score_increment=3)
    platform.score(second, bob_token, score_increment=4)

    errors: list[str] = []
    page = await open_page(browser, page_url(stack, first), errors, **VIEWPORTS[device])
    await expect(page.locator("#entries")).to_contain_text(alice)
    picker = page.get_by_label("Board", exact=True)
    await expect(picker.locator(f'option[value="{second}"]')).to_have_count(1)
    await picker.select_option(second)
    await page.get_by_role("button", name="Show board").click()
    await expect(page).to_have_url(re.compile(rf"[?&]board={second}\b"))
    await expect(page.locator("#title")).to_have_text(f"E2E {second}")
    await expect(page.locator("#entries")).to_contain_text(bob)
    await expect(page.locator("#entries")).not_to_contain_text(alice)
    await expect(page.locator("#connection")).to_contain_text("Live")

    # The live feed is the new board's: its changes show, the old board's do not.
    platform.score(first, alice_token, score_increment=10)
    platform.score(second, alice_token, score_increment=2)
    row = page.locator("#entries tr", has_text=alice)
    await expect(row.locator("td.num")).to_have_text("2")
    await expect(page.locator("#entries tr")).to_have_count(2)

    # Back goes back to the first board, feed and all.
    await page.go_back()
    await expect(page.locator("#board-select")).to_have_value(first)
    await expect(page.locator("#entries tr", has_text=alice).locator("td.num")).to_have_text("13")
    await expect(page.locator("#entries")).not_to_contain_text(bob)
    assert await horizontal_overflow(page) <= 0
    await screenshot(page, f"page-picker-{device}")
    assert errors == [], errors
    await page.context.close()


@pytest.mark.parametrize("device", ["phone", "desktop"])
async def test_seasons_list_after_an_admin_reset(
    browser: Browser, stack: Stack, platform: Platform, device: str
) -> None:
    board = platform.board()
    champion, token = platform.player("champ")
    platform.score(board, token, score_increment=9)
    page = await open_page(browser, page_url(stack, board), **VIEWPORTS[device])
    await expect(page.locator("#season-current")).to_contain_text("No archived seasons yet")
    await expect(page.get_by_label("Archived season")).to_be_hidden()

    platform.reset(board, 2)
    # The snapshot of season 2 tells the open page; no reload.
    await expect(page.locator("#season-current")).to_contain_text("Current season: 2")
    seasons = page.get_by_label("Archived season")
    await expect(seasons).to_be_visible()
    await expect(seasons.locator("option")).to_have_text(
        [re.compile(r"^Season 1, ended .*1 player$")]
    )
    standings = page.get_by_role("table", name="Final standings of season 1")
    await expect(standings.locator("tbody tr")).to_have_count(1)
    await expect(standings.locator("tbody tr")).to_contain_text(champion)
    await expect(standings.locator("td.num")).to_have_text("9")
    await expect(page.locator("#entries")).to_contain_text("No scores yet")

    # A second season, then pick the older one again.
    platform.score(board, token, score_increment=4)
    platform.reset(board, 3)
    await expect(seasons.locator("option")).to_have_count(2)
    await expect(page.get_by_role("table", name="Final standings of season 2")).to_contain_text("4")
    await seasons.select_option("1")
    await expect(page.get_by_role("table", name="Final standings of season 1")).to_contain_text("9")
    assert await horizontal_overflow(page) <= 0
    await screenshot(page, f"page-seasons-{device}")
    await page.context.close()


async def test_board_rules_come_from_the_policy(
    browser: Browser, stack: Stack, platform: Platform
) -> None:
    """What the api of this branch publishes (no `order`/`operator`: desc, increment) reads as
    higher-is-better with a +points button; the page's rule module, loaded by the page itself,
    turns asc/best/latest policies into lower-is-better and an absolute score. The full asc
    board through the api is `test_asc_board_is_lower_is_better` below."""
    board = platform.board()
    page = await open_page(browser, page_url(stack, board), **VIEWPORTS["desktop"])
    await expect(page.locator("#board-rule")).to_have_text(
        "Higher is better: the biggest score ranks first. Points add up."
    )
    await expect(page.locator("#board caption")).to_have_text(
        "Live top players, highest score first"
    )
    rules = await page.evaluate(
        """async () => {
          const f = await import("/static/format.js");
          const asc = f.rulesOf({ order: "asc", operator: "best" });
          return {
            absent: f.rulesOf({}),
            asc, text: f.ruleText(asc), heading: f.scoreHeading(asc),
            latest: f.rulesOf({ operator: "latest" }),
            junk: f.rulesOf({ order: "sideways", operator: "decrement" }),
            meta: f.metadataSummary({ car: "<img src=x onerror=alert(1)>", lap: 3, x: { y: 1 }, z: 0 }),
            notObject: [f.metadataSummary(null), f.metadataSummary([1]), f.metadataSummary("s")],
            scores: [f.parseScore("42"), f.parseScore("-1"), f.parseScore("1.5"), f.parseScore("9007199254740992")],
          };
        }"""
    )
    assert rules["absent"] == {"order": "desc", "operator": "increment", "absolute": False}
    assert rules["asc"] == {"order": "asc", "operator": "best", "absolute": True}
    assert rules["text"].startswith("Lower is better (time trial)")
    assert rules["heading"] == "Score (lower is better)"
    assert rules["latest"] == {"order": "desc", "operator": "latest", "absolute": True}
    assert rules["junk"] == rules["absent"]
    assert rules["meta"] == "car: <img src=x onerror=aler… · lap: 3 · x: … · +1 more"
    assert rules["notObject"] == ["", "", ""]
    assert rules["scores"] == [42, None, None, None]
    await page.context.close()


@pytest.mark.parametrize("device", ["phone", "desktop"])
async def test_asc_board_is_lower_is_better(
    browser: Browser, stack: Stack, platform: Platform, device: str
) -> None:
    board = platform.board(order="asc", operator="best")
    fast, fast_token = platform.player("fast")
    platform.score(board, fast_token, score=41_250, metadata={"car": "red", "track": "Monza"})
    slow, _ = platform.player("slow")
    page = await open_page(browser, page_url(stack, board), **VIEWPORTS[device])
    await expect(page.locator("#board-rule")).to_contain_text("Lower is better (time trial)")
    await expect(page.locator("#board-rule")).to_contain_text("Your best score counts.")
    await expect(page.locator("#board thead th.num")).to_have_text("Score (lower is better)")
    await expect(page.locator("#entries tr", has_text=fast)).to_contain_text(
        "car: red · track: Monza"
    )

    await sign_in(page, slow)
    score = page.get_by_label("Your score (lower is better)")
    await score.fill("50000")
    await page.get_by_role("button", name="Submit score").click()
    await expect(page.locator("#my-rank")).to_have_text("You are rank 2 with a score of 50,000.")
    await score.fill("40000")
    await score.press("Enter")
    await expect(page.locator("#my-rank")).to_have_text("You are rank 1 with a score of 40,000.")
    rows = page.locator("#entries tr")
    await expect(rows.nth(0)).to_contain_text(slow)
    await expect(rows.nth(1)).to_contain_text(fast)
    await score.fill("60000")  # worse than the best: the best stays
    await score.press("Enter")
    await expect(page.locator("#message")).to_contain_text("your score is 40,000, rank 1")
    assert await horizontal_overflow(page) <= 0
    await screenshot(page, f"page-asc-{device}")
    await page.context.close()


async def test_keyboard_only_sign_in_and_score(
    browser: Browser, stack: Stack, platform: Platform
) -> None:
    board, other = platform.board(), platform.board()
    username, _ = platform.player("keys")
    page = await open_page(browser, page_url(stack, board), **VIEWPORTS["desktop"])

    async def focused() -> dict[str, str]:
        result: dict[str, str] = await page.evaluate(
            """() => { const el = document.activeElement; const s = getComputedStyle(el);
                       return { id: el.id, tag: el.tagName, text: el.textContent.trim(),
                                outline: s.outlineStyle + " " + s.outlineWidth }; }"""
        )
        return result

    async def tab_to(element_id: str, limit: int = 15) -> None:
        for _ in range(limit):
            await page.keyboard.press("Tab")
            now = await focused()
            if now["id"] == element_id:
                # Visible focus: a real outline on every control we stop on.
                assert now["outline"].startswith("solid") and not now["outline"].endswith(" 0px"), (
                    now
                )
                return
        raise AssertionError(f"Tab never reached #{element_id}")

    await page.keyboard.press("Tab")
    assert (await focused())["text"] == "Skip to the board"
    await tab_to("username")
    await page.keyboard.type(username)
    await page.keyboard.press("Tab")
    assert (await focused())["id"] == "password"
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.locator("#me-name")).to_have_text(username)
    # Focus lands on the action, so Enter scores straight away.
    await expect(page.locator("#action-button")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("#my-rank")).to_have_text("You are rank 1 with 1 point.")
    # The button is busy (aria-disabled) until its submission has finished: an Enter before
    # that is ignored on purpose, so wait for it (a slow machine finishes later).
    await expect(page.locator("#action-button")).not_to_have_attribute("aria-disabled", "true")
    await page.keyboard.press("Enter")
    await expect(page.locator("#my-rank")).to_have_text("You are rank 1 with 2 points.")

    # The board picker by keyboard: choose with the arrows, nothing switches until Enter.
    picker = page.locator("#board-select")
    await picker.focus()  # the list reloads on focus: wait for it to hold both boards
    await expect(picker.locator(f'option[value="{other}"]')).to_have_count(1)
    values = await picker.locator("option").evaluate_all("os => os.map(o => o.value)")
    # Move off this board whichever end of the (name-sorted) list it sits at.
    await page.keyboard.press("End" if values[-1] != board else "Home")
    assert await picker.input_value() != board
    await expect(page).to_have_url(re.compile(rf"board={board}\b"))
    await page.locator("#board-select").select_option(other)
    await tab_to("board-button", 2)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(rf"board={other}\b"))
    await expect(page.locator("#my-rank")).to_contain_text("No score on this board yet")
    await page.context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("device", ["phone", "desktop"])
async def test_accessibility_audit(
    browser: Browser, stack: Stack, platform: Platform, device: str, scheme: str
) -> None:
    board = platform.board()
    _, token = platform.player("a11y")
    platform.score(board, token)
    page = await open_page(
        browser, page_url(stack, board), color_scheme=scheme, **VIEWPORTS[device]
    )
    await expect(page.locator("#entries tr")).to_have_count(1)
    for landmark in ("banner", "navigation", "main"):
        await expect(page.get_by_role(landmark)).to_have_count(1)
    await expect(page.locator("#announcer")).to_have_attribute("aria-live", "polite")
    assert await accessibility_problems(page) == []
    await screenshot(page, f"page-a11y-{device}-{scheme}")
    await page.context.close()


async def test_tokens_refresh_before_they_expire(
    browser: Browser, stack: Stack, platform: Platform
) -> None:
    board = platform.board()
    username, _ = platform.player("long")
    context = await browser.new_context(**VIEWPORTS["phone"])
    page = await context.new_page()
    page.set_default_timeout(10_000)
    await page.clock.install()
    await page.goto(page_url(stack, board))
    await sign_in(page, username)
    session = "JSON.parse(sessionStorage.getItem('scoreboard.session'))"
    before = await page.evaluate(session)
    # The api's access tokens last an hour; the page refreshes 5 minutes ahead.
    await page.clock.run_for(54 * 60 * 1000)
    assert (await page.evaluate(session))["accessToken"] == before["accessToken"]
    await page.clock.run_for(2 * 60 * 1000)

    async def rotated() -> bool:
        return bool(await page.evaluate(f"{session}.refreshToken") != before["refreshToken"])

    await wait_for_async(rotated, what="the page to refresh its tokens")
    await expect(page.locator("#connection")).to_contain_text("Live")
    await expect(page.locator("#me-name")).to_have_text(username)
    # The old refresh token was rotated away.
    answer = platform.http.post(
        "/api/v1/auth/refresh", json={"refresh_token": before["refreshToken"]}
    )
    assert answer.status_code == 401
    await context.close()


async def test_registration_disabled_is_said_plainly(
    browser: Browser,
    start_api: ServiceFactory,
    base_env: dict[str, str],
    redis_url: str,
    log_dir: Path,
    admin_token: str,
) -> None:
    api, realtime = start_stack(
        start_api, base_env, redis_url, log_dir, REGISTRATION_ENABLED="false"
    )
    try:
        platform = Platform(api, admin_token)
        board = platform.board()
        platform.http.close()
        page = await open_page(browser, f"{realtime.url}/?board={board}", **VIEWPORTS["phone"])
        await page.get_by_label("Username").fill(f"nope{secrets.token_hex(3)}")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Create account").click()
        await expect(page.locator("#error")).to_have_text(
            "Creating accounts is turned off here. Ask an admin for an account."
        )
        await expect(page.locator("#login-form")).to_be_visible()
        await page.context.close()
    finally:
        realtime.stop()


async def test_page_reconnects_after_the_server_restarts(
    browser: Browser, stack: Stack, platform: Platform
) -> None:
    _, realtime = stack
    board = platform.board(size=5)
    page = await open_page(browser, page_url(stack, board))
    realtime.stop()  # SIGTERM: the page sees 1001 and shows it is reconnecting
    await expect(page.locator("#connection")).not_to_contain_text("Live")
    realtime.start()
    await expect(page.locator("#connection")).to_contain_text("Live", timeout=30_000)
    await page.context.close()
