"""Orders: creation with auto-assignment, the manager's actions, the call list (SPEC §1.1, §1.3, §1.4, §2.3)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from datetime import datetime

from tortoise.exceptions import DoesNotExist
from tortoise.transactions import in_transaction

from sales import important, order_events, outbox
from sales.access import get_in_account, is_admin, not_found, require_active
from sales.assignment import OPEN_STATUSES, choose_order_manager, manager_changed, note_manager_action
from sales.clock import utcnow
from sales.errors import Conflict, Invalid, NotAllowed, NotFound
from storage import sql
from storage.models import (
    CallLog,
    CallOutcome,
    Chat,
    Employee,
    Offer,
    Order,
    OrderComment,
    OrderStatus,
    OrderStatusChange,
    Widget,
)

MAX_TEXT = 10_000

# Staff may move an unpaid order along these; paid and refunded come only from payments.
_STAFF_STATUSES = {OrderStatus.NEW, OrderStatus.AWAITING_PAYMENT, OrderStatus.CANCELLED}


@cache
def _start() -> sql.Statement:
    """What an order reads before the rotation's lock, in one statement (issue 14: each round trip was a share of
    an order's CPU and of its wait): the client, found and locked; the offer; the widget (the given one, else the
    account's default); his chat; and the manager of his latest earlier order (sticky, SPEC §1.1). Made on first
    use: a model's columns are known once Tortoise has set the models up."""
    return sql.Statement(
        "SELECT c.personal_manager_id, (SELECT order_manager_id FROM orders WHERE client_id = c.id "
        "AND order_manager_id IS NOT NULL ORDER BY created_at DESC, id DESC LIMIT 1) AS previous_manager_id, "
        f"{sql.columns_of(Offer, 'o')}, {sql.columns_of(Widget, 'w')}, {sql.columns_of(Chat, 'ch')} "
        "FROM client c "
        "LEFT JOIN offer o ON o.id = $3 AND o.account_id = c.account_id "
        "LEFT JOIN widget w ON w.account_id = c.account_id AND (w.id = $4 OR ($4 IS NULL AND w.is_default)) "
        "LEFT JOIN chat ch ON ch.client_id = c.id "
        "WHERE c.id = $1 AND c.account_id = $2 FOR UPDATE OF c"
    )


_ORDER_COLUMNS = ("account_id", "client_id", "personal_manager_id", "offer_id", "widget_id", "status", "amount",
                  "currency", "customer_info", "order_manager_id", "assigned_at", "created_at", "updated_at")
_NEW_ORDER = sql.Statement(
    f"INSERT INTO orders ({', '.join(_ORDER_COLUMNS)}) "
    f"VALUES ({', '.join(f'${n}' for n in range(1, len(_ORDER_COLUMNS) + 1))}) RETURNING *"
)
_AMOUNT = Order._meta.fields_map["amount"]


async def create_order(
    account_id: int,
    *,
    client_id: int,
    offer_id: int,
    widget_id: int | None = None,
    customer_info: str = "",
    now: datetime | None = None,
) -> Order:
    """Create an order and give it an order manager at once, in the same transaction (SPEC §1.1, §1.7).

    Without a widget the order comes through the account's default widget, so it still has a rotation.
    """
    now = now or utcnow()
    if len(customer_info) > MAX_TEXT:
        raise Invalid("customer information is limited to {limit} characters", field="customer_info", limit=MAX_TEXT)
    async with in_transaction():
        # Locked, so that the personal manager copied onto the order is the one a concurrent change leaves
        # (sales.clients.set_personal_manager locks the client too, then updates his orders).
        start = await sql.first(_start(), client_id, account_id, offer_id, widget_id)
        if start is None:
            raise NotFound("client {id} not found", field="client_id", id=client_id)
        offer = sql.part(Offer, start, "o")
        if offer is None:
            raise not_found("offer", offer_id)
        if not offer.active:
            raise Conflict("this offer is no longer sold", field="offer_id")
        widget = sql.part(Widget, start, "w")
        if widget is None:
            if widget_id is None:
                raise DoesNotExist(f"account {account_id} has no default widget")
            raise not_found("widget", widget_id)
        chat = sql.part(Chat, start, "ch")
        # Chosen before the order is written, so that it is written once, with its manager: the rotation's lock
        # is taken in the choice and held to the commit, and every statement after it waits for all the widget's
        # orders (so the pointer's move goes with the order's INSERT).
        manager_id, reason, move = await choose_order_manager(account_id, widget.id, chat,
                                                              start["previous_manager_id"])
        order = await sql.one(
            Order, _NEW_ORDER, account_id, client_id, start["personal_manager_id"], offer.id, widget.id,
            OrderStatus.NEW.value, _AMOUNT.to_db_value(offer.price, None), offer.currency, customer_info, manager_id,
            now, now, now, along=move,
        )
        _, rows = await manager_changed(order, None, reason=reason, actor_id=None, now=now)
        if widget.notification_emails:
            rows.append(outbox.row(
                account_id=account_id,
                kind=outbox.ORDER_CREATED_EMAIL,
                dedupe_key=f"{outbox.ORDER_CREATED_EMAIL}:{order.id}",
                payload={
                    "order_id": order.id,
                    "order_manager_id": manager_id,
                    "to": list(widget.notification_emails),
                },
                now=now,
            ))
        await order_events.announce_order(chat, order, now, along=rows)
    return order


async def payable_order(client_id: int, order_id: int | None) -> Order | None:
    """The order a customer may pay now: his own, and not paid, refunded or cancelled (a failed one may be retried)."""
    if order_id is None:
        return None
    return await Order.get_or_none(id=order_id, client_id=client_id, status__in=OPEN_STATUSES)


async def get_order(actor: Employee, order_id: int) -> Order:
    """Opening or viewing an order is not an action (SPEC §1.3): this reads and changes nothing."""
    require_active(actor)
    return await get_in_account(Order, actor.account_id, order_id, what="order")


def _require_may_work_on(actor: Employee, order: Order) -> None:
    require_active(actor)
    if not is_admin(actor) and order.order_manager_id != actor.id:
        raise NotAllowed("only the order's manager, the owner or an admin may work on this order")


async def record_call(
    actor: Employee,
    order_id: int,
    outcome: CallOutcome | str,
    *,
    call_back_at: datetime | None = None,
    comment: str = "",
    now: datetime | None = None,
) -> CallLog:
    """Mark a call's outcome (SPEC §1.4); it is an action of the order manager."""
    now = now or utcnow()
    try:
        outcome = CallOutcome(outcome)
    except ValueError:
        raise Invalid("a call outcome is one of {outcomes}", field="outcome",
                      outcomes=", ".join(CallOutcome)) from None
    if outcome == CallOutcome.CALL_BACK and call_back_at is None:
        raise Invalid("a call-back needs a time", field="call_back_at")
    if outcome != CallOutcome.CALL_BACK:
        call_back_at = None
    if len(comment) > MAX_TEXT:
        raise Invalid("a comment is limited to {limit} characters", field="comment", limit=MAX_TEXT)
    async with in_transaction():
        order = await get_in_account(Order, actor.account_id, order_id, what="order")
        _require_may_work_on(actor, order)
        call = await CallLog.create(
            order_id=order.id,
            employee_id=actor.id,
            outcome=outcome,
            call_back_at=call_back_at,
            comment=comment,
            created_at=now,
        )
        await Order.filter(id=order.id).update(last_call_at=now, call_back_at=call_back_at)
        await note_manager_action(order, actor, now)
    return call


async def add_comment(actor: Employee, order_id: int, text: str, *, now: datetime | None = None) -> OrderComment:
    now = now or utcnow()
    text = text.strip()
    if not text:
        raise Invalid("a comment cannot be empty", field="text")
    if len(text) > MAX_TEXT:
        raise Invalid("a comment is limited to {limit} characters", field="text", limit=MAX_TEXT)
    async with in_transaction():
        order = await get_in_account(Order, actor.account_id, order_id, what="order")
        _require_may_work_on(actor, order)
        comment = await OrderComment.create(order_id=order.id, employee_id=actor.id, text=text, created_at=now)
        await note_manager_action(order, actor, now)
    return comment


async def set_status(
    actor: Employee, order_id: int, status: OrderStatus | str, *, now: datetime | None = None
) -> Order:
    """A manual status change of an unpaid order; `paid` and `refunded` only ever come from a payment."""
    now = now or utcnow()
    try:
        status = OrderStatus(status)
    except ValueError:
        raise Invalid("a status is one of {statuses}", field="status",
                      statuses=", ".join(sorted(_STAFF_STATUSES))) from None
    if status not in _STAFF_STATUSES:
        raise Invalid("staff cannot set an order {status}", field="status", status=status)
    async with in_transaction():
        order = await get_in_account(Order, actor.account_id, order_id, what="order")
        order = await Order.filter(id=order.id).select_for_update().get()
        _require_may_work_on(actor, order)
        if order.status not in OPEN_STATUSES:
            raise Conflict("a {status} order cannot change status by hand", field="status", status=order.status)
        if order.status != status:
            await _change_status(order, status, actor, now)
            await note_manager_action(order, actor, now)
            if status == OrderStatus.CANCELLED:
                # Nothing is left to recover: its failed payment leaves Important, and the alerts say why.
                await important.resolve_for_order(order, now)
    return order


async def _change_status(order: Order, status: OrderStatus, actor: Employee, now: datetime) -> None:
    """A change by hand, kept with who made it: the order's history shows it, and an open chat of the client follows
    it live (the caller holds the row lock)."""
    await OrderStatusChange.create(order_id=order.id, actor_id=actor.id, from_status=order.status, to_status=status,
                                   created_at=now)
    order.status = status
    await order.save(update_fields=["status", "updated_at"])
    await order_events.order_changed(order, now)


async def mark_payment_link_sent(actor: Employee, order_id: int, *, now: datetime | None = None) -> Order:
    """Sending a payment link is an action, and the order now awaits payment."""
    now = now or utcnow()
    async with in_transaction():
        order = await get_in_account(Order, actor.account_id, order_id, what="order")
        order = await Order.filter(id=order.id).select_for_update().get()
        _require_may_work_on(actor, order)
        if order.status == OrderStatus.NEW:
            await _change_status(order, OrderStatus.AWAITING_PAYMENT, actor, now)
        await note_manager_action(order, actor, now)
    return order


@dataclass(frozen=True)
class CallListEntry:
    order: Order
    overdue: bool


async def call_list(actor: Employee, *, now: datetime | None = None) -> list[CallListEntry]:
    """His unpaid orders to call: overdue call-backs first (by their time), then never called, then the rest."""
    require_active(actor)
    now = now or utcnow()
    orders = await Order.filter(
        account_id=actor.account_id, order_manager_id=actor.id, status__in=OPEN_STATUSES
    ).order_by("created_at", "id")

    def rank(order: Order) -> tuple:
        if order.call_back_at is not None and order.call_back_at <= now:
            return (0, order.call_back_at.timestamp(), order.id)
        if order.last_call_at is None:
            return (1, order.created_at.timestamp(), order.id)
        upcoming = order.call_back_at or order.last_call_at
        return (2, upcoming.timestamp(), order.id)

    return [
        CallListEntry(order=o, overdue=o.call_back_at is not None and o.call_back_at <= now)
        for o in sorted(orders, key=rank)
    ]
