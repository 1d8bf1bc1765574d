"""Live updates (issue: inbox): what happens reaches the employee's open page over a WebSocket, across processes too."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import pytest

from sales import dialogs
from sales.orders import create_order
from sales.payments import PaymentNotice, apply_payment
from storage.db import close_database, migrate, open_database
from storage.models import Employee, Order, PaymentResult
from tests.apitools import PASSWORD, make_api
from tests.conftest import redis_database, require_backend
from tests.dbtools import truncate_all
from tests.factories import at, make_shop, new_client
from harness.processes import free_port, serve, stop

# Asserts on wall-clock time or runs several processes: run with the machine to itself (scripts/test.sh).
pytestmark = pytest.mark.alone


@pytest.fixture
def live_redis_url(redis_url: str) -> str:
    """The run's own Redis, where the processes' live events meet."""
    return redis_database(redis_url, 13)


async def _next_event(ws, topic: str | None, timeout: float = 10.0) -> dict:
    """The next event of `topic` (any topic when None); others are skipped."""
    async with asyncio.timeout(timeout):
        while True:
            event = await ws.receive_json()
            if topic is None or event["topic"] == topic:
                return event


async def test_a_failed_payment_reaches_the_employees_open_page_at_once(database_urls, aiohttp_client):
    api = await make_api(require_backend(database_urls, "sqlite"), aiohttp_client)
    manager = api.shop.managers[0]
    client = await new_client(api.shop)
    order = await create_order(api.shop.account.id, client_id=client.id, offer_id=api.shop.flagged_offer.id, now=at(0))
    await dialogs.record_outbound(manager, client.id, "hello", now=at(1))
    await api.log_in(manager.email)
    async with api.client.ws_connect("/api/v1/live") as ws:
        assert (await ws.receive_json())["topic"] == "hello"
        await apply_payment(PaymentNotice("generic", "f1", str(order.id), PaymentResult.FAILED, occurred_at=at(5)))
        event = await _next_event(ws, "important")
        assert event["kind"] == "important.created" and event["payload"]["order_id"] == order.id


async def test_the_live_socket_needs_a_login(database_urls, aiohttp_client):
    api = await make_api(require_backend(database_urls, "sqlite"), aiohttp_client)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await api.client.ws_connect("/api/v1/live")
    assert refused.value.status == 401


async def test_another_sites_page_cannot_open_the_live_socket(database_urls, aiohttp_client):
    api = await make_api(require_backend(database_urls, "sqlite"), aiohttp_client)
    await api.log_in(api.shop.managers[0].email)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await api.client.ws_connect("/api/v1/live", headers={"Origin": "https://evil.example"})
    assert refused.value.status == 403


def _browser() -> aiohttp.ClientSession:
    # The default jar refuses cookies of bare IP hosts; a browser does not.
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def _log_in(session: aiohttp.ClientSession, base: str, email: str) -> str:
    async with session.post(f"{base}/api/v1/session", json={"email": email, "password": PASSWORD}) as response:
        assert response.status == 200
        return (await response.json())["csrf_token"]


async def test_an_employee_connected_to_one_process_sees_what_another_process_did(database_urls, live_redis_url):
    url = require_backend(database_urls, "postgres")
    await migrate(url)
    ctx = await open_database(url)
    await truncate_all()
    shop = await make_shop(managers=2)
    from sales.accounts import hash_password

    await Employee.all().update(password_hash=hash_password(PASSWORD))
    orders = [
        await create_order(shop.account.id, client_id=(await new_client(shop)).id, offer_id=shop.offer.id, now=at(0))
        for _ in range(3)
    ]
    await close_database(ctx)
    target = shop.managers[1]
    a_port, b_port = free_port(), free_port()
    # A delivers nothing itself: the event can only reach its page from B, through Redis.
    a = await serve(url, a_port, REDIS_URL=live_redis_url, DELIVERY_WORKER="false")
    b = await serve(url, b_port, REDIS_URL=live_redis_url)
    try:
        async with _browser() as manager, _browser() as admin:
            await _log_in(manager, f"http://127.0.0.1:{a_port}", target.email)
            async with manager.ws_connect(f"http://127.0.0.1:{a_port}/api/v1/live") as ws:
                assert (await ws.receive_json())["topic"] == "hello"
                csrf = await _log_in(admin, f"http://127.0.0.1:{b_port}", shop.admin.email)
                async with admin.post(
                    f"http://127.0.0.1:{b_port}/api/v1/orders/assign",
                    json={"order_ids": [o.id for o in orders], "employee_id": target.id},
                    headers={"X-CSRF-Token": csrf},
                ) as response:
                    assert response.status == 200
                event = await _next_event(ws, "assignment", timeout=15)
                moved = sorted(o.id for o in orders if o.order_manager_id != target.id)
                assert moved and sorted(event["payload"]["order_ids"]) == moved
    finally:
        stop(a, b)
    ctx = await open_database(url)
    assert {o.order_manager_id for o in await Order.filter(id__in=[o.id for o in orders])} == {target.id}
    await close_database(ctx)


async def _socket_of(stack: contextlib.AsyncExitStack, api, employee):
    """Another logged-in page (a browser of its own) on the same app, as `employee`: its open socket."""
    base = str(api.client.make_url("")).rstrip("/")
    browser = await stack.enter_async_context(_browser())
    await _log_in(browser, base, employee.email)
    ws = await stack.enter_async_context(browser.ws_connect(f"{base}/api/v1/live"))
    assert (await ws.receive_json())["topic"] == "hello"
    return ws


async def _silent(ws, seconds: float = 1.0) -> list[dict]:
    """Events that arrive within `seconds` (there should be none)."""
    got = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                got.append(await ws.receive_json())
    except TimeoutError:
        return got


async def test_a_new_leads_message_reaches_the_owner_admins_and_the_assignee_but_no_other_manager(
        database_urls, aiohttp_client):
    api = await make_api(require_backend(database_urls, "sqlite"), aiohttp_client)
    chosen, other = api.shop.managers
    async with contextlib.AsyncExitStack() as stack:
        sockets = {e.id: await _socket_of(stack, api, e) for e in (api.shop.owner, api.shop.admin, chosen, other)}
        client = await new_client(api.shop, name="New lead")
        await dialogs.record_inbound(client, "hi, anyone there?")
        for employee in (api.shop.owner, api.shop.admin):
            event = await _next_event(sockets[employee.id], "message")
            assert event["kind"] == "chat.message" and event["client_id"] == client.id
            assert event["payload"]["assignee_id"] == chosen.id
        seen = {}
        while not {"message", "assignment"} <= set(seen):
            event = await _next_event(sockets[chosen.id], None)
            seen[event["topic"]] = event
        assert (seen["message"]["client_id"], seen["assignment"]["kind"]) == (client.id, "chat.assigned")
        assert await _silent(sockets[other.id]) == []


async def test_managers_hear_of_unassigned_chats_and_their_assignee_of_a_handover(database_urls, aiohttp_client):
    from sales import conversations
    from storage.models import Chat

    api = await make_api(require_backend(database_urls, "sqlite"), aiohttp_client)
    first, second = api.shop.managers
    client = await new_client(api.shop, name="Lead")
    await dialogs.record_inbound(client, "hello")
    chat = await Chat.get(client_id=client.id)
    async with contextlib.AsyncExitStack() as stack:
        watching = await _socket_of(stack, api, second)
        await conversations.assign_chat(api.shop.admin, chat.id, None)
        event = await _next_event(watching, "chat")
        assert (event["kind"], event["payload"]["assignee_id"]) == ("chat.assigned", None)
        # Taken: it leaves the Unassigned tab of every manager, so they hear of that too.
        await conversations.take_chat(first, chat.id)
        event = await _next_event(watching, "chat")
        assert (event["kind"], event["payload"]["assignee_id"]) == ("chat.assigned", first.id)
        await dialogs.record_inbound(client, "now it is Manager 0's")
        assert [e for e in await _silent(watching) if e["topic"] == "message"] == []


async def test_an_admin_connected_to_one_process_sees_a_message_written_through_another(database_urls,
                                                                                         live_redis_url):
    url = require_backend(database_urls, "postgres")
    ctx = await open_database(url)
    await truncate_all()
    shop = await make_shop(managers=2)
    from sales.accounts import hash_password

    await Employee.all().update(password_hash=hash_password(PASSWORD))
    client = await new_client(shop, name="Across")
    await dialogs.record_inbound(client, "hello")
    from storage.models import Chat

    chat = await Chat.get(client_id=client.id)
    await close_database(ctx)
    a_port, b_port = free_port(), free_port()
    # A delivers nothing itself: the event can only reach its page from B, through Redis.
    a = await serve(url, a_port, REDIS_URL=live_redis_url, DELIVERY_WORKER="false")
    b = await serve(url, b_port, REDIS_URL=live_redis_url)
    try:
        async with _browser() as admin, _browser() as manager:
            await _log_in(admin, f"http://127.0.0.1:{a_port}", shop.admin.email)
            async with admin.ws_connect(f"http://127.0.0.1:{a_port}/api/v1/live") as ws:
                assert (await ws.receive_json())["topic"] == "hello"
                csrf = await _log_in(manager, f"http://127.0.0.1:{b_port}", shop.managers[0].email)
                async with manager.post(f"http://127.0.0.1:{b_port}/api/v1/chats/{chat.id}/messages",
                                        json={"text": "Hello from process B"},
                                        headers={"X-CSRF-Token": csrf}) as response:
                    assert response.status == 201
                    message_id = (await response.json())["id"]
                event = await _next_event(ws, "message", timeout=15)
                assert (event["chat_id"], event["payload"]["message_id"], event["payload"]["direction"]) == (
                    chat.id, message_id, "out")
    finally:
        stop(a, b)


async def test_when_redis_returns_open_pages_are_told_to_reload_what_they_show():
    """Pub/sub keeps nothing: events published while the listener was away are gone, so each open page hears
    `resync` once the listener is back, and reloads."""
    from types import SimpleNamespace

    from redis.asyncio import Redis

    from inbox.live import RESYNC, LiveBus
    from tests.private_redis import private_redis

    with private_redis() as server:
        redis = Redis.from_url(server.url, decode_responses=True)
        bus = LiveBus(redis)
        await bus.start()
        page = SimpleNamespace(id=7, account_id=1, role="owner")
        try:
            async with bus.subscribe(page) as queue:
                await asyncio.sleep(0.5)
                assert queue.empty()
                server.stop()
                await asyncio.sleep(2.5)  # the listener notices and keeps trying
                server.start()
                assert await asyncio.wait_for(queue.get(), timeout=10) == RESYNC
        finally:
            await bus.stop()
            await redis.aclose()
