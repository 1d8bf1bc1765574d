"""Answers in the API's shapes, and query strings read through a model like bodies are."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from webio.body import check_storable
from webio.validation import invalid
from sales.errors import Invalid
from sales.listing import MAX_PAGE, Page

Q = TypeVar("Q", bound=BaseModel)


class PageQuery(BaseModel):
    """The query of any paged list; lists with filters extend it."""

    model_config = ConfigDict(extra="forbid")
    cursor: Annotated[str, Field(max_length=200)] | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] | None = None


def send(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(text=model.model_dump_json(), status=status, content_type="application/json")


def send_page(items: Sequence[BaseModel], page: Page) -> web.Response:
    body = '{"items":[' + ",".join(i.model_dump_json() for i in items) + "]"
    body += ',"next_cursor":' + ("null" if page.next_cursor is None else f'"{page.next_cursor}"') + "}"
    return web.Response(text=body, content_type="application/json")


def query(request: web.Request, model: type[Q], convert: Callable[[dict], dict] | None = None) -> Q:
    allowed = {info.alias or name for name, info in model.model_fields.items()}
    unknown = set(request.query) - allowed
    if unknown:
        raise Invalid("unknown query parameter", field=sorted(unknown)[0])
    if any(len(request.query.getall(k)) > 1 for k in request.query):
        raise Invalid("a query parameter is given twice", field=next(k for k in request.query
                                                                     if len(request.query.getall(k)) > 1))
    try:
        raw = dict(request.query)
        check_storable(raw)
        return model.model_validate(convert(raw) if convert else raw)
    except ValidationError as error:
        raise invalid(error, "query") from None
