"""Reading and validating request bodies: a bad one is a 4xx naming the field, and changes nothing."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from sales.errors import Invalid

M = TypeVar("M", bound=BaseModel)


async def parse(request: web.Request, model: type[M]) -> M:
    if request.content_type != "application/json":
        raise Invalid("send a JSON body (Content-Type: application/json)", field="body")
    try:
        raw = await request.json()
    except ValueError:
        raise Invalid("the body is not valid JSON", field="body") from None
    check_storable(raw)
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise Invalid(first["msg"], field=field) from None


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
