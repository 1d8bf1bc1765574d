"""Canned replies in a real headless Chromium (SPEC §11.3): kept in Settings, inserted in a chat's reply box with "/"."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from sales import canned, conversations, dialogs
from sales.orders import create_order
from storage.models import CannedReply, Message
from tests.factories import at, new_client
from tests.browsing import OUTPUT, browser, chromiums, inbox, logged_in, open_page

__all__ = ["browser", "chromiums", "inbox"]  # the fixtures, tests/browsing.py

GREETING = "Hello {client_name}! I am {manager_name}, about {offer_title}. {discount} stays."
FILLED = "Hello Anna! I am Manager 0, about Course. {discount} stays."


async def _chat_of_anna(inbox) -> int:
    """Anna wrote, ordered the course, and her chat is Manager 0's."""
    shop = inbox.shop
    client = await new_client(shop, name="Anna")
    message = await dialogs.record_inbound(client, "Hi, is the course still open?", now=at(1))
    await create_order(shop.account.id, client_id=client.id, offer_id=shop.offer.id, now=at(2))
    await conversations.assign_chat(shop.admin, message.chat_id, shop.managers[0].id)
    return message.chat_id


async def test_an_admin_adds_a_reply_in_settings_and_inserts_it_filled_in_a_chat(browser, inbox):
    chat_id = await _chat_of_anna(inbox)
    await canned.add_reply(inbox.shop.owner, shortcut="bye", text="Goodbye!")
    page = await logged_in(browser, inbox, inbox.shop.admin)
    await open_page(page, inbox, "/inbox/settings")
    form = page.locator("#new-canned-reply")
    await form.locator("input[name=shortcut]").fill("Greet")
    await form.locator("textarea[name=text]").fill(GREETING)
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#flash")).to_have_text("Saved")
    rows = page.locator("#canned-replies tr[data-canned]")  # by shortcut: bye, greet
    await expect(rows).to_have_count(2)
    await expect(rows.nth(1).locator("input[name=shortcut]")).to_have_value("greet")
    await expect(rows.nth(1).locator("textarea[name=text]")).to_have_value(GREETING)
    assert await CannedReply.filter(account_id=inbox.shop.account.id, shortcut="greet", text=GREETING).exists()
    OUTPUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUTPUT / "canned-replies-settings.png"), full_page=True)

    await open_page(page, inbox, f"/inbox/chats/{chat_id}")
    box = page.locator("#reply textarea")
    await box.click()
    await box.press_sequentially("/gr")
    menu = page.locator("#canned-menu")
    await expect(menu).to_be_visible()
    await expect(menu.locator("[role=option]")).to_have_count(1)
    await expect(menu.locator("[role=option]").first).to_contain_text("/greet")
    await expect(menu).not_to_contain_text("/bye")
    await page.screenshot(path=str(OUTPUT / "canned-replies-menu.png"))
    await box.press("Enter")
    await expect(box).to_have_value(FILLED)
    await expect(menu).to_be_hidden()
    await expect(page.locator("#reply-left")).to_have_text(f"Characters left: {4096 - len(FILLED)}")
    await page.screenshot(path=str(OUTPUT / "canned-replies-inserted.png"))
    assert await Message.filter(chat_id=chat_id, direction="out").count() == 0  # inserted, not sent
    assert page.errors == []


async def _three_replies_and_the_box(browser, inbox):
    """Anna's chat open for a manager, with /agree, /greet and /bye; returns the page and its focused reply box."""
    chat_id = await _chat_of_anna(inbox)
    for shortcut, text in (("agree", "Agreed, {client_name}."), ("greet", "Hi!"), ("bye", "Bye")):
        await canned.add_reply(inbox.shop.owner, shortcut=shortcut, text=text)
    page = await logged_in(browser, inbox, inbox.shop.managers[0])
    await open_page(page, inbox, f"/inbox/chats/{chat_id}")
    box = page.locator("#reply textarea")
    await box.click()
    return page, box


async def test_the_menu_matches_shortcuts_containing_the_typed_text_and_arrows_choose(browser, inbox):
    page, box = await _three_replies_and_the_box(browser, inbox)
    await box.press_sequentially("/gre")
    options = page.locator("#canned-menu [role=option]")
    # Those starting with it first, then those containing it.
    await expect(options).to_have_count(2)
    await expect(options.nth(0)).to_have_attribute("data-shortcut", "greet")
    await expect(options.nth(1)).to_have_attribute("data-shortcut", "agree")
    await expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    await box.press("ArrowDown")
    await expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    await box.press("Enter")
    await expect(box).to_have_value("Agreed, Anna.")
    assert page.errors == []


async def test_typing_on_after_the_menu_opened_selects_the_best_match_of_what_is_typed(browser, inbox):
    """A rep who types "/", sees the menu, then "gre" gets /greet with Enter, not the first reply of the whole list."""
    page, box = await _three_replies_and_the_box(browser, inbox)
    await box.press_sequentially("/")
    options = page.locator("#canned-menu [role=option]")
    await expect(options).to_have_count(3)
    await expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    await box.press_sequentially("gre")
    await expect(options).to_have_count(2)
    await expect(options.nth(0)).to_have_attribute("data-shortcut", "greet")
    await expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    await box.press("Enter")
    await expect(box).to_have_value("Hi!")
    assert page.errors == []


async def test_a_click_inserts_a_reply_and_escape_closes_the_menu(browser, inbox):
    chat_id = await _chat_of_anna(inbox)
    await canned.add_reply(inbox.shop.owner, shortcut="greet", text="Hi {client_name}!")
    page = await logged_in(browser, inbox, inbox.shop.managers[0])
    await open_page(page, inbox, f"/inbox/chats/{chat_id}")
    box = page.locator("#reply textarea")
    menu = page.locator("#canned-menu")
    await box.click()
    await box.press_sequentially("/g")
    await expect(menu).to_be_visible()
    await box.press("Escape")
    await expect(menu).to_be_hidden()
    await box.press_sequentially("r")
    await expect(menu).to_be_hidden()  # closed until the box no longer starts with "/"
    await box.fill("")
    await box.press_sequentially("/")
    await expect(menu).to_be_visible()
    await menu.locator("[data-shortcut=greet]").click()
    await expect(box).to_have_value("Hi Anna!")
    await expect(box).to_be_focused()
    assert page.errors == []


@pytest.mark.parametrize("text", ['<img src=x onerror="document.body.dataset.hacked=1"> <b>bold</b>'])
async def test_a_manager_sees_the_replies_in_settings_as_text_and_cannot_change_them(browser, inbox, text):
    await canned.add_reply(inbox.shop.owner, shortcut="markup", text=text)
    page = await logged_in(browser, inbox, inbox.shop.managers[0])
    await open_page(page, inbox, "/inbox/settings")
    row = page.locator("#canned-replies tr[data-canned]")
    await expect(row).to_have_count(1)
    await expect(row.locator(".canned-shortcut")).to_have_text("/markup")
    await expect(row.locator(".canned-text")).to_have_text(text)
    await expect(row.locator("img, b")).to_have_count(0)
    await expect(page.locator("#new-canned-reply")).to_be_hidden()
    await expect(page.locator("#canned-replies input, #canned-replies textarea, #canned-replies button")).to_have_count(0)
    assert await page.evaluate("document.body.dataset.hacked") is None
    assert page.errors == []
