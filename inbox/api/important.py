"""The Important tab over the API (SPEC §3.4–3.5, §8): my open items, mark seen, take."""

from __future__ import annotations

from aiohttp import web

from closer.keys import SETTINGS
from inbox.auth import employee_of
from inbox.body import path_id
from sales import important
from storage.models import Client, Employee, ImportantItem, Order


async def item_json(item: ImportantItem, public_url: str) -> dict:
    order = await Order.get(id=item.order_id)
    client = await Client.get(id=order.client_id)
    taker = await Employee.get(id=item.taken_by_id) if item.taken_by_id else None
    return {
        "id": item.id,
        "client": {"id": client.id, "name": client.name or client.email or f"#{client.id}"},
        "failed_at": item.failed_at.isoformat(),
        "reason": item.reason,
        "seen": item.seen_at is not None,
        "taken_by": {"id": taker.id, "name": taker.name} if taker else None,
        "resolved": item.resolved_at is not None,
        "chat_url": f"{public_url}/inbox/chats/{item.chat_id}",
        "offer_url": f"{public_url}/inbox/offers/{item.offer_id}",
        "order_id": item.order_id,
    }


async def list_items(request: web.Request) -> web.Response:
    items = await important.open_items(employee_of(request))
    public_url = request.app[SETTINGS].public_url
    return web.json_response({"items": [await item_json(i, public_url) for i in items]})


async def mark_seen(request: web.Request) -> web.Response:
    item = await important.mark_seen(employee_of(request), path_id(request))
    return web.json_response(await item_json(item, request.app[SETTINGS].public_url))


async def take(request: web.Request) -> web.Response:
    employee = employee_of(request)
    item_id = path_id(request)
    await important.take(employee, item_id)
    item = await ImportantItem.get(id=item_id)
    return web.json_response(await item_json(item, request.app[SETTINGS].public_url))
