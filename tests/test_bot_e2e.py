"""The real closer app and bot (aiogram's own HTTP session) against the Bot API emulator, in webhook and polling mode.

Users act through the emulator; the bot's answers and alerts are read from what each emulated chat received.
"""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass
from datetime import timedelta

import pytest
from aiohttp.test_utils import unused_port

from closer.app import create_app
from core.config import Settings
from sales import accounts, dialogs
from sales.clock import utcnow
from sales.payments import PaymentNotice, apply_payment
from sales.telegram_link import create_invite
from storage.db import close_database, open_database
from storage.models import (
    Client, DialogRecord, Direction, Employee, ImportantItem, Message, Order, PaymentResult, Role, SenderKind,
)
from telegram_emulator.app import create_emulator_app
from telegram_emulator.world import World
from tests.dbtools import fresh_sqlite

TOKEN = "7001:e2e-token"
BOT_ID = 7001
# http: an https public address would make the app ask Telegram for a webhook there (SPEC §8).
PUBLIC = "http://closer.test"
CUSTOMER = 1001
STAFF = {0: 2000, 1: 2001, 2: 2002}  # manager index → Telegram user id


@dataclass
class Stack:
    world: World
    account_id: int
    manager_ids: list[int]
    owner_id: int
    widget_code: str
    offer_id: int
    flagged_offer_id: int

    @property
    def bot(self):
        return self.world.bot(TOKEN)

    def chat(self, user_id: int) -> list[dict]:
        return self.world.transcript(self.bot, user_id)

    def bot_texts(self, user_id: int) -> list[str]:
        return [m.get("text") or "" for m in self.chat(user_id) if m["from_bot"]]

    async def say(self, user_id: int, text: str, reply_to: int | None = None) -> None:
        await self.world.user_sends(self.bot, user_id, text=text, reply_to=reply_to)


async def eventually(check, timeout: float = 10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def _seed(world: World) -> Stack:
    account = await accounts.create_account("E2E Motors", "owner@e2e.test", "owner-password")
    owner = await Employee.get(account_id=account.id, role=Role.OWNER)
    managers = [
        await accounts.add_employee(owner, email=f"m{i}@e2e.test", name=f"Manager {i}", commission_rate="0.1")
        for i in range(3)
    ]
    for index, manager in enumerate(managers):
        user_id = STAFF[index]
        world.add_user(user_id, manager.name)
        world.started.add((BOT_ID, user_id))  # they opened their invite links
        await Employee.filter(id=manager.id).update(telegram_user_id=user_id, telegram_chat_id=user_id)
    widget = await accounts.add_widget(owner, code="spring", name="Spring landing")
    offer = await accounts.add_offer(owner, title="Winter tyres", price="320.00", currency="EUR")
    flagged = await accounts.add_offer(
        owner, title="Driving course", price="490.00", currency="EUR", notify_on_failed_payment=True
    )
    world.add_user(CUSTOMER, "Anna", language_code="en")
    return Stack(world, account.id, [m.id for m in managers], owner.id, widget.code, offer.id, flagged.id)


async def start_stack(tmp_path, aiohttp_server, mode: str, **settings) -> Stack:
    """The emulator, a seeded database and the app with its bot in `mode` (webhook or polling); `settings` add to
    the app's."""
    world = World()
    world.add_bot(TOKEN, username="closer_e2e_bot")
    emulator = await aiohttp_server(create_emulator_app(world, retry_delay=0.05))
    url = await fresh_sqlite(tmp_path / "e2e.db")
    ctx = await open_database(url)
    seeded = await _seed(world)
    await close_database(ctx)
    port = unused_port()
    app_settings = Settings(
        database_url=url,
        telegram_api_url=str(emulator.make_url("")).rstrip("/"),
        bot_token=TOKEN,
        public_url=PUBLIC,
        webhook_base_url=f"http://127.0.0.1:{port}" if mode == "webhook" else None,
        **settings,
    )
    await aiohttp_server(create_app(app_settings, scheduler=False), port=port)
    if mode == "webhook":
        assert world.bot(TOKEN).webhook_url == f"http://127.0.0.1:{port}/webhooks/telegram/{BOT_ID}"
    return seeded


@pytest.fixture(params=["webhook", "polling"])
async def stack(request, tmp_path, aiohttp_server):
    return await start_stack(tmp_path, aiohttp_server, request.param)


async def _customer_client(stack: Stack) -> Client:
    return await eventually(lambda: Client.get_or_none(account_id=stack.account_id, telegram_user_id=CUSTOMER))


async def _started_customer(stack: Stack) -> Client:
    """The customer after /start, once the bot has asked for his e-mail (its last answer to the start)."""
    await stack.say(CUSTOMER, "/start")
    client = await _customer_client(stack)
    await eventually(lambda: any("e-mail" in t for t in stack.bot_texts(CUSTOMER)))
    return client


async def test_a_new_customer_starts_with_a_widget_code_and_his_message_is_stored(stack):
    await stack.say(CUSTOMER, f"/start {stack.widget_code}")
    await eventually(lambda: any("Hello, Anna" in t for t in stack.bot_texts(CUSTOMER)))
    await eventually(lambda: any("e-mail" in t for t in stack.bot_texts(CUSTOMER)))
    skip = stack.chat(CUSTOMER)[-1]["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    await stack.world.user_presses(stack.bot, CUSTOMER, stack.chat(CUSTOMER)[-1]["message_id"], skip)
    await eventually(lambda: any("No problem" in t for t in stack.bot_texts(CUSTOMER)))
    await stack.say(CUSTOMER, "Do you have the course in May?")
    message = await eventually(lambda: Message.get_or_none(text="Do you have the course in May?"))
    client = await Client.get(id=(await message.chat).client_id).prefetch_related("widget")
    assert client.telegram_user_id == CUSTOMER and client.widget.code == stack.widget_code
    assert client.email_asked is True


async def test_the_bots_answers_are_in_the_chat_history_and_a_staff_reply_is_stored_once(stack):
    """SPEC §3.1: the bot's messages are history (nobody's dialog); an employee's reply stays his, not the bot's."""
    await stack.say(CUSTOMER, "/start")
    await eventually(lambda: any("e-mail" in t for t in stack.bot_texts(CUSTOMER)))
    greeted = len(stack.bot_texts(CUSTOMER))  # before his first message there is no chat: nothing is recorded
    await stack.say(CUSTOMER, "Who will help me?")
    await eventually(lambda: Message.exists(text="Who will help me?"))
    await stack.say(CUSTOMER, "/manager")
    await eventually(lambda: any("personal manager" in t for t in stack.bot_texts(CUSTOMER)))
    client = await _customer_client(stack)
    manager = await Employee.get(id=stack.manager_ids[0])
    await dialogs.record_outbound(manager, client.id, "Fish & chips at 5?")
    await eventually(lambda: any("Fish & chips" in t for t in stack.bot_texts(CUSTOMER)))
    await asyncio.sleep(0.3)  # a late, doubled record would be in by now
    rows = await Message.filter(chat__client_id=client.id, direction=Direction.OUTBOUND).order_by("id")
    by_bot = [m.text for m in rows if m.sender_kind == SenderKind.BOT]
    assert by_bot and by_bot == [t for t in stack.bot_texts(CUSTOMER)[greeted:] if "Fish & chips" not in t]
    assert [(m.text, m.employee_id) for m in rows if m.sender_kind != SenderKind.BOT] == [("Fish & chips at 5?",
                                                                                           manager.id)]


async def test_the_email_is_asked_once_and_validated(stack):
    await stack.say(CUSTOMER, "/start")
    await eventually(lambda: any("e-mail" in t for t in stack.bot_texts(CUSTOMER)))
    await stack.say(CUSTOMER, "anna@nowhere")
    await eventually(lambda: any("does not look like an e-mail" in t for t in stack.bot_texts(CUSTOMER)))
    await stack.say(CUSTOMER, " Anna@Example.com ")
    await eventually(lambda: any("Thank you!" in t for t in stack.bot_texts(CUSTOMER)))
    client = await _customer_client(stack)
    assert (await Client.get(id=client.id)).email == "anna@example.com"
    await stack.say(CUSTOMER, "/start")
    await eventually(lambda: sum("Hello, Anna" in t for t in stack.bot_texts(CUSTOMER)) == 2)
    await asyncio.sleep(0.3)
    assert sum("What is your e-mail" in t for t in stack.bot_texts(CUSTOMER)) == 1


async def test_a_customer_who_ignores_the_email_question_just_talks_to_the_team(stack):
    await stack.say(CUSTOMER, "/start")
    await eventually(lambda: any("e-mail" in t for t in stack.bot_texts(CUSTOMER)))
    await stack.say(CUSTOMER, "How much is the course?")
    await eventually(lambda: Message.exists(text="How much is the course?"))
    client = await _customer_client(stack)
    assert (await Client.get(id=client.id)).email_asked is True


async def test_an_employee_replies_from_telegram_and_the_customer_receives_it(stack):
    await stack.say(CUSTOMER, "/start")
    client = await _customer_client(stack)
    manager_id, manager_user = stack.manager_ids[1], STAFF[1]
    owner = await Employee.get(id=stack.owner_id)
    from sales.clients import set_personal_manager

    await set_personal_manager(owner, client.id, manager_id)
    await stack.say(CUSTOMER, "Can I pay in two parts?")
    forwarded = await eventually(
        lambda: next((m for m in stack.chat(manager_user) if "Can I pay in two parts?" in (m.get("text") or "")), None)
    )
    assert "Anna" in forwarded["text"]
    await stack.say(manager_user, "Yes, you can split it.", reply_to=forwarded["message_id"])
    await eventually(lambda: "Yes, you can split it." in stack.bot_texts(CUSTOMER))
    stored = await Message.get(text="Yes, you can split it.")
    assert stored.employee_id == manager_id
    assert await DialogRecord.exists(employee_id=manager_id, chat_id=stored.chat_id)


async def order_winter_tyres(stack: Stack) -> Order:
    """The customer comes through the widget's link, asks for /offers and presses *Winter tyres*."""
    await stack.say(CUSTOMER, f"/start {stack.widget_code}")
    await _customer_client(stack)
    await stack.say(CUSTOMER, "/offers")
    menu = await eventually(lambda: next((m for m in stack.chat(CUSTOMER) if "What would you like" in (m.get("text") or "")), None))
    buy = next(b for row in menu["reply_markup"]["inline_keyboard"] for b in row if "Winter tyres" in b["text"])
    await stack.world.user_presses(stack.bot, CUSTOMER, menu["message_id"], buy["callback_data"])
    return await eventually(lambda: Order.get_or_none(account_id=stack.account_id))


async def test_ordering_an_offer_assigns_by_rotation_and_pings_the_manager(stack):
    order = await order_winter_tyres(stack)
    assert order.order_manager_id == min(stack.manager_ids)  # first in the rotation
    manager_user = STAFF[stack.manager_ids.index(order.order_manager_id)]
    await eventually(lambda: any(f"New order #{order.id}" in t for t in stack.bot_texts(manager_user)))
    invoice = await eventually(lambda: next((m for m in stack.chat(CUSTOMER) if "invoice" in m), None))
    assert invoice["invoice"]["total_amount"] == 32000
    result = await stack.world.user_pays(stack.bot, CUSTOMER, invoice["message_id"], wait=5)
    assert result["paid"] is True
    await eventually(lambda: Order.exists(id=order.id, status="paid"))


async def test_a_failed_payment_alerts_exactly_the_employees_who_chatted_before(stack):
    await stack.say(CUSTOMER, "/start")
    client = await _customer_client(stack)
    early, never, late = [await Employee.get(id=i) for i in stack.manager_ids]
    order = await _flagged_order(stack, client)
    now = utcnow()
    await dialogs.record_outbound(early, client.id, "Any questions about the course?", now=now - timedelta(minutes=5))
    await apply_payment(
        PaymentNotice("generic", "evt-fail-1", str(order.id), PaymentResult.FAILED, occurred_at=now, reason="card_declined")
    )
    await dialogs.record_outbound(late, client.id, "I am new here", now=now + timedelta(minutes=1))
    alert = await eventually(lambda: next((m for m in stack.chat(STAFF[0]) if "Payment failed" in (m.get("text") or "")), None))
    urls = {b["text"]: b.get("url") for row in alert["reply_markup"]["inline_keyboard"] for b in row}
    item = await ImportantItem.get(employee_id=early.id)
    assert urls["Open chat"] == f"{PUBLIC}/inbox/chats/{item.chat_id}"
    assert urls["Open offer"] == f"{PUBLIC}/inbox/offers/{stack.flagged_offer_id}"
    assert "Take" in urls
    assert alert["text"] == (
        f"🔔 Payment failed: {client.name}\nDriving course, order #{order.id}\n{now:%Y-%m-%d %H:%M} UTC\n"
        "Amount: 490.00 EUR\nReason: card_declined"
    )
    await asyncio.sleep(0.5)
    assert not any("Payment failed" in t for t in stack.bot_texts(STAFF[1]))
    assert not any("Payment failed" in t for t in stack.bot_texts(STAFF[2]))


async def _flagged_order(stack: Stack, client: Client) -> Order:
    from sales.orders import create_order

    return await create_order(stack.account_id, client_id=client.id, offer_id=stack.flagged_offer_id)


async def _two_staff_alerted(stack, event_id: str) -> list[dict]:
    """Two managers wrote to the customer; his flagged order's payment fails: each gets the Telegram alert."""
    await stack.say(CUSTOMER, "/start")
    client = await _customer_client(stack)
    staff = [await Employee.get(id=i) for i in stack.manager_ids[:2]]
    order = await _flagged_order(stack, client)
    now = utcnow()
    for employee in staff:
        await dialogs.record_outbound(employee, client.id, "hello", now=now - timedelta(minutes=5))
    await apply_payment(PaymentNotice("generic", event_id, str(order.id), PaymentResult.FAILED, occurred_at=now))
    return [
        await eventually(lambda u=u: next((m for m in stack.chat(u) if "Payment failed" in (m.get("text") or "")), None))
        for u in (STAFF[0], STAFF[1])
    ]


async def test_pressing_take_edits_the_alert_for_everyone(stack):
    alerts = await _two_staff_alerted(stack, "evt-fail-2")
    take = next(b for row in alerts[1]["reply_markup"]["inline_keyboard"] for b in row if b["text"] == "Take")
    await stack.world.user_presses(stack.bot, STAFF[1], alerts[1]["message_id"], take["callback_data"])
    for user, alert in zip((STAFF[0], STAFF[1]), alerts, strict=True):
        edited = await eventually(
            lambda u=user, a=alert: next(
                (m for m in stack.chat(u) if m["message_id"] == a["message_id"] and "Taken by Manager 1" in m["text"]), None
            )
        )
        assert not any(b["text"] == "Take" for row in edited["reply_markup"]["inline_keyboard"] for b in row)


async def test_cancelling_the_order_edits_every_alert_to_say_so_and_removes_take(stack):
    from sales.orders import set_status

    alerts = await _two_staff_alerted(stack, "evt-fail-cancel")
    item = await ImportantItem.filter(employee_id=stack.manager_ids[0]).first()
    owner = await Employee.get(account_id=stack.account_id, role="owner")
    await set_status(owner, item.order_id, "cancelled")
    for user, alert in zip((STAFF[0], STAFF[1]), alerts, strict=True):
        edited = await eventually(
            lambda u=user, a=alert: next(
                (m for m in stack.chat(u) if m["message_id"] == a["message_id"]
                 and "The order was cancelled: resolved." in m["text"]), None
            )
        )
        assert "Paid later" not in edited["text"]
        assert not any(b["text"] == "Take" for row in edited["reply_markup"]["inline_keyboard"] for b in row)


async def test_a_late_take_is_told_that_someone_else_took_it(stack):
    """SPEC §3.5: the second *Take* changes nothing, and he is told so rather than "You took it"."""
    alerts = await _two_staff_alerted(stack, "evt-fail-late")
    answers = []
    for user, alert in ((STAFF[1], alerts[1]), (STAFF[0], alerts[0])):
        take = next(b for row in alert["reply_markup"]["inline_keyboard"] for b in row if b["text"] == "Take")
        # force: the first press may already have edited the button away from the late one's alert.
        update = await stack.world.user_presses(stack.bot, user, alert["message_id"], take["callback_data"], force=True)
        callback_id = update["callback_query"]["id"]
        await eventually(lambda c=callback_id: stack.world.callbacks[c]["answered"])
        answers.append(stack.world.callbacks[callback_id]["answer_text"])
    assert answers == ["You took it.", "Someone else already took it."]


async def test_an_employee_links_telegram_with_his_invite(stack):
    owner = await Employee.get(id=stack.owner_id)
    invite = await create_invite(owner, owner.id)
    stack.world.add_user(3000, "Olena")
    await stack.say(3000, f"/start {invite.token}")
    await eventually(lambda: any("Welcome, Owner" in t for t in stack.bot_texts(3000)))
    assert (await Employee.get(id=owner.id)).telegram_user_id == 3000
    assert not await Client.exists(telegram_user_id=3000)
    await stack.say(3000, "/important")
    await eventually(lambda: any("Nothing important" in t for t in stack.bot_texts(3000)))


async def test_the_customer_changes_language(stack):
    await stack.say(CUSTOMER, "/start")
    await stack.say(CUSTOMER, "/language")
    menu = await eventually(lambda: next((m for m in stack.chat(CUSTOMER) if "Choose your language" in (m.get("text") or "")), None))
    spanish = next(b for row in menu["reply_markup"]["inline_keyboard"] for b in row if b["text"] == "Español")
    await stack.world.user_presses(stack.bot, CUSTOMER, menu["message_id"], spanish["callback_data"])
    await eventually(lambda: "Idioma: español" in stack.bot_texts(CUSTOMER))
    await stack.say(CUSTOMER, "/orders")
    await eventually(lambda: any("Aún no tienes pedidos" in t for t in stack.bot_texts(CUSTOMER)))


async def test_bad_input_gets_a_polite_answer_and_breaks_nothing(stack):
    client = await _started_customer(stack)
    await stack.world.user_presses(
        stack.bot, CUSTOMER, stack.chat(CUSTOMER)[-1]["message_id"],
        stack.chat(CUSTOMER)[-1]["reply_markup"]["inline_keyboard"][0][0]["callback_data"],
    )
    await stack.say(CUSTOMER, "x" * 5000)
    await eventually(lambda: any("too long" in t for t in stack.bot_texts(CUSTOMER)))
    await stack.say(CUSTOMER, "/fly_me_to_the_moon")
    await eventually(lambda: any("do not know this command" in t for t in stack.bot_texts(CUSTOMER)))
    # Files are messages of their own (SPEC §11.1, tests/test_attachments.py); a location is not passed on.
    await stack.world.user_sends(stack.bot, CUSTOMER, content={"location": {"latitude": 50.45, "longitude": 30.52}})
    await eventually(lambda: any("only pass on text" in t for t in stack.bot_texts(CUSTOMER)))
    assert await Message.filter(chat__client_id=client.id, text="[unsupported: location]").exists()
    forged = await stack.world.user_presses(stack.bot, CUSTOMER, stack.chat(CUSTOMER)[-1]["message_id"], "buy:999999", force=True)
    callback_id = forged["callback_query"]["id"]
    await eventually(lambda: stack.world.callbacks[callback_id]["answered"])
    assert "not available" in stack.world.callbacks[callback_id]["answer_text"]
    await stack.world.user_presses(stack.bot, CUSTOMER, stack.chat(CUSTOMER)[-1]["message_id"], "nonsense!", force=True)
    await stack.say(CUSTOMER, "still here?")
    await eventually(lambda: Message.exists(text="still here?"))
    assert not await Message.filter(text__startswith="xxxx").exists()


async def test_a_customer_whose_answer_is_refused_as_blocked_is_marked_unreachable_and_nobody_else(stack):
    """SPEC §4.3: Telegram refuses the bot's answer with 403 (he blocked the bot): nothing more is sent to him until
    he writes again. Another client of the account, or the same Telegram user in another account, stays reachable."""
    other = await accounts.create_account("Other shop", "owner@other.test", "owner-password")
    elsewhere = await Client.create(account_id=other.id, telegram_user_id=CUSTOMER, name="Anna elsewhere")
    neighbour = await Client.create(account_id=stack.account_id, telegram_user_id=CUSTOMER + 1, name="Bob")
    client = await _started_customer(stack)
    stack.world.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user", chat_id=CUSTOMER)
    await stack.say(CUSTOMER, "/fly_me_to_the_moon")
    await eventually(lambda: Client.exists(id=client.id, unreachable=True))
    assert not (await Client.get(id=elsewhere.id)).unreachable and not (await Client.get(id=neighbour.id)).unreachable
    # The update still counted as handled: the next one is answered as usual.
    await stack.say(CUSTOMER, "/fly_me_to_the_moon")
    await eventually(lambda: any("do not know this command" in t for t in stack.bot_texts(CUSTOMER)))


async def test_an_answer_refused_for_another_reason_marks_nobody_unreachable(stack):
    client = await _started_customer(stack)
    stack.world.fail_next("sendMessage", 400, "Bad Request: message is too long", chat_id=CUSTOMER)
    await stack.say(CUSTOMER, "/fly_me_to_the_moon")
    await eventually(lambda: stack.world.faults.get("sendmessage") == [])  # the refusal was spent on that answer
    # He does not write again (that would clear a mark): for a second, nobody marks him.
    for _ in range(20):
        assert not (await Client.get(id=client.id)).unreachable
        await asyncio.sleep(0.05)


async def test_an_employee_whose_answer_is_refused_as_blocked_is_marked_unreachable(stack):
    stack.world.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user", chat_id=STAFF[0])
    await stack.say(STAFF[0], "/fly_me_to_the_moon")
    await eventually(lambda: Employee.exists(id=stack.manager_ids[0], telegram_unreachable=True))
    assert not await Employee.filter(id__in=stack.manager_ids[1:], telegram_unreachable=True).exists()


def _buttons(message: dict) -> dict[str, dict]:
    return {b["text"]: b for row in message["reply_markup"]["inline_keyboard"] for b in row}


async def test_a_new_customers_first_message_reaches_the_manager_rotation_chose_with_a_ping(stack):
    """SPEC §10.2–10.3: a lead who writes before ordering anything is assigned and his manager pinged at once."""
    await stack.say(CUSTOMER, f"/start {stack.widget_code}")
    await stack.say(CUSTOMER, "Hi! Do you deliver to Lviv?")
    client = await _customer_client(stack)
    first = STAFF[0]  # the first manager in the widget's rotation
    ping = await eventually(lambda: next(
        (m for m in stack.chat(first) if "New conversation for you: Anna" in (m.get("text") or "")), None))
    assert "Do you deliver to Lviv?" in ping["text"]
    buttons = _buttons(ping)
    chat_id = (await Message.get(text="Hi! Do you deliver to Lviv?")).chat_id
    assert buttons["Open chat"]["url"] == f"{PUBLIC}/inbox/chats/{chat_id}"
    # His copy of the message, to answer by replying.
    await eventually(lambda: any("Do you deliver to Lviv?" in t and "Reply to this message" in t
                                 for t in stack.bot_texts(first)))
    await stack.world.user_presses(stack.bot, first, ping["message_id"], buttons["Take"]["callback_data"])
    answer = await eventually(lambda: next((q for q in stack.world.callbacks.values()
                                            if q["message_id"] == ping["message_id"] and q["answered"]), None))
    assert answer["answer_text"] == "This chat is yours."
    assert not any("New conversation" in t for u in (STAFF[1], STAFF[2]) for t in stack.bot_texts(u))
    assert (await Client.get(id=client.id).prefetch_related("chat")).chat.assignee_id == stack.manager_ids[0]


async def test_an_admin_takes_over_an_unanswered_chat_from_the_telegram_alert(tmp_path, aiohttp_server):
    """SPEC §10.5: the first-response alert reaches the owner in Telegram; *Take* gives him the chat."""
    stack = await start_stack(tmp_path, aiohttp_server, "webhook")
    owner_user = 2999
    stack.world.add_user(owner_user, "Olena")
    stack.world.started.add((BOT_ID, owner_user))
    await Employee.filter(id=stack.owner_id).update(telegram_user_id=owner_user, telegram_chat_id=owner_user)
    await stack.say(CUSTOMER, "/start")
    await stack.say(CUSTOMER, "Hello? Anyone?")
    await eventually(lambda: Message.exists(text="Hello? Anyone?"))
    from sales.conversations import sweep_unanswered

    from storage.models import Chat

    # He has waited 16 minutes (the clock of the sweep is the app's own, so the alert is due at once).
    await Chat.all().update(waiting_since=utcnow() - timedelta(minutes=16))
    assert len(await sweep_unanswered(utcnow())) == 1
    alert = await eventually(lambda: next(
        (m for m in stack.chat(owner_user) if "waiting for an answer" in (m.get("text") or "")), None))
    assert "Assigned to Manager 0." in alert["text"]
    await stack.world.user_presses(stack.bot, owner_user, alert["message_id"], _buttons(alert)["Take"]["callback_data"])
    client = await _customer_client(stack)
    await eventually(lambda: Client.exists(id=client.id, chat__assignee_id=stack.owner_id))
