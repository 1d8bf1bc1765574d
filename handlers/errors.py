"""What happens when the bot's answer cannot be delivered: the update still counts as handled."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent

from bot.registry import BotRegistry
from sales.reachability import mark_telegram_user_unreachable

log = logging.getLogger(__name__)


async def user_blocked_the_bot(event: ErrorEvent, bot: Bot, registry: BotRegistry) -> bool:
    """He blocked the bot (or never started it): remember it, so nothing more is sent until he writes again."""
    user = getattr(event.update.event, "from_user", None)
    account_id = registry.account_of(bot.id)
    if user is not None and account_id is not None:
        await mark_telegram_user_unreachable(account_id, user.id)
    return True


async def answer_failed(event: ErrorEvent) -> bool:
    log.warning("the bot's answer failed", extra={"error": repr(event.exception), "update_id": event.update.update_id})
    return True


def build_router() -> Router:
    router = Router(name=__name__)
    router.errors.register(user_blocked_the_bot, ExceptionTypeFilter(TelegramForbiddenError))
    router.errors.register(answer_failed, ExceptionTypeFilter(TelegramAPIError))
    return router
