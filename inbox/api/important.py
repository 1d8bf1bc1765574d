"""The Important tab over the API (SPEC §3.4–3.6, §8): my open items, mark seen, take, the history."""

from __future__ import annotations

from aiohttp import web

from core.keys import CLOCK, SETTINGS
from inbox.auth import employee_of
from webio.body import path_id
from inbox.present import important_out
from inbox.respond import PageQuery, query, send, send_page
from inbox.schemas import ImportantList
from sales import important, listing
from storage.models import ImportantItem


async def list_items(request: web.Request) -> web.Response:
    wanted = query(request, PageQuery)
    actor = employee_of(request)
    page = await listing.open_important(actor, cursor=wanted.cursor, limit=wanted.limit)
    out = await important_out(page.rows, request.app[SETTINGS].public_url)
    return send(ImportantList(items=out, unseen=await listing.unseen_important_count(actor),
                              next_cursor=page.next_cursor))


async def history(request: web.Request) -> web.Response:
    wanted = query(request, PageQuery)
    page = await listing.important_history(employee_of(request), cursor=wanted.cursor, limit=wanted.limit)
    return send_page(await important_out(page.rows, request.app[SETTINGS].public_url), page)


async def mark_seen(request: web.Request) -> web.Response:
    item = await important.mark_seen(employee_of(request), path_id(request), now=request.app[CLOCK]())
    return send((await important_out([item], request.app[SETTINGS].public_url))[0])


async def take(request: web.Request) -> web.Response:
    item_id = path_id(request)
    await important.take(employee_of(request), item_id, now=request.app[CLOCK]())
    item = await ImportantItem.get(id=item_id)
    return send((await important_out([item], request.app[SETTINGS].public_url))[0])
