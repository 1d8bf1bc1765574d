"""The one Dispatcher of a process: middlewares, FSM storage and the services handlers receive; the routers come from
the composition root (the bot does not import its handlers: they import the bot)."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram import Dispatcher, Router
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.utils.i18n import I18n

from bot.middlewares import ClaimFirstMiddleware, IdentityMiddleware, UpdateOnceMiddleware
from bot.registry import BotRegistry
from core.config import Settings


def build_dispatcher(
    settings: Settings, registry: BotRegistry, i18n: I18n, routers: Sequence[Router]
) -> Dispatcher:
    # aiogram's FSM storage holds nothing of ours: what the bot waits for from a customer is on his row in the
    # database (Client.awaiting_email), which his update reads anyway. So one chat's updates are handled one at a
    # time within a process only: across processes, the chat's row lock (sales.dialogs) serialises the writers of a
    # conversation, and a first contact's rows are made once (unique keys). A lock in Redis around every update
    # cost 12-15 % of a customer update's CPU and bought no order (Telegram's parallel webhook connections give
    # none to keep).
    dp = Dispatcher(storage=MemoryStorage(), events_isolation=SimpleEventIsolation(), settings=settings,
                    registry=registry)
    dp.update.outer_middleware(UpdateOnceMiddleware())
    identity = IdentityMiddleware(registry, i18n)
    claim_first = ClaimFirstMiddleware()
    for observer in (dp.message, dp.callback_query, dp.pre_checkout_query):
        observer.outer_middleware(identity)
        # Inner: it runs once the handler is chosen, so it can see whether that handler takes the claim itself.
        observer.middleware(claim_first)
    dp.include_routers(*routers)
    return dp
