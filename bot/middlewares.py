"""Outer middlewares: de-duplicate updates, then say who is talking (account, employee or client) and in which
language, so handlers receive them as parameters."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import TelegramObject, Update, User
from aiogram.utils.i18n import I18n

from bot.recording import answering
from bot.registry import BotRegistry
from sales.clients import client_from_telegram, pick_language, telegram_sender
from sales.clock import utcnow
from storage import sql

log = logging.getLogger(__name__)
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

# Every update makes these two (telegram_update's unique bot and update ids): written by hand, see storage.sql.
CLAIM = sql.Statement("INSERT INTO telegram_update (bot_id, update_id, received_at) VALUES ($1, $2, $3) "
                      "ON CONFLICT (bot_id, update_id) DO NOTHING RETURNING id")
RELEASE = sql.Statement("DELETE FROM telegram_update WHERE id = $1")


class UpdateOnceMiddleware(BaseMiddleware):
    """Telegram resends an update until it is acknowledged: the second delivery is skipped.

    The claim is released when handling fails before its effects are committed (the database, say), so the resend
    is processed. A failure of the bot's own answer to Telegram keeps the claim: the update's effects are already
    committed, and replaying it would repeat them.
    """

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        bot: Bot = data["bot"]
        claim = await sql.first(CLAIM, bot.id, event.update_id, utcnow())
        if claim is None:
            log.info("duplicate update skipped", extra={"bot_id": bot.id, "update_id": event.update_id})
            return None
        try:
            return await handler(event, data)
        except TelegramAPIError:
            raise
        except BaseException:
            await sql.execute(RELEASE, claim["id"])
            raise


class IdentityMiddleware(BaseMiddleware):
    """Resolves the account from the bot, then the sender: a linked employee, or a known client, and the language."""

    def __init__(self, registry: BotRegistry, i18n: I18n) -> None:
        self.registry = registry
        self.i18n = i18n

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        bot: Bot = data["bot"]
        account_id = self.registry.account_of(bot.id)
        if user is None or account_id is None or user.is_bot:
            return None
        employee, client = await telegram_sender(account_id, user.id)
        locale = employee.language if employee else client.language if client else user.language_code
        data.update(account_id=account_id, employee=employee, client=client)
        with self.i18n.context(), self.i18n.use_locale(pick_language(locale)):
            data["i18n"] = self.i18n
            return await handler(event, data)


class ClientMiddleware(BaseMiddleware):
    """On the customer router only: a Telegram user who is not staff is a client, created at first contact."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if data.get("client") is None:
            user: User = data["event_from_user"]
            data["client"], _ = await client_from_telegram(
                data["account_id"], user.id, name=user.full_name, language_code=user.language_code
            )
        elif data["client"].unreachable:
            # He writes again, so he has unblocked the bot.
            data["client"], _ = await client_from_telegram(data["account_id"], data["client"].telegram_user_id)
        with answering(data["client"]):
            return await handler(event, data)
