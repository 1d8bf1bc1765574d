"""The recovered-revenue page (SPEC §11.5) in a real headless Chromium (Debian's chromium driven by playwright):
totals, the weekly bar chart drawn as inline SVG, the per-employee table and the CSV link, on seeded data."""

from __future__ import annotations

from playwright.async_api import expect

from closer.demo import DEMO_OWNER_EMAIL, DEMO_PASSWORD, seed_demo
from tests.browsing import OUTPUT, SCREENSHOTS, base_of, browser, chromiums, inbox, logged_in, open_page
from tests.test_recovered_revenue import seed_history

SCREENSHOT = SCREENSHOTS / "recovered-revenue.png"
PAGE = "/inbox/reports/recovered"
__all__ = ["browser", "chromiums", "inbox"]  # the fixtures (tests/browsing.py)


async def test_the_page_shows_the_periods_totals_a_bar_per_week_and_a_line_per_employee(browser, inbox):
    await seed_history(inbox.shop)  # its figures are worked out in tests/test_recovered_revenue.py
    page = await logged_in(browser, inbox, inbox.shop.owner.email)
    await open_page(page, inbox, PAGE + "?from=2026-03-02&to=2026-03-22")  # W10, W11, W12
    bars = page.locator("#chart svg rect.bar")
    await expect(bars).to_have_count(3)
    await expect(page.locator("#total-failed")).to_have_text("7")
    await expect(page.locator("#total-recovered")).to_have_text("4")
    await expect(page.locator("#total-rate")).to_have_text("57.1%")
    await expect(page.locator("#total-amount")).to_have_text("€550.00 + $300.00")
    await expect(page.locator("#total-median")).to_have_text("36 hr")  # 129 600 s
    # The chart shows the currency with the most recovered first (EUR); USD on demand.
    assert [await bar.get_attribute("data-amount") for bar in await bars.all()] == ["350", "200", "0"]
    await page.select_option("#currency", "USD")
    assert [await bar.get_attribute("data-amount") for bar in await bars.all()] == ["0", "0", "300"]
    rows = page.locator("#lines tbody tr")
    await expect(rows).to_have_count(4)
    await expect(rows.nth(2)).to_contain_text("Manager 2")
    await expect(rows.nth(3)).to_contain_text("Nobody")
    await expect(page.locator("#lines tfoot tr")).to_contain_text("Total")
    href = await page.locator("#csv").get_attribute("href")
    assert "from=2026-03-02T00%3A00%3A00.000Z" in href and "to=2026-03-23T00%3A00%3A00.000Z" in href
    download = await page.request.get(base_of(inbox) + href)
    assert download.status == 200 and download.headers["content-type"].startswith("text/csv")
    assert (await download.text()).splitlines()[-1] == ",Total,7,4,0.5714,129600,550.00,300.00"
    assert page.errors == []


async def test_the_demo_history_fills_the_default_twelve_weeks_and_is_the_screenshot(browser, inbox):
    await seed_demo()
    page = await logged_in(browser, inbox, DEMO_OWNER_EMAIL, password=DEMO_PASSWORD)
    await page.click("header nav a[href='/inbox/reports/recovered']")
    await expect(page.locator("body")).to_have_attribute("data-ready", "yes")
    await expect(page.locator("#chart svg rect.bar")).to_have_count(12)
    # closer.demo.DEMO_RECOVERY_HISTORY: 16 failures of the last eight weeks and Petro's of today; 12 paid later at
    # 490.00 EUR each.
    await expect(page.locator("#total-failed")).to_have_text("17")
    await expect(page.locator("#total-recovered")).to_have_text("12")
    await expect(page.locator("#total-amount")).to_have_text("€5,880.00")
    await expect(page.locator("#lines tbody tr")).to_have_count(3)
    await expect(page.locator("#currency-choice")).to_be_hidden()
    OUTPUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUTPUT / "recovered-revenue.png"), full_page=True)
    await page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert page.errors == []


async def test_a_manager_has_no_link_to_the_page_but_sees_his_own_line_on_it(browser, inbox):
    await seed_history(inbox.shop)
    manager = inbox.shop.managers[1]
    page = await logged_in(browser, inbox, manager.email)
    await expect(page.locator("header nav a[href='/inbox/reports/recovered']")).to_have_count(0)
    await open_page(page, inbox, PAGE + "?from=2026-03-02&to=2026-03-22")
    await expect(page.locator("#lines tbody tr")).to_have_count(1)
    await expect(page.locator("#lines tbody tr")).to_contain_text("Manager 1")
    await expect(page.locator("#total-failed")).to_have_text("2")
    assert page.errors == []
