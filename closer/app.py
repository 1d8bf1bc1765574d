"""The one composition root: builds the aiohttp application and owns every resource's life in cleanup_ctx."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta

from aiohttp import web

from bot.runtime import telegram_ctx
from bot.webhook import telegram_webhook
from closer.config import Settings
from closer.observe import setup_observability
from closer.keys import CLOCK, DATABASE, DELIVERY, LIVE, REDIS, SETTINGS
from inbox.live import LiveBus
from inbox.routes import setup_inbox
from jobs.guard import DatabaseTickGuard, RedisTickGuard, TickGuard
from jobs.scheduler import build_scheduler
from providers.views import setup_payment_webhooks
from sales.clock import utcnow
from storage.db import close_database, open_database
from storage.models import Account
from storage.redis import close_redis, open_redis
from telegram_emulator.app import create_emulator_app
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


async def _scheduler(app: web.Application) -> AsyncIterator[None]:
    guard: TickGuard = RedisTickGuard(app[REDIS]) if REDIS in app else DatabaseTickGuard()
    settings = app[SETTINGS]
    scheduler = build_scheduler(guard, app[CLOCK], settings.detach_sweep_seconds, settings.conversation_sweep_seconds,
                                housekeeping_interval_seconds=settings.housekeeping_seconds,
                                retention=timedelta(days=settings.retention_days))
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
    """The demo's Telegram, served beside the app in the same process (before the bot needs it)."""

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
    app.cleanup_ctx.append(telegram_ctx)
    if scheduler:
        app.cleanup_ctx.append(_scheduler)
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/webhooks/telegram/{bot_id}", telegram_webhook)
    setup_inbox(app)
    setup_payment_webhooks(app)
    setup_observability(app)
    return app
