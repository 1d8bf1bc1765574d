"""Several accounts' bots in one process (aiogram multibot), sharing one Redis for their chat locks."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import unused_port
from redis.asyncio import Redis

from closer.app import create_app
from core.config import Settings
from sales import accounts
from storage.db import close_database, migrate, open_database
from storage.models import Account, Client
from telegram_emulator.app import create_emulator_app
from telegram_emulator.world import World
from tests.conftest import redis_database
from tests.test_bot_e2e import eventually

# Failed once in the parallel part of the suite (a client not seen within 10 s, then a teardown that never ended);
# not reproduced in a dozen runs, alone or under load. It runs with the machine to itself until that is understood.
pytestmark = pytest.mark.alone

TOKENS = {"A": "8101:bot-of-a", "B": "8102:bot-of-b"}
USER = 4242  # one person who talks to both companies' bots


@pytest.fixture
async def two_shops(tmp_path, aiohttp_server, redis_url):
    redis_url = redis_database(redis_url, 14)
    redis = Redis.from_url(redis_url)
    await redis.flushdb()  # the chat locks and bot state of the other test must not leak in
    await redis.aclose()
    world = World()
    for token in TOKENS.values():
        world.add_bot(token)
    world.add_user(USER, "Ivan")
    emulator = await aiohttp_server(create_emulator_app(world))
    url = f"sqlite://{tmp_path / 'multi.db'}"
    await migrate(url)
    ctx = await open_database(url)
    ids = {}
    for name, token in TOKENS.items():
        account = await accounts.create_account(f"Shop {name}", f"owner@{name.lower()}.test", "long-enough")
        await Account.filter(id=account.id).update(bot_token=token)
        ids[name] = account.id
    await close_database(ctx)
    settings = Settings(
        database_url=url, redis_url=redis_url, telegram_api_url=str(emulator.make_url("")).rstrip("/"),
        http_port=unused_port(),
    )
    await aiohttp_server(create_app(settings, scheduler=False))
    return world, ids


def _texts(world: World, token: str) -> list[str]:
    return [m.get("text") or "" for m in world.transcript(world.bot(token), USER) if m["from_bot"]]


async def test_each_accounts_bot_serves_its_own_customers(two_shops):
    world, ids = two_shops
    for name in ("A", "B"):
        await world.user_sends(world.bot(TOKENS[name]), USER, text="/start")
        await world.user_sends(world.bot(TOKENS[name]), USER, text=f"hello {name}")
    for name in ("A", "B"):
        client = await eventually(lambda n=name: Client.get_or_none(account_id=ids[n], telegram_user_id=USER))
        assert client.account_id == ids[name]
    assert await Client.filter(telegram_user_id=USER).count() == 2


async def test_the_email_question_is_open_per_bot(two_shops):
    world, ids = two_shops
    bot_a, bot_b = world.bot(TOKENS["A"]), world.bot(TOKENS["B"])
    await world.user_sends(bot_a, USER, text="/start")
    await eventually(lambda: any("e-mail" in t for t in _texts(world, TOKENS["A"])))
    await world.user_sends(bot_b, USER, text="/start")
    await eventually(lambda: any("e-mail" in t for t in _texts(world, TOKENS["B"])))
    # The question is kept on each account's client, in the database: a Redis restart cannot lose it.
    asked = await Client.filter(telegram_user_id=USER).values_list("account_id", "awaiting_email")
    assert sorted(asked) == sorted([(ids["A"], True), (ids["B"], True)])
    await world.user_sends(bot_a, USER, text="ivan@a.test")
    await eventually(lambda: any("Thank you!" in t for t in _texts(world, TOKENS["A"])))
    assert (await Client.get(account_id=ids["A"], telegram_user_id=USER)).email == "ivan@a.test"
    assert (await Client.get(account_id=ids["B"], telegram_user_id=USER)).email is None
    assert (await Client.get(account_id=ids["B"], telegram_user_id=USER)).awaiting_email is True
