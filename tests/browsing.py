"""What the browser tests share: Debian's headless Chromium driven by playwright, the app on SQLite, logging in and
opening pages. A test module takes the fixtures by importing them (`from tests.browsing import browser, inbox`)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.apitools import PASSWORD, make_api
from tests.conftest import require_backend

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output"
SCREENSHOTS = ROOT / "docs" / "screenshots"


@asynccontextmanager
async def chromium(*extra_args: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=[*ARGS, *extra_args])
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def inbox(request, database_urls, aiohttp_client):
    """The app on SQLite; a test may pass settings with `@pytest.mark.parametrize("inbox", [{...}], indirect=True)`."""
    return await make_api(require_backend(database_urls, "sqlite"), aiohttp_client, managers=3,
                          settings=getattr(request, "param", None))


@pytest.fixture
async def browser(inbox):
    # After the app starts and closed before it stops: a page's live socket still opening when the server shuts down
    # would hold the shutdown until its timeout.
    async with chromium() as launched:
        yield launched


def base_of(where) -> str:
    """The app's base URL: `where` is the `inbox` fixture, anything with a `base`, or the URL itself."""
    if isinstance(where, str):
        return where
    if hasattr(where, "base"):
        return where.base
    return str(where.client.make_url("")).rstrip("/")


async def logged_in(browser: Browser, where, who, *, password: str = PASSWORD, height: int = 800) -> Page:
    """A new page logged in as `who` (an employee, or an e-mail), on the inbox's first page; page errors collected in
    `page.errors`."""
    page = await browser.new_page(viewport={"width": 1280, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    await page.goto(base_of(where) + "/inbox/")
    await page.fill("input[name=email]", who if isinstance(who, str) else who.email)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/inbox/")
    await expect(page.locator("body")).to_have_attribute("data-ready", "yes")
    return page


async def open_page(page: Page, where, path: str) -> None:
    await page.goto(base_of(where) + path)
    await expect(page.locator("body")).to_have_attribute("data-ready", "yes")


async def listening(page: Page) -> None:
    """The page's live socket is open: what happens from now on reaches it."""
    await expect(page.locator("body")).to_have_attribute("data-live", "on")
