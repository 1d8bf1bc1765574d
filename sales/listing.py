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
from tortoise.fields import BigIntField
from tortoise.expressions import F, Q, RawSQL, Subquery
from tortoise.queryset import QuerySet

from sales.access import get_in_account, is_admin, require_active, require_admin
from sales.accounts import installation_account
from sales.assignment import OPEN_STATUSES
from sales.clock import utcnow
from sales.errors import Invalid, NotAllowed, NotFound
from storage.models import (
    Chat,
    ChatStatus,
    Client,
    DialogRecord,
    Employee,
    ImportantItem,
    Message,
    Order,
    OrderComment,
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


def _max_id(model) -> int:
    return 2**63 - 1 if isinstance(model._meta.pk, BigIntField) else 2**31 - 1


def page_limit(limit: int | None) -> int:
    if limit is None:
        return 50
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid("limit is between 1 and {limit}", field="limit", limit=MAX_PAGE)
    return limit


def _mine(account_id: int, employee_id: int) -> QuerySet:
    # SPEC §10.7: chats assigned to me, and chats of clients whose personal manager or open-order manager I am.
    managed = Order.filter(account_id=account_id, order_manager_id=employee_id, status__in=OPEN_STATUSES) \
        .values_list("client_id", flat=True)
    return Chat.filter(
        Q(assignee_id=employee_id) | Q(client__personal_manager_id=employee_id) | Q(client_id__in=Subquery(managed)),
        account_id=account_id,
    )


def _unassigned(account_id: int) -> QuerySet:
    # SPEC §10.7: nobody answers for the conversation, and it is not over.
    return Chat.filter(account_id=account_id, assignee_id=None).exclude(status=ChatStatus.RESOLVED)


def _status(status: ChatStatus | None, now: datetime) -> Q:
    """A snoozed chat whose time has come counts as open (the wake-up job may not have run yet). Without a status,
    a tab shows what still needs work: open and pending."""
    due = Q(status=ChatStatus.SNOOZED, snoozed_until__lte=now)
    if status is None:
        return Q(status__in=[ChatStatus.OPEN, ChatStatus.PENDING]) | due
    if status is ChatStatus.OPEN:
        return Q(status=ChatStatus.OPEN) | due
    if status is ChatStatus.SNOOZED:
        return Q(status=ChatStatus.SNOOZED, snoozed_until__gt=now)
    return Q(status=status)


def effective_status(chat: Chat, now: datetime) -> ChatStatus:
    if chat.status == ChatStatus.SNOOZED and chat.snoozed_until is not None and chat.snoozed_until <= now:
        return ChatStatus.OPEN
    return ChatStatus(chat.status)


MAX_SEARCH = 200


def _tab(actor: Employee, tab: Tab | str) -> tuple[Tab, QuerySet]:
    try:
        tab = Tab(tab)
    except ValueError:
        raise Invalid("tab is mine, unassigned, important or all", field="tab") from None
    if tab is Tab.ALL:
        if not is_admin(actor):
            raise NotAllowed("only the owner or an admin sees all chats", field="tab")
        return tab, Chat.filter(account_id=actor.account_id)
    if tab is Tab.MINE:
        return tab, _mine(actor.account_id, actor.id)
    if tab is Tab.UNASSIGNED:
        return tab, _unassigned(actor.account_id)
    ids = ImportantItem.filter(employee_id=actor.id, resolved_at=None).values_list("chat_id", flat=True)
    return tab, Chat.filter(account_id=actor.account_id, id__in=Subquery(ids))


def chat_status(status: ChatStatus | str) -> ChatStatus:
    try:
        return ChatStatus(status)
    except ValueError:
        raise Invalid("status is open, pending, snoozed or resolved", field="status") from None


def _status_arg(status: ChatStatus | str | None) -> ChatStatus | None:
    return None if status is None or status == "" else chat_status(status)


async def chats(actor: Employee, tab: Tab | str, *, status: ChatStatus | str | None = None, q: str = "",
                cursor: str | None = None, limit: int | None = None, now: datetime | None = None) -> Page:
    """One page of a chat tab, most recent conversation first (SPEC §10.7, §10.8).

    Mine and Unassigned show what still needs work unless a status is asked for; All and Important show every
    status. `q` finds the client by name, e-mail or phone, or a message by its text.
    """
    require_active(actor)
    tab, query = _tab(actor, tab)
    limit = page_limit(limit)
    wanted = _status_arg(status)
    if wanted is not None or tab in (Tab.MINE, Tab.UNASSIGNED):
        query = query.filter(_status(wanted, now or utcnow()))
    q = q.strip()
    if len(q) > MAX_SEARCH:
        raise Invalid("search for at most {limit} characters", field="q", limit=MAX_SEARCH)
    if q:
        said = Message.filter(chat__account_id=actor.account_id, text__icontains=q).values("chat_id")
        query = query.filter(
            Q(client__name__icontains=q) | Q(client__email__icontains=q.lower()) | Q(client__phone__icontains=q)
            | Q(id__in=Subquery(said))
        )
    return await _page(query, "last_message_at", cursor, limit)


def _unread(query: QuerySet, employee_id: int) -> QuerySet:
    """Chats with a client message newer than the last one this employee read."""
    seen = RawSQL(
        "COALESCE((SELECT r.last_read_message_id FROM chat_read r"
        f' WHERE r.chat_id = "chat"."id" AND r.employee_id = {int(employee_id)}), 0)'
    )
    return query.filter(last_inbound_message_id__not_isnull=True).annotate(seen=seen) \
        .filter(seen__lt=F("last_inbound_message_id"))


async def unread_chats(actor: Employee, *, now: datetime | None = None) -> dict[str, int]:
    """How many chats of each tab have unread client messages (SPEC §10.6): the counts beside the tab names."""
    require_active(actor)
    now = now or utcnow()
    tabs = [Tab.MINE, Tab.UNASSIGNED, Tab.IMPORTANT] + ([Tab.ALL] if is_admin(actor) else [])
    counts = {}
    for tab in tabs:
        _, query = _tab(actor, tab)
        if tab in (Tab.MINE, Tab.UNASSIGNED):
            query = query.filter(_status(None, now))
        counts[str(tab)] = await _unread(query, actor.id).count()
    return counts


async def _page(query: QuerySet, key: str, cursor: str | None, limit: int) -> Page:
    """Keyset pagination on (key desc, id desc); rows with no key (never written) come last."""
    if cursor:
        moment, last_id = _decode(cursor)
        # An id no row can have is bad input, not an outage (PostgreSQL would refuse the parameter).
        if not 0 <= last_id <= _max_id(query.model):
            raise Invalid("not a cursor this server gave out", field="cursor")
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
    chat = await Chat.filter(client_id=client.id).values_list("assignee_id", flat=True)
    if chat:
        # SPEC §10.3: a manager sees his chats and the unassigned ones.
        if chat[0] in (actor.id, None):
            return True
    elif client.personal_manager_id is None and not await orders.filter(order_manager_id__not_isnull=True).exists():
        # No conversation yet, and nobody answers for him: anyone may pick him up.
        return True
    if await ImportantItem.filter(employee_id=actor.id, order__client_id=client.id).exists():
        return True
    return await DialogRecord.filter(employee_id=actor.id, chat__client_id=client.id).exists()


async def visible_client(actor: Employee, client_id: int) -> Client:
    """The client if this employee may open him; otherwise the same "not found" as another account's id."""
    require_active(actor)
    client = await get_in_account(Client, actor.account_id, client_id, what="client")
    if not await may_see_client(actor, client):
        raise NotFound("client {id} not found", field="client_id", id=client_id)
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
        raise NotFound("order {id} not found", field="order_id", id=order_id) from None
    return order


async def order_comments(actor: Employee, order_id: int) -> list[OrderComment]:
    """The comments on an order he may see, oldest first (a thread reads top down)."""
    order = await visible_order(actor, order_id)
    return await OrderComment.filter(order_id=order.id).order_by("created_at", "id")


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
        query = query.filter(Q(personal_manager_id=actor.id) | Q(id__in=Subquery(managed))
                             | Q(chat__assignee_id=actor.id))
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


@dataclass(frozen=True)
class ChatSummary:
    last_message: str | None
    last_direction: str | None
    unread: int
    # The kind of the newest message's file (SPEC §11.1), so a caption-less photo still says what came.
    last_attachment: str | None = None


async def chat_summaries(chat_ids: set[int] | list[int], employee_id: int) -> dict[int, ChatSummary]:
    """For a page of chats, in one statement: each one's newest message (text and direction) and how many client
    messages this employee has not read (one query per chat made the Mine tab cost 50 round trips). The correlated
    subqueries walk message_history_idx backwards on both databases; a chat read to its end counts nothing."""
    # Ints from our own rows and session: safe to inline, and no paramstyle to match.
    ids = sorted({int(i) for i in chat_ids})
    if not ids:
        return {}
    newest = "FROM message m WHERE m.chat_id = c.id ORDER BY m.created_at DESC, m.id DESC LIMIT 1"
    seen = (f"COALESCE((SELECT r.last_read_message_id FROM chat_read r WHERE r.chat_id = c.id"
            f" AND r.employee_id = {int(employee_id)}), 0)")
    rows = await connections.get("default").execute_query_dict(
        f"SELECT c.id AS chat_id, (SELECT m.text {newest}) AS text, (SELECT m.direction {newest}) AS direction,"
        f" (SELECT a.kind FROM attachment a WHERE a.message_id = (SELECT m.id {newest}) ORDER BY a.id LIMIT 1)"
        f" AS attachment,"
        f" CASE WHEN c.last_inbound_message_id IS NULL OR c.last_inbound_message_id <= {seen} THEN 0 ELSE"
        f" (SELECT COUNT(*) FROM message m WHERE m.chat_id = c.id AND m.direction = 'in' AND m.id > {seen}) END"
        f" AS unread FROM chat c WHERE c.id IN ({','.join(map(str, ids))})"
    )
    return {row["chat_id"]: ChatSummary(row["text"], row["direction"], int(row["unread"]), row["attachment"])
            for row in rows}
