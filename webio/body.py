"""Reading and validating request bodies: a bad one is a 4xx naming the field, and changes nothing."""

from __future__ import annotations

import json
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from sales.errors import Invalid
from webio.validation import invalid

M = TypeVar("M", bound=BaseModel)

# Far beyond any shape the API, Telegram or a payment provider sends (they nest a dozen levels at most), and far below
# what recursive code (the JSON parser, check_storable, pydantic, aiogram) survives: deeper is refused as bad input.
MAX_JSON_DEPTH = 64


class BadJson(ValueError):
    """A body that is no JSON a handler may take; str() completes "the body is …"."""


class TooDeep(BadJson):
    """JSON nested deeper than MAX_JSON_DEPTH."""


def load_json(raw: str | bytes) -> object:
    """json.loads for what callers send: every transport reading JSON (the API, the payment and Telegram webhooks)
    parses through here, so a body nested a thousand levels deep is bad input (4xx), never a RecursionError (500)."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise TooDeep(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError:
        raise BadJson("not valid JSON") from None
    # Fewer opening brackets than the limit (strings included) cannot nest deeper: the walk is for the rare rest.
    opening = raw.count("[") + raw.count("{") if isinstance(raw, str) else raw.count(b"[") + raw.count(b"{")
    if opening > MAX_JSON_DEPTH and _deeper_than(value, MAX_JSON_DEPTH):
        raise TooDeep(f"nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def _deeper_than(value: object, limit: int) -> bool:
    # Iterative on purpose: the point is not to recurse as deep as the input.
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


async def parse(request: web.Request, model: type[M]) -> M:
    if request.content_type != "application/json":
        raise Invalid("send a JSON body (Content-Type: application/json)", field="body")
    try:
        raw = load_json(await request.text())
    except TooDeep:
        raise Invalid("the body is nested deeper than {limit} levels", field="body", limit=MAX_JSON_DEPTH) from None
    except BadJson:
        raise Invalid("the body is not valid JSON", field="body") from None
    except ValueError:  # not text in its charset
        raise Invalid("the body is not valid JSON", field="body") from None
    except LookupError:  # a charset Python does not know
        raise Invalid("unknown charset", field="Content-Type") from None
    check_storable(raw)
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise invalid(error, "body") from None


def check_storable(value: object, path: str = "") -> None:
    """Text the database cannot keep (NUL characters, unpaired surrogates from "\\ud800" escapes) is refused
    here, naming the field, instead of failing deep inside an INSERT."""
    if isinstance(value, str):
        if "\x00" in value:
            raise Invalid("text cannot contain NUL characters", field=path or "body")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Invalid("text is not valid Unicode", field=path or "body") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            check_storable(key, path or "body")
            check_storable(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_storable(item, f"{path}.{index}" if path else str(index))


def path_id(request: web.Request, name: str = "id") -> int:
    raw = request.match_info[name]
    # Ids are 32-bit columns; a larger number is simply no row (and PostgreSQL would refuse the parameter).
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10 or int(raw) > 2**31 - 1:
        raise web.HTTPNotFound()
    return int(raw)
