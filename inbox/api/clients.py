"""Clients and their card (SPEC §2, §3.7): contact, notes, personal manager, all his orders."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field

from core.keys import CLOCK
from inbox.auth import employee_of
from webio.body import parse, path_id
from inbox.present import clients_out, orders_out
from inbox.respond import PageQuery, query, send, send_page
from inbox.schemas import ClientIn, ClientPatch
from sales import clients, listing


class ClientQuery(PageQuery):
    search: Annotated[str, Field(max_length=200)] = ""


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
    changes = {"personal_manager_id": body.personal_manager_id} if "personal_manager_id" in body.model_fields_set else {}
    client = await clients.update_client(actor, client.id, name=body.name, phone=body.phone, email=body.email,
                                         notes=body.notes, now=request.app[CLOCK](), **changes)
    return send((await clients_out([client]))[0])


async def client_orders(request: web.Request) -> web.Response:
    rows = await listing.client_orders(employee_of(request), path_id(request))
    items = await orders_out(rows)
    return web.Response(text='{"items":[' + ",".join(i.model_dump_json() for i in items) + "]}",
                        content_type="application/json")
