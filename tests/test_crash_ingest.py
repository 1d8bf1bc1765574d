"""Crash test (issue 14, SPEC §7): closer is killed with SIGKILL while customers' messages stream into its Telegram
webhook, written in batches (storage.group_commit). Telegram resends every update it got no 200 for, and a new
process takes them. Counted in the database: every acknowledged message is stored, every unacknowledged one is
stored after its resend, and none is stored twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections import Counter

import aiohttp
import pytest

from harness.processes import free_port, log_of, serve, serve_emulator, stop
from sales.clients import client_from_telegram
from storage.db import close_database, migrate, open_database
from storage.models import Account, Client, Direction, Message
from telegram_emulator.world import World
from tests.conftest import require_backend
from tests.dbtools import truncate_all
from tests.factories import make_shop

# Runs several processes: run with the machine to itself (scripts/test.sh).
pytestmark = pytest.mark.alone

TOKEN = "7300:crash-ingest-bot"
BOT_ID = 7300
CUSTOMERS = 40
SENDERS = 16
# Acknowledged updates before the kill: enough that many more are on their way through the process at that moment.
BEFORE_KILL = 150
FIRST_USER = 730_000


async def _customers(url: str) -> int:
    """A shop whose bot has 40 known customers (past the e-mail question): their texts go to the team."""
    ctx = await open_database(url)
    try:
        await truncate_all()
        shop = await make_shop(managers=2)
        await Account.filter(id=shop.account.id).update(bot_token=TOKEN)
        for i in range(CUSTOMERS):
            client, _ = await client_from_telegram(shop.account.id, FIRST_USER + i, name=f"C{i}", language_code="en")
            await Client.filter(id=client.id).update(email_asked=True)
        return shop.account.id
    finally:
        await close_database(ctx)


def _update(n: int) -> bytes:
    user = {"id": FIRST_USER + n % CUSTOMERS, "is_bot": False, "first_name": "C", "language_code": "en"}
    return json.dumps({
        "update_id": n,
        "message": {"message_id": n, "date": int(time.time()), "from": user, "text": f"message {n}",
                    "chat": {"id": user["id"], "type": "private", "first_name": "C"}},
    }).encode()


async def _post(http: aiohttp.ClientSession, hook: str, secret: str, n: int) -> int:
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret}
    try:
        async with http.post(hook, data=_update(n), headers=headers) as response:
            return response.status
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return 0  # no answer: Telegram resends


def _grouped(metrics: str) -> tuple[float, float]:
    """Transactions and bodies of the process's group commit, from its /metrics page."""
    values = dict(line.rsplit(" ", 1) for line in metrics.splitlines() if line.startswith("closer_group_commit_"))
    return float(values["closer_group_commit_transactions_total"]), float(values["closer_group_commit_bodies_total"])


async def _stream_until_killed(process, base: str, secret: str) -> tuple[dict[int, int], tuple[float, float]]:
    """SENDERS customers' updates in a closed loop; once BEFORE_KILL are acknowledged the process is killed, with
    as many as SENDERS still in flight. Returns each sent update's status (0: no answer), and the group commit's
    transactions and bodies read just before the kill."""
    statuses: dict[int, int] = {}
    numbers = iter(range(1, 1_000_000))
    killed = asyncio.Event()
    grouped: list[tuple[float, float]] = []
    probing: list[int] = []
    hook = f"{base}/webhooks/telegram/{BOT_ID}"

    async def sender(http: aiohttp.ClientSession) -> None:
        while not killed.is_set():
            n = next(numbers)
            statuses[n] = await _post(http, hook, secret, n)
            if sum(s == 200 for s in statuses.values()) >= BEFORE_KILL and not probing:
                # The others go on sending meanwhile, so updates are in flight at the kill.
                probing.append(n)
                async with http.get(f"{base}/metrics") as page:
                    grouped.append(_grouped(await page.text()))
                os.kill(process.pid, signal.SIGKILL)
                killed.set()

    connector = aiohttp.TCPConnector(limit=SENDERS)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:
        await asyncio.gather(*(sender(http) for _ in range(SENDERS)))
    process.wait(timeout=10)
    return statuses, grouped[0]


async def _secret(url: str, account_id: int) -> str:
    """The webhook's secret, which the serving process sets when it registers the webhook."""
    ctx = await open_database(url)
    try:
        return (await Account.get(id=account_id)).webhook_secret
    finally:
        await close_database(ctx)


async def _stored(url: str) -> Counter:
    """How many times each update's message is stored (the message id is the update id)."""
    ctx = await open_database(url)
    try:
        ids = await Message.filter(direction=Direction.INBOUND).values_list("telegram_message_id", flat=True)
        return Counter(ids)
    finally:
        await close_database(ctx)


async def test_a_process_killed_while_customers_write_loses_no_message_and_stores_none_twice(database_urls):
    url = require_backend(database_urls, "postgres")
    await migrate(url)
    world = World()
    world.add_bot(TOKEN)
    runner, emulator_url = await serve_emulator(world)
    account_id = await _customers(url)
    env = {"TELEGRAM_API_URL": emulator_url, "LOG_LEVEL": "WARNING"}
    first_port, second_port = free_port(), free_port()
    first = await serve(url, first_port, WEBHOOK_BASE_URL=f"http://127.0.0.1:{first_port}", **env)
    second = None
    try:
        secret = await _secret(url, account_id)
        statuses, (transactions, bodies) = await _stream_until_killed(first, f"http://127.0.0.1:{first_port}", secret)
        unanswered = sorted(n for n, status in statuses.items() if status != 200)
        assert unanswered, "the kill was meant to land while updates were in flight"
        assert bodies > transactions, "customers' messages were meant to be written in batches"
        assert all(statuses[n] == 0 for n in unanswered), Counter(statuses.values())
        second = await serve(url, second_port, WEBHOOK_BASE_URL=f"http://127.0.0.1:{second_port}", **env)
        hook = f"http://127.0.0.1:{second_port}/webhooks/telegram/{BOT_ID}"
        async with aiohttp.ClientSession() as http:
            # Telegram resends what got no 200; an update whose 200 was lost on the way comes again too.
            resent = {n: await _post(http, hook, secret, n) for n in unanswered}
            again = {n: await _post(http, hook, secret, n) for n in sorted(statuses)[::10]}
        assert set(resent.values()) == {200}, (resent, log_of(second)[-3000:])
        assert set(again.values()) == {200}
        stored = await _stored(url)
        lost = sorted(set(statuses) - set(stored))
        doubled = sorted(n for n, times in stored.items() if times > 1)
        assert (lost, doubled) == ([], []), (len(unanswered), log_of(second)[-2000:])
        assert set(stored) == set(statuses)
    finally:
        stop(first, *([second] if second else []))
        await runner.cleanup()
