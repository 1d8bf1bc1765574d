"""The emulator's aiohttp application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from telegram_emulator.botapi import make_file_handler, make_handler
from telegram_emulator.control import WORLD, add_control_routes
from telegram_emulator.webhooks import WebhookPusher
from telegram_emulator.world import MAX_UPLOAD, World

PAGE = Path(__file__).with_name("page.html")
PUSHER = web.AppKey("emulator_pusher", WebhookPusher)


async def _page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(PAGE)


def create_emulator_app(world: World, *, retry_delay: float = 0.2) -> web.Application:
    # Room for Telegram's largest upload (50 MB) and the form around it; a larger one is answered 413 like Telegram.
    app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
    app[WORLD] = world
    app[PUSHER] = WebhookPusher(world, retry_delay=retry_delay)

    async def pusher_ctx(app: web.Application) -> AsyncIterator[None]:
        yield
        await app[PUSHER].close()

    app.cleanup_ctx.append(pusher_ctx)
    handler = make_handler(world)
    app.router.add_route("*", "/bot{token}/{method}", handler)
    app.router.add_get("/file/bot{token}/{path:.+}", make_file_handler(world))
    add_control_routes(app)
    app.router.add_get("/", _page)
    return app
