"""What an employee sees (SPEC §2.3, §6): the chat tabs, who may open a client, the order filters, pages of rows.

Reading rules live here so that the API, the pages and the bot agree on what "Mine" or "Unassigned" means.
Lists are pages ordered newest first, continued by an opaque cursor (the last row's sort key).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tortoise import connections
from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from sales.access import get_in_account, is_admin, require_active, require_admin
from sales.accounts import installation_account
from sales.assignment import OPEN_STATUSES
from sales.errors import Invalid, NotAllowed, NotFound
from storage.models import (
    Chat,
    Client,
    DialogRecord,
    Employee,
    ImportantItem,
    Message,
    Order,
    OrderStatus,
    Outbox,
    OutboxStatus,
    PaymentEffect,
    PaymentEvent,
)

MAX_PAGE = 200


class Tab(StrEnum):
    MINE = "mine"
    UNASSIGNED = "unassigned"
    IMPORTANT = "important"
    ALL = "all"


@dataclass(frozen=True)
class Page:
    rows: list
    next_cursor: str | None


def _encode(moment: datetime | None, row_id: int) -> str:
    raw = f"{moment.isoformat() if moment else ''}|{row_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime | None, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, row_id = raw.split("|")
        return (datetime.fromisoformat(moment) if moment else None), int(row_id)
    except (ValueError, UnicodeDecodeError):
        raise Invalid("not a cursor this server gave out", field="cursor") from None


def page_limit(limit: int | None) -> int:
    if limit is None:
        return 50
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit is between 1 and {MAX_PAGE}", field="limit")
    return limit


def _mine(account_id: int, employee_id: int) -> QuerySet:
    # SPEC §6: chats of clients whose order manager or personal manager is me.
    managed = Order.filter(account_id=account_id, order_manager_id=employee_id).values_list("client_id", flat=True)
    return Chat.filter(
        Q(client__personal_manager_id=employee_id) | Q(client_id__in=Subquery(managed)), account_id=account_id
    )


def _unassigned(account_id: int) -> QuerySet:
    # Nobody answers for the client: no personal manager and no order of his has an order manager.
    managed = Order.filter(account_id=account_id, order_manager_id__not_isnull=True).values_list("client_id", flat=True)
    return Chat.filter(account_id=account_id, client__personal_manager_id=None).exclude(client_id__in=Subquery(managed))


async def chats(actor: Employee, tab: Tab | str, *, cursor: str | None = None, limit: int | None = None) -> Page:
    """One page of a chat tab, most recent conversation first."""
    require_active(actor)
    try:
        tab = Tab(tab)
    except ValueError:
        raise Invalid("tab is mine, unassigned, important or all", field="tab") from None
    limit = page_limit(limit)
    if tab is Tab.ALL:
        if not is_admin(actor):
            raise NotAllowed("only the owner or an admin sees all chats", field="tab")
        query = Chat.filter(account_id=actor.account_id)
    elif tab is Tab.MINE:
        query = _mine(actor.account_id, actor.id)
    elif tab is Tab.UNASSIGNED:
        query = _unassigned(actor.account_id)
    else:
        ids = ImportantItem.filter(employee_id=actor.id, resolved_at=None).values_list("chat_id", flat=True)
        query = Chat.filter(account_id=actor.account_id, id__in=Subquery(ids))
    return await _page(query, "last_message_at", cursor, limit)


async def _page(query: QuerySet, key: str, cursor: str | None, limit: int) -> Page:
    """Keyset pagination on (key desc, id desc); rows with no key (never written) come last."""
    if cursor:
        moment, last_id = _decode(cursor)
        if moment is None:
            query = query.filter(**{f"{key}__isnull": True, "id__lt": last_id})
        else:
            query = query.filter(
                Q(**{f"{key}__lt": moment})
                | Q(**{key: moment, "id__lt": last_id})
                | Q(**{f"{key}__isnull": True})
            )
    rows = await query.order_by(f"-{key}", "-id").limit(limit + 1)
    # Databases disagree on where NULLs sort; put them last here, where the cursor expects them.
    rows.sort(key=lambda r: (getattr(r, key) is not None, getattr(r, key) or datetime.min, r.id), reverse=True)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode(getattr(rows[-1], key), rows[-1].id) if more else None
    return Page(rows, next_cursor)


async def may_see_client(actor: Employee, client: Client) -> bool:
    """A manager sees his clients, unassigned ones, those of his important items and those he talked to."""
    if is_admin(actor):
        return True
    if client.personal_manager_id == actor.id:
        return True
    orders = Order.filter(client_id=client.id)
    if await orders.filter(order_manager_id=actor.id).exists():
        return True
    if client.personal_manager_id is None and not await orders.filter(order_manager_id__not_isnull=True).exists():
        return True
    if await ImportantItem.filter(employee_id=actor.id, order__client_id=client.id).exists():
        return True
    return await DialogRecord.filter(employee_id=actor.id, chat__client_id=client.id).exists()


async def visible_client(actor: Employee, client_id: int) -> Client:
    """The client if this employee may open him; otherwise the same "not found" as another account's id."""
    require_active(actor)
    client = await get_in_account(Client, actor.account_id, client_id, what="client")
    if not await may_see_client(actor, client):
        raise NotFound(f"client {client_id} not found", field="client_id")
    return client


async def visible_chat(actor: Employee, chat_id: int) -> Chat:
    chat = await get_in_account(Chat, actor.account_id, chat_id, what="chat")
    await visible_client(actor, chat.client_id)
    return chat


async def visible_order(actor: Employee, order_id: int) -> Order:
    order = await get_in_account(Order, actor.account_id, order_id, what="order")
    try:
        await visible_client(actor, order.client_id)
    except NotFound:
        raise NotFound(f"order {order_id} not found", field="order_id") from None
    return order


@dataclass(frozen=True)
class OrderFilter:
    status: OrderStatus | None = None
    order_manager_id: int | None = None
    personal_manager_id: int | None = None
    widget_id: int | None = None
    offer_id: int | None = None
    client_id: int | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    unassigned: bool = False


async def orders(actor: Employee, wanted: OrderFilter, *, cursor: str | None = None, limit: int | None = None) -> Page:
    """Orders by the filters of SPEC §2.3, newest first. A manager lists his, his clients' and unassigned ones."""
    require_active(actor)
    limit = page_limit(limit)
    query = Order.filter(account_id=actor.account_id)
    # Orders of my personal clients are all mine to see: no visibility rule to add then.
    if not is_admin(actor) and wanted.personal_manager_id != actor.id:
        query = query.filter(
            Q(order_manager_id=actor.id)
            | Q(personal_manager_id=actor.id)
            | Q(order_manager_id=None, status__in=OPEN_STATUSES)
        )
    if wanted.unassigned:
        query = query.filter(order_manager_id=None)
    for name in ("status", "order_manager_id", "widget_id", "offer_id", "client_id"):
        value = getattr(wanted, name)
        if value is not None:
            query = query.filter(**{name: value})
    if wanted.personal_manager_id is not None:
        query = query.filter(personal_manager_id=wanted.personal_manager_id)
    if wanted.created_from is not None:
        query = query.filter(created_at__gte=wanted.created_from)
    if wanted.created_to is not None:
        query = query.filter(created_at__lt=wanted.created_to)
    return await _page(query, "created_at", cursor, limit)


async def clients(actor: Employee, *, search: str = "", cursor: str | None = None, limit: int | None = None) -> Page:
    """Clients of the account (owner/admin) or the ones a manager answers for, newest first."""
    require_active(actor)
    limit = page_limit(limit)
    query = Client.filter(account_id=actor.account_id)
    if not is_admin(actor):
        managed = Order.filter(order_manager_id=actor.id).values_list("client_id", flat=True)
        query = query.filter(Q(personal_manager_id=actor.id) | Q(id__in=Subquery(managed)))
    search = search.strip()
    if search:
        query = query.filter(Q(name__icontains=search) | Q(email__icontains=search.lower()) | Q(phone__icontains=search))
    return await _page(query, "created_at", cursor, limit)


async def client_orders(actor: Employee, client_id: int) -> list[Order]:
    """SPEC §3.7: every order of the client, for his card (failed ones are shown red by the page)."""
    client = await visible_client(actor, client_id)
    return await Order.filter(client_id=client.id).order_by("-created_at", "-id")


async def unseen_important_count(actor: Employee) -> int:
    return await ImportantItem.filter(employee_id=actor.id, resolved_at=None, seen_at=None).count()


async def open_important(actor: Employee, *, cursor: str | None = None, limit: int | None = None) -> Page:
    """My open important items, newest failure first, a page at a time (a busy manager may have hundreds)."""
    require_active(actor)
    query = ImportantItem.filter(employee_id=actor.id, resolved_at=None)
    return await _page(query, "failed_at", cursor, page_limit(limit))


async def important_history(actor: Employee, *, cursor: str | None = None, limit: int | None = None) -> Page:
    """Resolved items of this employee (SPEC §3.6: the item moves to history)."""
    require_active(actor)
    query = ImportantItem.filter(employee_id=actor.id, resolved_at__not_isnull=True)
    return await _page(query, "resolved_at", cursor, page_limit(limit))


async def messages(actor: Employee, chat_id: int, *, cursor: str | None = None, limit: int | None = None) -> Page:
    """A chat's history, newest first; the cursor goes further back."""
    chat = await visible_chat(actor, chat_id)
    return await _page(Message.filter(chat_id=chat.id), "created_at", cursor, page_limit(limit))


async def payment_events(actor: Employee, *, effect: PaymentEffect | None = None, cursor: str | None = None,
                         limit: int | None = None) -> Page:
    """Payment events as they were received, newest first (owner/admin). An event naming no known order belongs to
    no account; the installation's account sees those, so an admin can find the payment that went astray."""
    require_admin(actor)
    scope = Q(account_id=actor.account_id)
    installation = await installation_account()
    if installation is not None and installation.id == actor.account_id:
        scope |= Q(account_id=None)
    query = PaymentEvent.filter(scope)
    if effect is not None:
        query = query.filter(effect=effect)
    return await _page(query, "received_at", cursor, page_limit(limit))


async def parked_outbox(actor: Employee, *, cursor: str | None = None, limit: int | None = None) -> Page:
    """Notifications the delivery worker gave up on (owner/admin), newest first, with the last error."""
    require_admin(actor)
    query = Outbox.filter(account_id=actor.account_id, status=OutboxStatus.PARKED)
    return await _page(query, "created_at", cursor, page_limit(limit))


async def last_messages(chat_ids: set[int] | list[int]) -> dict[int, str]:
    """The newest message's text of each chat, in one statement for a whole page of chats (one query per chat made
    the Mine tab cost 50 round trips). A correlated subquery walks message_history_idx backwards on both databases."""
    ids = sorted({int(i) for i in chat_ids})  # ints from our own rows: safe to inline, and no paramstyle to match
    if not ids:
        return {}
    rows = await connections.get("default").execute_query_dict(
        "SELECT c.id AS chat_id, (SELECT m.text FROM message m WHERE m.chat_id = c.id"
        " ORDER BY m.created_at DESC, m.id DESC LIMIT 1) AS text"
        f" FROM chat c WHERE c.id IN ({','.join(map(str, ids))})"
    )
    return {row["chat_id"]: row["text"] for row in rows if row["text"] is not None}
