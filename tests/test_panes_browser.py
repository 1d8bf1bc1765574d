"""The inbox as one screen of three panes (issue 12 items 1, 4, 8): the tab's chats, the open conversation and the
client's card; a chat opens in place and the URL follows; a phone shows one pane at a time. In a real headless
Chromium, against the real app."""

from __future__ import annotations

import re
from pathlib import Path
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from playwright.async_api import expect

from sales import conversations, dialogs
from sales.orders import create_order, set_status
from sales.payments import PaymentNotice, apply_payment
from storage.models import Chat, Client, Employee, Message, Order, OrderComment, OrderStatus, PaymentResult
from tests.browsing import OUTPUT, SCREENSHOTS, browser, chromiums, inbox, listening, logged_in, open_page
from tests.factories import at, new_client

__all__ = ["browser", "chromiums", "inbox"]  # the fixtures (tests/browsing.py)

PHONE = {"width": 390, "height": 844}


async def _chat_of(inbox, name: str, text: str | None = None, *, now: datetime | None = None) -> int:
    """`name` wrote, and the chat is Manager 0's."""
    shop = inbox.shop
    client = await new_client(shop, name=name)
    message = await dialogs.record_inbound(client, text or f"Hi, I am {name}", now=now or at(1))
    await conversations.assign_chat(shop.admin, message.chat_id, shop.managers[0].id)
    return message.chat_id


def _row(page, chat_id: int):
    return page.locator(f"#chat-list li[data-chat='{chat_id}']")


async def test_selecting_a_chat_shows_it_without_a_page_reload_and_the_url_follows(browser, inbox):
    anna = await _chat_of(inbox, "Anna", "Is the course still on?")
    page = await logged_in(browser, inbox, inbox.shop.managers[0])
    await expect(page.locator("#chat-empty")).to_contain_text("Pick a chat on the left")
    OUTPUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUTPUT / "inbox-no-chat-open.png"))
    await page.evaluate("window.__marker = 1")
    await _row(page, anna).locator(".preview").click()
    await expect(page.locator("#chat-title")).to_have_text("Anna")
    await expect(page.locator("#messages")).to_contain_text("Is the course still on?")
    await expect(page.locator("#card h2.client-name")).to_have_text("Anna")
    await expect(_row(page, anna)).to_have_class(re.compile(r"\bselected\b"))
    await expect(page.locator("#chat-empty")).to_be_hidden()
    assert await page.evaluate("window.__marker") == 1  # the same page: nothing was reloaded
    assert re.search(rf"/inbox/chats/{anna}\?tab=mine$", page.url)
    assert page.errors == []


async def test_the_back_button_returns_to_the_list_url(browser, inbox):
    anna = await _chat_of(inbox, "Anna")
    page = await logged_in(browser, inbox, inbox.shop.managers[0])
    await page.evaluate("window.__marker = 1")
    await _row(page, anna).locator("a.client").click()
    await expect(page).to_have_url(re.compile(rf"/inbox/chats/{anna}"))
    await page.go_back()
    await expect(page).to_have_url(re.compile(r"/inbox/$"))
    await expect(page.locator("#chat-title")).to_have_count(0)
    await expect(page.locator("#chat-empty")).to_be_visible()
    await expect(_row(page, anna)).not_to_have_class(re.compile(r"\bselected\b"))
    await page.go_forward()
    await expect(page.locator("#chat-title")).to_have_text("Anna")
    assert await page.evaluate("window.__marker") == 1
    assert page.errors == []


async def test_opening_a_chat_url_directly_shows_the_list_the_chat_and_the_card(browser, inbox):
    now = datetime.now(UTC)
    shop = inbox.shop
    await _chat_of(inbox, "Olena Kovalenko", "Hello! Is the spring course still open?", now=now - timedelta(minutes=3))
    await _chat_of(inbox, "Maria Lopez", "Can I pay in two parts?", now=now - timedelta(minutes=40))
    petro = await _chat_of(inbox, "Petro Shevchenko", "Send me the invoice, please", now=now - timedelta(hours=2))
    client_id = (await Chat.get(id=petro)).client_id
    await dialogs.record_outbound(shop.managers[0], client_id, "Here it is: the link is valid for 24 hours",
                                  now=now - timedelta(minutes=90))
    await create_order(shop.account.id, client_id=client_id, offer_id=shop.flagged_offer.id,
                       now=now - timedelta(hours=3))
    await create_order(shop.account.id, client_id=client_id, offer_id=shop.offer.id, now=now - timedelta(days=20))
    page = await logged_in(browser, inbox, shop.managers[0])
    await open_page(page, inbox, f"/inbox/chats/{petro}")
    await expect(page.locator("#chat-list li[data-chat]")).to_have_count(3)
    await expect(_row(page, petro)).to_have_class(re.compile(r"\bselected\b"))
    await expect(page.locator("#chat-title")).to_have_text("Petro Shevchenko")
    await expect(page.locator("#messages")).to_contain_text("Here it is")
    await expect(page.locator("#card h2.client-name")).to_have_text("Petro Shevchenko")
    await expect(page.locator("#card .client-orders > li")).to_have_count(2)
    for pane in ("#list-pane", "#chat-pane", "#card-pane"):
        await expect(page.locator(pane)).to_be_visible()
    # Relative times, the exact one on hover; an avatar with initials.
    time = _row(page, petro).locator("time")
    await expect(time).to_have_text(re.compile(r"ago$"))
    await expect(time).to_have_attribute("title", re.compile(str(now.year)))
    await expect(_row(page, petro).locator(".avatar")).to_have_text("PS")
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "inbox-three-panes.png"))
    assert page.errors == []


async def test_a_live_message_in_the_chat_left_does_not_appear_in_the_chat_opened(browser, inbox):
    anna, boris = await _chat_of(inbox, "Anna"), await _chat_of(inbox, "Boris")
    page = await logged_in(browser, inbox, inbox.shop.managers[0])
    await listening(page)
    await _row(page, anna).locator("a.client").click()
    await expect(page.locator("body")).to_have_attribute("data-chat-ready", str(anna))
    await _row(page, boris).locator("a.client").click()
    await expect(page.locator("body")).to_have_attribute("data-chat-ready", str(boris))
    anna_client = (await Chat.get(id=anna)).client_id
    await dialogs.record_inbound(await Client.get(id=anna_client), "Anna again: are you there?")
    # The event came (Anna's row says it) and Boris's conversation stayed his.
    await expect(_row(page, anna).locator(".preview")).to_have_text("Anna again: are you there?", timeout=10_000)
    await expect(_row(page, anna).locator(".unread-badge")).to_have_text("1")  # not read by Boris's open chat
    await page.wait_for_timeout(700)  # past the chat's debounced redraws
    await expect(page.locator("#chat-title")).to_have_text("Boris")
    await expect(page.locator("#messages")).not_to_contain_text("Anna again")
    await expect(page.locator("#messages li.message")).to_have_count(1)
    assert page.errors == []


async def test_escape_closes_the_chat_and_the_url_returns_to_the_list(browser, inbox):
    anna = await _chat_of(inbox, "Anna")
    page = await logged_in(browser, inbox, inbox.shop.managers[0])
    await _row(page, anna).locator("a.client").click()
    await expect(page.locator("body")).to_have_attribute("data-chat-ready", str(anna))
    await page.keyboard.press("Escape")
    await expect(page.locator("#chat-title")).to_have_count(0)
    await expect(page.locator("#chat-empty")).to_be_visible()
    await expect(page).to_have_url(re.compile(r"/inbox/\?tab=mine$"))
    assert page.errors == []


async def test_escape_with_the_canned_menu_open_closes_only_the_menu(browser, inbox):
    from sales import canned

    anna = await _chat_of(inbox, "Anna")
    await canned.add_reply(inbox.shop.owner, shortcut="greet", text="Hi {client_name}!")
    page = await logged_in(browser, inbox, inbox.shop.managers[0])
    await open_page(page, inbox, f"/inbox/chats/{anna}")
    box = page.locator("#reply textarea")
    await box.click()
    await box.press_sequentially("/g")
    await expect(page.locator("#canned-menu")).to_be_visible()
    await box.press("Escape")
    await expect(page.locator("#canned-menu")).to_be_hidden()
    await expect(page.locator("#chat-title")).to_have_text("Anna")
    await box.press("Escape")
    await expect(page.locator("#chat-title")).to_have_count(0)
    assert page.errors == []


async def test_enter_sends_and_shift_enter_starts_a_new_line(browser, inbox):
    anna = await _chat_of(inbox, "Anna")
    page = await logged_in(browser, inbox, inbox.shop.managers[0])
    await open_page(page, inbox, f"/inbox/chats/{anna}")
    box = page.locator("#reply textarea")
    await box.press_sequentially("Yes, it is")
    await box.press("Shift+Enter")
    await box.press_sequentially("See you")
    await expect(box).to_have_value("Yes, it is\nSee you")
    await box.press("Enter")
    await expect(page.locator("#messages li.message.out")).to_have_count(1)
    await expect(box).to_have_value("")
    assert await Message.filter(chat_id=anna, direction="out", text="Yes, it is\nSee you").count() == 1
    assert page.errors == []


async def test_switching_chats_in_place_keeps_each_chats_draft(browser, inbox):
    anna, boris = await _chat_of(inbox, "Anna"), await _chat_of(inbox, "Boris")
    page = await logged_in(browser, inbox, inbox.shop.managers[0])
    box = page.locator("#reply textarea")
    await _row(page, anna).locator("a.client").click()
    await expect(page.locator("body")).to_have_attribute("data-chat-ready", str(anna))
    await box.press_sequentially("Half a thought for Anna")
    await _row(page, boris).locator("a.client").click()
    await expect(page.locator("body")).to_have_attribute("data-chat-ready", str(boris))
    await expect(box).to_have_value("")
    await box.press_sequentially("Boris gets this")
    await _row(page, anna).locator("a.client").click()
    await expect(page.locator("body")).to_have_attribute("data-chat-ready", str(anna))
    await expect(box).to_have_value("Half a thought for Anna")
    await page.go_back()
    await expect(page.locator("body")).to_have_attribute("data-chat-ready", str(boris))
    await expect(box).to_have_value("Boris gets this")
    await expect(page.locator("#reply")).to_have_count(1)
    assert await Message.filter(direction="out").count() == 0
    assert page.errors == []


async def test_a_phone_shows_one_pane_at_a_time_and_back_returns_to_the_list(browser, inbox):
    now = datetime.now(UTC)
    anna = await _chat_of(inbox, "Anna Bondarenko", "Is the course still on?", now=now - timedelta(minutes=5))
    await _chat_of(inbox, "Boris Melnyk", "Thanks, all clear", now=now - timedelta(hours=1))
    client_id = (await Chat.get(id=anna)).client_id
    await create_order(inbox.shop.account.id, client_id=client_id, offer_id=inbox.shop.offer.id,
                       now=now - timedelta(hours=2))
    page = await logged_in(browser, inbox, inbox.shop.managers[0])
    await page.set_viewport_size(PHONE)
    list_pane, chat_pane, card_pane = (page.locator(p) for p in ("#list-pane", "#chat-pane", "#card-pane"))
    await expect(list_pane).to_be_visible()
    await expect(chat_pane).to_be_hidden()
    await expect(card_pane).to_be_hidden()
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "inbox-phone-list.png"))
    await _row(page, anna).locator(".preview").click()
    await expect(page.locator("body")).to_have_attribute("data-chat-ready", str(anna))
    await expect(chat_pane).to_be_visible()
    await expect(list_pane).to_be_hidden()
    await expect(card_pane).to_be_hidden()
    # Nothing wider than the phone.
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await page.screenshot(path=str(SCREENSHOTS / "inbox-phone-chat.png"))
    await page.click("#client-toggle")
    await expect(card_pane).to_be_visible()
    await expect(chat_pane).to_be_hidden()
    await expect(page.locator("#card h2.client-name")).to_have_text("Anna Bondarenko")
    await page.click(".card-back")
    await expect(chat_pane).to_be_visible()
    await page.click("#chat-back")
    await expect(list_pane).to_be_visible()
    await expect(chat_pane).to_be_hidden()
    await expect(page).to_have_url(re.compile(r"/inbox/\?tab=mine$"))
    assert page.errors == []


async def test_the_header_fits_one_line_at_1280_px_for_an_admin(browser, inbox):
    page = await logged_in(browser, inbox, inbox.shop.owner)
    OUTPUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUTPUT / "inbox-admin-header-1280.png"))
    header = await page.locator("header").bounding_box()
    assert header["height"] <= 52
    logout = await page.locator("#logout").bounding_box()
    assert logout["x"] + logout["width"] <= 1280
    nav = page.locator("header nav")
    assert await nav.evaluate("n => n.scrollWidth <= n.clientWidth")  # every item shown, none scrolled away
    assert page.errors == []


async def test_pages_reference_versioned_static_files_served_as_immutable(browser, inbox):
    page = await logged_in(browser, inbox, inbox.shop.managers[0])
    sources = await page.eval_on_selector_all("script[src], link[rel=stylesheet]",
                                              "nodes => nodes.map(n => n.getAttribute('src') || n.getAttribute('href'))")
    assert sources and all(re.fullmatch(r"/inbox/static/[\w.]+\?v=[0-9a-f]{12}", s) for s in sources), sources
    app_js = next(s for s in sources if "/app.js?" in s)
    versioned = await inbox.client.get(app_js)
    assert versioned.status == 200
    assert versioned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    plain = await inbox.client.get("/inbox/static/app.js")
    assert plain.status == 200
    assert plain.headers["Cache-Control"] == "no-cache"
    stale = await inbox.client.get("/inbox/static/app.js?v=000000000000")
    assert stale.headers["Cache-Control"] == "no-cache"
    assert page.errors == []


def test_no_template_names_a_static_file_without_its_version():
    templates = Path(__file__).resolve().parent.parent / "inbox" / "templates"
    unversioned = [path.name for path in templates.glob("*.html") if "/inbox/static/" in path.read_text()]
    assert unversioned == []


async def test_a_rep_corrects_the_clients_e_mail_and_phone_in_the_card(browser, inbox):
    chat_id = await _chat_of(inbox, "Anna")
    client_id = (await Chat.get(id=chat_id)).client_id
    page = await logged_in(browser, inbox, inbox.shop.admin)
    await open_page(page, inbox, f"/inbox/chats/{chat_id}")
    await page.locator("#card .contact-edit summary").click()
    form = page.locator("#card .contact-form")
    await form.locator("input[name=email]").fill("Anna.New@Example.com")
    await form.locator("input[name=phone]").fill("+380 50 123 4567")
    await form.locator("button.save-contact").click()
    await expect(page.locator("#card .card-head")).to_contain_text("anna.new@example.com")
    await expect(page.locator("#card .card-head")).to_contain_text("+380 50 123 4567")
    client = await Client.get(id=client_id)
    assert (client.email, client.phone) == ("anna.new@example.com", "+380 50 123 4567")
    assert page.errors == []


async def test_a_comment_and_a_cancel_from_the_card_reach_the_order(browser, inbox):
    shop = inbox.shop
    chat_id = await _chat_of(inbox, "Anna")
    client_id = (await Chat.get(id=chat_id)).client_id
    order = await create_order(shop.account.id, client_id=client_id, offer_id=shop.offer.id, now=at(2))
    manager = await Employee.get(id=order.order_manager_id) if order.order_manager_id else shop.admin
    page = await logged_in(browser, inbox, manager)
    await open_page(page, inbox, f"/inbox/chats/{chat_id}")
    item = page.locator(f"#card .client-orders li[data-order='{order.id}']")
    await expect(item.locator(".order-status")).to_have_text("New")
    work = item.locator(".order-work")
    await expect(work.locator("a.open-order")).to_have_attribute("href", f"/inbox/orders?order={order.id}")
    await work.locator("textarea[name=comment]").fill("Called: pays on Friday")
    await work.locator("button.add-comment").click()
    await expect(page.locator("#flash")).to_have_text("Comment added")
    await expect(item.locator(".order-work .comments")).to_contain_text("Called: pays on Friday")
    assert await OrderComment.filter(order_id=order.id, text="Called: pays on Friday").count() == 1
    cancel = item.locator("button.cancel-order")
    await cancel.click()
    await expect(cancel).to_have_text(f"Cancel order #{order.id}?")  # the first click asks
    assert (await Order.get(id=order.id)).status == OrderStatus.NEW
    await cancel.click()
    await expect(page.locator("#flash")).to_have_text("Order cancelled")
    await expect(item.locator(".order-status")).to_have_text("Cancelled")
    await expect(item.locator("button.cancel-order")).to_have_count(0)
    assert (await Order.get(id=order.id)).status == OrderStatus.CANCELLED
    assert page.errors == []


async def test_a_manager_sees_no_order_actions_on_a_colleagues_order(browser, inbox):
    shop = inbox.shop
    chat_id = await _chat_of(inbox, "Anna")
    client_id = (await Chat.get(id=chat_id)).client_id
    order = await create_order(shop.account.id, client_id=client_id, offer_id=shop.offer.id, now=at(2))
    others = [m for m in shop.managers if m.id != order.order_manager_id]
    await conversations.assign_chat(shop.admin, chat_id, others[0].id)
    page = await logged_in(browser, inbox, others[0])
    await open_page(page, inbox, f"/inbox/chats/{chat_id}")
    item = page.locator(f"#card .client-orders li[data-order='{order.id}']")
    await expect(item.locator(".order-work .audit")).to_be_attached()
    await expect(item.locator("button.cancel-order, button.add-comment, button.link-sent")).to_have_count(0)
    assert page.errors == []


async def test_the_cards_order_history_shows_a_cancel_by_hand_and_the_payments_in_words(browser, inbox):
    shop = inbox.shop
    chat_id = await _chat_of(inbox, "Anna")
    client_id = (await Chat.get(id=chat_id)).client_id
    order = await create_order(shop.account.id, client_id=client_id, offer_id=shop.flagged_offer.id, now=at(2))
    await apply_payment(PaymentNotice("generic", "ev-1", str(order.id), PaymentResult.FAILED, occurred_at=at(3),
                                      amount=Decimal("200.00"), currency="EUR", reason="card_declined"), now=at(3))
    await set_status(shop.admin, order.id, OrderStatus.CANCELLED, now=at(4))
    await apply_payment(PaymentNotice("generic", "ev-2", str(order.id), PaymentResult.FAILED, occurred_at=at(5),
                                      amount=Decimal("200.00"), currency="EUR", reason="no_such_code"), now=at(5))
    page = await logged_in(browser, inbox, shop.managers[0])
    await open_page(page, inbox, f"/inbox/chats/{chat_id}")
    item = page.locator(f"#card .client-orders li[data-order='{order.id}']")
    await expect(item.locator(".order-status")).to_have_text("Cancelled")
    await expect(item.locator(":scope > .reason")).to_have_count(0)  # the failure is history now, not its state
    await item.locator("button.order-open").click()
    audit = item.locator(".order-work .audit")
    failed = audit.locator("li[data-kind=payment]").first
    await expect(failed).to_contain_text("Payment failed: €200.00 · Card declined")
    await expect(failed.locator(".failure-reason")).to_have_attribute("title", "card_declined")
    await expect(failed).to_have_css("color", "rgb(198, 40, 40)")
    status = audit.locator("li[data-kind=status]")
    await expect(status).to_have_count(1)
    await expect(status).to_contain_text("Status: Failed → Cancelled · Admin")
    late = audit.locator("li[data-kind=payment]").last
    await expect(late).to_contain_text("Payment failed: €200.00 · no_such_code")  # an unknown code as it came
    await expect(late.locator(".ignored-note")).to_have_text(" (ignored: the order was cancelled)")
    await expect(audit.locator("li[data-kind=assignment]")).not_to_have_count(0)
    kinds = await audit.locator(":scope > li").evaluate_all("items => items.map(i => i.dataset.kind)")
    assert kinds[-3:] == ["payment", "status", "payment"]  # in time order
    assert "None" not in await audit.inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.locator("#card").screenshot(path=str(SCREENSHOTS / "order-history.png"))
    assert page.errors == []
