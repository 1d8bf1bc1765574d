"""The customer's side (SPEC §4.1): /start with a widget code, language, the e-mail asked once, and his messages."""

from __future__ import annotations

from html import escape

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.callbacks import LanguageChoice, SkipEmail
from bot.middlewares import CLAIMS_WITH_EFFECTS
from handlers.filters import AwaitingEmail, CommandText, PlainText, customer_router
from handlers.media import has_media, incoming_file
from sales import dialogs
from sales.clients import (
    SUPPORTED_LANGUAGES, ask_email, client_from_telegram, set_client_email, set_language, skip_email,
)
from sales.errors import Conflict, Invalid
from storage.claims import UpdateClaim
from storage.models import Client


LANGUAGE_NAMES = {"en": "English", "es": "Español", "ru": "Русский", "uk": "Українська"}


def _skip_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=_("Skip"), callback_data=SkipEmail().pack())]]
    )


async def _ask_email(message: Message, client: Client) -> None:
    await ask_email(client)
    await message.answer(
        _("What is your e-mail? We use it to keep your orders together. You can skip this."),
        reply_markup=_skip_keyboard(),
    )


async def start(message: Message, command: CommandObject, client: Client, account_id: int) -> None:
    if command.args:
        # A deep link t.me/<bot>?start=<widget-code>: remembered as where he came from.
        client, _new = await client_from_telegram(account_id, client.telegram_user_id, widget_code=command.args)
    await message.answer(
        _("Hello, {name}! Write your question here and a manager will answer. /offers shows what we sell.").format(
            name=escape(message.from_user.first_name or "")
        )
    )
    if not client.email_asked and client.email is None:
        await _ask_email(message, client)


async def choose_language(message: Message) -> None:
    buttons = [
        [InlineKeyboardButton(text=LANGUAGE_NAMES[code], callback_data=LanguageChoice(code=code).pack())]
        for code in SUPPORTED_LANGUAGES
    ]
    await message.answer(_("Choose your language:"), reply_markup=InlineKeyboardMarkup(inline_keyboard=buttons))


async def language_chosen(query: CallbackQuery, callback_data: LanguageChoice, client: Client, i18n: I18n) -> None:
    await set_language(client, callback_data.code)
    with i18n.use_locale(callback_data.code):
        await query.answer()
        await query.message.answer(_("Language set: English"))


async def email_skipped(query: CallbackQuery, client: Client) -> None:
    await skip_email(client)
    await query.answer()
    await query.message.answer(_("No problem. Just write your question."))


async def email_given(message: Message, client: Client) -> None:
    if "@" not in message.text:
        # He ignored the question and wrote to the team: that is a skip, and his message goes through.
        await skip_email(client)
        await text_to_the_team(message, client)
        return
    try:
        await set_client_email(client, message.text)
    except Invalid:
        await message.answer(_("That does not look like an e-mail address. Try again or skip."), reply_markup=_skip_keyboard())
        return
    except Conflict:
        await message.answer(_("This e-mail belongs to another customer. Try another one or skip."), reply_markup=_skip_keyboard())
        return
    await message.answer(_("Thank you! Now just write your question."))


async def text_to_the_team(message: Message, client: Client, update_claim: UpdateClaim) -> None:
    """Every message goes to his chat in the inbox and, through the outbox, to his managers."""
    try:
        await dialogs.record_inbound(client, message.text, telegram_message_id=message.message_id,
                                     once=update_claim)
    except Invalid:
        await message.answer(_("This message is too long. Please split it into shorter ones."))


async def media_to_the_team(message: Message, client: Client, bot: Bot, update_claim: UpdateClaim) -> None:
    """A photo, document, voice, sticker… goes to his chat like a text: a message (its caption the text) with the
    file, and to his managers."""
    if client.awaiting_email:
        await skip_email(client)  # he wrote to the team instead of answering: a skip, as for a text
    try:
        await dialogs.record_inbound(client, message.caption or "", telegram_message_id=message.message_id,
                                     attachment=incoming_file(message, bot.id), once=update_claim)
    except Invalid:
        await message.answer(_("This message is too long. Please split it into shorter ones."))


async def unknown_command(message: Message) -> None:
    await message.answer(_("I do not know this command. Try /offers, /orders, /manager or /language."))


async def unsupported_content(message: Message, client: Client, update_claim: UpdateClaim) -> None:
    """A location, contact, poll… is kept as a note in the chat, so the manager knows something came."""
    kind = message.content_type.replace("_", " ")
    await dialogs.record_inbound(client, f"[unsupported: {kind}]", telegram_message_id=message.message_id,
                                 once=update_claim)
    await message.answer(_("Sorry, I can only pass on text messages. Please describe it in words."))


async def stale_button(query: CallbackQuery) -> None:
    await query.answer(_("This button is no longer valid."), show_alert=True)


def build_router() -> Router:
    """A fresh Router per dispatcher: a Router can be attached to one parent only."""
    router = customer_router(__name__)
    router.message.register(start, CommandStart())
    router.message.register(choose_language, Command("language"))
    router.callback_query.register(language_chosen, LanguageChoice.filter(F.code.in_(SUPPORTED_LANGUAGES)))
    router.callback_query.register(email_skipped, SkipEmail.filter(), AwaitingEmail())
    router.message.register(email_given, AwaitingEmail(), PlainText())
    # A customer's message is stored with its update's claim: a crash before the commit loses neither.
    once = {CLAIMS_WITH_EFFECTS: True}
    router.message.register(text_to_the_team, PlainText(), flags=once)
    router.message.register(unknown_command, CommandText())
    router.message.register(media_to_the_team, has_media, flags=once)
    router.message.register(unsupported_content, flags=once)
    router.callback_query.register(stale_button)
    return router
