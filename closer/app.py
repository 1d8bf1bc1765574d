"""The one composition root: builds the aiohttp application and every long-lived object in it (database, Redis,
live bus, bots and dispatcher, delivery worker and its channels, Telegram updates, scheduler), each owned by one
cleanup context, in the order below."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from aiohttp import web
from aiogram.utils.i18n import I18n

import handlers
from core import aiogram_models
from bot.dispatcher import build_dispatcher
from bot.keys import BOTS, DISPATCHER
from bot.polling import poll_while_leased, process_identity
from bot.registry import load_registry
from bot.session import default_limiter, make_session
from bot.webhook import telegram_webhook
from closer.observe import setup_observability
from core.config import Settings
from core.i18n import make_i18n
from core.keys import CLOCK, DATABASE, REDIS, SETTINGS
from delivery.email import EmailChannel, SmtpTarget
from delivery.keys import DELIVERY
from delivery.telegram import TelegramChannel
from delivery.worker import DeliveryWorker
from inbox.files import store_of
from inbox.live import LIVE, LiveBus, LiveChannel
from inbox.routes import setup_inbox
from jobs.guard import DatabaseTickGuard, RedisTickGuard, TickGuard
from jobs.scheduler import build_scheduler
from providers.views import setup_payment_webhooks
from sales.bots import connect_default_bot, record_bot_username
from sales.clock import utcnow
from storage.db import close_database, open_database
from storage.models import Account
from storage.redis import close_redis, open_redis

if TYPE_CHECKING:
    from telegram_emulator.world import World

log = logging.getLogger(__name__)



async def _database(app: web.Application) -> AsyncIterator[None]:
    app[DATABASE] = await open_database(app[SETTINGS].database_url)
    yield
    await close_database(app[DATABASE])


async def _redis(app: web.Application) -> AsyncIterator[None]:
    url = app[SETTINGS].redis_url
    if url is None:
        yield
        return
    app[REDIS] = open_redis(url)
    yield
    await close_redis(app[REDIS])


async def _live(app: web.Application) -> AsyncIterator[None]:
    app[LIVE] = LiveBus(app.get(REDIS))
    await app[LIVE].start()
    yield
    await app[LIVE].stop()


def _bots(i18n: I18n):
    """Every account's bot on one paced HTTP session, and the dispatcher that handles their updates."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        aiogram_models.warm()
        if settings.bot_token is not None:
            await connect_default_bot(settings.bot_token.get_secret_value())
        session = make_session(settings.telegram_api_url, default_limiter(app.get(REDIS)))
        app[BOTS] = await load_registry(session)
        app[DISPATCHER] = build_dispatcher(settings, app[BOTS], i18n, handlers.routers())
        yield
        await session.close()

    return ctx


def _delivery(i18n: I18n):
    """The outbox's worker with its three channels: Telegram, e-mail, the inbox's live events."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        smtp = SmtpTarget(settings.smtp_url.get_secret_value()) if settings.smtp_url else None
        app[DELIVERY] = DeliveryWorker(
            [
                TelegramChannel(app[BOTS], i18n, settings.public_url, settings.files_dir),
                EmailChannel(smtp, settings.mail_from, settings.public_url, i18n),
                LiveChannel(),
            ],
            clock=app[CLOCK],
            lease=timedelta(seconds=settings.delivery_lease_seconds),
            on_claimed=app[LIVE].publish_rows,
        )
        task = asyncio.create_task(app[DELIVERY].run_forever(), name="delivery") if settings.delivery_worker else None
        yield
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    return ctx


async def _telegram_updates(app: web.Application) -> AsyncIterator[None]:
    """Each bot gets its updates by webhook when the app has a public https address, else by polling, one poller per
    bot across the deployment (a lease)."""
    settings, registry, dispatcher = app[SETTINGS], app[BOTS], app[DISPATCHER]
    polling = False
    for bot in registry.bots:
        try:
            me = await bot.me()
            await record_bot_username(registry.account_of(bot.id), me.username)
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
    tasks = []
    if polling:
        holder = process_identity()
        tasks = [asyncio.create_task(poll_while_leased(dispatcher, bot, holder, app[CLOCK]), name=f"lease-{bot.id}")
                 for bot in registry.bots]
    yield
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _scheduler(app: web.Application) -> AsyncIterator[None]:
    guard: TickGuard = RedisTickGuard(app[REDIS]) if REDIS in app else DatabaseTickGuard()
    settings = app[SETTINGS]
    scheduler = build_scheduler(guard, app[CLOCK], settings.detach_sweep_seconds, settings.conversation_sweep_seconds,
                                housekeeping_interval_seconds=settings.housekeeping_seconds,
                                retention=timedelta(days=settings.retention_days),
                                uploads=(timedelta(days=settings.files_uploads_keep_days), store_of(app).discard))
    scheduler.start()
    yield
    scheduler.shutdown(wait=False)


async def healthz(request: web.Request) -> web.Response:
    """Readiness: the database answers. Redis is reported, but without it a process still serves correctly (SPEC
    §7), so a load balancer must not take every replica out of service when Redis is away: 200, "degraded"."""
    checks: dict[str, str] = {}
    try:
        await Account.first().values("id")
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready; the reason goes to the log, not the client
        log.warning("database not ready", extra={"error": repr(exc)})
        checks["database"] = "unavailable"
    if REDIS in request.app:
        try:
            await request.app[REDIS].ping()
            checks["redis"] = "ok"
        except Exception as exc:
            log.warning("redis not ready", extra={"error": repr(exc)})
            checks["redis"] = "unavailable"
    if checks["database"] != "ok":
        return web.json_response({"status": "unavailable", "checks": checks}, status=503)
    status = "ok" if all(v == "ok" for v in checks.values()) else "degraded"
    return web.json_response({"status": status, "checks": checks})


def _emulator(world: World, port: int):
    """The demo's Telegram, served beside the app in the same process (before the bot needs it). Imported here:
    `closer run` never serves it, and its import holds a few MB."""
    from telegram_emulator.app import create_emulator_app

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        runner = web.AppRunner(create_emulator_app(world), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, app[SETTINGS].http_host, port).start()
        yield
        await runner.cleanup()

    return ctx


@web.middleware
async def wake_delivery(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """A change that succeeded may have written outbox rows (alerts, live events): the delivery worker looks now
    instead of after its idle sleep. Rows written by other processes wait at most that sleep."""
    response = await handler(request)
    if request.method not in ("GET", "HEAD", "OPTIONS") and response.status < 400 and DELIVERY in request.app:
        request.app[DELIVERY].wake()
    return response


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utcnow,
    scheduler: bool = True,
    emulator: tuple[World, int] | None = None,
) -> web.Application:
    app = web.Application(middlewares=[wake_delivery])
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_redis)
    app.cleanup_ctx.append(_live)
    if emulator is not None:
        app.cleanup_ctx.append(_emulator(*emulator))
    i18n = make_i18n()
    app.cleanup_ctx.append(_bots(i18n))
    app.cleanup_ctx.append(_delivery(i18n))
    app.cleanup_ctx.append(_telegram_updates)
    if scheduler:
        app.cleanup_ctx.append(_scheduler)
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/webhooks/telegram/{bot_id}", telegram_webhook)
    setup_inbox(app)
    setup_payment_webhooks(app)
    setup_observability(app)
    return app
