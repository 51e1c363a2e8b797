"""The page tier's browser: Debian's Chromium driven by Playwright, the two viewports the page
must suit, where screenshots go, and DOM checks that stand in for axe (not available offline).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

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
#: Git-ignored; CI keeps it as the run's artifacts.
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

#: A phone (iPhone 12-14 class) and a desktop, as Playwright context options.
VIEWPORTS: dict[str, dict[str, Any]] = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "desktop": {"viewport": {"width": 1280, "height": 800}},
}


def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: run `make system-deps` (apt-get install chromium)",
            pytrace=False,
        )
    return CHROMIUM


async def open_page(
    browser: Browser, url: str, errors: list[str] | None = None, **context: Any
) -> Page:
    """A new context (own cookies and session storage) on ``url``, once its live feed is up.
    Uncaught script errors of the page are appended to ``errors`` when given."""
    ctx = await browser.new_context(**context)
    page = await ctx.new_page()
    if errors is not None:
        page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(10_000)
    await page.goto(url)
    await expect(page.locator("#connection")).to_contain_text("Live")
    return page


async def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than its viewport (0 when it fits)."""
    value = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return int(value)


# What axe would flag first, checked on the live DOM: form controls without an accessible
# name, missing landmarks or live region, duplicate ids, tables without a name, and text whose
# contrast with its effective background is under WCAG AA (4.5:1, or 3:1 for large text).
A11Y_AUDIT = r"""
() => {
  const problems = [];
  const visible = (el) => {
    const s = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    return s.visibility !== "hidden" && s.display !== "none" && r.width > 0 && r.height > 0;
  };
  const nameOf = (el) => {
    const by = el.getAttribute("aria-labelledby");
    if (by) return by.split(/\s+/).map((id) => document.getElementById(id)?.textContent || "").join(" ").trim();
    if (el.getAttribute("aria-label")) return el.getAttribute("aria-label").trim();
    if (el.labels && el.labels.length) return Array.from(el.labels, (l) => l.textContent).join(" ").trim();
    if (el.tagName === "BUTTON" || el.tagName === "A") return el.textContent.trim();
    if (el.tagName === "TABLE") return el.querySelector("caption")?.textContent.trim() || "";
    return "";
  };
  for (const el of document.querySelectorAll("input, select, textarea, button, a[href], table")) {
    if (!nameOf(el)) problems.push(`no accessible name: <${el.tagName.toLowerCase()} id="${el.id}">`);
  }
  const ids = Array.from(document.querySelectorAll("[id]"), (el) => el.id);
  for (const id of new Set(ids)) if (ids.filter((x) => x === id).length > 1) problems.push(`duplicate id ${id}`);
  for (const sel of ["header", "nav", "main", "h1"]) {
    if (document.querySelectorAll(sel).length !== 1) problems.push(`expected one <${sel}>`);
  }
  if (!document.documentElement.lang) problems.push("no lang on <html>");
  if (!document.querySelector('[aria-live="polite"]#announcer')) problems.push("no polite live region #announcer");
  const rgb = (text) => (text.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const c = rgb(getComputedStyle(node).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  let checked = 0;
  for (const el of document.querySelectorAll("body *")) {
    const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !visible(el) || el.closest(".visually-hidden")) continue;
    const s = getComputedStyle(el);
    const fg = rgb(s.color).slice(0, 3);
    const [a, b] = [lum(fg), lum(background(el))].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(s.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(s.fontWeight) >= 700);
    const opacity = Number(s.opacity);
    checked += 1;
    if (opacity === 1 && ratio < (large ? 3 : 4.5)) {
      problems.push(`contrast ${ratio.toFixed(2)} < ${large ? 3 : 4.5}: "${el.textContent.trim().slice(0, 40)}"`);
    }
  }
  return { problems, checked };
}
"""


async def accessibility_problems(page: Page) -> list[str]:
    result = await page.evaluate(A11Y_AUDIT)
    assert result["checked"] > 10, result  # the audit saw the page's text, not an empty shell
    return list(result["problems"])
