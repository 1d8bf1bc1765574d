"""Clients and their card (SPEC §2, §3.7): contact, notes, personal manager, all his orders."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from tortoise.transactions import in_transaction

from closer.keys import CLOCK
from inbox.auth import employee_of
from inbox.body import parse, path_id
from inbox.present import clients_out, orders_out
from inbox.respond import query, send, send_page
from inbox.schemas import ClientIn, ClientPatch
from sales import clients, listing


class ClientQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    search: Annotated[str, Field(max_length=200)] = ""
    cursor: Annotated[str, Field(max_length=200)] | None = None
    limit: Annotated[int, Field(ge=1, le=listing.MAX_PAGE)] | None = None


async def list_clients(request: web.Request) -> web.Response:
    wanted = query(request, ClientQuery)
    page = await listing.clients(employee_of(request), search=wanted.search, cursor=wanted.cursor, limit=wanted.limit)
    return send_page(await clients_out(page.rows), page)


async def add_client(request: web.Request) -> web.Response:
    body = await parse(request, ClientIn)
    client = await clients.add_client(employee_of(request), email=body.email, name=body.name, phone=body.phone,
                                      notes=body.notes)
    return send((await clients_out([client]))[0], status=201)


async def get_client(request: web.Request) -> web.Response:
    client = await listing.visible_client(employee_of(request), path_id(request))
    return send((await clients_out([client]))[0])


async def update_client(request: web.Request) -> web.Response:
    body = await parse(request, ClientPatch)
    actor = employee_of(request)
    client = await listing.visible_client(actor, path_id(request))
    given = body.model_fields_set
    # One request, one change: a refused personal manager leaves the notes as they were.
    async with in_transaction():
        if body.name is not None or body.phone is not None:
            client = await clients.update_contact(actor, client.id, name=body.name, phone=body.phone)
        if body.notes is not None:
            client = await clients.update_notes(actor, client.id, body.notes)
        if "personal_manager_id" in given:
            client = await clients.set_personal_manager(
                actor, client.id, body.personal_manager_id, now=request.app[CLOCK]()
            )
    return send((await clients_out([client]))[0])


async def client_orders(request: web.Request) -> web.Response:
    rows = await listing.client_orders(employee_of(request), path_id(request))
    items = await orders_out(rows)
    return web.Response(text='{"items":[' + ",".join(i.model_dump_json() for i in items) + "]}",
                        content_type="application/json")
