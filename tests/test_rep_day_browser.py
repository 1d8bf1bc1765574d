"""A sales rep's day in the inbox, in Russian (issue 12, "Done when"): a new lead writes to the bot and appears in his
*Мои* list live; he opens it in place, replies with Enter and the customer gets exactly that text in Telegram; a
flagged offer's payment fails and he takes the item in *Важное*; in the client card he comments on the order and
cancels it. Every label asserted is the Russian one, taken from locales/ru/LC_MESSAGES/inbox.po.

The real app with its bot (webhook mode) against the Telegram Bot API emulator, in headless Chromium — the stack of
tests/test_links_browser.py (its `linked` fixture), PUBLIC_URL the app's own address. The manager's language is set to
"ru" by the owner through the API before the manager logs in.
"""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from sales import dialogs
from sales.clock import utcnow
from sales.orders import create_order
from sales.payments import PaymentNotice, apply_payment
from storage.models import Chat, Employee, ImportantItem, Message, Order, OrderComment, OrderStatus, PaymentResult
from tests.browsing import SCREENSHOTS, chromiums, listening, logged_in
from tests.test_bot_e2e import CUSTOMER, STAFF, eventually
from tests.test_links_browser import Linked, _client, linked

__all__ = ["chromiums", "linked"]  # the fixtures (tests/browsing.py, tests/test_links_browser.py)

# The Russian words of inbox.po the steps check (msgid → msgstr).
MINE, UNASSIGNED, IMPORTANT, ORDERS = "Мои", "Без ответственного", "Важное", "Заказы"
OFFERS, SETTINGS, LOG_OUT = "Предложения", "Настройки", "Выйти"
NO_CHAT_OPEN, SEND, NOTE, WRITE = "Чат не открыт", "Отправить", "Заметка", "Напишите клиенту"
ASSIGNEE, CLIENT = "Ответственный", "Клиент"
TAKE, TAKEN_BY, YOU_TOOK_IT, OPEN_CHAT = "Взять", "Взял", "Вы взяли это", "Открыть чат"
ORDER, OFFER, AMOUNT, REASON = "Заказ", "Предложение", "Сумма", "Причина"
ADD_COMMENT, COMMENT_ADDED, COMMENTS = "Добавить комментарий", "Комментарий добавлен", "Комментарии"
CANCEL_ORDER, ORDER_CANCELLED = "Отменить заказ", "Заказ отменён"
FAILED, CANCELLED = "Оплата не прошла", "Отменён"  # order status chips

HELLO = "Здравствуйте! Вы доставляете во Львов?"
REPLY = "Добрый день, Анна! Да, доставляем во Львов за два дня."


async def russian_rep(linked: Linked) -> Employee:
    """Manager 0 (the rotation's first), his language set to Russian by the owner through the API."""
    manager = await linked.employee(0)
    owner_page = await logged_in(linked.browser, linked.base, await linked.employee("owner"))
    csrf = await owner_page.evaluate("JSON.parse(document.getElementById('me').textContent).csrf_token")
    response = await owner_page.request.patch(f"{linked.base}/api/v1/employees/{manager.id}",
                                              data={"language": "ru"}, headers={"X-CSRF-Token": csrf})
    assert response.ok, await response.text()
    await owner_page.close()
    assert (await Employee.get(id=manager.id)).language == "ru"
    return manager


async def a_lead_he_answered(linked: Linked, manager: Employee) -> int:
    """The customer came through the widget and wrote; the lead went to `manager`, who answered. The chat's id."""
    stack = linked.stack
    await stack.say(CUSTOMER, f"/start {stack.widget_code}")
    await stack.say(CUSTOMER, HELLO)
    message = await eventually(lambda: Message.get_or_none(text=HELLO))
    await eventually(lambda: Chat.exists(id=message.chat_id, assignee_id=manager.id))
    await dialogs.record_outbound(manager, (await Chat.get(id=message.chat_id)).client_id, REPLY)
    await eventually(lambda: REPLY in stack.bot_texts(CUSTOMER))
    return message.chat_id


async def a_failed_flagged_order(linked: Linked) -> Order:
    """The customer ordered the flagged *Driving course*; his card was declined."""
    stack = linked.stack
    client = await eventually(lambda: _client(stack))
    order = await create_order(stack.account_id, client_id=client.id, offer_id=stack.flagged_offer_id)
    await apply_payment(PaymentNotice("generic", f"rep-day-fail-{order.id}", str(order.id), PaymentResult.FAILED,
                                      occurred_at=utcnow(), reason="card_declined"))
    return await Order.get(id=order.id)


async def speaks_russian(page: Page) -> None:
    nav = page.locator("header nav")
    for word in (MINE, UNASSIGNED, IMPORTANT, ORDERS, OFFERS, SETTINGS):
        await expect(nav).to_contain_text(word)
    for word in ("Mine", "Unassigned", "Important", "Orders", "Offers", "Settings"):
        await expect(nav).not_to_contain_text(word)
    await expect(page.locator("#logout")).to_have_text(LOG_OUT)
    await expect(page.locator("html")).to_have_attribute("lang", "ru")


# What the people and things of the day are called: their own words, in no language of the page.
DATA = (*(f"Manager {i}" for i in range(3)), "Anna", "Driving course", "card_declined", "closer", "English", "Español")


async def english_left(page: Page) -> list[str]:
    """The English words of the page's catalogue (its msgids with a Russian msgstr) still to be seen on it."""
    texts = await page.evaluate("JSON.parse(document.getElementById('texts').textContent)")
    shown = await page.evaluate("document.body.innerText")
    for words in DATA:
        shown = shown.replace(words, " ")
    return sorted(english for english, russian in texts.items()
                  if russian != english and re.search(rf"(?<!\w){re.escape(english)}(?!\w)", shown))


def _row(page: Page, chat_id: int):
    return page.locator(f"#chat-list li[data-chat='{chat_id}']")


async def test_in_russian_a_new_lead_appears_in_mine_live_and_the_customer_gets_the_reply_sent_with_enter(linked):
    stack = linked.stack
    manager = await russian_rep(linked)
    page = await logged_in(linked.browser, linked.base, manager)
    await speaks_russian(page)
    await expect(page.locator("[data-tab=mine]")).to_have_class(re.compile(r"\bactive\b"))
    await expect(page.locator("#chat-empty")).to_contain_text(NO_CHAT_OPEN)
    await expect(page.locator("#chat-list li[data-chat]")).to_have_count(0)
    await listening(page)
    await page.evaluate("window.__marker = 1")

    # A new customer writes to the bot: the lead goes to him by rotation and shows in *Мои* without a reload.
    await stack.say(CUSTOMER, f"/start {stack.widget_code}")
    await stack.say(CUSTOMER, HELLO)
    message = await eventually(lambda: Message.get_or_none(text=HELLO))
    chat_id = message.chat_id
    await expect(_row(page, chat_id)).to_be_visible(timeout=10_000)
    await expect(_row(page, chat_id).locator(".preview")).to_have_text(HELLO)
    assert (await Chat.get(id=chat_id)).assignee_id == manager.id

    # He opens it from the list: in place, the URL follows.
    await _row(page, chat_id).locator(".preview").click()
    await expect(page.locator("body")).to_have_attribute("data-chat-ready", str(chat_id))
    await expect(page).to_have_url(re.compile(rf"/inbox/chats/{chat_id}\?tab=mine$"))
    assert await page.evaluate("window.__marker") == 1  # the same page: nothing was reloaded
    await expect(page.locator("#chat-title")).to_have_text("Anna")
    await expect(page.locator("#messages")).to_contain_text(HELLO)
    await expect(page.locator("#chat-bar")).to_contain_text(f"{ASSIGNEE}: {manager.name}")
    await expect(page.locator("#reply button[type=submit]")).to_have_text(SEND)
    await expect(page.locator("#note-toggle")).to_have_text(NOTE)
    await expect(page.locator("#client-toggle")).to_have_text(CLIENT)
    box = page.locator("#reply textarea")
    await expect(box).to_have_attribute("placeholder", WRITE)

    # He answers with Enter: the customer gets exactly that text, once.
    await box.press_sequentially(REPLY)
    await box.press("Enter")
    await expect(box).to_have_value("")
    await expect(page.locator("#messages li.message.out")).to_contain_text(REPLY)
    await eventually(lambda: REPLY in stack.bot_texts(CUSTOMER))
    assert stack.bot_texts(CUSTOMER)[-1] == REPLY
    assert stack.bot_texts(CUSTOMER).count(REPLY) == 1
    stored = await Message.get(chat_id=chat_id, direction="out", text=REPLY)
    assert stored.employee_id == manager.id
    await expect(page.locator("#card h2.client-name")).to_have_text("Anna")
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "rep-day-ru-chat.png"))
    # The longer Russian words do not push Send onto a line of its own below the composer's other buttons.
    send = await page.locator("#reply button[type=submit]").bounding_box()
    note = await page.locator("#note-toggle").bounding_box()
    assert abs(send["y"] - note["y"]) < 4, (send, note)
    assert await english_left(page) == []
    assert page.errors == []


async def test_in_russian_a_failed_payment_of_a_flagged_offer_shows_in_important_and_the_rep_takes_it(linked):
    manager = await russian_rep(linked)
    chat_id = await a_lead_he_answered(linked, manager)
    order = await a_failed_flagged_order(linked)
    item = await eventually(lambda: ImportantItem.get_or_none(employee_id=manager.id, order_id=order.id))
    assert item.chat_id == chat_id and item.taken_by_id is None
    # The Telegram alert came in his language too.
    alert = await eventually(lambda: linked.linking(STAFF[0], "offers"))
    words = {b["text"] for row in alert["reply_markup"]["inline_keyboard"] for b in row}
    assert OPEN_CHAT in words and "Open chat" not in words

    page = await logged_in(linked.browser, linked.base, manager)
    await speaks_russian(page)
    await expect(page.locator("#important-badge")).to_have_text("1")
    await page.click("#important-tab")
    await expect(page.locator("body")).to_have_attribute("data-ready", "yes")
    await expect(page).to_have_url(re.compile(r"/inbox/\?tab=important$"))
    await expect(page.locator("[data-tab=important]")).to_have_class(re.compile(r"\bactive\b"))
    head = page.locator("#important-table thead")
    for word in (CLIENT, ORDER, OFFER, AMOUNT, REASON, TAKEN_BY):
        await expect(head).to_contain_text(word)
    row = page.locator(f"#important-table tbody tr[data-item='{item.id}']")
    await expect(row).to_be_visible(timeout=10_000)
    await expect(row.locator("a.client")).to_have_text("Anna")
    await expect(row.locator("a.open-order")).to_have_text(f"#{order.id}")
    await expect(row.locator("a.open-offer")).to_have_text("Driving course")
    await expect(row.locator("td.amount")).to_have_text(re.compile(r"^490,00\s€$"))  # Russian number format
    await expect(row.locator("td.failed time")).to_have_text(re.compile(r"назад|сейчас|секунд"))
    await expect(row.locator("a.open-chat")).to_have_text(OPEN_CHAT)
    take = row.locator("button.take")
    await expect(take).to_have_text(TAKE)

    await take.click()
    await expect(page.locator("#flash")).to_have_text(YOU_TOOK_IT)
    row = page.locator(f"#important-table tbody tr[data-item='{item.id}']")
    await expect(row.locator(".taker")).to_have_text(manager.name)
    await expect(row.locator("button.take")).to_have_count(0)
    assert (await ImportantItem.get(id=item.id)).taken_by_id == manager.id
    await expect(page.locator("#flash")).to_be_empty(timeout=8_000)  # gone: it would hide a column's title
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "rep-day-ru-important.png"))
    assert await english_left(page) == []
    assert page.errors == []


async def test_in_russian_the_rep_comments_on_the_failed_order_and_cancels_it_from_the_client_card(linked):
    manager = await russian_rep(linked)
    chat_id = await a_lead_he_answered(linked, manager)
    order = await a_failed_flagged_order(linked)
    assert order.order_manager_id == manager.id  # sticky: the chat's assignee
    assert order.status == OrderStatus.FAILED

    page = await logged_in(linked.browser, linked.base, manager)
    await speaks_russian(page)
    await _row(page, chat_id).locator(".preview").click()
    await expect(page.locator("body")).to_have_attribute("data-chat-ready", str(chat_id))
    await expect(page.locator("#card h2.client-name")).to_have_text("Anna")
    await expect(page.locator("#card")).to_contain_text(ORDERS)
    item = page.locator(f"#card .client-orders li[data-order='{order.id}']")
    await expect(item).to_have_class(re.compile(r"\bfailed\b"))  # red
    await expect(item.locator(".order-status")).to_have_text(FAILED)
    work = item.locator(".order-work")
    add = work.locator("button.add-comment")
    await expect(add).to_have_text(ADD_COMMENT)

    comment = "Позвонил: карта отклонена, оплатит другой картой в пятницу"
    await work.locator("textarea[name=comment]").fill(comment)
    await add.click()
    await expect(page.locator("#flash")).to_have_text(COMMENT_ADDED)
    await expect(item.locator(".order-work")).to_contain_text(COMMENTS)
    await expect(item.locator(".order-work .comments")).to_contain_text(comment)
    assert await OrderComment.filter(order_id=order.id, text=comment, employee_id=manager.id).count() == 1

    cancel = item.locator("button.cancel-order")
    await expect(cancel).to_have_text(CANCEL_ORDER)
    await cancel.click()
    await expect(cancel).to_have_text(f"{CANCEL_ORDER} #{order.id}?")  # the first click asks
    assert (await Order.get(id=order.id)).status == OrderStatus.FAILED
    await cancel.click()
    await expect(page.locator("#flash")).to_have_text(ORDER_CANCELLED)
    await expect(item.locator(".order-status")).to_have_text(CANCELLED)
    await expect(item.locator("button.cancel-order")).to_have_count(0)
    assert (await Order.get(id=order.id)).status == OrderStatus.CANCELLED
    # The comment stays with the cancelled order.
    await expect(item.locator(".order-work .comments")).to_contain_text(comment)
    assert await english_left(page) == []
    assert page.errors == []
