"""The Telegram side's life inside the app: bots, dispatcher, delivery worker, and webhook or polling."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from collections.abc import AsyncIterator

from aiohttp import web

from bot.dispatcher import build_dispatcher
from bot.i18n import make_i18n
from bot.polling import poll_while_leased, process_identity
from bot.registry import connect_default_bot, load_registry
from bot.session import default_limiter, make_session
from closer.keys import BOTS, CLOCK, DELIVERY, DISPATCHER, LIVE, REDIS, SETTINGS
from delivery.email import EmailChannel, SmtpTarget
from delivery.telegram import TelegramChannel
from delivery.worker import DeliveryWorker
from inbox.live import LiveChannel
from storage.models import Account

log = logging.getLogger(__name__)


async def telegram_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if settings.bot_token is not None:
        await connect_default_bot(settings.bot_token.get_secret_value())
    session = make_session(settings.telegram_api_url, default_limiter(app.get(REDIS)))
    registry = await load_registry(session)
    i18n = make_i18n()
    dispatcher = build_dispatcher(settings, registry, i18n, app.get(REDIS))
    worker = DeliveryWorker(
        [
            TelegramChannel(registry, i18n, settings.public_url),
            EmailChannel(SmtpTarget(settings.smtp_url.get_secret_value()) if settings.smtp_url else None,
                         settings.mail_from, settings.public_url),
            LiveChannel(),
        ],
        clock=app[CLOCK],
        lease=timedelta(seconds=settings.delivery_lease_seconds),
        on_claimed=app[LIVE].publish_rows if LIVE in app else None,
    )
    app[BOTS], app[DISPATCHER], app[DELIVERY] = registry, dispatcher, worker

    tasks = [asyncio.create_task(worker.run_forever(), name="delivery")] if settings.delivery_worker else []
    polling = False
    for bot in registry.bots:
        try:
            # Invite links name the bot (t.me/<username>); Telegram knows the username, not us.
            me = await bot.me()
            await Account.filter(id=registry.account_of(bot.id)).update(bot_username=me.username)
            if settings.telegram_webhook_base:
                await bot.set_webhook(
                    url=f"{settings.telegram_webhook_base}/webhooks/telegram/{bot.id}",
                    secret_token=registry.webhook_secret(bot.id),
                    allowed_updates=dispatcher.resolve_used_update_types(),
                )
            else:
                await bot.delete_webhook()
                polling = True
        except Exception:
            # Telegram unreachable at start must not keep the inbox down; the bot catches up when it returns.
            log.exception("could not configure the bot with Telegram", extra={"bot_id": bot.id})
            polling = polling or not settings.telegram_webhook_base
    if polling:
        holder = process_identity()
        tasks += [asyncio.create_task(poll_while_leased(dispatcher, bot, holder, app[CLOCK]), name=f"lease-{bot.id}")
                  for bot in registry.bots]
    yield
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await session.close()
