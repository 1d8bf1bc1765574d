"""Orders (SPEC §1, §2.3): lists with filters, creation with auto-assignment, group assignment, take, calls."""

from __future__ import annotations


from aiohttp import web

from core.keys import CLOCK
from inbox.auth import employee_of
from webio.body import parse, path_id
from inbox.present import order_history_out, orders_out
from inbox.respond import PageQuery, query, send, send_page
from inbox.schemas import (
    DemoFailureIn,
    DemoFailureOut,
    AssignIn,
    AssignOut,
    CallIn,
    CallListEntryOut,
    CallListOut,
    CallOut,
    CommentIn,
    CommentOut,
    Id,
    Instant,
    OrderIn,
    OrderStatusIn,
    list_of,
)
from sales import assignment, audit, listing, orders, payments
from sales.access import require_active
from sales.clients import find_or_create_client
from sales.errors import Invalid
from storage.models import OrderStatus


class OrderQuery(PageQuery):
    status: OrderStatus | None = None
    order_manager_id: Id | None = None
    personal_manager_id: Id | None = None
    widget_id: Id | None = None
    offer_id: Id | None = None
    created_from: Instant | None = None
    created_to: Instant | None = None
    unassigned: bool = False


def _ids_from_query(raw: dict) -> dict:
    # Query strings carry text; ids are strict integers in the model, so convert the digits here.
    return {k: int(v) if k.endswith("_id") and v.isascii() and v.isdigit() and len(v) < 12 else v
            for k, v in raw.items()}


async def list_orders(request: web.Request) -> web.Response:
    wanted = query(request, OrderQuery, convert=_ids_from_query)
    page = await listing.orders(
        employee_of(request),
        listing.OrderFilter(**wanted.model_dump(exclude={"cursor", "limit"})),
        cursor=wanted.cursor, limit=wanted.limit,
    )
    return send_page(await orders_out(page.rows), page)


async def create_order(request: web.Request) -> web.Response:
    body = await parse(request, OrderIn)
    actor = employee_of(request)
    require_active(actor)
    if (body.client_id is None) == (body.client_email is None):
        raise Invalid("give client_id or client_email, one of them", field="client_id")
    client_id = body.client_id
    if client_id is None:
        client_id = (await find_or_create_client(actor.account_id, email=body.client_email)).id
    else:
        await listing.visible_client(actor, client_id)
    order = await orders.create_order(
        actor.account_id, client_id=client_id, offer_id=body.offer_id, widget_id=body.widget_id,
        customer_info=body.customer_info, now=request.app[CLOCK](),
    )
    return send((await orders_out([order]))[0], status=201)


async def get_order(request: web.Request) -> web.Response:
    order = await listing.visible_order(employee_of(request), path_id(request))
    return send((await orders_out([order]))[0])


async def order_history(request: web.Request) -> web.Response:
    order = await listing.visible_order(employee_of(request), path_id(request))
    return send(order_history_out(await audit.order_trail(order.id)))


async def assign(request: web.Request) -> web.Response:
    body = await parse(request, AssignIn)
    changed = await assignment.assign_orders(employee_of(request), body.order_ids, body.employee_id,
                                             now=request.app[CLOCK]())
    return send(AssignOut(changed=changed))


async def take(request: web.Request) -> web.Response:
    order = await assignment.take_order(employee_of(request), path_id(request), now=request.app[CLOCK]())
    return send((await orders_out([order]))[0])


async def record_call(request: web.Request) -> web.Response:
    body = await parse(request, CallIn)
    call = await orders.record_call(
        employee_of(request), path_id(request), body.outcome, call_back_at=body.call_back_at, comment=body.comment,
        now=request.app[CLOCK](),
    )
    return send(CallOut(id=call.id, order_id=call.order_id, outcome=str(call.outcome), call_back_at=call.call_back_at,
                        comment=call.comment, created_at=call.created_at), status=201)


def _comment_out(comment) -> CommentOut:
    return CommentOut(id=comment.id, order_id=comment.order_id, employee_id=comment.employee_id, text=comment.text,
                      created_at=comment.created_at)


async def add_comment(request: web.Request) -> web.Response:
    """SPEC §1.3: a comment is an action of the order manager (it keeps him attached)."""
    body = await parse(request, CommentIn)
    comment = await orders.add_comment(employee_of(request), path_id(request), body.text, now=request.app[CLOCK]())
    return send(_comment_out(comment), status=201)


async def list_comments(request: web.Request) -> web.Response:
    comments = await listing.order_comments(employee_of(request), path_id(request))
    return send(list_of(CommentOut)(items=[_comment_out(c) for c in comments]))


async def set_status(request: web.Request) -> web.Response:
    body = await parse(request, OrderStatusIn)
    order = await orders.set_status(employee_of(request), path_id(request), body.status, now=request.app[CLOCK]())
    return send((await orders_out([order]))[0])


async def payment_link_sent(request: web.Request) -> web.Response:
    """He sent the client a payment link (outside closer): an action, and a new order now awaits payment."""
    order = await orders.mark_payment_link_sent(employee_of(request), path_id(request), now=request.app[CLOCK]())
    return send((await orders_out([order]))[0])


async def call_list(request: web.Request) -> web.Response:
    """SPEC §1.4: my unpaid orders in the order to call them."""
    entries = await orders.call_list(employee_of(request), now=request.app[CLOCK]())
    rows = await orders_out([e.order for e in entries])
    return send(CallListOut(items=[CallListEntryOut(order=row, overdue=e.overdue) for row, e in zip(rows, entries, strict=True)]))


async def demo_fail_payment(request: web.Request) -> web.Response:
    """`closer demo` only: the order's payment fails as a provider would report it (owner/admin)."""
    body = await parse(request, DemoFailureIn)
    outcome = await payments.fail_for_demo(employee_of(request), path_id(request), reason=body.reason,
                                           now=request.app[CLOCK]())
    return send(DemoFailureOut(order_id=path_id(request), effect=None if outcome.effect is None else str(outcome.effect)))
