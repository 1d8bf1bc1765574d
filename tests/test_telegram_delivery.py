"""Alerts through the real Telegram channel and aiogram's session, against the emulator's limits (SPEC §4.3)."""

from __future__ import annotations

from collections import Counter

import pytest

from core.i18n import make_i18n
from bot.registry import BotRegistry
from bot.pacing import RateLimiter
from bot.session import default_limiter, make_session
from delivery.telegram import TelegramChannel
from delivery.worker import DeliveryWorker
from sales import outbox
from sales.clock import utcnow
from storage.models import Employee, Outbox, OutboxStatus, Role
from telegram_emulator.app import create_emulator_app
from telegram_emulator.world import World
from tests.factories import make_shop

TOKEN = "7002:delivery-token"


@pytest.fixture
async def emulated(aiohttp_server):
    world = World()
    world.add_bot(TOKEN)
    server = await aiohttp_server(create_emulator_app(world))
    return world, str(server.make_url("")).rstrip("/")


async def _staff(shop, n: int, world: World) -> list[Employee]:
    """n linked employees, each with his own Telegram chat."""
    bot = world.bot(TOKEN)
    staff = []
    for i in range(n):
        user_id = 50_000 + i
        employee = await Employee.create(
            account_id=shop.account.id, email=f"e{i}@fanout.test", name=f"E{i}", role=Role.MANAGER,
            telegram_user_id=user_id, telegram_chat_id=user_id,
        )
        world.add_user(user_id, f"E{i}")
        world.started.add((bot.id, user_id))
        staff.append(employee)
    return staff


async def _ping_rows(shop, staff) -> list[Outbox]:
    now = utcnow()
    return [
        await outbox.enqueue(
            account_id=shop.account.id, kind=outbox.PERSONAL_MANAGER_SET, dedupe_key=f"fanout:{e.id}",
            employee_id=e.id, client_id=(await _a_client(shop)).id, now=now,
        )
        for e in staff
    ]


async def _a_client(shop):
    from tests.factories import new_client

    if "client" not in shop.extra:
        shop.extra["client"] = await new_client(shop, name="Fan Out")
    return shop.extra["client"]


async def _deliver_all(limiter: RateLimiter, url: str, account_id: int, clock=utcnow) -> DeliveryWorker:
    session = make_session(url, limiter)
    registry = BotRegistry(session)
    registry.add(account_id, TOKEN, "secret")
    worker = DeliveryWorker([TelegramChannel(registry, make_i18n(), "https://closer.test")], clock=clock)
    try:
        while await Outbox.filter(status=OutboxStatus.PENDING).exists():
            if await worker.run_once() == 0:
                break
    finally:
        await session.close()
    return worker


# The emulator's rate limits are wall-clock: with another test process on the other core, the paced sends bunch up.
@pytest.mark.alone
async def test_one_worker_sends_200_alerts_one_to_each_employee_within_the_limits(db, emulated):
    world, url = emulated
    shop = await make_shop(managers=0)
    staff = await _staff(shop, 200, world)
    await _ping_rows(shop, staff)
    await _deliver_all(default_limiter(), url, shop.account.id)
    bot = world.bot(TOKEN)
    received = Counter(
        e.telegram_chat_id for e in staff for m in world.transcript(bot, e.telegram_chat_id) if m["from_bot"]
    )
    assert received == Counter({e.telegram_chat_id: 1 for e in staff})
    assert world.counters["429"] <= 3  # at most a transient one at a window's edge
    assert await Outbox.filter(status=OutboxStatus.SENT).count() == 200


async def test_a_429_with_retry_after_is_waited_out(db, emulated):
    world, url = emulated
    world.per_bot_per_second = 5  # Telegram is stricter than we thought
    shop = await make_shop(managers=0)
    staff = await _staff(shop, 12, world)
    await _ping_rows(shop, staff)
    await _deliver_all(RateLimiter(per_bot=30), url, shop.account.id)
    assert world.counters["429"] > 0
    assert world.counters["sent"] == 12
    assert await Outbox.filter(status=OutboxStatus.SENT).count() == 12


async def test_a_user_who_blocked_the_bot_does_not_stop_the_others(db, emulated):
    world, url = emulated
    shop = await make_shop(managers=0)
    staff = await _staff(shop, 5, world)
    blocked = staff[2]
    world.blocked.add((world.bot(TOKEN).id, blocked.telegram_chat_id))
    rows = await _ping_rows(shop, staff)
    await _deliver_all(default_limiter(), url, shop.account.id)
    statuses = {r.id: (await Outbox.get(id=r.id)).status for r in rows}
    assert [statuses[r.id] for r in rows] == [OutboxStatus.SENT] * 2 + [OutboxStatus.PARKED] + [OutboxStatus.SENT] * 2
    assert (await Employee.get(id=blocked.id)).telegram_unreachable is True
    assert world.counters["sent"] == 4


async def test_an_employee_without_telegram_is_skipped(db, emulated):
    world, url = emulated
    shop = await make_shop(managers=1)
    [row] = await _ping_rows(shop, shop.managers)
    await _deliver_all(default_limiter(), url, shop.account.id)
    assert (await Outbox.get(id=row.id)).status == OutboxStatus.SKIPPED
    assert world.counters["sent"] == 0


async def _copies_of(shop, staff, text: str):
    """A client's message and a staff copy of it for each of `staff` (what answering_for would choose)."""
    from sales import dialogs
    from tests.factories import new_client

    client = await new_client(shop, name="Olena <Kyiv>")
    message = await dialogs.record_inbound(client, text)
    await Outbox.all().delete()
    now = utcnow()
    rows = [
        await outbox.enqueue(
            account_id=shop.account.id, kind=outbox.MESSAGE_TO_STAFF, dedupe_key=f"copy:{message.id}:{e.id}",
            employee_id=e.id, client_id=client.id, payload={"message_id": message.id}, now=now,
        )
        for e in staff
    ]
    return client, message, rows


async def test_a_clients_message_reaches_each_reachable_employee_as_a_relay_his_reply_answers(db, emulated):
    from storage.models import StaffRelay

    world, url = emulated
    shop = await make_shop(managers=0)
    linked = await _staff(shop, 3, world)
    away = await Employee.create(account_id=shop.account.id, email="x@fanout.test", name="Gone", role=Role.MANAGER,
                                 telegram_user_id=1, telegram_chat_id=1, active=False)
    client, message, rows = await _copies_of(shop, [*linked, away, shop.owner], "Is the <b>red</b> one in stock?")
    await _deliver_all(default_limiter(), url, shop.account.id)
    statuses = [(await Outbox.get(id=r.id)).status for r in rows]
    assert statuses == [OutboxStatus.SENT] * 3 + [OutboxStatus.SKIPPED] * 2  # inactive; owner has no Telegram
    bot = world.bot(TOKEN)
    relays = {(r.employee_id, r.telegram_message_id): r.client_id for r in await StaffRelay.all()}
    for employee in linked:
        [copy] = [m for m in world.transcript(bot, employee.telegram_chat_id) if m["from_bot"]]
        assert copy["text"].startswith("💬 Olena <Kyiv>\nIs the <b>red</b> one in stock?")
        [[button]] = copy["reply_markup"]["inline_keyboard"]
        assert button["url"].endswith(f"/chats/{message.chat_id}")
        assert relays.pop((employee.id, copy["message_id"])) == client.id
    assert relays == {}


async def test_a_batchs_rows_with_nobody_in_telegram_to_send_to_are_known_at_once_the_rest_left_to_send(db, emulated):
    world, url = emulated
    shop = await make_shop(managers=1)  # its manager has no Telegram
    linked, blocked = await _staff(shop, 2, world)
    await Employee.filter(id=blocked.id).update(telegram_unreachable=True)
    away = await Employee.create(account_id=shop.account.id, email="x@fanout.test", name="Gone", role=Role.MANAGER,
                                 telegram_user_id=1, telegram_chat_id=1, active=False)
    unlinked = shop.managers[0]
    client, message, copies = await _copies_of(shop, [linked, blocked, away, unlinked], "Hi")
    pings = await _ping_rows(shop, [linked, unlinked])
    to_client = await outbox.enqueue(account_id=shop.account.id, kind=outbox.MESSAGE_TO_CLIENT,
                                     dedupe_key="to-client", client_id=client.id,
                                     payload={"message_id": message.id}, now=utcnow())
    botless = await make_shop(managers=0)  # an account whose bot this process does not have
    [other] = await _staff(botless, 1, world)
    [elsewhere] = await _ping_rows(botless, [other])
    session = make_session(url, default_limiter())
    registry = BotRegistry(session)
    registry.add(shop.account.id, TOKEN, "secret")
    try:
        known = await TelegramChannel(registry, make_i18n(), "https://closer.test").settled(
            await Outbox.all().order_by("id"))
    finally:
        await session.close()
    assert known == {row.id: False for row in [*copies[1:], pings[1], elsewhere]}
    assert {copies[0].id, pings[0].id, to_client.id}.isdisjoint(known)


async def test_a_relay_written_twice_for_one_telegram_message_stays_one(db):
    from delivery import relay
    from storage.models import StaffRelay
    from tests.factories import new_client

    shop = await make_shop(managers=1)
    client = await new_client(shop, name="Twice")
    for _ in range(2):
        await relay.remember(shop.account.id, shop.managers[0].id, 777, client.id, utcnow())
    assert [(r.employee_id, r.telegram_message_id, r.client_id) for r in await StaffRelay.all()] == [
        (shop.managers[0].id, 777, client.id)]


async def test_the_staff_copies_read_in_one_turn_share_one_statement_on_postgres(pg):
    import asyncio

    from delivery.telegram import _staff_copy_of
    from storage.coalesce import Numbers

    shop = await make_shop(managers=3)
    client, message, _ = await _copies_of(shop, [], "Hello")
    statements, calls = Numbers.statements, Numbers.calls
    found = await asyncio.gather(*(_staff_copy_of(e.id, client.id, message.id) for e in shop.managers),
                                 _staff_copy_of(shop.managers[0].id, client.id, message.id + 1000))  # no such message
    assert (Numbers.statements - statements, Numbers.calls - calls) == (1, 4)
    assert [(row["text"], row["chat_id"], row["name"], bool(row["has_file"])) for row in found[:3]] == [
        ("Hello", message.chat_id, "Olena <Kyiv>", False)] * 3
    assert found[3] is None
