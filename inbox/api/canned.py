"""Canned replies (SPEC §11.3): the account's list (everyone), adding, changing and deleting them (owner/admin), and
one filled in for a chat, as the reply box inserts it."""

from __future__ import annotations

from aiohttp import web

from core.keys import CLOCK
from inbox.auth import employee_of
from inbox.respond import send
from inbox.schemas import CannedReplyIn, CannedReplyOut, CannedReplyPatch, FilledReplyOut
from sales import canned
from storage.models import CannedReply
from webio.body import parse, path_id


def canned_out(reply: CannedReply) -> CannedReplyOut:
    return CannedReplyOut(id=reply.id, shortcut=reply.shortcut, text=reply.text, created_at=reply.created_at,
                          updated_at=reply.updated_at)


async def list_replies(request: web.Request) -> web.Response:
    replies = await canned.list_replies(employee_of(request))
    return web.Response(text='{"items":[' + ",".join(canned_out(r).model_dump_json() for r in replies) + "]}",
                        content_type="application/json")


async def add_reply(request: web.Request) -> web.Response:
    body = await parse(request, CannedReplyIn)
    reply = await canned.add_reply(employee_of(request), shortcut=body.shortcut, text=body.text,
                                   now=request.app[CLOCK]())
    return send(canned_out(reply), status=201)


async def update_reply(request: web.Request) -> web.Response:
    body = await parse(request, CannedReplyPatch)
    reply = await canned.update_reply(employee_of(request), path_id(request), shortcut=body.shortcut, text=body.text,
                                      now=request.app[CLOCK]())
    return send(canned_out(reply))


async def delete_reply(request: web.Request) -> web.Response:
    await canned.delete_reply(employee_of(request), path_id(request))
    return web.Response(status=204)


async def filled_reply(request: web.Request) -> web.Response:
    filled = await canned.filled_reply(employee_of(request), path_id(request), path_id(request, "reply_id"))
    return send(FilledReplyOut(id=filled.reply.id, chat_id=filled.chat_id, shortcut=filled.reply.shortcut,
                               text=filled.text))
