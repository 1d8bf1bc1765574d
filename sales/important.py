"""The Important tab (SPEC §3.3–3.6): failed payments put the chat in front of the people who know the client."""

from __future__ import annotations

from datetime import datetime

from tortoise.transactions import in_transaction

from sales import outbox
from sales.access import get_in_account, require_active
from sales.clock import utcnow
from sales.errors import NotAllowed
from storage.models import Chat, DialogRecord, Employee, ImportantItem, Order, PaymentEvent


async def create_for_failure(order: Order, event: PaymentEvent, now: datetime) -> list[ImportantItem]:
    """One item for every active employee who wrote to the client before the failure, and only for them.

    Called in the payment's transaction, for an offer flagged "notify on failed payment". A new failure of an
    order that already has an open item for someone refreshes that item (new time, reason, bell) instead of
    stacking a second row for the same chat.
    """
    chat = await Chat.get_or_none(client_id=order.client_id)
    if chat is None:
        return []
    failed_at = event.occurred_at
    employee_ids = await DialogRecord.filter(
        chat_id=chat.id,
        first_at__lt=failed_at,
        employee__active=True,
        employee__account_id=order.account_id,
    ).values_list("employee_id", flat=True)
    wanted = sorted(set(employee_ids))
    if not wanted:
        return []
    # A handful of statements whatever the number of employees: this runs inside the payment webhook's transaction.
    existing = {i.employee_id: i for i in await ImportantItem.filter(
        order_id=order.id, resolved_at=None, employee_id__in=wanted)}
    fresh = [
        ImportantItem(account_id=order.account_id, employee_id=employee_id, chat_id=chat.id, order_id=order.id,
                      offer_id=order.offer_id, payment_event_id=event.id, failed_at=failed_at, reason=event.reason,
                      created_at=now)
        for employee_id in wanted if employee_id not in existing
    ]
    if fresh:
        await ImportantItem.bulk_create(fresh)
    if existing:
        await ImportantItem.filter(id__in=[i.id for i in existing.values()]).update(
            payment_event_id=event.id, failed_at=failed_at, reason=event.reason, seen_at=None)
    items = await ImportantItem.filter(order_id=order.id, resolved_at=None, employee_id__in=wanted).order_by(
        "employee_id")
    await outbox.enqueue_many([
        outbox.row(account_id=order.account_id, kind=outbox.IMPORTANT_CREATED,
                   dedupe_key=f"{outbox.IMPORTANT_CREATED}:{item.id}:{event.id}", employee_id=item.employee_id,
                   client_id=order.client_id, now=now,
                   payload={"important_item_id": item.id, "order_id": order.id, "offer_id": order.offer_id})
        for item in items
    ])
    return items


async def resolve_for_order(order: Order, now: datetime) -> list[int]:
    """The order got paid, or was cancelled: its open items are resolved (the bell goes, the item moves to
    history)."""
    open_items = await ImportantItem.filter(order_id=order.id, resolved_at=None)
    await outbox.enqueue_many([
        outbox.row(account_id=order.account_id, kind=outbox.IMPORTANT_RESOLVED,
                   dedupe_key=f"{outbox.IMPORTANT_RESOLVED}:{item.id}", employee_id=item.employee_id, now=now,
                   payload={"important_item_id": item.id, "order_id": order.id})
        for item in open_items
    ])
    await ImportantItem.filter(id__in=[i.id for i in open_items]).update(resolved_at=now)
    return [i.id for i in open_items]


async def open_items(actor: Employee, *, limit: int | None = None) -> list[ImportantItem]:
    """My open items, newest failure first (the inbox pages through them with sales.listing.open_important)."""
    require_active(actor)
    query = ImportantItem.filter(employee_id=actor.id, resolved_at=None).order_by("-failed_at", "-id")
    return await (query.limit(limit) if limit is not None else query)


async def mark_seen(actor: Employee, item_id: int, *, now: datetime | None = None) -> ImportantItem:
    require_active(actor)
    item = await get_in_account(ImportantItem, actor.account_id, item_id, what="important_item")
    if item.employee_id != actor.id:
        raise NotAllowed("this item is someone else's", field="important_item_id")
    if item.seen_at is None:
        item.seen_at = now or utcnow()
        await item.save(update_fields=["seen_at"])
    return item


async def take(actor: Employee, item_id: int, *, now: datetime | None = None) -> list[ImportantItem]:
    """He handles this failure: every open item of the order shows who took it (SPEC §3.5)."""
    require_active(actor)
    now = now or utcnow()
    async with in_transaction():
        item = await get_in_account(ImportantItem, actor.account_id, item_id, what="important_item")
        if item.employee_id != actor.id:
            raise NotAllowed("this item is someone else's", field="important_item_id")
        siblings = (
            await ImportantItem.filter(order_id=item.order_id, resolved_at=None).order_by("id").select_for_update()
        )
        if any(s.taken_by_id not in (None, actor.id) for s in siblings):
            return siblings
        for sibling in siblings:
            if sibling.taken_by_id is None:
                sibling.taken_by_id = actor.id
                sibling.taken_at = now
                await sibling.save(update_fields=["taken_by_id", "taken_at"])
                await outbox.enqueue(
                    account_id=actor.account_id,
                    kind=outbox.IMPORTANT_TAKEN,
                    dedupe_key=f"{outbox.IMPORTANT_TAKEN}:{sibling.id}",
                    employee_id=sibling.employee_id,
                    payload={"important_item_id": sibling.id, "taken_by": actor.id},
                    now=now,
                )
    return siblings
