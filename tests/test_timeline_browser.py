"""The chat page's timeline and note composer (SPEC §11.2, §11.4) in a real headless Chromium, against the real app."""

from __future__ import annotations

import re

from playwright.async_api import expect

from sales import conversations, dialogs
from sales.notes import add_note
from sales.orders import create_order
from sales.payments import PaymentNotice, apply_payment
from storage.models import Chat, ChatNote, Client, Message, Order, OrderStatus, PaymentResult
from tests.browsing import OUTPUT, SCREENSHOTS, browser, chromiums, inbox, listening, logged_in, open_page
from tests.factories import at, new_client

__all__ = ["browser", "chromiums", "inbox"]  # the fixtures (tests/browsing.py)


async def _petro(inbox) -> Chat:
    """A client who asked, ordered a flagged course, was answered, is the subject of a note, and whose payment
    failed; his chat is Manager 0's."""
    shop = inbox.shop
    client = await new_client(shop, name="Petro")
    message = await dialogs.record_inbound(client, "Can I pay in two parts?", now=at(1))
    await conversations.assign_chat(shop.admin, message.chat_id, shop.managers[0].id, now=at(1.5))
    order = await create_order(shop.account.id, client_id=client.id, offer_id=shop.flagged_offer.id, now=at(2))
    await dialogs.record_outbound(shop.managers[0], client.id, "Yes: here is the first link", now=at(3))
    await add_note(shop.admin, message.chat_id, "He paid late last year too; be patient", now=at(4))
    await apply_payment(PaymentNotice("generic", "fail-1", str(order.id), PaymentResult.FAILED, occurred_at=at(5),
                                      reason="insufficient_funds"), now=at(5))
    return await Chat.get(id=message.chat_id)


async def test_the_chat_shows_notes_orders_and_a_failed_payment_and_the_note_toggle_adds_a_note(browser, inbox):
    chat = await _petro(inbox)
    manager = inbox.shop.managers[0]
    page = await logged_in(browser, inbox, manager)
    await open_page(page, inbox, f"/inbox/chats/{chat.id}")
    timeline = page.locator("#messages")
    note = timeline.locator("li.note")
    await expect(note).to_have_count(1)
    await expect(note.locator(".note-label")).to_have_text("Note")
    await expect(note.locator(".author")).to_have_text("Admin")
    await expect(note.locator(".text")).to_have_text("He paid late last year too; be patient")
    await expect(note).to_have_css("background-color", "rgb(255, 246, 194)")
    order = timeline.locator("li[data-kind=order_created]")
    await expect(order).to_contain_text("Order created")
    await expect(order).to_contain_text("Flagged course")
    await expect(order).to_contain_text("€200.00")  # as the card and the Important row write money
    failed = timeline.locator("li[data-kind=payment].failed")
    await expect(failed).to_contain_text("The payment failed")
    await expect(failed).to_contain_text("Reason: Insufficient funds")  # in words, the code in its title
    await expect(failed.locator(".failure-reason")).to_have_attribute("title", "insufficient_funds")
    await expect(failed).to_have_css("color", "rgb(198, 40, 40)")
    # In time order, the messages as before among them.
    kinds = await timeline.locator(":scope > li").evaluate_all("items => items.map(i => i.dataset.kind)")
    assert kinds == ["message", "assignment", "order_created", "assignment", "message", "note", "payment"]
    await expect(timeline.locator("li.message.out .text")).to_have_text("Yes: here is the first link")

    # The Note toggle: the reply box becomes a note box; Enter adds it, Shift+Enter is a new line.
    send = page.locator("#reply button[type=submit]")
    await expect(send).to_have_text("Send")
    await page.click("#note-toggle")
    await expect(page.locator("#reply")).to_have_class("note-mode")
    await expect(page.locator("#note-toggle")).to_have_attribute("aria-pressed", "true")
    await expect(send).to_have_text("Add note")
    box = page.locator("#reply textarea")
    await expect(box).to_have_attribute("placeholder", "Write a note for the team: the client does not see it")
    await box.type("Promised to pay on Friday,")
    await box.press("Shift+Enter")
    await box.type("@Admin please check")
    await box.press("Enter")
    await expect(note).to_have_count(2)
    await expect(note.last.locator(".text")).to_have_text("Promised to pay on Friday,\n@Admin please check")
    await expect(note.last.locator(".author")).to_have_text(manager.name)
    await expect(note.last.locator(".mentioned")).to_have_text("@Admin")
    await expect(box).to_have_value("")
    stored = await ChatNote.filter(chat_id=chat.id).order_by("-id").first()
    assert (stored.employee_id, stored.mentioned) == (manager.id, [inbox.shop.admin.id])
    assert await Message.filter(chat_id=chat.id).count() == 2  # nothing went to the client
    OUTPUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUTPUT / "chat-timeline.png"))
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "chat-timeline.png"))
    # Back to replying: Send writes to the client again.
    await page.click("#note-toggle")
    await expect(send).to_have_text("Send")
    await box.fill("See you on Friday")
    await send.click()
    await expect(timeline.locator("li.message.out")).to_have_count(2)
    assert await Message.filter(chat_id=chat.id, direction="out").count() == 2
    assert page.errors == []


async def test_a_colleagues_note_and_a_new_order_appear_without_a_reload(browser, inbox):
    chat = await _petro(inbox)
    page = await logged_in(browser, inbox, inbox.shop.managers[0])
    await open_page(page, inbox, f"/inbox/chats/{chat.id}")
    await listening(page)
    await add_note(inbox.shop.admin, chat.id, "Offer him the installment plan")
    await expect(page.locator("#messages li.note")).to_have_count(2, timeout=10_000)
    await expect(page.locator("#messages li.note").last).to_contain_text("Offer him the installment plan")
    await create_order(inbox.shop.account.id, client_id=chat.client_id, offer_id=inbox.shop.offer.id)
    await expect(page.locator("#messages li[data-kind=order_created]")).to_have_count(2, timeout=10_000)
    assert page.errors == []


async def test_a_note_naming_a_colleague_shows_him_a_toast_wherever_he_is(browser, inbox):
    chat = await _petro(inbox)
    page = await logged_in(browser, inbox, inbox.shop.managers[0])  # on his tabs, not in the chat
    await listening(page)
    await add_note(inbox.shop.admin, chat.id, "@Manager 0 can you call Petro?")
    toast = page.locator("#toasts .toast")
    await expect(toast).to_contain_text("You were mentioned in a note: Petro", timeout=10_000)
    await expect(toast.locator("a")).to_have_attribute("href", f"/inbox/chats/{chat.id}")
    assert page.errors == []


async def test_older_entries_load_when_scrolling_to_the_top_and_the_view_stays_put(browser, inbox):
    client = await new_client(inbox.shop, name="Talkative")
    for minute in range(80):
        message = await dialogs.record_inbound(client, f"message number {minute}", now=at(minute))
    await conversations.assign_chat(inbox.shop.admin, message.chat_id, inbox.shop.managers[1].id, now=at(90))
    page = await logged_in(browser, inbox, inbox.shop.managers[1])
    await open_page(page, inbox, f"/inbox/chats/{message.chat_id}")
    timeline = page.locator("#messages")
    entries = timeline.locator(":scope > li")
    await expect(entries).to_have_count(50)  # the newest page
    await expect(entries.last).to_contain_text("Assignee")
    first = timeline.locator("li.message .text").filter(has_text=re.compile(r"^message number 31$"))
    await expect(entries.first).to_contain_text("message number 31")
    await timeline.evaluate("list => { list.scrollTop = 0; }")
    await expect(entries).to_have_count(82)  # 80 messages, the routing and the manual assignment
    await expect(entries.first).to_contain_text("message number 0")
    # What was at the top is still in view: the older page went above it.
    top = await timeline.evaluate("list => list.scrollTop")
    assert top > 0
    assert await first.is_visible()
    box, view = await first.bounding_box(), await timeline.bounding_box()
    assert view["y"] - 5 <= box["y"] <= view["y"] + view["height"]
    assert page.errors == []


async def test_a_note_with_markup_is_shown_as_text(browser, inbox):
    chat = await _petro(inbox)
    await add_note(inbox.shop.admin, chat.id, "<img src=x onerror=window.hacked=1><b>not bold</b>")
    page = await logged_in(browser, inbox, inbox.shop.admin)
    await open_page(page, inbox, f"/inbox/chats/{chat.id}")
    await expect(page.locator("#messages li.note").last.locator(".text")).to_have_text(
        "<img src=x onerror=window.hacked=1><b>not bold</b>")
    await expect(page.locator("#messages li.note img, #messages li.note b")).to_have_count(0)
    assert await page.evaluate("window.hacked") is None
    assert page.errors == []


async def test_the_timelines_money_is_written_as_the_card_writes_it(browser, inbox):
    chat = await _petro(inbox)
    page = await logged_in(browser, inbox, inbox.shop.managers[0])
    await open_page(page, inbox, f"/inbox/chats/{chat.id}")
    card_amount = page.locator("#card .client-orders li[data-order] .amount")
    await expect(card_amount).to_have_text("€200.00")
    failed = page.locator("#messages li[data-kind=payment]")
    await expect(failed).to_contain_text(f"· {await card_amount.inner_text()}")
    await expect(failed).not_to_contain_text("EUR")
    await expect(page.locator("#messages li[data-kind=order_created]")).not_to_contain_text("EUR")
    assert page.errors == []


async def test_cancelling_from_the_card_updates_the_order_line_in_the_timeline_without_a_reload(browser, inbox):
    chat = await _petro(inbox)
    page = await logged_in(browser, inbox, inbox.shop.admin)
    await open_page(page, inbox, f"/inbox/chats/{chat.id}")
    line = page.locator("#messages li[data-kind=order_created]")
    await expect(line).to_contain_text("Failed")
    await page.evaluate("window.notReloaded = true")
    cancel = page.locator("#card button.cancel-order")
    await cancel.click()
    await cancel.click()  # the first click asks
    await expect(page.locator("#flash")).to_have_text("Order cancelled")
    await expect(line).to_contain_text("Cancelled")
    await expect(line).not_to_contain_text("Failed")
    assert await page.evaluate("window.notReloaded") is True
    assert page.errors == []


async def test_a_payment_made_while_the_chat_is_open_shows_in_the_card_and_the_timeline_without_a_reload(
        browser, inbox):
    chat = await _petro(inbox)
    # An offer not flagged: its payment rings no bell, so only the order's own event can redraw the screen.
    order = await create_order(inbox.shop.account.id, client_id=chat.client_id, offer_id=inbox.shop.offer.id,
                               now=at(5.5))
    page = await logged_in(browser, inbox, inbox.shop.managers[0])
    await open_page(page, inbox, f"/inbox/chats/{chat.id}")
    await listening(page)
    in_card = page.locator(f"#card li[data-order='{order.id}']")
    await expect(in_card.locator(".order-status")).to_have_text("New")
    await page.evaluate("window.notReloaded = true")
    await apply_payment(PaymentNotice("generic", "paid-1", str(order.id), PaymentResult.PAID, occurred_at=at(6)),
                        now=at(6))
    await expect(in_card.locator(".order-status")).to_have_text("Paid", timeout=10_000)
    await expect(page.locator("#messages li[data-kind=order_created]").last).to_contain_text("Paid")
    assert await page.evaluate("window.notReloaded") is True
    assert page.errors == []


async def test_a_live_change_waits_while_the_card_is_being_edited_and_shows_once_it_is_saved(browser, inbox):
    chat = await _petro(inbox)
    order = await Order.get(client_id=chat.client_id)
    page = await logged_in(browser, inbox, inbox.shop.managers[0])
    await open_page(page, inbox, f"/inbox/chats/{chat.id}")
    await listening(page)
    notes = page.locator("#card textarea[name=notes]")
    await notes.fill("Prefers calls after six")
    await apply_payment(PaymentNotice("generic", "paid-1", str(order.id), PaymentResult.PAID, occurred_at=at(6)),
                        now=at(6))
    # The timeline follows at once; the card keeps what he typed.
    await expect(page.locator("#messages li[data-kind=order_created]")).to_contain_text("Paid", timeout=10_000)
    status = page.locator(f"#card li[data-order='{order.id}'] .order-status")
    await expect(status).to_have_text("Failed")
    await expect(notes).to_have_value("Prefers calls after six")
    await page.click("#card button.save-notes")
    await expect(page.locator("#flash")).to_have_text("Saved")
    await page.locator("#reply textarea").focus()  # leaving the card
    await expect(status).to_have_text("Paid")
    assert (await Client.get(id=chat.client_id)).notes == "Prefers calls after six"
    assert page.errors == []


async def test_payment_link_sent_from_the_card_makes_a_new_order_await_payment_and_counts_as_an_action(
        browser, inbox):
    chat = await _petro(inbox)
    order = await create_order(inbox.shop.account.id, client_id=chat.client_id, offer_id=inbox.shop.offer.id,
                               now=at(5.5))
    manager = (await Order.get(id=order.id).prefetch_related("order_manager")).order_manager
    page = await logged_in(browser, inbox, manager)
    await open_page(page, inbox, f"/inbox/chats/{chat.id}")
    in_card = page.locator(f"#card li[data-order='{order.id}']")
    await expect(in_card.locator(".order-status")).to_have_text("New")
    await page.evaluate("window.notReloaded = true")
    await in_card.locator("button.link-sent").click()  # the newest open order shows its work at once
    await expect(page.locator("#flash")).to_have_text("Saved")
    await expect(in_card.locator(".order-status")).to_have_text("Awaiting payment")
    await expect(page.locator("#messages li[data-kind=order_created]").last).to_contain_text("Awaiting payment")
    stored = await Order.get(id=order.id)
    assert stored.status == OrderStatus.AWAITING_PAYMENT and stored.last_action_at is not None
    assert await page.evaluate("window.notReloaded") is True
    assert page.errors == []
