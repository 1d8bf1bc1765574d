"""What went astray, for owner and admins (SPEC §5.2, §7): payment events (unmatched ones above all) and
notifications the delivery worker parked, which an admin can send again."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from closer.keys import CLOCK
from inbox.auth import employee_of
from inbox.body import path_id
from inbox.respond import query, send, send_page
from inbox.schemas import OutboxRowOut, PaymentEventOut
from sales import listing, outbox
from storage.models import Outbox, PaymentEffect, PaymentEvent


class PaymentEventQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    effect: PaymentEffect | None = None
    cursor: Annotated[str, Field(max_length=200)] | None = None
    limit: Annotated[int, Field(ge=1, le=listing.MAX_PAGE)] | None = None


class ParkedQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cursor: Annotated[str, Field(max_length=200)] | None = None
    limit: Annotated[int, Field(ge=1, le=listing.MAX_PAGE)] | None = None


def _event_out(event: PaymentEvent) -> PaymentEventOut:
    return PaymentEventOut(
        id=event.id, provider=event.provider, event_id=event.event_id, order_id=event.order_id,
        order_ref=event.order_ref, result=str(event.result), effect=str(event.effect),
        amount=None if event.amount is None else str(event.amount), currency=event.currency, reason=event.reason,
        occurred_at=event.occurred_at, received_at=event.received_at,
    )


def _outbox_out(row: Outbox) -> OutboxRowOut:
    return OutboxRowOut(id=row.id, kind=row.kind, status=str(row.status), employee_id=row.employee_id,
                        client_id=row.client_id, attempts=row.attempts, last_error=row.last_error,
                        created_at=row.created_at)


async def payment_events(request: web.Request) -> web.Response:
    wanted = query(request, PaymentEventQuery)
    page = await listing.payment_events(employee_of(request), effect=wanted.effect, cursor=wanted.cursor,
                                        limit=wanted.limit)
    return send_page([_event_out(e) for e in page.rows], page)


async def parked_outbox(request: web.Request) -> web.Response:
    wanted = query(request, ParkedQuery)
    page = await listing.parked_outbox(employee_of(request), cursor=wanted.cursor, limit=wanted.limit)
    return send_page([_outbox_out(r) for r in page.rows], page)


async def retry_outbox(request: web.Request) -> web.Response:
    row = await outbox.retry_parked(employee_of(request), path_id(request), now=request.app[CLOCK]())
    return send(_outbox_out(row))
