"""The employee's side in Telegram (SPEC §4.2, §3.5): answer clients by replying, /important, *Take*."""

from __future__ import annotations

from html import escape

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from core import links
from core.config import Settings
from bot.callbacks import TakeChat, TakeImportant
from bot.middlewares import CLAIMS_WITH_EFFECTS
from handlers.filters import CommandText, IsStaff, ReplyText, ReplyWith
from handlers.media import MEDIA, STAFF_MEDIA, incoming_file
from sales import attachments, conversations, dialogs, important
from sales.errors import Conflict, DomainError, Invalid
from storage.claims import UpdateClaim
from storage.models import Client, Employee, StaffRelay


MAX_LISTED = 20


async def _answer_client(message: Message, employee: Employee, text: str, update_claim: UpdateClaim,
                         attachment: attachments.Incoming | None = None) -> None:
    """A reply to a relayed client message goes to that client and counts as this employee's dialog."""
    relay = await StaffRelay.get_or_none(
        employee_id=employee.id, telegram_message_id=message.reply_to_message.message_id
    )
    if relay is None:
        await message.answer(_("Reply to a client's message to answer him."))
        return
    try:
        await dialogs.record_outbound(employee, relay.client_id, text, telegram_message_id=message.message_id,
                                      attachment=attachment, once=update_claim)
    except Invalid:
        await message.answer(_("This message is too long. Please split it into shorter ones."))
    except DomainError:
        await message.answer(_("You cannot write to this client."))


async def reply_to_client(message: Message, employee: Employee, update_claim: UpdateClaim) -> None:
    await _answer_client(message, employee, message.text, update_claim)


async def reply_with_file(message: Message, employee: Employee, bot: Bot, update_claim: UpdateClaim) -> None:
    """A photo or file sent as a reply: it reaches the client as the same file, its caption the text (SPEC §11.1).
    Telegram's file_id serves: the bot that received it sends it again, and the inbox fetches it when viewed."""
    await _answer_client(message, employee, message.caption or "", update_claim, incoming_file(message, bot.id))


async def reply_with_other_media(message: Message) -> None:
    await message.answer(_("Only a photo or a file can be passed on to a client. Send it as a file, or in words."))


async def my_important(message: Message, employee: Employee, settings: Settings) -> None:
    items = await important.open_items(employee, limit=MAX_LISTED)
    if not items:
        await message.answer(_("Nothing important right now."))
        return
    lines = []
    for item in items:
        client = await Client.get(id=(await item.order).client_id)
        lines.append(
            _("{client}: payment failed {when}").format(
                client=escape(client.name or client.email or str(client.id)),
                when=item.failed_at.strftime("%Y-%m-%d %H:%M UTC"),
            )
            + "\n" + links.chat_url(settings.public_url, item.chat_id)
        )
    await message.answer("\n\n".join(lines))


async def take(query: CallbackQuery, callback_data: TakeImportant, employee: Employee) -> None:
    try:
        items = await important.take(employee, callback_data.item_id)
    except DomainError:
        await query.answer(_("This alert is not yours."), show_alert=True)
        return
    if any(item.taken_by_id not in (None, employee.id) for item in items):
        await query.answer(_("Someone else already took it."), show_alert=True)
        return
    # Every holder's alert is edited by the delivery worker (outbox rows written by the rule).
    await query.answer(_("You took it."))


async def take_chat(query: CallbackQuery, callback_data: TakeChat, employee: Employee) -> None:
    """*Take* on an assignment ping or a first-response alert (SPEC §10.3–10.5)."""
    try:
        chat = await conversations.take_chat(employee, callback_data.chat_id,
                                             replacing=callback_data.assignee_id or None)
    except Conflict:
        await query.answer(_("Someone else already has this chat."), show_alert=True)
        return
    except DomainError:
        await query.answer(_("You cannot take this chat."), show_alert=True)
        return
    if chat.assignee_id == employee.id and callback_data.assignee_id == employee.id:
        await query.answer(_("This chat is yours."))
    else:
        await query.answer(_("You took the chat."))


async def staff_unknown_command(message: Message) -> None:
    await message.answer(_("Staff commands: /important. Reply to a client's message to answer him."))


async def staff_other(message: Message) -> None:
    await message.answer(_("Reply to a client's message to answer him."))


async def staff_stale_button(query: CallbackQuery) -> None:
    await query.answer(_("This button is no longer valid."), show_alert=True)


def build_router() -> Router:
    """A fresh Router per dispatcher: a Router can be attached to one parent only."""
    router = Router(name=__name__)
    router.message.filter(IsStaff())
    router.callback_query.filter(IsStaff())
    # A reply is stored with its update's claim: a crash before the commit loses neither.
    once = {CLAIMS_WITH_EFFECTS: True}
    router.message.register(reply_to_client, ReplyText(), flags=once)
    router.message.register(reply_with_file, ReplyWith(STAFF_MEDIA), flags=once)
    router.message.register(reply_with_other_media, ReplyWith(MEDIA - STAFF_MEDIA))
    router.message.register(my_important, Command("important"))
    router.callback_query.register(take, TakeImportant.filter())
    router.callback_query.register(take_chat, TakeChat.filter())
    router.message.register(staff_unknown_command, CommandText())
    router.message.register(staff_other)
    router.callback_query.register(staff_stale_button)
    return router
