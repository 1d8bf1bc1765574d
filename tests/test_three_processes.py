"""Three app processes on one PostgreSQL and Redis (issue: reliability, SPEC §1.1, §5.2, §7, §9).

3,000 requests are spread over three `closer run` processes, 30 at a time: employees writing to clients from the
inbox API, orders created for new clients in one widget, signed payment webhooks (some of them sent again, at once to
all three processes or later to another one), and customers' Telegram messages through the bot's webhook (some of
them resent as Telegram does). Proven from the database afterwards: every request got its expected answer, every
answered request left its effect exactly once (lost: 0, doubled: 0), each payment event was applied once with one
set of important items or one commission, every order has one manager and one assignment row, and rotation stayed
fair across the processes (per-manager counts differ by at most 1).
"""

from __future__ import annotations

import pytest

import asyncio
import json
import random
import subprocess
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
from redis.asyncio import Redis

from providers.signatures import sign_timestamped
from sales import accounts, dialogs, outbox, sessions
from sales.clients import set_personal_manager
from sales.clock import utcnow
from sales.orders import create_order
from storage.models import (
    Account,
    AssignmentLog,
    AssignmentReason,
    AssignmentTarget,
    Client,
    CommissionEntry,
    DialogRecord,
    Direction,
    Employee,
    ImportantItem,
    Message,
    Order,
    OrderStatus,
    Outbox,
    PaymentEvent,
    SenderKind,
    TelegramUpdate,
)
from tests.apitools import PASSWORD
from tests.conftest import redis_database
from tests.factories import make_shop, new_client
from harness.processes import free_port, log_of, serve, stop

# Asserts on wall-clock time or runs several processes: run with the machine to itself (scripts/test.sh).
pytestmark = pytest.mark.alone

PROCESSES = 3
CONCURRENCY = 30
PAYMENTS_SECRET = "three-processes-secret"
BOT_TOKEN = "7300:three-processes-bot"
BOT_ID = 7300
WEBHOOK_SECRET = "three-processes-webhook-secret"

MESSAGES = 1300           # inbox API: employees write to 40 clients' chats
ORDERS = 600              # inbox API: orders of new clients in one widget
PAYMENT_ORDERS = 150      # per kind: 150 orders get a failure, 150 others a payment (300 events)
RACED_EVENTS = 100        # each sent to the three processes at once (+200 requests)
RESENT_EVENTS = 100       # each sent once more, to another process, at some other moment (+100 requests)
TELEGRAM_USERS, MESSAGES_EACH = 80, 5     # 400 updates
RACED_UPDATES = RESENT_UPDATES = 50      # +50 twins in flight together, +50 resends later
TOTAL = (MESSAGES + ORDERS + 2 * PAYMENT_ORDERS + 2 * RACED_EVENTS + RESENT_EVENTS
         + TELEGRAM_USERS * MESSAGES_EACH + RACED_UPDATES + RESENT_UPDATES)
assert TOTAL == 3000


@dataclass(frozen=True)
class Request:
    kind: str        # message, order, payment, telegram
    key: str         # what the request leaves behind: message text, customer info, event id, update id
    process: int
    path: str
    body: bytes
    headers: dict
    expected: int
    author: int | None = None  # the employee behind an inbox call


@dataclass
class Answer:
    request: Request
    status: int
    body: dict


def _json(value: dict) -> bytes:
    return json.dumps(value).encode()


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def _cookie(session: sessions.NewSession) -> dict:
    return {"Cookie": f"closer_session={session.token}", "X-CSRF-Token": session.csrf_token,
            "Content-Type": "application/json"}


async def _shop():
    """A shop with 4 managers and its bot on webhooks; the tokens of owner and admin."""
    shop = await make_shop(managers=4)
    await Employee.filter(account_id=shop.account.id).update(password_hash=accounts.hash_password(PASSWORD))
    await Account.filter(id=shop.account.id).update(bot_token=BOT_TOKEN, webhook_secret=WEBHOOK_SECRET)
    return shop, await sessions.issue_api_token(shop.owner, "load"), await sessions.issue_api_token(shop.admin, "load")


async def _seed(shop, started):
    """The managers' sessions, 40 chats to write to, 300 orders awaiting a payment result."""
    manager_sessions = {m.id: await sessions.log_in(m.email, PASSWORD) for m in shop.managers}

    # Each of these clients wrote first (so his chat exists) and has one of the managers as personal manager.
    chats = []
    for i in range(40):
        client = await new_client(shop, name=f"Chat {i}")
        manager = shop.managers[i % len(shop.managers)]
        await set_personal_manager(shop.owner, client.id, manager.id)
        message = await dialogs.record_inbound(client, "hello")
        chats.append((message.chat_id, manager.id))

    # Orders awaiting a result come through a widget of their own, so the rotation under test starts untouched.
    billing = await accounts.add_widget(shop.owner, code="billing", name="Billing", notification_emails=[])
    failing, paying = [], []

    async def payer(i: int) -> None:
        client = await new_client(shop, name=f"Payer {i}")
        order = await create_order(shop.account.id, client_id=client.id, offer_id=shop.flagged_offer.id,
                                   widget_id=billing.id)
        if i % 2 == 0:
            # Two employees talked to him before the failure: exactly they get an important item.
            talked = (shop.managers[i % len(shop.managers)], shop.admin)
            for employee in talked:
                await dialogs.record_outbound(employee, client.id, "here is the link", now=started - timedelta(hours=2))
            failing.append((order.id, {e.id for e in talked}))
        else:
            paying.append(order.id)

    async def stream(k: int) -> None:
        for i in range(k, 2 * PAYMENT_ORDERS, 5):
            await payer(i)

    await asyncio.gather(*(stream(k) for k in range(5)))  # a few at a time: setup is not what is measured
    return manager_sessions, chats, failing, paying


def _plan(shop, owner_token, admin_token, manager_sessions, chats, failing, paying, started) -> list[list[Request]]:
    """The 3,000 requests as jobs; a job's requests are in flight together (the racing resends)."""
    rng = random.Random(20261125)
    staff = [(shop.owner.id, _bearer(owner_token)), (shop.admin.id, _bearer(admin_token))]
    staff += [(manager_id, _cookie(session)) for manager_id, session in manager_sessions.items()]
    jobs: list[list[Request]] = []
    n = 0

    def place() -> int:
        nonlocal n
        n += 1
        return n % PROCESSES

    for i in range(MESSAGES):
        chat_id, personal_manager = chats[i % len(chats)]
        # A third are written by the client's personal manager (his session), the rest by owner or admin (tokens).
        author, headers = (
            (personal_manager, _cookie(manager_sessions[personal_manager])) if i % 3 == 0 else staff[i % 2])
        jobs.append([Request("message", f"msg-{i}", place(), f"/api/v1/chats/{chat_id}/messages",
                             _json({"text": f"msg-{i}"}), headers, 201, author)])
    for i in range(ORDERS):
        body = {"client_email": f"buyer{i}@three.test", "offer_id": shop.offer.id, "widget_id": shop.widget.id,
                "customer_info": f"order-{i}"}
        author, headers = staff[i % len(staff)]
        jobs.append([Request("order", f"order-{i}", place(), "/api/v1/orders", _json(body), headers, 201, author)])

    occurred = (started - timedelta(hours=1)).isoformat()
    events = [{"event_id": f"fail-{order_id}", "order_id": order_id, "status": "failed", "amount": 200.0,
               "currency": "EUR", "occurred_at": occurred, "reason": f"declined {order_id}"}
              for order_id, _ in failing]
    events += [{"event_id": f"paid-{order_id}", "order_id": order_id, "status": "paid", "amount": 200.0,
                "currency": "EUR", "occurred_at": occurred} for order_id in paying]
    rng.shuffle(events)
    hook = {"Content-Type": "application/json"}
    for i, event in enumerate(events):
        body = _json(event)
        first = place()
        if i < RACED_EVENTS:
            jobs.append([Request("payment", event["event_id"], p, "/webhooks/payments", body, hook, 200)
                         for p in range(PROCESSES)])
            continue
        jobs.append([Request("payment", event["event_id"], first, "/webhooks/payments", body, hook, 200)])
        if i < RACED_EVENTS + RESENT_EVENTS:
            jobs.append([Request("payment", event["event_id"], (first + 1) % PROCESSES, "/webhooks/payments", body,
                                 hook, 200)])

    telegram = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
    updates = []
    for user in range(TELEGRAM_USERS):
        for k in range(MESSAGES_EACH):
            update_id = 10_000 + user * MESSAGES_EACH + k
            sender = {"id": 90_000 + user, "is_bot": False, "first_name": f"Tg {user}", "language_code": "en"}
            updates.append((update_id, _json({"update_id": update_id, "message": {
                "message_id": update_id, "date": int(started.timestamp()),
                "chat": {"id": sender["id"], "type": "private", "first_name": sender["first_name"]},
                "from": sender, "text": f"tg-{update_id}"}})))
    rng.shuffle(updates)
    path = f"/webhooks/telegram/{BOT_ID}"
    for i, (update_id, body) in enumerate(updates):
        first = place()
        copies = [first, (first + 1) % PROCESSES] if i < RACED_UPDATES else [first]
        jobs.append([Request("telegram", str(update_id), p, path, body, telegram, 200) for p in copies])
        if RACED_UPDATES <= i < RACED_UPDATES + RESENT_UPDATES:
            jobs.append([Request("telegram", str(update_id), (first + 2) % PROCESSES, path, body, telegram, 200)])

    rng.shuffle(jobs)
    assert sum(len(job) for job in jobs) == TOTAL
    return jobs


async def _send(http: aiohttp.ClientSession, bases: list[str], request: Request) -> Answer:
    headers = dict(request.headers)
    if request.kind == "payment":
        # Signed when sent, as a provider does: the signature's timestamp must be fresh.
        headers["X-Closer-Signature"] = sign_timestamped(PAYMENTS_SECRET, request.body, int(time.time()))
    try:
        async with http.post(bases[request.process] + request.path, data=request.body, headers=headers) as response:
            text = await response.text()
            try:
                body = json.loads(text)
            except ValueError:
                body = {"text": text[:500]}
            return Answer(request, response.status, body)
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        return Answer(request, 599, {"error": repr(exc)})  # no answer at all


async def _run(jobs: list[list[Request]], bases: list[str]) -> list[Answer]:
    answers: list[Answer] = []
    pending = iter(jobs)

    async def worker(http: aiohttp.ClientSession) -> None:
        for job in pending:  # one shared iterator: each job is taken by exactly one worker
            answers.extend(await asyncio.gather(*(_send(http, bases, r) for r in job)))

    timeout = aiohttp.ClientTimeout(total=120)  # the machine is shared: slow is fine, no answer is not
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as http:
        await asyncio.gather(*(worker(http) for _ in range(CONCURRENCY)))
    return answers


def _tally(answered: set[str], stored: list[str]) -> tuple[int, int]:
    """lost: answered 2xx but not stored; doubled: stored more than once, or stored without being answered 2xx."""
    counts = Counter(stored)
    lost = len(answered - counts.keys())
    doubled = sum(c - 1 for c in counts.values()) + len(counts.keys() - answered)
    return lost, doubled


async def test_three_processes_take_3000_mixed_requests_losing_and_doubling_nothing(pg, redis_url):
    redis_url = redis_database(redis_url, 12)
    redis = Redis.from_url(redis_url)
    await redis.flushdb()  # conversation state of earlier tests in this run must not leak in
    await redis.aclose()
    started = utcnow()
    shop, owner_token, admin_token = await _shop()

    ports = [free_port() for _ in range(PROCESSES)]
    env = {"REDIS_URL": redis_url, "PAYMENTS_WEBHOOK_SECRET": PAYMENTS_SECRET, "LOG_LEVEL": "WARNING",
           # Webhook mode: updates come to /webhooks/telegram/{bot_id}; nobody polls (Telegram is unreachable).
           "WEBHOOK_BASE_URL": "https://closer.example"}
    # The processes start (seconds of imports each) while the rest is seeded; they load the bot at start.
    started_up = await asyncio.gather(*(serve(pg, port, **env) for port in ports), _seed(shop, started),
                                      return_exceptions=True)
    apps = [p for p in started_up[:PROCESSES] if isinstance(p, subprocess.Popen)]
    failed = next((r for r in started_up if isinstance(r, BaseException)), None)
    if failed is not None:
        stop(*apps)
        raise failed
    manager_sessions, chats, failing, paying = started_up[PROCESSES]
    jobs = _plan(shop, owner_token, admin_token, manager_sessions, chats, failing, paying, started)
    try:
        answers = await _run(jobs, [f"http://127.0.0.1:{port}" for port in ports])
    finally:
        stop(*apps)

    # Every request got the answer it should: no 5xx from a race between processes, no timeouts.
    assert len(answers) == TOTAL
    wrong = [a for a in answers if a.status != a.request.expected]
    per_process = Counter(a.request.process for a in answers)
    assert not wrong, (
        f"{len(wrong)} unexpected answers {Counter((a.request.kind, a.status) for a in wrong)}, e.g. "
        f"{[(a.request.kind, a.request.key, a.status, a.body) for a in wrong[:5]]}\n"
        + "\n".join(log_of(app)[-2000:] for app in apps)
    )
    answered: dict[str, set[str]] = defaultdict(set)
    for a in answers:
        answered[a.request.kind].add(a.request.key)
    # Whichever copy of a payment event came first applied it; every other copy was told it was a duplicate.
    firsts = Counter(a.request.key for a in answers if a.request.kind == "payment" and not a.body["duplicate"])
    assert firsts == Counter({key: 1 for key in answered["payment"]})

    # Lost and doubled, counted per effect from what the database holds.
    account_id = shop.account.id
    stored = {
        "message": await Message.filter(chat__account_id=account_id, sender_kind=SenderKind.EMPLOYEE,
                                        text__startswith="msg-").values_list("text", flat=True),
        "order": await Order.filter(widget_id=shop.widget.id).values_list("customer_info", flat=True),
        "payment": await PaymentEvent.filter(provider="generic").values_list("event_id", flat=True),
        "telegram": [str(m) for m in await Message.filter(
            chat__account_id=account_id, direction=Direction.INBOUND, telegram_message_id__isnull=False,
        ).values_list("telegram_message_id", flat=True)],
    }
    tallies = {kind: _tally(answered[kind], stored[kind]) for kind in stored}
    lost, doubled = sum(t[0] for t in tallies.values()), sum(t[1] for t in tallies.values())
    assert (lost, doubled) == (0, 0), f"lost: {lost}, doubled: {doubled} ({tallies})"
    assert sorted(await TelegramUpdate.filter(bot_id=BOT_ID).values_list("update_id", flat=True)) == sorted(
        int(key) for key in answered["telegram"])
    print(f"\n{TOTAL} requests, per process {sorted(per_process.items())}: lost: {lost}, doubled: {doubled}")

    # Each employee's dialog record counts exactly the messages he was answered 201 for.
    sent_by = Counter((a.request.author, a.body["chat_id"]) for a in answers if a.request.kind == "message")
    records = await DialogRecord.filter(chat_id__in=[c for c, _ in chats]).values("employee_id", "chat_id",
                                                                                  "message_count")
    assert Counter({(r["employee_id"], r["chat_id"]): r["message_count"] for r in records}) == sent_by

    # Every order has one manager, chosen once by rotation, fairly across the processes.
    orders = await Order.filter(widget_id=shop.widget.id).values("id", "order_manager_id")
    logs = await AssignmentLog.filter(target=AssignmentTarget.ORDER, order_id__in=[o["id"] for o in orders]).values(
        "order_id", "to_employee_id", "reason")
    assert Counter(log["order_id"] for log in logs) == Counter({o["id"]: 1 for o in orders}), "one assignment each"
    assert {log["order_id"]: log["to_employee_id"] for log in logs} == {o["id"]: o["order_manager_id"] for o in orders}
    assert {log["reason"] for log in logs} == {AssignmentReason.ROTATION}
    rotation = Counter(o["order_manager_id"] for o in orders)
    assert set(rotation) == {m.id for m in shop.managers}
    assert max(rotation.values()) - min(rotation.values()) <= 1, f"rotation: {rotation}"
    print(f"rotation per manager: {sorted(rotation.values())}")

    # Each failure changed its order once and alerted exactly the two employees who had talked to the client.
    for order_id, talked in failing:
        order = await Order.get(id=order_id)
        assert (order.status, order.failure_reason) == (OrderStatus.FAILED, f"declined {order_id}")
        items = await ImportantItem.filter(order_id=order_id).values_list("employee_id", flat=True)
        assert sorted(items) == sorted(talked), f"order {order_id}: {items}"
    # ... and queued one alert per important item.
    items = await ImportantItem.filter(order_id__in=[o for o, _ in failing]).values_list("id", flat=True)
    alerts = await Outbox.filter(kind=outbox.IMPORTANT_CREATED).values_list("payload", flat=True)
    assert Counter(p["important_item_id"] for p in alerts) == Counter({item_id: 1 for item_id in items})
    # Each payment made its order paid once and credited one commission.
    assert set(await Order.filter(id__in=paying).values_list("status", flat=True)) == {OrderStatus.PAID}
    commissions = Counter(await CommissionEntry.filter(order_id__in=paying).values_list("order_id", flat=True))
    assert commissions == Counter({order_id: 1 for order_id in paying})

    # One client per Telegram user, each with all five of his messages.
    tg_clients = await Client.filter(account_id=account_id, telegram_user_id__isnull=False).values_list(
        "id", flat=True)
    assert len(tg_clients) == TELEGRAM_USERS
    per_chat = Counter(await Message.filter(chat__client_id__in=tg_clients, direction=Direction.INBOUND).values_list(
        "chat__client_id", flat=True))
    assert per_chat == Counter({client_id: MESSAGES_EACH for client_id in tg_clients})
