"""SPEC §7: Telegram's limits hold for the deployment, not per process. Several `closer run` processes share one bot
and one Redis (a private server) and send 300 alerts; the Bot API emulator records when each send reached it."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict

import pytest
from tortoise.transactions import in_transaction

from sales import outbox
from sales.clock import utcnow
from storage.db import close_database, migrate, open_database
from storage.models import Account, Employee, Outbox, OutboxStatus, Role
from telegram_emulator.world import World
from tests.conftest import require_backend
from tests.dbtools import truncate_all
from tests.factories import make_shop, new_client
from tests.private_redis import private_redis
from harness.processes import free_port, log_of, serve, serve_emulator, stop

# Asserts on wall-clock time or runs several processes: run with the machine to itself (scripts/test.sh).
pytestmark = pytest.mark.alone

TOKEN = "7300:pacing-bot"
CHATS = 100
PER_CHAT = 3  # 300 alerts: each chat hears three times, from whichever processes claimed them


async def _seed(world: World) -> None:
    shop = await make_shop(managers=0)
    await Account.filter(id=shop.account.id).update(bot_token=TOKEN)
    bot = world.bot(TOKEN)
    client = await new_client(shop, name="Paced")
    staff = []
    for i in range(CHATS):
        user_id = 70_000 + i
        staff.append(await Employee.create(
            account_id=shop.account.id, email=f"p{i}@pace.test", name=f"P{i}", role=Role.MANAGER,
            telegram_user_id=user_id, telegram_chat_id=user_id,
        ))
        world.add_user(user_id, f"P{i}")
        world.started.add((bot.id, user_id))
    shop.extra.update(staff=staff, client=client)
    return shop


async def _enqueue_alerts(shop) -> None:
    """All at once, round by round: every claimed batch holds every chat, so each chat is sent to by several
    processes."""
    now = utcnow()
    async with in_transaction():
        for round_ in range(PER_CHAT):
            for employee in shop.extra["staff"]:
                await outbox.enqueue(
                    account_id=shop.account.id, kind=outbox.PERSONAL_MANAGER_SET,
                    dedupe_key=f"pace:{round_}:{employee.id}", employee_id=employee.id,
                    client_id=shop.extra["client"].id, now=now,
                )


def _busiest_second(times: list[float]) -> int:
    most, start = 0, 0
    for end in range(len(times)):
        while times[end] - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


# Four processes contend harder for the shared pace than the two replicas of docker-compose.yml; bench/fanout.py
# measures the rate with one and with two for the figures.
@pytest.mark.parametrize("processes", [2, 4])
async def test_processes_sharing_a_bot_keep_its_limits_together(database_urls, processes):
    url = require_backend(database_urls, "postgres")
    await migrate(url)
    world = World()  # Telegram's limits on: a send over them is a 429, counted
    world.add_bot(TOKEN)
    runner, emulator_url = await serve_emulator(world)
    ctx = await open_database(url)
    await truncate_all()
    shop = await _seed(world)
    bot = world.bot(TOKEN)
    apps = []
    try:
        with private_redis() as redis:
            env = {"TELEGRAM_API_URL": emulator_url, "REDIS_URL": redis.url,
                   "LOG_LEVEL": "WARNING"}
            apps = list(await asyncio.gather(*(serve(url, free_port(), **env) for _ in range(processes))))
            await _enqueue_alerts(shop)
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                if (len(bot.admitted) >= CHATS * PER_CHAT
                        and not await Outbox.filter(status=OutboxStatus.PENDING).exists()):
                    break
                await asyncio.sleep(0.1)
            logs = "\n".join(log_of(app)[-1500:] for app in apps)
        sends = sorted(bot.admitted)
        times = [t for t, _ in sends]
        per_chat: dict[int, list[float]] = defaultdict(list)
        for t, chat in sends:
            per_chat[chat].append(t)
        assert world.counters["429"] == 0, logs
        assert len(sends) == CHATS * PER_CHAT, logs  # 0 lost, 0 doubled
        assert {chat: len(ts) for chat, ts in per_chat.items()} == {70_000 + i: PER_CHAT for i in range(CHATS)}
        assert _busiest_second(times) <= 30
        closest = min(b - a for ts in per_chat.values() for a, b in itertools.pairwise(ts))
        assert closest >= 1.0, f"two sends to one chat {closest:.3f} s apart"
        # Sustained: the middle of the run, past the first claims and before the last stragglers.
        middle = times[30:-30]
        rate = (len(middle) - 1) / (middle[-1] - middle[0])
        print(f"{processes} processes: {rate:.1f} msg/s sustained, busiest second {_busiest_second(times)}")
        assert rate >= 28, f"{rate:.1f} msg/s"
    finally:
        stop(*apps)
        await close_database(ctx)
        await runner.cleanup()
