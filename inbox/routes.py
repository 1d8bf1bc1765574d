"""The inbox's place in the app: its middlewares, resources and routes."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from closer.keys import REDIS
from inbox.api import important, session
from inbox.auth import auth_middleware
from inbox.errors import error_middleware
from inbox.throttle import LOGIN_THROTTLE, LoginThrottle


async def _throttle(app: web.Application) -> AsyncIterator[None]:
    app[LOGIN_THROTTLE] = LoginThrottle(app.get(REDIS))
    yield


def setup_inbox(app: web.Application) -> None:
    app.middlewares.extend([error_middleware, auth_middleware])
    app.cleanup_ctx.append(_throttle)
    app.router.add_post("/api/v1/session", session.log_in)
    app.router.add_delete("/api/v1/session", session.log_out)
    app.router.add_post("/api/v1/tokens", session.new_token)
    app.router.add_get("/api/v1/important", important.list_items)
    app.router.add_post("/api/v1/important/{id}/seen", important.mark_seen)
    app.router.add_post("/api/v1/important/{id}/take", important.take)
