"""The inbox pages in a real headless Chromium (Debian's chromium driven by playwright), against the real app."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright, expect

from sales import dialogs, outbox
from sales.orders import create_order
from sales.payments import PaymentNotice, apply_payment
from storage.models import Client, Order, Outbox, OutboxStatus, PaymentResult
from tests.apitools import PASSWORD, make_api
from tests.conftest import require_backend
from tests.factories import at, new_client

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OUTPUT = Path(__file__).resolve().parent.parent / "test-output"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
async def browser():
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def inbox(database_urls, aiohttp_client):
    return await make_api(require_backend(database_urls, "sqlite"), aiohttp_client, managers=3)


def base_of(inbox) -> str:
    return str(inbox.client.make_url("")).rstrip("/")


async def logged_in(browser, inbox, employee) -> Page:
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    await page.goto(base_of(inbox) + "/inbox/")
    await page.fill("input[name=email]", employee.email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/inbox/")
    await expect(page.locator("body")).to_have_attribute("data-ready", "yes")
    return page


async def test_an_employee_logs_in_and_sees_his_chats(browser, inbox):
    manager = inbox.shop.managers[0]
    client = await new_client(inbox.shop, name="Olena")
    order = await create_order(inbox.shop.account.id, client_id=client.id, offer_id=inbox.shop.offer.id, now=at(0))
    await Order.filter(id=order.id).update(order_manager_id=manager.id)
    await dialogs.record_inbound(client, "Is the course still on?", now=at(1))
    page = await logged_in(browser, inbox, manager)
    await expect(page.locator("#chat-list")).to_contain_text("Olena")
    await expect(page.locator("#chat-list")).to_contain_text("Is the course still on?")
    assert page.errors == []


async def test_a_wrong_password_shows_an_error_and_stays_on_the_login_page(browser, inbox):
    page = await browser.new_page()
    await page.goto(base_of(inbox) + "/inbox/login")
    await page.fill("input[name=email]", inbox.shop.managers[0].email)
    await page.fill("input[name=password]", "wrong-password")
    await page.click("button[type=submit]")
    await expect(page.locator("#login-error")).to_have_text("Wrong e-mail or password")
    assert page.url.endswith("/inbox/login")


async def test_a_failed_payment_makes_the_important_badge_and_row_appear_live(browser, inbox):
    manager = inbox.shop.managers[0]
    client = await new_client(inbox.shop, name="Petro")
    order = await create_order(
        inbox.shop.account.id, client_id=client.id, offer_id=inbox.shop.flagged_offer.id, now=at(0)
    )
    await dialogs.record_outbound(manager, client.id, "Here is your link", now=at(1))
    page = await logged_in(browser, inbox, manager)
    await page.click("#important-tab")
    await expect(page.locator("#important-table")).to_contain_text("Nothing here")
    await expect(page.locator("#important-badge")).to_be_hidden()
    await apply_payment(PaymentNotice("generic", "fail-1", str(order.id), PaymentResult.FAILED,
                                      occurred_at=at(5), reason="insufficient_funds"))
    row = page.locator("#important-table tbody tr[data-item]")
    await expect(row).to_have_count(1, timeout=10_000)
    await expect(page.locator("#important-badge")).to_have_text("1")
    await expect(row.locator(".bell")).to_be_visible()
    await expect(row).to_contain_text("Petro")
    await expect(row).to_contain_text("insufficient_funds")
    await expect(row.locator("a.open-offer")).to_have_attribute("href", f"http://127.0.0.1:8080/inbox/offers/"
                                                                         f"{inbox.shop.flagged_offer.id}")
    OUTPUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUTPUT / "important-tab.png"), full_page=True)
    # The alert links use PUBLIC_URL; in the browser we follow the same path on the test server.
    href = await row.locator("a.open-chat").get_attribute("href")
    await page.goto(base_of(inbox) + href.removeprefix("http://127.0.0.1:8080"))
    await expect(page.locator("#chat-title")).to_have_text("Petro")
    await expect(page.locator("#messages")).to_contain_text("Here is your link")
    await expect(page.locator("#important-badge")).to_be_hidden()
    assert page.errors == []


async def test_assigning_two_of_three_selected_orders_changes_only_those_two(browser, inbox):
    first, second = inbox.shop.managers[0], inbox.shop.managers[1]
    orders = []
    for name in ("Anna", "Boris", "Chen"):
        client = await new_client(inbox.shop, name=name)
        order = await create_order(inbox.shop.account.id, client_id=client.id, offer_id=inbox.shop.offer.id, now=at(0))
        await Order.filter(id=order.id).update(order_manager_id=first.id)
        orders.append(order)
    page = await logged_in(browser, inbox, inbox.shop.admin)
    await page.goto(base_of(inbox) + "/inbox/orders")
    await expect(page.locator("body")).to_have_attribute("data-ready", "yes")
    await expect(page.locator("#orders-table tbody tr[data-order]")).to_have_count(3)
    for order in (orders[0], orders[2]):
        await page.check(f"tr[data-order='{order.id}'] input.pick")
    await page.select_option("select[name=assignee]", str(second.id))
    await page.click("#assign")
    await expect(page.locator(f"tr[data-order='{orders[0].id}'] .order-manager")).to_have_text(second.name)
    await expect(page.locator(f"tr[data-order='{orders[2].id}'] .order-manager")).to_have_text(second.name)
    await expect(page.locator(f"tr[data-order='{orders[1].id}'] .order-manager")).to_have_text(first.name)
    managers = [(await Order.get(id=o.id)).order_manager_id for o in orders]
    assert managers == [second.id, first.id, second.id]
    OUTPUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUTPUT / "orders-page.png"), full_page=True)
    assert page.errors == []


async def test_the_personal_manager_set_from_an_order_shows_on_the_clients_other_order(browser, inbox):
    client = await new_client(inbox.shop, name="Dana")
    orders = [
        await create_order(inbox.shop.account.id, client_id=client.id, offer_id=offer.id, now=at(0))
        for offer in (inbox.shop.offer, inbox.shop.flagged_offer)
    ]
    chosen = inbox.shop.managers[2]
    page = await logged_in(browser, inbox, inbox.shop.admin)
    await page.goto(base_of(inbox) + "/inbox/orders")
    await expect(page.locator("body")).to_have_attribute("data-ready", "yes")
    await page.click(f"tr[data-order='{orders[0].id}'] a.order-link")
    await page.select_option(".order-detail select[name=personal_manager]", str(chosen.id))
    await page.click(".order-detail button.save-pm")
    await expect(page.locator(f"tr[data-order='{orders[1].id}'] .personal-manager")).to_have_text(chosen.name)
    await expect(page.locator(f"tr[data-order='{orders[0].id}'] .personal-manager")).to_have_text(chosen.name)
    assert (await Client.get(id=client.id)).personal_manager_id == chosen.id
    assert page.errors == []


async def test_a_client_name_with_a_script_tag_is_shown_as_text(browser, inbox):
    name = "<script>window.hacked=1</script><img src=x onerror=window.hacked=2>"
    client = await new_client(inbox.shop, name=name)
    await dialogs.record_inbound(client, "<b>bold?</b>", now=at(1))
    page = await logged_in(browser, inbox, inbox.shop.admin)
    await page.goto(base_of(inbox) + "/inbox/?tab=all")
    await expect(page.locator("#chat-list a.client")).to_have_text(name)
    await expect(page.locator("#chat-list")).to_contain_text("<b>bold?</b>")
    await page.click("#chat-list a.client")
    await expect(page.locator("#chat-title")).to_have_text(name)
    await expect(page.locator("#card h2.client-name")).to_have_text(name)
    assert await page.evaluate("window.hacked") is None
    assert page.errors == []


async def test_pages_speak_the_employees_language(browser, inbox):
    page = await logged_in(browser, inbox, inbox.shop.managers[0])
    await page.select_option("#language", "uk")
    await expect(page.locator("#important-tab")).to_contain_text("Важливе")
    await expect(page.locator("header nav")).to_contain_text("Замовлення")
    assert page.errors == []


async def test_an_admin_sees_an_unmatched_payment_and_sends_a_parked_notification_again(browser, inbox):
    await apply_payment(PaymentNotice("generic", "astray-7", "A-7781", PaymentResult.PAID, occurred_at=at(5)))
    row = await outbox.enqueue(account_id=inbox.shop.account.id, kind=outbox.ORDER_CREATED_EMAIL,
                               dedupe_key="parked-browser", now=at(0))
    await Outbox.filter(id=row.id).update(status=OutboxStatus.PARKED, attempts=8, last_error="550 mailbox unavailable")
    page = await logged_in(browser, inbox, inbox.shop.admin)
    await page.goto(base_of(inbox) + "/inbox/settings")
    await expect(page.locator("body")).to_have_attribute("data-ready", "yes")
    await expect(page).to_have_title("Settings · closer")
    await expect(page.locator("#unmatched tbody tr[data-event]")).to_contain_text("A-7781")
    parked = page.locator(f"#parked tbody tr[data-outbox='{row.id}']")
    await expect(parked).to_contain_text("550 mailbox unavailable")
    await parked.get_by_role("button", name="Send again").click()
    await expect(parked).to_contain_text("Queued")
    # Queued again: the app's delivery worker may already have taken it (without SMTP configured, it skips mail).
    assert (await Outbox.get(id=row.id)).status in (OutboxStatus.PENDING, OutboxStatus.SKIPPED)
    assert page.errors == []


async def test_a_manager_does_not_see_what_went_astray(browser, inbox):
    page = await logged_in(browser, inbox, inbox.shop.managers[0])
    await page.goto(base_of(inbox) + "/inbox/settings")
    await expect(page.locator("body")).to_have_attribute("data-ready", "yes")
    await expect(page.locator("#astray")).to_be_hidden()
    assert page.errors == []
