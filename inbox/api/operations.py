"""What went astray, for owner and admins (SPEC §5.2, §7): payment events (unmatched ones above all) and
notifications the delivery worker parked, which an admin can send again."""

from __future__ import annotations

from aiohttp import web

from core.keys import CLOCK
from inbox.auth import employee_of
from webio.body import path_id
from inbox.present import outbox_row_out, payment_event_out
from inbox.respond import PageQuery, query, send, send_page
from sales import listing, outbox
from storage.models import PaymentEffect


class PaymentEventQuery(PageQuery):
    effect: PaymentEffect | None = None


async def payment_events(request: web.Request) -> web.Response:
    wanted = query(request, PaymentEventQuery)
    page = await listing.payment_events(employee_of(request), effect=wanted.effect, cursor=wanted.cursor,
                                        limit=wanted.limit)
    return send_page([payment_event_out(e) for e in page.rows], page)


async def parked_outbox(request: web.Request) -> web.Response:
    wanted = query(request, PageQuery)
    page = await listing.parked_outbox(employee_of(request), cursor=wanted.cursor, limit=wanted.limit)
    return send_page([outbox_row_out(r) for r in page.rows], page)


async def retry_outbox(request: web.Request) -> web.Response:
    row = await outbox.retry_parked(employee_of(request), path_id(request), now=request.app[CLOCK]())
    return send(outbox_row_out(row))
