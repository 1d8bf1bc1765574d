"""SPEC §7: Redis is a helper, never a single point of failure. A `closer run` process on PostgreSQL and a Redis of
its own (a private server) talks to the Bot API emulator; Redis is stopped for 15 seconds while customers write, in
polling mode and in webhook mode. Nothing they sent is lost, logins work meanwhile, live events come back after."""

from __future__ import annotations

import asyncio
import itertools
import time

import aiohttp
import pytest

from sales.accounts import hash_password
from storage.db import close_database, migrate, open_database
from storage.models import Account, Client, Employee, Message
from telegram_emulator.world import World
from tests.apitools import PASSWORD
from tests.conftest import require_backend
from tests.dbtools import truncate_all
from tests.factories import make_shop
from tests.private_redis import private_redis
from harness.processes import free_port, log_of, serve, serve_emulator, stop

# Asserts on wall-clock time or runs several processes: run with the machine to itself (scripts/test.sh).
pytestmark = pytest.mark.alone

TOKEN = "7400:outage-bot"
OUTAGE_SECONDS = 15
ASKED = 80_001  # gets the e-mail question before the outage and answers it during
STARTS = 80_002  # sends /start during the outage
WRITERS = (80_003, 80_004)  # write to the team during the outage


async def _until(condition, timeout: float, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await condition():
            return True
        await asyncio.sleep(every)
    return False


def _bot_said(world: World, user_id: int, words: str) -> bool:
    return any(m["from_bot"] and words in (m["text"] or "") for m in world.transcript(world.bot(TOKEN), user_id))


async def _log_in(base: str, email: str) -> tuple[aiohttp.ClientSession, int]:
    browser = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with browser.post(f"{base}/api/v1/session", json={"email": email, "password": PASSWORD},
                            timeout=aiohttp.ClientTimeout(total=10)) as response:
        return browser, response.status


async def _texts_in(user_id: int) -> list[str]:
    client = await Client.get_or_none(telegram_user_id=user_id)
    if client is None:
        return []
    return list(await Message.filter(chat__client_id=client.id, direction="in").order_by("id").values_list("text", flat=True))


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_redis_stopped_for_fifteen_seconds_loses_no_update_and_keeps_logins(database_urls, mode):
    url = require_backend(database_urls, "postgres")
    await migrate(url)
    world = World()
    world.add_bot(TOKEN)
    bot = world.bot(TOKEN)
    for user_id in (ASKED, STARTS, *WRITERS):
        world.add_user(user_id, f"U{user_id}")
    runner, emulator_url = await serve_emulator(world)
    ctx = await open_database(url)
    await truncate_all()
    shop = await make_shop(managers=1)
    await Account.filter(id=shop.account.id).update(bot_token=TOKEN)
    await Employee.filter(id=shop.owner.id).update(password_hash=hash_password(PASSWORD))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = None
    try:
        with private_redis() as redis:
            env = {"TELEGRAM_API_URL": emulator_url, "REDIS_URL": redis.url,
                   "LOG_LEVEL": "INFO"}
            if mode == "webhook":
                env["WEBHOOK_BASE_URL"] = base
            app = await serve(url, port, **env)
            await world.user_sends(bot, ASKED, text="/start")
            assert await _until(lambda: _ready(world, ASKED), 30), log_of(app)[-3000:]
            assert (bot.webhook_url is not None) == (mode == "webhook")

            redis.stop()
            stopped = time.monotonic()
            await world.user_sends(bot, ASKED, text="asked@example.com")
            await world.user_sends(bot, STARTS, text="/start")
            for user_id in WRITERS:
                for n in range(3):
                    await world.user_sends(bot, user_id, text=f"written during the outage {n}")
            browser, status = await _log_in(base, shop.owner.email)
            await browser.close()
            assert status == 200, "the right password logs in while Redis is down"
            await asyncio.sleep(OUTAGE_SECONDS - (time.monotonic() - stopped))
            redis.start()

            async def all_handled() -> bool:
                asked = await Client.get_or_none(telegram_user_id=ASKED)
                written = [len(await _texts_in(u)) for u in WRITERS]
                return (asked is not None and asked.email == "asked@example.com"
                        and _bot_said(world, STARTS, "Hello") and written == [3] * len(WRITERS))

            assert await _until(all_handled, 30), log_of(app)[-4000:]
            for user_id in WRITERS:
                assert await _texts_in(user_id) == [f"written during the outage {n}" for n in range(3)]  # once each
            assert _bot_said(world, ASKED, "Thank you")

            browser, status = await _log_in(base, shop.owner.email)
            async with browser:
                assert status == 200
                async with browser.ws_connect(f"{base}/api/v1/live") as ws:
                    assert (await ws.receive_json())["topic"] == "hello"
                    event = await _first_message_event(world, ws)
            sent = await Message.filter(text__startswith="after the outage").values_list("id", flat=True)
            assert event["payload"]["message_id"] in sent
    finally:
        if app is not None:
            stop(app)
        await close_database(ctx)
        await runner.cleanup()


async def _first_message_event(world: World, ws) -> dict:
    """Live events are not queued while Redis is away: once it is back, a message written now reaches the page
    within seconds (the listener resubscribes). He writes once a second until one does."""
    async with asyncio.timeout(15):
        for n in itertools.count():
            await world.user_sends(world.bot(TOKEN), WRITERS[0], text=f"after the outage {n}")
            try:
                async with asyncio.timeout(1):
                    while (event := await ws.receive_json())["topic"] != "message":
                        pass
                    return event
            except TimeoutError:
                continue
    raise AssertionError("unreachable")


async def _ready(world: World, user_id: int) -> bool:
    """The bot has asked him for his e-mail: his question state is in Redis."""
    return _bot_said(world, user_id, "e-mail")
