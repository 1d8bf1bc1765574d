"""Every kind of link closer sends an employee opens exactly what it names (issue 12, item 5).

The real app with its bot (webhook mode, the Bot API emulator) and its e-mail channel (an SMTP server on 127.0.0.1),
its PUBLIC_URL the app's own address: each link is taken from what was really sent — a Telegram button's url as the
emulator recorded it, the text of a bot answer, the body of an e-mail, a field of the API — and followed in headless
Chromium as the employee it was sent to. Kinds: *Open chat* of a lead ping, of a forwarded client message, of a note
mention and of the unanswered-chat alert; *Open chat* and *Open offer* of the important alert; the chat links of the
/important command; *Open order* of the new-order ping and the link of the new-order e-mail; the API's `chat_url`,
`offer_url` and `order_url`; a message's file `url`. The important-alert kinds run in Russian.
"""

from __future__ import annotations

import re
from email.header import decode_header, make_header
from dataclasses import dataclass
from datetime import timedelta

import pytest
from aiohttp.test_utils import unused_port
from aiosmtpd.controller import Controller
from playwright.async_api import Page, expect

from closer.app import create_app
from core import links
from core.config import Settings
from core.i18n import make_i18n
from harness.processes import free_port
from sales import accounts, dialogs
from sales.clock import utcnow
from sales.conversations import sweep_unanswered
from sales.notes import add_note
from sales.orders import create_order
from sales.payments import PaymentNotice, apply_payment
from storage.db import close_database, open_database
from storage.models import Attachment, Chat, Employee, ImportantItem, Message, Order, PaymentResult
from telegram_emulator.app import create_emulator_app
from telegram_emulator.world import World
from tests.apitools import PASSWORD, password_hash
from tests.browsing import Pages, chromium, chromiums, logged_in  # noqa: F401 (a fixture)
from tests.test_bot_e2e import BOT_ID, CUSTOMER, STAFF, TOKEN, Stack, _seed, eventually, order_winter_tyres
from tests.test_email_delivery import Mailbox
from tests.dbtools import fresh_sqlite

OWNER_USER = 2999  # the owner's Telegram user id (the managers' are STAFF)
PDF = b"%PDF-1.7\n" + b"the price list " * 200


@dataclass
class Linked:
    stack: Stack
    base: str  # the app's address, and its PUBLIC_URL
    mailbox: Mailbox
    browser: Pages

    async def employee(self, index: int | str) -> Employee:
        if index == "owner":
            return await Employee.get(id=self.stack.owner_id)
        return await Employee.get(id=self.stack.manager_ids[index])

    def sent_to(self, user_id: int, has: str) -> dict | None:
        """The newest message the bot sent `user_id` whose text contains `has`."""
        return next((m for m in reversed(self.stack.chat(user_id))
                     if m["from_bot"] and has in (m.get("text") or m.get("caption") or "")), None)

    def linking(self, user_id: int, kind: str) -> dict | None:
        """The newest message the bot sent `user_id` with a button to /inbox/{kind}/…, whatever its words."""
        return next((m for m in reversed(self.stack.chat(user_id)) if m["from_bot"] and m.get("reply_markup")
                     and any(f"/inbox/{kind}" in url for url in button_urls(m))), None)


@pytest.fixture
async def linked(tmp_path, aiohttp_server, chromiums):  # noqa: F811 (the fixture imported above)
    world = World()
    world.add_bot(TOKEN, username="closer_e2e_bot")
    emulator = await aiohttp_server(create_emulator_app(world, retry_delay=0.05))
    url = await fresh_sqlite(tmp_path / "links.db")
    ctx = await open_database(url)
    stack = await _seed(world)
    world.add_user(OWNER_USER, "Owner")
    world.started.add((BOT_ID, OWNER_USER))
    await Employee.filter(id=stack.owner_id).update(telegram_user_id=OWNER_USER, telegram_chat_id=OWNER_USER)
    await Employee.all().update(password_hash=password_hash())
    await close_database(ctx)
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    port = unused_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=url, telegram_api_url=str(emulator.make_url("")).rstrip("/"), bot_token=TOKEN,
        public_url=base, webhook_base_url=base, smtp_url=f"smtp://127.0.0.1:{smtp.port}",
        mail_from="closer@links.test", files_dir=tmp_path / "files",
    )
    await aiohttp_server(create_app(settings, scheduler=False), port=port)
    try:
        # Closed before the app stops (this fixture's teardown runs before aiohttp_server's).
        async with chromium(chromiums) as browser:
            yield Linked(stack, base, mailbox, browser)
    finally:
        smtp.stop()


def button_urls(message: dict) -> list[str]:
    return [b["url"] for row in message["reply_markup"].get("inline_keyboard", []) for b in row if b.get("url")]


def button_url(message: dict, kind: str) -> str:
    """The one button of `message` that links to `kind` (chats, offers, orders…), whatever its words."""
    [url] = [u for u in button_urls(message) if f"/inbox/{kind}" in u]
    return url


async def follow(page: Page, linked: Linked, url: str) -> None:
    assert url.startswith(linked.base + "/inbox/"), url  # PUBLIC_URL: the address employees reach the app at
    await page.goto(url)
    await expect(page.locator("body")).to_have_attribute("data-ready", "yes")


async def shows_chat(page: Page, name: str, last_text: str) -> None:
    await expect(page.locator("#chat-title")).to_have_text(name, timeout=10_000)
    await expect(page.locator("#messages")).to_contain_text(last_text, timeout=10_000)


async def shows_order(page: Page, order_id: int) -> None:
    """The orders page with this order's row and its details open right under it (app.js, ?order=N), and no other
    order's details."""
    row = page.locator(f"#orders-table tr[data-order='{order_id}']")
    await expect(row).to_be_visible(timeout=10_000)
    await expect(page.locator(f"#orders-table tr[data-order='{order_id}'] + tr.order-detail")).to_be_visible()
    await expect(page.locator("#orders-table tr.order-detail")).to_have_count(1)


async def log_in_here(page: Page, employee: Employee) -> None:
    """On the login page a link sent him to: log in, and the page goes on to where the link pointed."""
    await expect(page).to_have_url(re.compile(r"/inbox/login\?next="))
    await page.fill("input[name=email]", employee.email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")


async def test_the_open_chat_links_of_a_lead_ping_a_forwarded_message_a_note_mention_and_an_unanswered_alert(linked):
    stack = linked.stack
    manager, owner = await linked.employee(0), await linked.employee("owner")
    await stack.say(CUSTOMER, f"/start {stack.widget_code}")
    await stack.say(CUSTOMER, "Hi! Do you deliver to Lviv?")
    ping = await eventually(lambda: linked.sent_to(STAFF[0], "New conversation for you: Anna"))
    await stack.say(CUSTOMER, "And to Odesa?")
    forwarded = await eventually(lambda: linked.sent_to(STAFF[0], "And to Odesa?"))
    chat_id = (await Message.get(text="And to Odesa?")).chat_id
    # Another client wrote later: a link to "the inbox" rather than to Anna's chat would show his.
    stack.world.add_user(1002, "Boris")
    await stack.say(1002, f"/start {stack.widget_code}")
    await stack.say(1002, "Boris here")
    await eventually(lambda: Message.exists(text="Boris here"))

    named = links.chat_url(linked.base, chat_id)
    assert button_url(ping, "chats") == named
    assert button_url(forwarded, "chats") == named
    page = await logged_in(linked.browser, linked.base, manager)
    for url in (button_url(ping, "chats"), button_url(forwarded, "chats")):
        await follow(page, linked, url)
        await shows_chat(page, "Anna", "And to Odesa?")

    # A colleague names him in a note: the mention ping's *Open chat* shows the chat with the note in it.
    await add_note(owner, chat_id, "@Manager 0 she asked about Odesa twice")
    mention = await eventually(lambda: linked.sent_to(STAFF[0], "mentioned you"))
    assert button_url(mention, "chats") == named
    await follow(page, linked, button_url(mention, "chats"))
    await shows_chat(page, "Anna", "she asked about Odesa twice")
    assert page.errors == []

    # Nobody answered her: the owner's alert, followed in a browser not logged in yet, lands on her chat after he
    # logs in (the login page's `next`).
    await Chat.filter(id=chat_id).update(waiting_since=utcnow() - timedelta(minutes=16))
    assert chat_id in await sweep_unanswered(utcnow())
    alert = await eventually(lambda: linked.sent_to(OWNER_USER, "waiting for an answer"))
    url = button_url(alert, "chats")
    assert url == named
    fresh = await linked.browser.new_page()
    await fresh.goto(url)
    await log_in_here(fresh, owner)
    await expect(fresh).to_have_url(url)
    await shows_chat(fresh, "Anna", "And to Odesa?")


# The new-order ping and e-mail as they read in each language: (the ping's words, the e-mail's link label).
NEW_ORDER_WORDS = {"en": ("New order #{number}", "Open it:"), "ru": ("Новый заказ №{number}", "Открыть:")}


@pytest.mark.parametrize("language", list(NEW_ORDER_WORDS))
async def test_the_new_order_ping_and_e_mail_open_that_order(linked, language):
    stack = linked.stack
    owner = await linked.employee("owner")
    # The manager reads his ping, the owner's address its e-mail, in the language each has chosen.
    await Employee.filter(account_id=stack.account_id).update(language=language)
    ping_words, open_label = NEW_ORDER_WORDS[language]
    # The owner's address hears of the widget's orders.
    await accounts.set_notification_emails(owner, (await _widget(stack)).id, [owner.email])
    await stack.say(CUSTOMER, f"/start {stack.widget_code}")
    client = await eventually(lambda: _client(stack))
    # Orders before and after it: a link to the unfiltered list would show them too.
    await create_order(stack.account_id, client_id=client.id, offer_id=stack.flagged_offer_id)
    await order_winter_tyres(stack)
    order = await eventually(lambda: Order.get_or_none(account_id=stack.account_id, offer_id=stack.offer_id))
    await create_order(stack.account_id, client_id=client.id, offer_id=stack.flagged_offer_id)
    manager = await Employee.get(id=order.order_manager_id)
    manager_user = STAFF[stack.manager_ids.index(manager.id)]
    ping = await eventually(lambda: linked.sent_to(manager_user, ping_words.format(number=order.id)))
    mail = await eventually(lambda: next((m for m in _mails(linked)
                                          if f"{order.id}: " in str(make_header(decode_header(m["Subject"])))), None))
    [mailed] = re.findall(re.escape(open_label) + r"\s+(\S+)", mail.get_payload(decode=True).decode())
    assert button_url(ping, "orders") == mailed == links.order_url(linked.base, order.id)

    page = await logged_in(linked.browser, linked.base, manager)
    await follow(page, linked, button_url(ping, "orders"))
    await shows_order(page, order.id)
    assert page.errors == []

    # The e-mail is opened where nobody is logged in: the login page, then the order.
    fresh = await linked.browser.new_page()
    await fresh.goto(mailed)
    await log_in_here(fresh, owner)
    await expect(fresh).to_have_url(mailed)
    await expect(fresh.locator("body")).to_have_attribute("data-ready", "yes")
    await shows_order(fresh, order.id)


async def test_in_russian_the_important_alert_the_important_command_and_the_api_links_open_what_they_name(linked):
    stack = linked.stack
    manager = await linked.employee(0)
    page = await logged_in(linked.browser, linked.base, manager)
    csrf = await page.evaluate("JSON.parse(document.getElementById('me').textContent).csrf_token")
    response = await page.request.patch(f"{linked.base}/api/v1/employees/{manager.id}", data={"language": "ru"},
                                        headers={"X-CSRF-Token": csrf})
    assert response.ok, await response.text()

    await stack.say(CUSTOMER, "/start")
    client = await eventually(lambda: _client(stack))
    order = await create_order(stack.account_id, client_id=client.id, offer_id=stack.flagged_offer_id)
    await dialogs.record_outbound(manager, client.id, "Any questions about the course?",
                                  now=utcnow() - timedelta(minutes=5))
    await apply_payment(PaymentNotice("generic", "links-fail-1", str(order.id), PaymentResult.FAILED,
                                      occurred_at=utcnow(), reason="card_declined"))
    alert = await eventually(lambda: linked.linking(STAFF[0], "offers"))
    assert str(order.id) in alert["text"] and "Driving course" in alert["text"]
    item = await ImportantItem.get(employee_id=manager.id)
    ru = make_i18n()
    words = {b["text"] for row in alert["reply_markup"]["inline_keyboard"] for b in row}
    assert ru.gettext("Open chat", locale="ru") in words and "Open chat" not in words  # the alert is in Russian
    assert button_url(alert, "chats") == links.chat_url(linked.base, item.chat_id)
    assert button_url(alert, "offers") == links.offer_url(linked.base, stack.flagged_offer_id)

    await follow(page, linked, button_url(alert, "chats"))
    await shows_chat(page, "Anna", "Any questions about the course?")
    await expect(page.locator("header nav")).to_contain_text("Мои")
    await expect(page.locator("header nav")).to_contain_text("Заказы")
    await follow(page, linked, button_url(alert, "offers"))
    await expect(page.locator("#offer-title")).to_have_text("Driving course")
    await expect(page.locator("header nav")).to_contain_text("Заказы")

    # /important in the bot: each item's line ends with its chat's link.
    await stack.say(STAFF[0], "/important")
    listed = await eventually(lambda: linked.sent_to(STAFF[0], "/inbox/chats/"))
    [url] = re.findall(r"https?://\S+/inbox/chats/\d+", listed["text"])
    assert url == links.chat_url(linked.base, item.chat_id)
    await follow(page, linked, url)
    await shows_chat(page, "Anna", "Any questions about the course?")

    # The API's fields, as the inbox's Important tab and other clients of the API get them.
    response = await page.request.get(f"{linked.base}/api/v1/important")
    [row] = (await response.json())["items"]
    await follow(page, linked, row["chat_url"])
    await shows_chat(page, "Anna", "Any questions about the course?")
    await follow(page, linked, row["offer_url"])
    await expect(page.locator("#offer-title")).to_have_text("Driving course")
    await follow(page, linked, row["order_url"])
    await shows_order(page, order.id)
    await expect(page.locator("header nav")).to_contain_text("Мои")
    assert page.errors == []


async def test_a_messages_file_link_downloads_that_files_bytes(linked):
    stack = linked.stack
    manager = await linked.employee(0)
    await stack.say(CUSTOMER, f"/start {stack.widget_code}")
    await stack.say(CUSTOMER, "Hello")  # the lead goes to manager 0 (the rotation's first)
    await eventually(lambda: linked.sent_to(STAFF[0], "New conversation for you: Anna"))
    update = await stack.world.user_sends_media(stack.bot, CUSTOMER, "document", PDF, caption="my contract",
                                                file_name="contract.pdf", mime_type="application/pdf")
    message = await eventually(lambda: Message.get_or_none(
        telegram_message_id=update["message"]["message_id"], direction="in"))
    [attachment] = await Attachment.filter(message_id=message.id)
    page = await logged_in(linked.browser, linked.base, manager)
    response = await page.request.get(f"{linked.base}/api/v1/chats/{message.chat_id}/messages")
    shown = next(m for m in (await response.json())["items"] if m["id"] == message.id)
    [file] = shown["attachments"]
    assert file["url"] == links.file_url("", attachment.id)
    # The page's own link to it, clicked: the download is the file's bytes.
    await follow(page, linked, links.chat_url(linked.base, message.chat_id))
    await expect(page.locator("#messages")).to_contain_text("my contract")
    anchor = page.locator(f"#messages a[href='{file['url']}']").first
    async with page.expect_download() as waiting:
        await anchor.click()
    download = await waiting.value
    assert open(await download.path(), "rb").read() == PDF
    assert download.suggested_filename == "contract.pdf"
    assert page.errors == []

    # Followed where nobody is logged in: the login page, and after it the same download.
    fresh = await linked.browser.new_page()
    await fresh.goto(linked.base + file["url"])
    async with fresh.expect_download() as waiting:
        await log_in_here(fresh, manager)
    download = await waiting.value
    assert open(await download.path(), "rb").read() == PDF


async def _widget(stack: Stack):
    from storage.models import Widget

    return await Widget.get(account_id=stack.account_id, code=stack.widget_code)


async def _client(stack: Stack):
    from storage.models import Client

    return await Client.get_or_none(account_id=stack.account_id, telegram_user_id=CUSTOMER)


def _mails(linked: Linked):
    from email import message_from_bytes

    return [message_from_bytes(content) for _, content in linked.mailbox.received]


def test_a_public_url_written_with_a_trailing_slash_makes_the_same_links():
    # "https://shop.example//inbox/chats/7" is a 404 (aiohttp matches the path as written): the setting drops it.
    public_url = Settings(public_url="https://shop.example/").public_url
    for build, object_id in ((links.chat_url, 7), (links.order_url, 8), (links.offer_url, 9), (links.file_url, 10)):
        assert build(public_url, object_id) == build("https://shop.example", object_id)
        assert "//inbox" not in build(public_url, object_id)
