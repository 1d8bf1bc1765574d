"""The reply box keeps its draft per chat and per mode while one switches (issue 12), in a real headless Chromium."""

from __future__ import annotations

from playwright.async_api import expect

from sales import conversations, dialogs
from storage.models import ChatNote, Message
from tests.browsing import browser, chromiums, inbox, logged_in, open_page
from tests.factories import at, new_client

__all__ = ["browser", "chromiums", "inbox"]  # the fixtures, tests/browsing.py

MAX = 4096  # Telegram's limit, the counter's start


async def _chat_of(inbox, name: str) -> int:
    """`name` wrote, and the chat is Manager 0's."""
    shop = inbox.shop
    client = await new_client(shop, name=name)
    message = await dialogs.record_inbound(client, f"Hi, I am {name}", now=at(1))
    await conversations.assign_chat(shop.admin, message.chat_id, shop.managers[0].id)
    return message.chat_id


async def test_a_draft_stays_with_its_chat_while_another_is_opened(browser, inbox):
    anna, boris = await _chat_of(inbox, "Anna"), await _chat_of(inbox, "Boris")
    page = await logged_in(browser, inbox, inbox.shop.managers[0])
    box, left = page.locator("#reply textarea"), page.locator("#reply-left")
    await open_page(page, inbox, f"/inbox/chats/{anna}")
    await box.press_sequentially("Half a thought for Anna")
    await open_page(page, inbox, f"/inbox/chats/{boris}")
    await expect(box).to_have_value("")
    await expect(left).to_have_text(f"Characters left: {MAX}")
    await box.fill("Boris gets this")
    await open_page(page, inbox, f"/inbox/chats/{anna}")
    await expect(box).to_have_value("Half a thought for Anna")
    await expect(left).to_have_text(f"Characters left: {MAX - len('Half a thought for Anna')}")
    await open_page(page, inbox, f"/inbox/chats/{boris}")
    await expect(box).to_have_value("Boris gets this")
    assert await Message.filter(direction="out").count() == 0  # kept, not sent
    assert page.errors == []


async def test_a_sent_message_takes_its_draft_with_it(browser, inbox):
    chat = await _chat_of(inbox, "Anna")
    page = await logged_in(browser, inbox, inbox.shop.managers[0])
    await open_page(page, inbox, f"/inbox/chats/{chat}")
    box = page.locator("#reply textarea")
    await box.press_sequentially("See you on Friday")
    await page.locator("#reply button[type=submit]").click()
    await expect(page.locator("#messages li.message.out")).to_have_count(1)
    await expect(box).to_have_value("")
    await page.reload()
    await expect(page.locator("body")).to_have_attribute("data-ready", "yes")
    await expect(box).to_have_value("")
    await expect(page.locator("#reply-left")).to_have_text(f"Characters left: {MAX}")
    assert await Message.filter(chat_id=chat, direction="out", text="See you on Friday").count() == 1
    assert page.errors == []


async def test_a_note_draft_and_a_reply_draft_are_kept_apart(browser, inbox):
    chat = await _chat_of(inbox, "Anna")
    page = await logged_in(browser, inbox, inbox.shop.managers[0])
    await open_page(page, inbox, f"/inbox/chats/{chat}")
    box, left, toggle = page.locator("#reply textarea"), page.locator("#reply-left"), page.locator("#note-toggle")
    await box.press_sequentially("Reply to Anna")
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-pressed", "true")
    await expect(box).to_have_value("")
    await expect(left).to_have_text(f"Characters left: {MAX}")
    await box.press_sequentially("Note: she pays Friday")
    await toggle.click()
    await expect(box).to_have_value("Reply to Anna")
    await expect(left).to_have_text(f"Characters left: {MAX - len('Reply to Anna')}")
    await toggle.click()
    await expect(box).to_have_value("Note: she pays Friday")
    # Reopened, the page starts in reply mode with the reply's draft; the note's waits behind the toggle.
    await open_page(page, inbox, f"/inbox/chats/{chat}")
    await expect(box).to_have_value("Reply to Anna")
    await toggle.click()
    await expect(box).to_have_value("Note: she pays Friday")
    # The note added: its draft goes, the reply's stays.
    await box.press("Enter")
    await expect(page.locator("#messages li.note")).to_have_count(1)
    await expect(box).to_have_value("")
    assert await ChatNote.filter(chat_id=chat, text="Note: she pays Friday").count() == 1
    await open_page(page, inbox, f"/inbox/chats/{chat}")
    await expect(box).to_have_value("Reply to Anna")
    await toggle.click()
    await expect(box).to_have_value("")
    assert await Message.filter(chat_id=chat, direction="out").count() == 0
    assert page.errors == []


async def test_a_draft_survives_a_reload_of_the_tab(browser, inbox):
    chat = await _chat_of(inbox, "Anna")
    manager = inbox.shop.managers[0]
    page = await logged_in(browser, inbox, manager)
    await open_page(page, inbox, f"/inbox/chats/{chat}")
    box = page.locator("#reply textarea")
    await box.press_sequentially("Typed, then reloaded")
    # Saved as typed (a moment after the last key), under the employee, the chat and the mode.
    await page.wait_for_function("key => sessionStorage.getItem(key) === 'Typed, then reloaded'",
                                 arg=f"closer:draft:{manager.id}:{chat}:reply")
    await page.reload()
    await expect(page.locator("body")).to_have_attribute("data-ready", "yes")
    await expect(box).to_have_value("Typed, then reloaded")
    await expect(page.locator("#reply-left")).to_have_text(f"Characters left: {MAX - len('Typed, then reloaded')}")
    assert page.errors == []
