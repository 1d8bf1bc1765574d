"""The Bot API over HTTP: POST/GET /bot<token>/<method>, parameters as query, form, multipart or JSON."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.web_request import FileField

from telegram_emulator.world import MEDIA_KINDS, ApiError, Bot, World

# Parameters that are JSON inside a form (aiogram encodes nested values so).
_JSON_FIELDS = {"reply_markup", "prices", "entities", "allowed_updates", "commands", "reply_parameters",
                "link_preview_options", "scope"}


async def read_params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse JSON") from None
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: parameters must be an object")
            params.update(body)
        else:
            try:
                form = await request.post()
            except web.HTTPRequestEntityTooLarge:
                raise ApiError(413, "Request Entity Too Large") from None
            # Text fields, and uploaded files (a file field is named by its `attach://<name>` parameter).
            params.update({k: v for k, v in form.items() if isinstance(v, str | FileField)})
    for name in _JSON_FIELDS & params.keys():
        if isinstance(params[name], str):
            try:
                params[name] = json.loads(params[name])
            except ValueError:
                raise ApiError(400, f"Bad Request: can't parse {name} JSON object") from None
    return params


def _int(params: dict, name: str, default: Any = ...) -> int:
    if name not in params:
        if default is ...:
            raise ApiError(400, f"Bad Request: {name} is required")
        return default
    try:
        return int(params[name])
    except (TypeError, ValueError):
        raise ApiError(400, f"Bad Request: {name} must be an integer") from None


def _bool(params: dict, name: str) -> bool:
    value = params.get(name, False)
    return value if isinstance(value, bool) else str(value).lower() in ("true", "1")


def _reply_to(params: dict) -> int | None:
    if "reply_to_message_id" in params:
        return _int(params, "reply_to_message_id")
    reply = params.get("reply_parameters")
    if isinstance(reply, dict) and "message_id" in reply:
        return int(reply["message_id"])
    return None


Method = Callable[[World, Bot, dict], Awaitable[Any]]


async def get_me(world: World, bot: Bot, params: dict) -> dict:
    return {**world.bot_user(bot), "can_join_groups": False, "can_read_all_group_messages": False,
            "supports_inline_queries": False, "can_connect_to_business": False, "has_main_web_app": False}


async def send_message(world: World, bot: Bot, params: dict) -> dict:
    return await world.send_message(
        bot, _int(params, "chat_id"), str(params.get("text", "")), parse_mode=params.get("parse_mode"),
        reply_markup=params.get("reply_markup"), reply_to_message_id=_reply_to(params),
    )


async def edit_message_text(world: World, bot: Bot, params: dict) -> dict:
    return await world.edit_message(
        bot, _int(params, "chat_id"), _int(params, "message_id"), text=str(params.get("text", "")),
        # Like Telegram: editing the text without a keyboard removes the keyboard.
        parse_mode=params.get("parse_mode"), reply_markup=params.get("reply_markup"),
    )


async def edit_message_reply_markup(world: World, bot: Bot, params: dict) -> dict:
    return await world.edit_message(
        bot, _int(params, "chat_id"), _int(params, "message_id"), reply_markup=params.get("reply_markup"),
    )


async def answer_callback_query(world: World, bot: Bot, params: dict) -> bool:
    world.answer_callback(str(params.get("callback_query_id", "")), params.get("text"), _bool(params, "show_alert"))
    return True


async def answer_pre_checkout_query(world: World, bot: Bot, params: dict) -> bool:
    world.answer_checkout(str(params.get("pre_checkout_query_id", "")), _bool(params, "ok"), params.get("error_message"))
    return True


async def send_invoice(world: World, bot: Bot, params: dict) -> dict:
    return await world.send_invoice(
        bot, _int(params, "chat_id"), title=str(params.get("title", "")), description=str(params.get("description", "")),
        payload=str(params.get("payload", "")), currency=str(params.get("currency", "")),
        prices=params.get("prices") or [],
    )


async def copy_message(world: World, bot: Bot, params: dict) -> dict:
    caption = params.get("caption")
    return await world.copy_message(
        bot, _int(params, "chat_id"), _int(params, "from_chat_id"), _int(params, "message_id"),
        caption=None if caption is None else str(caption), parse_mode=params.get("parse_mode"),
        reply_markup=params.get("reply_markup"),
    )


def _input_file(params: dict, name: str) -> tuple[bytes | None, str | None, str | None, str | None]:
    """(data, file name, content type, file_id) of a file parameter: an upload, or a file_id the bot has."""
    value = params.get(name)
    if isinstance(value, str) and value.startswith("attach://"):
        value = params.get(value.removeprefix("attach://"))
    if isinstance(value, FileField):
        return value.file.read(), value.filename, value.content_type, None
    if isinstance(value, str) and value:
        if value.startswith(("http://", "https://")):
            raise ApiError(400, "Bad Request: wrong HTTP URL specified")  # the emulator fetches nothing
        return None, None, None, value
    raise ApiError(400, f"Bad Request: there is no {name} in the request")


def _send_media(kind: str) -> Method:
    async def send(world: World, bot: Bot, params: dict) -> dict:
        data, file_name, content_type, file_id = _input_file(params, kind)
        caption = params.get("caption")
        return await world.send_media(
            bot, _int(params, "chat_id"), kind, data=data, file_id=file_id, file_name=file_name,
            mime_type=content_type if content_type and content_type != "application/octet-stream" else None,
            caption=None if caption is None else str(caption), parse_mode=params.get("parse_mode"),
            reply_markup=params.get("reply_markup"), reply_to_message_id=_reply_to(params),
        )

    return send


async def get_file(world: World, bot: Bot, params: dict) -> dict:
    return world.get_file(bot, str(params.get("file_id", ""))).to_api()


async def forward_message(world: World, bot: Bot, params: dict) -> dict:
    source = world.find(bot, _int(params, "from_chat_id"), _int(params, "message_id"))
    if source is None or source.text is None:
        raise ApiError(400, "Bad Request: message to forward not found")
    return await world.send_message(bot, _int(params, "chat_id"), source.text)


async def delete_message(world: World, bot: Bot, params: dict) -> bool:
    history = world.history(bot, _int(params, "chat_id"))
    message_id = _int(params, "message_id")
    if not any(m.message_id == message_id for m in history):
        raise ApiError(400, "Bad Request: message to delete not found")
    history[:] = [m for m in history if m.message_id != message_id]
    return True


async def set_webhook(world: World, bot: Bot, params: dict) -> bool:
    url = str(params.get("url", ""))
    if url and not url.startswith(("http://", "https://")):
        raise ApiError(400, "Bad Request: bad webhook: invalid URL")
    bot.webhook_url = url or None
    bot.webhook_secret = params.get("secret_token") or None
    if _bool(params, "drop_pending_updates"):
        bot.updates.clear()
    return True


async def delete_webhook(world: World, bot: Bot, params: dict) -> bool:
    bot.webhook_url = None
    bot.webhook_secret = None
    if _bool(params, "drop_pending_updates"):
        bot.updates.clear()
    return True


async def get_webhook_info(world: World, bot: Bot, params: dict) -> dict:
    return {"url": bot.webhook_url or "", "has_custom_certificate": False, "pending_update_count": len(bot.updates)}


async def get_updates(world: World, bot: Bot, params: dict) -> list:
    offset = _int(params, "offset", None)
    return await world.get_updates(bot, offset, _int(params, "limit", 100), float(params.get("timeout", 0) or 0))


async def set_my_commands(world: World, bot: Bot, params: dict) -> bool:
    bot.commands = params.get("commands") or []
    return True


async def get_my_commands(world: World, bot: Bot, params: dict) -> list:
    return bot.commands


async def delete_my_commands(world: World, bot: Bot, params: dict) -> bool:
    bot.commands = []
    return True


async def send_chat_action(world: World, bot: Bot, params: dict) -> bool:
    world._reachable(bot, _int(params, "chat_id"))
    return True


async def close(world: World, bot: Bot, params: dict) -> bool:
    return True


METHODS: dict[str, Method] = {
    name.lower(): handler
    for name, handler in {
        "getMe": get_me, "sendMessage": send_message, "editMessageText": edit_message_text,
        "editMessageReplyMarkup": edit_message_reply_markup, "answerCallbackQuery": answer_callback_query,
        "answerPreCheckoutQuery": answer_pre_checkout_query, "sendInvoice": send_invoice,
        "copyMessage": copy_message, "forwardMessage": forward_message, "deleteMessage": delete_message,
        "setWebhook": set_webhook, "deleteWebhook": delete_webhook, "getWebhookInfo": get_webhook_info,
        "getUpdates": get_updates, "setMyCommands": set_my_commands, "getMyCommands": get_my_commands,
        "deleteMyCommands": delete_my_commands, "sendChatAction": send_chat_action, "close": close,
        "getFile": get_file,
        **{"send" + "".join(part.title() for part in kind.split("_")): _send_media(kind) for kind in MEDIA_KINDS},
    }.items()
}


def error_response(error: ApiError) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": error.code, "description": error.description}
    if error.retry_after is not None:
        body["parameters"] = {"retry_after": error.retry_after}
    return web.json_response(body, status=error.code)


def make_handler(world: World):
    async def handle(request: web.Request) -> web.Response:
        try:
            bot = world.bot(request.match_info["token"])
            method = METHODS.get(request.match_info["method"].lower())
            if method is None:
                raise ApiError(404, "Not Found: method not found")
            params = await read_params(request)
            fault = world.take_fault(request.match_info["method"], params.get("chat_id"))
            if fault is not None:
                raise fault
            result = await method(world, bot, params)
        except ApiError as error:
            return error_response(error)
        world.counters[f"method:{request.match_info['method']}"] += 1
        return web.json_response({"ok": True, "result": result})

    return handle


def make_file_handler(world: World):
    """GET /file/bot<token>/<file_path>: a file's bytes, at the path getFile named (Telegram's download URL)."""

    async def download(request: web.Request) -> web.StreamResponse:
        try:
            bot = world.bot(request.match_info["token"])
        except ApiError as error:
            return error_response(error)
        stored = world.file_at(bot, request.match_info["path"])
        if stored is None:
            return error_response(ApiError(404, "Not Found"))
        world.counters["downloads"] += 1
        return web.Response(body=stored.data, content_type="application/octet-stream")

    return download
