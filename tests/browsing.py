"""What the browser tests share: Debian's headless Chromium driven by playwright, the app on SQLite, logging in and
opening pages. A test module takes the fixtures by importing them (`from tests.browsing import browser, inbox`).

One Chromium runs per test process (and set of flags), started by the first test that needs it: launching it took
1.5-4 s, for each of some 70 tests. Each test sees it through `Pages`: every page in a browser context of its own
(cookies, storage, cache, downloads apart from any other page's, as with a fresh browser), all closed when the test
ends."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright, expect

from tests.apitools import PASSWORD, make_api
from tests.conftest import require_backend

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output"
SCREENSHOTS = ROOT / "docs" / "screenshots"


class Pages:
    """A test's view of the process's Chromium: `new_page` opens each page in a browser context of its own (as
    `Browser.new_page` does), and `close` closes every context the test opened."""

    def __init__(self, browser: Browser) -> None:
        self._browser = browser
        self._contexts: list[BrowserContext] = []

    async def new_page(self, **options) -> Page:
        context = await self._browser.new_context(**options)
        self._contexts.append(context)
        return await context.new_page()

    async def close(self) -> None:
        for context in self._contexts:
            await context.close()
        self._contexts.clear()


class Chromiums:
    """The test process's Chromiums, one per set of extra flags, each launched when first asked for."""

    def __init__(self, playwright: Playwright) -> None:
        self._playwright = playwright
        self._running: dict[tuple[str, ...], Browser] = {}

    async def launched(self, *extra_args: str) -> Browser:
        browser = self._running.get(extra_args)
        if browser is None or not browser.is_connected():  # one that crashed in an earlier test is replaced
            browser = await self._playwright.chromium.launch(executable_path=CHROMIUM, args=[*ARGS, *extra_args])
            self._running[extra_args] = browser
        return browser

    async def close(self) -> None:
        for browser in self._running.values():
            if browser.is_connected():
                await browser.close()


@pytest.fixture(scope="session")
async def chromiums() -> AsyncIterator[Chromiums]:
    """A module using `browser` (or `chromium`) imports this fixture too, for pytest to find it."""
    async with async_playwright() as playwright:
        running = Chromiums(playwright)
        try:
            yield running
        finally:
            await running.close()


@asynccontextmanager
async def chromium(chromiums: Chromiums, *extra_args: str) -> AsyncIterator[Pages]:
    """Fresh pages of the process's Chromium with `extra_args`, all closed on leaving."""
    pages = Pages(await chromiums.launched(*extra_args))
    try:
        yield pages
    finally:
        await pages.close()


@pytest.fixture
async def inbox(request, database_urls, aiohttp_client):
    """The app on SQLite; a test may pass settings with `@pytest.mark.parametrize("inbox", [{...}], indirect=True)`."""
    return await make_api(require_backend(database_urls, "sqlite"), aiohttp_client, managers=3,
                          settings=getattr(request, "param", None))


@pytest.fixture
async def browser(inbox, chromiums):
    # After the app starts and closed before it stops: a page's live socket still opening when the server shuts down
    # would hold the shutdown until its timeout.
    async with chromium(chromiums) as pages:
        yield pages


def base_of(where) -> str:
    """The app's base URL: `where` is the `inbox` fixture, anything with a `base`, or the URL itself."""
    if isinstance(where, str):
        return where
    if hasattr(where, "base"):
        return where.base
    return str(where.client.make_url("")).rstrip("/")


async def logged_in(browser: Pages, where, who, *, password: str = PASSWORD, height: int = 800) -> Page:
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
