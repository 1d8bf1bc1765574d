"""Canned replies (SPEC §11.3): an account's standard answers. Owner and admins change them; every employee lists
them and inserts one into a chat's reply box with "/shortcut", its `{client_name}`, `{manager_name}` and
`{offer_title}` filled in for that chat."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from sales.access import get_in_account, require_active, require_admin
from sales.clock import utcnow
from sales.dialogs import MAX_MESSAGE
from sales.errors import Conflict, Invalid
from sales.listing import visible_chat
from storage.models import CannedReply, Client, Employee, Order

MAX_SHORTCUT = 32  # the column's width
# Letters (any alphabet: a Ukrainian team types "/привіт"), digits, "_" and "-": one word after the "/".
_SHORTCUT = re.compile(rf"[\w-]{{1,{MAX_SHORTCUT}}}")
# What is filled in; any other "{...}" stays as typed.
PLACEHOLDERS = ("client_name", "manager_name", "offer_title")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")


def clean_shortcut(value: str) -> str:
    """The shortcut as stored: without surrounding spaces or a leading "/" (how it is typed), lower-case."""
    shortcut = value.strip().removeprefix("/").lower()
    if not _SHORTCUT.fullmatch(shortcut):
        raise Invalid("a shortcut is 1 to {limit} letters, digits, _ or -", field="shortcut", limit=MAX_SHORTCUT)
    return shortcut


def clean_text(value: str) -> str:
    """A reply's text as stored: trimmed, and no longer than one Telegram message (it is sent as one)."""
    text = value.strip()
    if not text:
        raise Invalid("a canned reply's text cannot be empty", field="text")
    if len(text) > MAX_MESSAGE:
        raise Invalid("a canned reply is limited to {limit} characters", field="text", limit=MAX_MESSAGE)
    return text


async def list_replies(actor: Employee) -> list[CannedReply]:
    """Every reply of the account, by shortcut: everyone may use them."""
    require_active(actor)
    return await CannedReply.filter(account_id=actor.account_id).order_by("shortcut", "id")


async def add_reply(actor: Employee, *, shortcut: str, text: str, now: datetime | None = None) -> CannedReply:
    require_admin(actor)
    shortcut, text = clean_shortcut(shortcut), clean_text(text)
    now = now or utcnow()
    try:
        async with in_transaction():
            return await CannedReply.create(account_id=actor.account_id, shortcut=shortcut, text=text,
                                            created_at=now, updated_at=now)
    except IntegrityError:
        raise Conflict("a canned reply /{shortcut} exists", field="shortcut", shortcut=shortcut) from None


async def update_reply(actor: Employee, reply_id: int, *, shortcut: str | None = None, text: str | None = None,
                       now: datetime | None = None) -> CannedReply:
    """Change a reply's shortcut and/or text, all or nothing; what is left out stays."""
    require_admin(actor)
    reply = await get_in_account(CannedReply, actor.account_id, reply_id, what="canned_reply")
    if shortcut is None and text is None:
        return reply
    if shortcut is not None:
        reply.shortcut = clean_shortcut(shortcut)
    if text is not None:
        reply.text = clean_text(text)
    reply.updated_at = now or utcnow()
    try:
        async with in_transaction():
            await reply.save(update_fields=["shortcut", "text", "updated_at"])
    except IntegrityError:
        raise Conflict("a canned reply /{shortcut} exists", field="shortcut", shortcut=reply.shortcut) from None
    return reply


async def delete_reply(actor: Employee, reply_id: int) -> None:
    require_admin(actor)
    reply = await get_in_account(CannedReply, actor.account_id, reply_id, what="canned_reply")
    await reply.delete()


def fill(text: str, values: dict[str, str]) -> str:
    """The text with each known placeholder replaced in one pass: a client called "{offer_title}" stays so."""
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


@dataclass(frozen=True)
class Filled:
    reply: CannedReply
    chat_id: int
    text: str


async def filled_reply(actor: Employee, chat_id: int, reply_id: int) -> Filled:
    """The reply as it goes into this chat's reply box: `{client_name}` the client's name, `{manager_name}` the chat's
    assignee (nobody's yet: the employee inserting it), `{offer_title}` the offer of the client's latest order (none:
    empty). Only a chat he may see (else not found, as another account's)."""
    chat = await visible_chat(actor, chat_id)
    reply = await get_in_account(CannedReply, actor.account_id, reply_id, what="canned_reply")
    client = await Client.get(id=chat.client_id)
    manager = actor
    if chat.assignee_id is not None and chat.assignee_id != actor.id:
        manager = await Employee.get(id=chat.assignee_id)
    latest = await Order.filter(client_id=client.id).order_by("-created_at", "-id").select_related("offer").first()
    values = {"client_name": client.name, "manager_name": manager.name,
              "offer_title": latest.offer.title if latest is not None else ""}
    return Filled(reply, chat.id, fill(reply.text, values))
