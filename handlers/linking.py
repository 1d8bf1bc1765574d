"""An employee links his Telegram by opening his one-time invite link: t.me/<bot>?start=staff-<token>."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from sales.clients import pick_language
from sales.errors import DomainError
from sales.telegram_link import INVITE_PREFIX, redeem_invite



async def link_employee(message: Message, command: CommandObject, account_id: int, i18n: I18n) -> None:
    try:
        employee = await redeem_invite(
            account_id, command.args, message.from_user.id, language=pick_language(message.from_user.language_code)
        )
    except DomainError:
        await message.answer(_("This invite link is unknown, used or expired. Ask for a new one in the inbox."))
        return
    with i18n.use_locale(employee.language):
        await message.answer(
            _("Welcome, {name}! You will get new orders, failed payments and your clients' messages here. "
              "Reply to a client's message to answer him; /important lists what needs you.").format(name=escape(employee.name))
        )


def build_router() -> Router:
    """A fresh Router per dispatcher: a Router can be attached to one parent only."""
    router = Router(name=__name__)
    router.message.register(link_employee, CommandStart(deep_link=True, magic=F.args.startswith(INVITE_PREFIX)))
    return router
