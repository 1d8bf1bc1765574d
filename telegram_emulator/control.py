"""The control API (/_emulator/…): what tests and the stand-in client page use to play the users."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aiohttp import web
from aiohttp.web_request import FileField

from telegram_emulator.botapi import error_response
from telegram_emulator.world import MEDIA_KINDS, ApiError, World

# Small real files of their kinds, for a photo or sticker sent without bytes of its own: an 8×8 JPEG (Telegram's
# photos are JPEGs) and a 1×1 lossless WebP.
_PLACEHOLDERS = {
    "photo": base64.b64decode(
        "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19iZ2hnPk1x"
        "eXBkeFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2P/wAAR"
        "CAAIAAgDASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEG"
        "E1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWG"
        "h4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEB"
        "AQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYk"
        "NOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0"
        "tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwBKKKK908Y//9k="),
    "sticker": base64.b64decode("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA=="),
}

WORLD = web.AppKey("emulator_world", World)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "Bad Request: a JSON object is expected") from None
    if not isinstance(body, dict):
        raise ApiError(400, "Bad Request: a JSON object is expected")
    return body


def _route(handler):
    async def wrapped(request: web.Request) -> web.Response:
        try:
            return web.json_response(await handler(request.app[WORLD], request))
        except ApiError as error:
            return error_response(error)
        except (KeyError, TypeError, ValueError) as error:
            return error_response(ApiError(400, f"Bad Request: {error}"))

    return wrapped


async def state(world: World, request: web.Request) -> dict:
    return {
        "bots": [{"id": b.id, "username": b.username, "webhook": b.webhook_url} for b in world.bots.values()],
        "users": [u.to_api() for u in world.users.values()],
        "counters": dict(world.counters),
    }


async def add_bot(world: World, request: web.Request) -> dict:
    body = await _body(request)
    bot = world.add_bot(str(body["token"]), body.get("username"), body.get("first_name", "closer bot"))
    return {"id": bot.id, "username": bot.username}


async def add_user(world: World, request: web.Request) -> dict:
    body = await _body(request)
    user = world.add_user(int(body["id"]), str(body.get("first_name", "User")), body.get("username"),
                          body.get("language_code", "en"))
    return user.to_api()


def _bot(world: World, body: dict):
    if "bot_token" in body:
        return world.bot(str(body["bot_token"]))
    if "bot_id" in body:
        return world.bot_by_id(int(body["bot_id"]))
    if len(world.bots) == 1:
        return next(iter(world.bots.values()))
    raise ApiError(400, "Bad Request: name the bot (bot_token or bot_id)")


async def send(world: World, request: web.Request) -> dict:
    body = await _body(request)
    if body.get("kind") in _PLACEHOLDERS:  # a photo or sticker without bytes of its own: a tiny real one
        return await world.user_sends_media(_bot(world, body), int(body["user_id"]), body["kind"],
                                            _PLACEHOLDERS[body["kind"]], caption=body.get("caption"))
    return await world.user_sends(_bot(world, body), int(body["user_id"]), text=body.get("text"),
                                  reply_to=body.get("reply_to_message_id"))


async def send_media(world: World, request: web.Request) -> dict:
    """The user sends a file: multipart/form-data with a `file` part, or JSON with `data_base64`; `kind` (photo,
    document, voice, audio, video, video_note, sticker, animation), optional `caption`, `file_name`, `mime_type`,
    `duration`, `width`, `height`, `reply_to_message_id`."""
    if request.content_type == "multipart/form-data":
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, FileField):
            raise ApiError(400, "Bad Request: a `file` part is expected")
        data = upload.file.read()
        body: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str) and v != ""}
        body.setdefault("file_name", upload.filename)
        if upload.content_type and upload.content_type != "application/octet-stream":
            body.setdefault("mime_type", upload.content_type)
    else:
        body = await _body(request)
        try:
            data = base64.b64decode(str(body.get("data_base64", "")), validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(400, "Bad Request: data_base64 is not base64") from None
    kind = str(body.get("kind", "document"))
    if kind not in MEDIA_KINDS:
        raise ApiError(400, f"Bad Request: kind is one of {', '.join(MEDIA_KINDS)}")
    numbers = {k: int(body[k]) for k in ("duration", "width", "height") if body.get(k) not in (None, "")}
    reply = body.get("reply_to_message_id")
    return await world.user_sends_media(
        _bot(world, body), int(body["user_id"]), kind, data, caption=body.get("caption"),
        file_name=body.get("file_name"), mime_type=body.get("mime_type"),
        reply_to=int(reply) if reply not in (None, "") else None, **numbers,
    )


async def fault(world: World, request: web.Request) -> dict:
    """The next calls of a Bot API method fail: {method, code (500), description, times (1)}."""
    body = await _body(request)
    method = str(body["method"])
    world.fail_next(method, int(body.get("code", 500)), str(body.get("description", "Internal Server Error")),
                    int(body.get("times", 1)))
    return {"pending": len(world.faults.get(method.lower(), []))}


async def file_bytes(request: web.Request) -> web.StreamResponse:
    """A file's bytes by file_id, for the stand-in client page (users see their files whatever their size)."""
    stored = request.app[WORLD].files.get(request.match_info["file_id"])
    if stored is None:
        return error_response(ApiError(404, "Not Found"))
    return web.Response(body=stored.data, content_type="application/octet-stream")


async def press(world: World, request: web.Request) -> dict:
    body = await _body(request)
    return await world.user_presses(_bot(world, body), int(body["user_id"]), int(body["message_id"]),
                                    str(body["data"]), force=bool(body.get("force", False)))


async def pay(world: World, request: web.Request) -> dict:
    body = await _body(request)
    return await world.user_pays(_bot(world, body), int(body["user_id"]), int(body["message_id"]))


async def block(world: World, request: web.Request) -> dict:
    body = await _body(request)
    bot = _bot(world, body)
    key = (bot.id, int(body["user_id"]))
    if body.get("blocked", True):
        world.blocked.add(key)
    else:
        world.blocked.discard(key)
    return {"blocked": key in world.blocked}


async def transcript(world: World, request: web.Request) -> dict:
    bot = _bot(world, dict(request.query))
    return {"messages": world.transcript(bot, int(request.query["user_id"]))}


def add_control_routes(app: web.Application) -> None:
    app.router.add_get("/_emulator/state", _route(state))
    app.router.add_post("/_emulator/bots", _route(add_bot))
    app.router.add_post("/_emulator/users", _route(add_user))
    app.router.add_post("/_emulator/send", _route(send))
    app.router.add_post("/_emulator/send_media", _route(send_media))
    app.router.add_post("/_emulator/faults", _route(fault))
    app.router.add_get("/_emulator/files/{file_id}", file_bytes)
    app.router.add_post("/_emulator/press", _route(press))
    app.router.add_post("/_emulator/pay", _route(pay))
    app.router.add_post("/_emulator/block", _route(block))
    app.router.add_get("/_emulator/transcript", _route(transcript))
