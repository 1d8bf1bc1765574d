"""Rows to API shapes. Lists load their related rows in one query per relation, never one per row."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from core import links
from inbox.schemas import (
    AttachmentOut,
    ChatOut,
    ClientOut,
    ClientRef,
    EmployeeOut,
    EmployeeRef,
    HistoryEntry,
    HistoryOut,
    ImportantOut,
    MessageOut,
    OfferOut,
    OfferRef,
    OrderOut,
    OutboxRowOut,
    PaymentEventOut,
    WidgetOut,
)
from sales import attachments, audit, listing
from storage.models import (
    AssignmentLog,
    Attachment,
    Chat,
    ChatStatus,
    Client,
    Employee,
    ImportantItem,
    Message,
    Offer,
    Order,
    Outbox,
    PaymentEvent,
    Widget,
    WidgetExclusion,
)


def _rate(value) -> str:
    # SQLite hands back what was stored, PostgreSQL the column's scale: show both the same way.
    return str(Decimal(str(value)).quantize(Decimal("0.0001")))


def client_name(client: Client) -> str:
    return client.name or client.email or f"#{client.id}"


def employee_out(employee: Employee) -> EmployeeOut:
    return EmployeeOut(
        id=employee.id, email=employee.email, name=employee.name, role=str(employee.role), active=employee.active,
        away=employee.away, capacity=employee.capacity, commission_rate=_rate(employee.commission_rate),
        language=employee.language, telegram_linked=employee.telegram_chat_id is not None,
    )


async def _employees(ids: Iterable[int | None]) -> dict[int, EmployeeRef]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await Employee.filter(id__in=wanted).values("id", "name")
    return {r["id"]: EmployeeRef(id=r["id"], name=r["name"]) for r in rows}


async def widgets_out(widgets: Sequence[Widget]) -> list[WidgetOut]:
    excluded: dict[int, list[int]] = {w.id: [] for w in widgets}
    for row in await WidgetExclusion.filter(widget_id__in=list(excluded)).order_by("employee_id").values(
        "widget_id", "employee_id"
    ):
        excluded[row["widget_id"]].append(row["employee_id"])
    return [
        WidgetOut(id=w.id, code=w.code, name=w.name, is_default=w.is_default,
                  notification_emails=list(w.notification_emails or []), excluded_employee_ids=excluded[w.id])
        for w in widgets
    ]


def offer_out(offer: Offer) -> OfferOut:
    return OfferOut(
        id=offer.id, title=offer.title, price=str(offer.price), currency=offer.currency,
        notify_on_failed_payment=offer.notify_on_failed_payment,
        commission_rate=None if offer.commission_rate is None else _rate(offer.commission_rate), active=offer.active,
    )


async def clients_out(clients: Sequence[Client]) -> list[ClientOut]:
    staff = await _employees(c.personal_manager_id for c in clients)
    chats = dict(await Chat.filter(client_id__in=[c.id for c in clients]).values_list("client_id", "id"))
    return [
        ClientOut(
            id=c.id, email=c.email, name=c.name, phone=c.phone, notes=c.notes, language=c.language,
            telegram=c.telegram_user_id is not None, personal_manager=staff.get(c.personal_manager_id),
            chat_id=chats.get(c.id), created_at=c.created_at,
        )
        for c in clients
    ]


async def orders_out(orders: Sequence[Order]) -> list[OrderOut]:
    clients = {c.id: c for c in await Client.filter(id__in={o.client_id for o in orders})}
    offers = dict(await Offer.filter(id__in={o.offer_id for o in orders}).values_list("id", "title"))
    staff = await _employees(
        [o.order_manager_id for o in orders] + [c.personal_manager_id for c in clients.values()]
    )
    out = []
    for o in orders:
        client = clients[o.client_id]
        out.append(OrderOut(
            id=o.id, client=ClientRef(id=client.id, name=client_name(client), email=client.email),
            offer=OfferRef(id=o.offer_id, title=offers[o.offer_id]), widget_id=o.widget_id, status=str(o.status),
            amount=str(o.amount), currency=o.currency, order_manager=staff.get(o.order_manager_id),
            personal_manager=staff.get(client.personal_manager_id), assigned_at=o.assigned_at,
            last_action_at=o.last_action_at, failure_reason=o.failure_reason, failed_at=o.failed_at,
            paid_at=o.paid_at, last_call_at=o.last_call_at, call_back_at=o.call_back_at,
            customer_info=o.customer_info, created_at=o.created_at,
        ))
    return out


async def chats_out(chats: Sequence[Chat], viewer_id: int, now: datetime) -> list[ChatOut]:
    """Chats as `viewer_id` sees them (his unread counts)."""
    clients = {c.id: c for c in await Client.filter(id__in={c.client_id for c in chats})}
    summaries = await listing.chat_summaries([c.id for c in chats], viewer_id)
    staff = await _employees(c.assignee_id for c in chats)
    out = []
    for chat in chats:
        summary = summaries.get(chat.id) or listing.ChatSummary(None, None, 0)
        status = listing.effective_status(chat, now)
        out.append(ChatOut(
            id=chat.id,
            client=ClientRef(id=chat.client_id, name=client_name(clients[chat.client_id]),
                             email=clients[chat.client_id].email),
            last_message_at=chat.last_message_at,
            last_message=summary.last_message[:200] if summary.last_message is not None else None,
            last_message_direction=summary.last_direction, last_message_attachment=summary.last_attachment,
            assignee=staff.get(chat.assignee_id),
            status=str(status), snoozed_until=chat.snoozed_until if status == ChatStatus.SNOOZED else None,
            unread=summary.unread,
        ))
    return out


def history_out(rows: Sequence[AssignmentLog]) -> HistoryOut:
    return HistoryOut(items=[
        HistoryEntry(id=r.id, target=str(r.target), from_employee_id=r.from_employee_id,
                     to_employee_id=r.to_employee_id, reason=str(r.reason), actor_id=r.actor_id, created_at=r.created_at)
        for r in rows
    ])


def order_history_out(trail: Sequence[audit.TrailEntry]) -> HistoryOut:
    items = []
    for entry in trail:
        row = entry.row
        if entry.kind == "assignment":
            items.extend(history_out([row]).items)
        elif entry.kind == "status":
            items.append(HistoryEntry(id=row.id, kind="status", target="order", from_employee_id=None,
                                      to_employee_id=None, reason="by_hand", actor_id=row.actor_id,
                                      created_at=row.created_at, status=str(row.to_status),
                                      from_status=str(row.from_status)))
        else:
            items.append(HistoryEntry(id=row.id, kind="payment", target="order", from_employee_id=None,
                                      to_employee_id=None, reason=row.provider, actor_id=None,
                                      created_at=row.occurred_at, status=str(row.result),
                                      amount=None if row.amount is None else f"{row.amount:.2f}",
                                      currency=row.currency, failure_reason=row.reason, effect=str(row.effect)))
    return HistoryOut(items=items)


def attachment_out(row: Attachment) -> AttachmentOut:
    return AttachmentOut(id=row.id, kind=str(row.kind), file_name=row.file_name, mime_type=row.mime_type,
                         size=row.size, url=links.file_url("", row.id), too_big=attachments.too_big_for_bots(row))


async def messages_out(messages: Sequence[Message]) -> list[MessageOut]:
    staff = await _employees(m.employee_id for m in messages)
    files = await attachments.of_messages(m.id for m in messages)  # one query for the page
    return [
        MessageOut(id=m.id, chat_id=m.chat_id, direction=str(m.direction), sender_kind=str(m.sender_kind),
                   employee=staff.get(m.employee_id), text=m.text, created_at=m.created_at,
                   attachments=[attachment_out(a) for a in files.get(m.id, ())])
        for m in messages
    ]


async def important_out(items: Sequence[ImportantItem], public_url: str) -> list[ImportantOut]:
    orders = {o.id: o for o in await Order.filter(id__in={i.order_id for i in items})}
    clients = {c.id: c for c in await Client.filter(id__in={o.client_id for o in orders.values()})}
    offers = dict(await Offer.filter(id__in={i.offer_id for i in items}).values_list("id", "title"))
    staff = await _employees(i.taken_by_id for i in items)
    out = []
    for item in items:
        order = orders[item.order_id]
        client = clients[order.client_id]
        out.append(ImportantOut(
            id=item.id, client=ClientRef(id=client.id, name=client_name(client), email=client.email),
            failed_at=item.failed_at, reason=item.reason, seen=item.seen_at is not None,
            taken_by=staff.get(item.taken_by_id), resolved=item.resolved_at is not None, chat_id=item.chat_id,
            chat_url=links.chat_url(public_url, item.chat_id), offer_url=links.offer_url(public_url, item.offer_id),
            offer=OfferRef(id=item.offer_id, title=offers[item.offer_id]), order_id=item.order_id,
            order_url=links.order_url(public_url, item.order_id), amount=str(order.amount), currency=order.currency,
        ))
    return out


def payment_event_out(event: PaymentEvent) -> PaymentEventOut:
    return PaymentEventOut(
        id=event.id, provider=event.provider, event_id=event.event_id, order_id=event.order_id,
        order_ref=event.order_ref, result=str(event.result), effect=str(event.effect),
        amount=None if event.amount is None else str(event.amount), currency=event.currency, reason=event.reason,
        occurred_at=event.occurred_at, received_at=event.received_at,
    )


def outbox_row_out(row: Outbox) -> OutboxRowOut:
    return OutboxRowOut(id=row.id, kind=row.kind, status=str(row.status), employee_id=row.employee_id,
                        client_id=row.client_id, attempts=row.attempts, last_error=row.last_error,
                        created_at=row.created_at)
