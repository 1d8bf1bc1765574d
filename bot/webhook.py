"""POST /webhooks/telegram/{bot_id}: Telegram's updates for one account's bot (SPEC §4.3, §7).

The secret token is checked before anything is read; the answer is 200 only after the update's effects are
committed, so a crash makes Telegram resend it, and the update-once middleware makes the resend harmless.
"""

from __future__ import annotations

import hmac
import logging

from aiogram.types import Update
from aiohttp import web
from pydantic import ValidationError

from bot.keys import BOTS, DISPATCHER
from webio.body import BadJson, load_json
from storage.db import STORAGE_DOWN

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


async def telegram_webhook(request: web.Request) -> web.Response:
    registry = request.app[BOTS]
    raw_id = request.match_info["bot_id"]
    bot = registry.bot(int(raw_id)) if raw_id.isdigit() and len(raw_id) < 20 else None
    if bot is None:
        return _error(404, "not_found", "unknown bot")
    expected = registry.webhook_secret(bot.id) or ""
    given = request.headers.get(SECRET_HEADER, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        return _error(401, "unauthorized", "wrong or missing secret token")
    try:
        update = Update.model_validate(load_json(await request.read()), context={"bot": bot})
    except BadJson as error:
        return _error(400, "invalid", f"the body is {error}")
    except ValidationError:
        return _error(400, "invalid", "not a Telegram update")
    try:
        await request.app[DISPATCHER].feed_update(bot, update)
    except STORAGE_DOWN as exc:
        # An outage, not a bug: no traceback per resend while it lasts. Telegram resends until it is over.
        log.warning("update waits: storage unavailable", extra={"update_id": update.update_id, "error": repr(exc)})
        return _error(503, "unavailable", "storage unavailable; resend later")
    except Exception:
        log.exception("update failed; Telegram will resend it", extra={"update_id": update.update_id})
        return _error(500, "internal", "update not processed")
    return web.json_response({"ok": True})
