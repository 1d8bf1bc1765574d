"""The control API (/_emulator/…): what tests and the stand-in client page use to play the users."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from telegram_emulator.botapi import error_response
from telegram_emulator.world import ApiError, World

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
    content = None
    if body.get("kind") in ("sticker", "photo"):
        content = {"sticker": {"file_id": "emu-sticker", "file_unique_id": "emu-sticker", "type": "regular",
                               "width": 512, "height": 512, "is_animated": False, "is_video": False}} \
            if body["kind"] == "sticker" else {"photo": [{"file_id": "emu-photo", "file_unique_id": "emu-photo",
                                                         "width": 90, "height": 90}]}
    text = body.get("text") if content is None else None
    return await world.user_sends(_bot(world, body), int(body["user_id"]), text=text,
                                  reply_to=body.get("reply_to_message_id"), content=content)


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
    app.router.add_post("/_emulator/press", _route(press))
    app.router.add_post("/_emulator/pay", _route(pay))
    app.router.add_post("/_emulator/block", _route(block))
    app.router.add_get("/_emulator/transcript", _route(transcript))
