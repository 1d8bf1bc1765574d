"""Chats (SPEC §3.1, §6): the tabs, a chat's history, and writing to the client as the logged-in employee."""

from __future__ import annotations


from aiohttp import web

from closer.keys import CLOCK
from inbox.auth import employee_of
from inbox.body import parse, path_id
from inbox.present import chats_out, messages_out
from inbox.respond import PageQuery, query, send, send_page
from inbox.schemas import MessageIn
from sales import dialogs, listing


class TabQuery(PageQuery):
    tab: listing.Tab = listing.Tab.MINE


async def list_chats(request: web.Request) -> web.Response:
    wanted = query(request, TabQuery)
    page = await listing.chats(employee_of(request), wanted.tab, cursor=wanted.cursor, limit=wanted.limit)
    return send_page(await chats_out(page.rows), page)


async def get_chat(request: web.Request) -> web.Response:
    chat = await listing.visible_chat(employee_of(request), path_id(request))
    return send((await chats_out([chat]))[0])


async def messages(request: web.Request) -> web.Response:
    """Newest first; the next page goes further back in time."""
    wanted = query(request, PageQuery)
    page = await listing.messages(employee_of(request), path_id(request), cursor=wanted.cursor, limit=wanted.limit)
    return send_page(await messages_out(page.rows), page)


async def send_message(request: web.Request) -> web.Response:
    body = await parse(request, MessageIn)
    actor = employee_of(request)
    chat = await listing.visible_chat(actor, path_id(request))
    message = await dialogs.record_outbound(actor, chat.client_id, body.text, now=request.app[CLOCK]())
    return send((await messages_out([message]))[0], status=201)
