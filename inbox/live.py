"""Live events for logged-in employees (issue: live updates): new messages, important items, assignments.

Events start as outbox rows (written in the transaction of whatever caused them); the delivery worker hands each
claimed batch to `publish_rows`. With Redis, events go through pub/sub, so an employee connected to process A sees
what process B did; without Redis they stay inside the one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator

from aiohttp import web
from redis.asyncio import Redis

from inbox.auth import employee_of
from sales import notes, outbox
from sales.conversations import may_receive
from storage.models import Employee, Outbox

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "closer:live:"
# A chat's events go to its account's channel once; each process shows them to those of its pages that may see them.
ACCOUNT_CHANNEL = f"{CHANNEL_PREFIX}a:"
# Kinds a page reacts to; the rest (messages to clients, e-mails) concern nobody's screen. Client messages reach the
# pages as chat events (one per message, for everyone who may see the chat), not as the Telegram copies.
LIVE_KINDS = {
    outbox.IMPORTANT_CREATED: "important",
    outbox.IMPORTANT_TAKEN: "important",
    outbox.IMPORTANT_RESOLVED: "important",
    outbox.ORDER_ASSIGNED: "assignment",
    outbox.ORDERS_ASSIGNED_DIGEST: "assignment",
    outbox.ORDER_DETACHED: "assignment",
    outbox.PERSONAL_MANAGER_SET: "assignment",
    outbox.CHAT_ASSIGNED: "assignment",
    outbox.CHAT_UNANSWERED: "alert",
    # SPEC §11.2: a colleague's note named him.
    notes.NOTE_MENTION: "mention",
}
# What a chat event is called on the page: a message, a private note, a change of assignee or status, or a change
# of one of its client's orders (sales.order_events).
CHAT_TOPICS = {"message": "message", "assigned": "chat", "status": "chat", "note": "note", "order": "order"}
QUEUE_SIZE = 256
# Events may have been missed (Redis was away): a page reloads what it shows.
RESYNC = {"topic": "resync"}


def event_of(row: Outbox) -> dict | None:
    """The event an employee's page gets for a row addressed to him; chat events go by `chat_event_of`."""
    topic = LIVE_KINDS.get(row.kind)
    if topic is None or row.employee_id is None:
        return None
    return {"topic": topic, "kind": row.kind, "payload": row.payload, "client_id": row.client_id}


def chat_event_of(row: Outbox) -> tuple[dict, dict] | None:
    """A chat event and who may see it (`sales.conversations.Audience`)."""
    if row.kind != outbox.CHAT_EVENT:
        return None
    payload = dict(row.payload)
    audience = payload.pop("audience")
    event = {"topic": CHAT_TOPICS.get(payload["event"], "chat"), "kind": f"chat.{payload['event']}",
             "payload": payload, "client_id": row.client_id, "chat_id": payload["chat_id"]}
    return event, audience


class LiveChannel:
    """The delivery worker's channel for chat events: the live bus showed them when they were claimed (see
    `LiveBus.publish_rows`); nothing else leaves closer for them."""

    kinds = frozenset({outbox.CHAT_EVENT})

    async def deliver(self, row: Outbox) -> bool:
        return True

    async def settled(self, rows: list[Outbox]) -> dict[int, bool]:
        """Every one is done: shown when its batch was claimed (delivery.worker.Settles)."""
        return {row.id: True for row in rows}

    async def recipient_unreachable(self, row: Outbox) -> None:
        return None


class LiveBus:
    """Fans events out to the WebSockets of this process; `publish` reaches every process when Redis is there."""

    def __init__(self, redis: Redis | None = None) -> None:
        self._redis = redis
        self._queues: dict[int, set[asyncio.Queue]] = defaultdict(set)
        # Per account, the employees with an open page here and their roles: who a chat event may reach.
        self._members: dict[int, dict[int, str]] = defaultdict(dict)
        self._listener: asyncio.Task | None = None
        self.sockets: set[web.WebSocketResponse] = set()

    async def start(self) -> None:
        if self._redis is not None:
            self._listener = asyncio.create_task(self._listen(), name="live-listener")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    async def _listen(self) -> None:
        # Redis may be down at start or go away later: the app keeps serving, and this keeps resubscribing.
        lost = False
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.psubscribe(f"{CHANNEL_PREFIX}*")
                if lost:
                    # What was published meanwhile is gone (pub/sub keeps nothing): open pages reload what they show.
                    lost = False
                    self._resync_all()
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        self._on_message(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not lost:
                    log.warning("live events lost Redis; resubscribing", extra={"error": repr(exc)})
                lost = True
                await asyncio.sleep(1)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _resync_all(self) -> None:
        for employee_id in list(self._queues):
            self._deliver_locally(employee_id, RESYNC)

    def _on_message(self, message: dict) -> None:
        channel = message["channel"]
        channel = channel.decode() if isinstance(channel, bytes) else channel
        data = json.loads(message["data"])
        if channel.startswith(ACCOUNT_CHANNEL):
            self._deliver_chat_event(int(channel.removeprefix(ACCOUNT_CHANNEL)), data["event"], data["audience"])
        else:
            self._deliver_locally(int(channel.removeprefix(CHANNEL_PREFIX)), data)

    def _deliver_chat_event(self, account_id: int, event: dict, audience: dict) -> None:
        for employee_id, role in list(self._members.get(account_id, {}).items()):
            if may_receive(audience, employee_id, role):
                self._deliver_locally(employee_id, event)

    def _deliver_locally(self, employee_id: int, event: dict) -> None:
        for queue in self._queues.get(employee_id, ()):
            if queue.full():
                # A stalled page loses old events rather than holding memory; it reloads on the next one.
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(event)

    async def publish(self, employee_id: int, event: dict) -> None:
        if self._redis is not None:
            await self._redis.publish(f"{CHANNEL_PREFIX}{employee_id}", json.dumps(event))
        else:
            self._deliver_locally(employee_id, event)

    async def publish_rows(self, rows: list[Outbox]) -> None:
        events = [(row.employee_id, event) for row in rows if (event := event_of(row)) is not None]
        chat_events = [(row.account_id, found) for row in rows if (found := chat_event_of(row)) is not None]
        if self._redis is None:
            for employee_id, event in events:
                self._deliver_locally(employee_id, event)
            for account_id, (event, audience) in chat_events:
                self._deliver_chat_event(account_id, event, audience)
            return
        if events or chat_events:
            # One round trip for the batch: a fan-out of 50 was 50 sequential publishes.
            async with self._redis.pipeline(transaction=False) as pipe:
                for employee_id, event in events:
                    pipe.publish(f"{CHANNEL_PREFIX}{employee_id}", json.dumps(event))
                for account_id, (event, audience) in chat_events:
                    pipe.publish(f"{ACCOUNT_CHANNEL}{account_id}", json.dumps({"event": event, "audience": audience}))
                await pipe.execute()

    @contextlib.asynccontextmanager
    async def subscribe(self, employee: Employee) -> AsyncIterator[asyncio.Queue]:
        queue: asyncio.Queue = asyncio.Queue(QUEUE_SIZE)
        self._queues[employee.id].add(queue)
        self._members[employee.account_id][employee.id] = str(employee.role)
        try:
            yield queue
        finally:
            self._queues[employee.id].discard(queue)
            if not self._queues[employee.id]:
                del self._queues[employee.id]
                self._members[employee.account_id].pop(employee.id, None)
                if not self._members[employee.account_id]:
                    del self._members[employee.account_id]


LIVE = web.AppKey("live", LiveBus)


async def websocket(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/live: one WebSocket per open page, carrying this employee's events as JSON."""
    origin = request.headers.get("Origin")
    # A cookie rides along on a cross-site WebSocket too; only our own pages may open one.
    if origin is not None and origin.split("://", 1)[-1] != request.host:
        raise web.HTTPForbidden(reason="cross-site WebSocket")
    employee = employee_of(request)
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    bus = request.app[LIVE]
    bus.sockets.add(ws)
    async with bus.subscribe(employee) as queue:
        await ws.send_json({"topic": "hello", "employee_id": employee.id})
        reader = asyncio.create_task(ws.receive())
        try:
            while not ws.closed:
                getter = asyncio.create_task(queue.get())
                done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if reader in done:
                    getter.cancel()
                    break  # the page went away (or sent something; pages only listen)
                await ws.send_json(getter.result())
        finally:
            reader.cancel()
            bus.sockets.discard(ws)
    await ws.close()
    return ws


async def close_sockets(app: web.Application) -> None:
    """On shutdown: open pages would otherwise hold the server until its shutdown timeout; they reconnect."""
    for ws in list(app[LIVE].sockets):
        await ws.close(code=1001, message=b"server shutdown")
