"""Outer middlewares: de-duplicate updates, then say who is talking (account, employee or client) and in which
language, so handlers receive them as parameters."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import TelegramObject, Update, User
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.dispatcher.flags import get_flag
from aiogram.utils.i18n import I18n

from bot.recording import answering
from bot.registry import BotRegistry
from sales.clients import client_from_telegram, pick_language, telegram_sender
from sales.clock import utcnow
from storage.claims import AlreadyHandled, UpdateClaim

log = logging.getLogger(__name__)
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

# The flag of a handler that writes its update's effects in one transaction and takes the update's claim in it
# (storage.claims): `router.message.register(handler, ..., flags={CLAIMS_WITH_EFFECTS: True})`. The handler receives
# the claim as `update_claim` and passes it to that write.
CLAIMS_WITH_EFFECTS = "claims_with_effects"


class UpdateOnceMiddleware(BaseMiddleware):
    """Telegram resends an update until it is acknowledged: a delivery of an update already handled is skipped.

    Outer, on every update: it makes the update's claim (storage.claims), which is taken either by the handler's
    own transaction (flagged handlers) or just before the handler (`ClaimFirstMiddleware`), and skips the update when
    the claim says it was handled. A claim taken alone is released when handling fails before its effects are
    committed (the database, say), so the resend is processed. A failure of the bot's own answer to Telegram keeps
    the claim: the update's effects are already committed, and replaying it would repeat them.
    """

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        bot: Bot = data["bot"]
        claim = data["update_claim"] = UpdateClaim(bot.id, event.update_id, utcnow())
        try:
            result = await handler(event, data)
        except AlreadyHandled:
            log.info("duplicate update skipped", extra={"bot_id": bot.id, "update_id": event.update_id})
            return None
        except TelegramAPIError:
            raise
        except BaseException:
            await claim.release()
            raise
        if not claim.taken and result is not UNHANDLED:
            # A flagged handler that wrote nothing (a refusal, say): the update is handled all the same.
            try:
                await claim.take_alone()
            except AlreadyHandled:
                pass
        return result


class ClaimFirstMiddleware(BaseMiddleware):
    """Inner, on every event type: a handler that does not take the claim with its effects has it taken before it
    starts (committed on its own), so a resend while it runs is skipped. Its effects, when the process dies midway,
    are then at most once."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        claim: UpdateClaim | None = data.get("update_claim")
        if claim is not None and not get_flag(data, CLAIMS_WITH_EFFECTS):
            await claim.take_alone()
        return await handler(event, data)


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
