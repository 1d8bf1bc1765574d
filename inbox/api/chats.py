"""Chats (SPEC §3.1, §6, §10): the tabs, a chat's history, writing to the client, and who answers for the chat."""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import Field

from core.keys import CLOCK
from inbox import files
from inbox.auth import employee_of
from inbox.errors import gettext_of
from webio.body import parse, path_id
from inbox.present import chats_out, history_out, messages_out
from inbox.respond import PageQuery, query, send, send_page
from inbox.schemas import ChatAssignIn, ChatStatusIn, MessageIn, UnreadOut
from sales import conversations, dialogs, listing
from webio.errors import json_error


class TabQuery(PageQuery):
    tab: listing.Tab = listing.Tab.MINE
    status: Literal["open", "pending", "snoozed", "resolved"] | None = None
    # Client name, e-mail, phone or message text.
    q: Annotated[str, Field(max_length=listing.MAX_SEARCH)] = ""


async def _one(request: web.Request, chat) -> web.Response:
    actor = employee_of(request)
    return send((await chats_out([chat], actor.id, request.app[CLOCK]()))[0])


async def list_chats(request: web.Request) -> web.Response:
    wanted = query(request, TabQuery)
    actor, now = employee_of(request), request.app[CLOCK]()
    page = await listing.chats(actor, wanted.tab, status=wanted.status, q=wanted.q, cursor=wanted.cursor,
                               limit=wanted.limit, now=now)
    return send_page(await chats_out(page.rows, actor.id, now), page)


async def unread(request: web.Request) -> web.Response:
    return send(UnreadOut(**await listing.unread_chats(employee_of(request), now=request.app[CLOCK]())))


async def get_chat(request: web.Request) -> web.Response:
    return await _one(request, await listing.visible_chat(employee_of(request), path_id(request)))


async def messages(request: web.Request) -> web.Response:
    """Newest first; the next page goes further back in time."""
    wanted = query(request, PageQuery)
    page = await listing.messages(employee_of(request), path_id(request), cursor=wanted.cursor, limit=wanted.limit)
    return send_page(await messages_out(page.rows), page)


async def send_message(request: web.Request) -> web.Response:
    """JSON `{text}`, or multipart/form-data with `file` (at most 50 MB) and `text`, its caption (SPEC §11.1)."""
    if request.content_type == "multipart/form-data":
        return await send_file(request)
    body = await parse(request, MessageIn)
    actor = employee_of(request)
    chat = await listing.visible_chat(actor, path_id(request))
    message = await dialogs.record_outbound(actor, chat.client_id, body.text, now=request.app[CLOCK]())
    return send((await messages_out([message]))[0], status=201)


async def send_file(request: web.Request) -> web.Response:
    actor = employee_of(request)
    chat = await listing.visible_chat(actor, path_id(request))  # before a byte of the file is read
    try:
        form = await files.read_upload(request)
    except files.FileTooLarge as error:
        return json_error(413, "too_large", gettext_of(request)(str(error)), "file")
    try:
        message = await dialogs.record_outbound(actor, chat.client_id, form.text, now=request.app[CLOCK](),
                                                attachment=form.upload)
    except BaseException:
        files.store_of(request.app).discard(form.upload.stored_path)  # nothing kept of a refused message
        raise
    return send((await messages_out([message]))[0], status=201)


async def assign(request: web.Request) -> web.Response:
    body = await parse(request, ChatAssignIn)
    chat = await conversations.assign_chat(employee_of(request), path_id(request), body.employee_id,
                                           now=request.app[CLOCK]())
    return await _one(request, chat)


async def take(request: web.Request) -> web.Response:
    chat = await conversations.take_chat(employee_of(request), path_id(request), now=request.app[CLOCK]())
    return await _one(request, chat)


async def set_status(request: web.Request) -> web.Response:
    body = await parse(request, ChatStatusIn)
    chat = await conversations.set_status(employee_of(request), path_id(request), body.status,
                                          snoozed_until=body.snoozed_until, now=request.app[CLOCK]())
    return await _one(request, chat)


async def mark_read(request: web.Request) -> web.Response:
    chat = await conversations.mark_read(employee_of(request), path_id(request), now=request.app[CLOCK]())
    return await _one(request, chat)


async def history(request: web.Request) -> web.Response:
    """The chat's assignment trail."""
    return send(history_out(await conversations.history(employee_of(request), path_id(request))))
