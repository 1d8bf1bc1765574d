"""Benchmark 2, fan-out: a failed payment reaching the people who know the client (SPEC §3.3-3.5, §4.3).

Latency: a client chatted with 50 employees, each logged in with the live socket open; a signed generic webhook
says his order's payment failed; the time until the 50th socket got its `important.created` event. Every repetition
is a new order (a new event), one after the other, against a real `closer run` process with Redis.

Telegram: the same 50 employees linked to Telegram in the emulator, 20 failed orders -> 1,000 alerts delivered by
the app's delivery worker; the send rate as counted at the emulator against its 30 messages/s, duplicates per chat,
and the 429s the emulator answered.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import aiohttp

from bench.common import BenchEnv, Report, Stopwatch, flush_redis, fresh_database, percentile
from providers.signatures import sign_timestamped
from sales import dialogs
from sales.accounts import create_account, hash_password
from sales.clients import find_or_create_client
from sales.orders import create_order
from storage.db import close_database, open_database
from storage.models import Account, Employee, Offer, Outbox, OutboxStatus, Role
from telegram_emulator.world import World
from harness.processes import free_port, log_of, serve, serve_emulator, stop

DATABASE = "closer_bench_fanout"
SECRET = "bench-payments-secret"
PASSWORD = "bench-password"
TOKEN = "7200:bench-fanout-bot"
STAFF = 50
TELEGRAM_ORDERS = 20  # x 50 employees = 1,000 alerts
ORDER_NUMBER = re.compile(r"order #(\d+)")


class CountingWorld(World):
    """The emulator's world, noting when each bot message arrived (its own dates are whole seconds)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, int, str]] = []

    async def send_message(self, bot, chat_id, text, **kwargs) -> dict:
        result = await super().send_message(bot, chat_id, text, **kwargs)
        self.arrivals.append((time.perf_counter(), chat_id, text))
        return result


async def _shop(name: str, bot_token: str | None = None, telegram_base: int | None = None):
    """An account with STAFF managers who all wrote to one client, and a flagged offer."""
    account = await create_account(name, f"owner@{name}.bench", PASSWORD)
    if bot_token:
        await Account.filter(id=account.id).update(bot_token=bot_token)
    password_hash = hash_password(PASSWORD)
    staff = []
    for i in range(STAFF):
        linked = {} if telegram_base is None else {"telegram_user_id": telegram_base + i,
                                                   "telegram_chat_id": telegram_base + i}
        staff.append(await Employee.create(account_id=account.id, email=f"m{i}@{name}.bench", name=f"Manager {i}",
                                           role=Role.MANAGER, password_hash=password_hash, **linked))
    offer = await Offer.create(account_id=account.id, title="Flagged course", price="200.00", currency="EUR",
                               notify_on_failed_payment=True)
    client = await find_or_create_client(account.id, email=f"client@{name}.bench", name="Bench Client")
    long_ago = datetime.now(UTC) - timedelta(days=1)
    for employee in staff:
        await dialogs.record_outbound(employee, client.id, "hello", now=long_ago)
    return account, staff, offer, client


async def _orders(account_id: int, client_id: int, offer_id: int, n: int) -> list[int]:
    orders = [(await create_order(account_id, client_id=client_id, offer_id=offer_id)).id for _ in range(n)]
    # Only the failures are under test: the assignment pings and e-mails of setting up are out of the way.
    await Outbox.filter(status=OutboxStatus.PENDING).update(status=OutboxStatus.SKIPPED)
    return orders


def _webhook(order_id: int, event_id: str) -> tuple[bytes, dict]:
    body = json.dumps({"event_id": event_id, "order_id": order_id, "status": "failed", "amount": 200.0,
                       "currency": "EUR", "occurred_at": datetime.now(UTC).isoformat(),
                       "reason": "insufficient_funds"}).encode()
    headers = {"Content-Type": "application/json",
               "X-Closer-Signature": sign_timestamped(SECRET, body, int(time.time()))}
    return body, headers


class Sockets:
    """One browser per employee with the live socket open; notes when each got each order's important item."""

    def __init__(self, base: str, emails: list[str]) -> None:
        self.base = base
        self.emails = emails
        self.sessions: list[aiohttp.ClientSession] = []
        self.readers: list[asyncio.Task] = []
        self.arrived: dict[int, list[float]] = defaultdict(list)
        self.complete: dict[int, asyncio.Event] = defaultdict(asyncio.Event)

    async def open(self) -> None:
        for email in self.emails:
            # The default jar refuses cookies of bare IP hosts; a browser does not.
            session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
            self.sessions.append(session)
            async with session.post(f"{self.base}/api/v1/session",
                                    json={"email": email, "password": PASSWORD}) as response:
                assert response.status == 200, await response.text()
            ws = await session.ws_connect(f"{self.base}/api/v1/live")
            assert (await ws.receive_json())["topic"] == "hello"
            self.readers.append(asyncio.create_task(self._read(ws)))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            event = json.loads(message.data)
            if event.get("kind") == "important.created":
                order_id = event["payload"]["order_id"]
                self.arrived[order_id].append(time.perf_counter())
                if len(self.arrived[order_id]) == len(self.emails):
                    self.complete[order_id].set()

    async def close(self) -> None:
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        for session in self.sessions:
            await session.close()


async def _latency(env: BenchEnv, url: str, report: Report) -> None:
    repetitions = 20 if env.quick else 200
    ctx = await open_database(url)
    try:
        account, staff, offer, client = await _shop("latency")
        orders = await _orders(account.id, client.id, offer.id, repetitions)
    finally:
        await close_database(ctx)
    port = free_port()
    app = await serve(url, port, REDIS_URL=env.redis_url, PAYMENTS_WEBHOOK_SECRET=SECRET, LOG_LEVEL="WARNING")
    base = f"http://127.0.0.1:{port}"
    sockets = Sockets(base, [e.email for e in staff])
    fan_out: list[float] = []
    webhook: list[float] = []
    first: list[float] = []
    missed = 0
    try:
        await sockets.open()
        async with aiohttp.ClientSession() as poster:
            for n, order_id in enumerate(orders):
                body, headers = _webhook(order_id, f"bench-latency-{n}")
                started = time.perf_counter()
                async with poster.post(f"{base}/webhooks/payments", data=body, headers=headers) as response:
                    answered = time.perf_counter()
                    assert response.status == 200, await response.text()
                try:
                    await asyncio.wait_for(sockets.complete[order_id].wait(), timeout=10)
                except TimeoutError:
                    missed += 1
                    continue
                webhook.append((answered - started) * 1000)
                arrivals = sockets.arrived[order_id]
                first.append((min(arrivals) - started) * 1000)
                fan_out.append((max(arrivals) - started) * 1000)
                # Apart, so each sample is one failure on its own rather than a queue behind the previous one.
                await asyncio.sleep(0.02)
    finally:
        await sockets.close()
        stop(app)
    p99 = percentile(fan_out, 99)
    report.latencies["webhook -> 50th live event"] = fan_out
    report.latencies["webhook -> 1st live event"] = first
    report.latencies["webhook response"] = webhook
    report.add("webhook to 50th live important event, p99", p99, "ms", goal="p99 <= 100 ms", met=p99 <= 100,
               detail=f"p50 {percentile(fan_out, 50):.1f} ms, n={len(fan_out)}")
    report.add("webhook response, p99", percentile(webhook, 99), "ms",
               detail=f"p50 {percentile(webhook, 50):.1f} ms")
    report.add("repetitions whose 50 events did not all arrive in 10 s", missed, "", goal="0", met=missed == 0)


async def _telegram(env: BenchEnv, url: str, report: Report, processes: int) -> None:
    """The alerts sent by `processes` app processes sharing the bot (and Redis, which paces them together)."""
    orders_n = 4 if env.quick else TELEGRAM_ORDERS
    expected_total = orders_n * STAFF
    world = CountingWorld()
    bot = world.add_bot(TOKEN)
    chat_base = 70_000
    for i in range(STAFF):
        world.add_user(chat_base + i, f"M{i}")
        world.started.add((bot.id, chat_base + i))
    runner, emulator_url = await serve_emulator(world, access_log=None)

    ctx = await open_database(url)
    try:
        account, staff, offer, client = await _shop("telegram", bot_token=TOKEN, telegram_base=chat_base)
        orders = await _orders(account.id, client.id, offer.id, orders_n)
    finally:
        await close_database(ctx)
    ports = [free_port() for _ in range(processes)]
    apps = list(await asyncio.gather(*(
        serve(url, p, REDIS_URL=env.redis_url, PAYMENTS_WEBHOOK_SECRET=SECRET, LOG_LEVEL="WARNING",
              TELEGRAM_API_URL=emulator_url) for p in ports)))
    port = ports[0]
    try:
        # Alerts only: whatever the bot's start-up sent is not counted.
        world.arrivals.clear()
        world.counters.clear()
        async with aiohttp.ClientSession() as poster:
            for n, order_id in enumerate(orders):
                body, headers = _webhook(order_id, f"bench-telegram-{n}")
                async with poster.post(f"http://127.0.0.1:{port}/webhooks/payments", data=body,
                                       headers=headers) as response:
                    assert response.status == 200, await response.text()
        clock = Stopwatch()
        while len(world.arrivals) < expected_total and clock.ms < 180_000:
            await asyncio.sleep(0.1)
        # Long enough for a late duplicate (a lease running out, a retried send) to show up as well.
        await asyncio.sleep(3)
    finally:
        stop(*apps)
        log = "\n".join(log_of(app)[-1500:] for app in apps)
        await runner.cleanup()

    arrivals = sorted(world.arrivals)
    # Per alert, not per chat: an alert names its order, so a lost one and a doubled one in the same chat do not
    # cancel out.
    per_alert = Counter((chat, int(m.group(1))) for _, chat, text in arrivals if (m := ORDER_NUMBER.search(text)))
    expected = {(chat_base + i, order_id) for i in range(STAFF) for order_id in orders}
    duplicates = sum(n - 1 for key, n in per_alert.items() if key in expected and n > 1)
    lost = len(expected - set(per_alert))
    strays = sum(n for key, n in per_alert.items() if key not in expected)
    times = [t for t, _, _ in arrivals]
    span = times[-1] - times[0] if len(times) > 1 else float("nan")
    rate = (len(times) - 1) / span if span else float("nan")
    busiest = max((sum(1 for u in times[i:] if u < t + 1.0) for i, t in enumerate(times)), default=0)
    what = f"Telegram alerts, {processes} process{'es' if processes > 1 else ''}"
    report.add(f"{what}: send rate, first to last arrival", rate, "msg/s", goal=">= 28 msg/s",
               met=rate >= 28, detail=f"{len(times)} arrivals in {span:.2f} s")
    report.add(f"{what}: duplicates", duplicates, "", goal="0", met=duplicates == 0)
    report.add(f"{what}: lost", lost, "", goal="0", met=lost == 0)
    report.add(f"{what}: messages that are no expected alert", strays, "", goal="0", met=strays == 0)
    report.add(f"{what}: 429 answered by the emulator", world.counters["429"], "", goal="0",
               met=world.counters["429"] == 0)
    report.add(f"{what}: most in any 1 s window", busiest, "msg", goal="<= 30", met=busiest <= 30)
    if lost:
        report.notes.append("app log tail: " + log[-1500:])


async def run(env: BenchEnv) -> Report:
    report = Report(bench="fanout")
    url = await fresh_database(env, DATABASE)
    await flush_redis(env)
    await _latency(env, url, report)
    for processes in (1, 2):
        # A database and Redis of its own each time: the same bot and staff, nothing left from the run before.
        url = await fresh_database(env, DATABASE)
        await flush_redis(env)
        await _telegram(env, url, report, processes)
    return report
