"""SPEC §7: in polling mode exactly one process of a deployment polls each bot. Several `closer run` processes share
PostgreSQL; the Bot API emulator answers a second concurrent getUpdates with 409 like Telegram, and counts them."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from storage.db import close_database, migrate, open_database
from storage.models import Account, Message, PollerLease
from telegram_emulator.world import World
from tests.conftest import require_backend
from tests.dbtools import truncate_all
from tests.factories import make_shop
from harness.processes import free_port, log_of, serve, serve_emulator, stop

# Asserts on wall-clock time or runs several processes: run with the machine to itself (scripts/test.sh).
pytestmark = pytest.mark.alone

TOKEN = "7500:one-poller-bot"
CUSTOMERS = [90_000 + i for i in range(20)]


async def _stored(texts: list[str]) -> dict[str, int]:
    found = await Message.filter(text__in=texts).values_list("text", flat=True)
    return {text: found.count(text) for text in texts}


async def _until_stored(texts: list[str], timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        stored = await _stored(texts)
        if all(stored.values()) or time.monotonic() > deadline:
            return stored
        await asyncio.sleep(0.2)


async def _write(world: World, tag: str) -> list[str]:
    bot = world.bot(TOKEN)
    texts = []
    for user_id in CUSTOMERS:
        text = f"{tag} from {user_id}"
        await world.user_sends(bot, user_id, text=text)
        texts.append(text)
    return texts


# Three processes: one polls, two wait; with the poller killed exactly one of the two must take over (two would
# already show a second consumer). Two processes is the same path with one waiter, so it is not run again.
@pytest.mark.parametrize("processes", [2, 3])
async def test_one_process_polls_and_another_takes_over_when_it_dies(database_urls, processes):
    url = require_backend(database_urls, "postgres")
    await migrate(url)
    world = World()
    world.add_bot(TOKEN)
    for user_id in CUSTOMERS:
        world.add_user(user_id, f"C{user_id}")
    runner, emulator_url = await serve_emulator(world)
    ctx = await open_database(url)
    await truncate_all()
    shop = await make_shop(managers=1)
    await Account.filter(id=shop.account.id).update(bot_token=TOKEN)
    env = {"TELEGRAM_API_URL": emulator_url, "LOG_LEVEL": "WARNING"}
    apps = []
    try:
        apps = list(await asyncio.gather(*(serve(url, free_port(), **env) for _ in range(processes))))
        # Long enough for every process to have tried the lease a few times and polled if it (wrongly) could.
        await asyncio.sleep(3)
        first = await _write(world, "first")
        stored = await _until_stored(first, 30)
        assert stored == dict.fromkeys(first, 1), "\n".join(log_of(a)[-1500:] for a in apps)  # each once
        assert world.counters["409"] == 0, "two processes polled at once"

        lease = await PollerLease.get(bot_id=world.bot(TOKEN).id)
        pid = int(lease.holder.split(":")[1])
        poller = next(a for a in apps if a.pid == pid)
        os.kill(poller.pid, signal.SIGKILL)
        poller.wait(timeout=10)
        killed_at = time.monotonic()
        second = await _write(world, "second")
        stored = await _until_stored(second, 15)
        taken_over_in = time.monotonic() - killed_at
        assert stored == dict.fromkeys(second, 1), "\n".join(log_of(a)[-1500:] for a in apps if a is not poller)
        assert taken_over_in < 15
        assert (await _stored(first)) == dict.fromkeys(first, 1)  # nothing of before handled again
        assert (await PollerLease.get(bot_id=world.bot(TOKEN).id)).holder != lease.holder
    finally:
        stop(*[a for a in apps if a.poll() is None])
        await close_database(ctx)
        await runner.cleanup()
