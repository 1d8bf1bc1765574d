"""Inline-button payloads. aiogram's CallbackData parses them; forged or stale data simply matches no handler."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class LanguageChoice(CallbackData, prefix="lang"):
    code: str


class SkipEmail(CallbackData, prefix="skipmail"):
    pass


class BuyOffer(CallbackData, prefix="buy"):
    offer_id: int


class TakeImportant(CallbackData, prefix="take"):
    item_id: int


class TakeChat(CallbackData, prefix="takechat"):
    # Who had the chat when the button was made (0: nobody): taking it succeeds only if that is still so.
    chat_id: int
    assignee_id: int
