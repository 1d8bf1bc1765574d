"""A chat's timeline (SPEC §11.4): its messages both ways (the bot's included), its notes, and what happened to its
client's orders (created, paid, failed with the reason, refunded), who was made responsible (the chat's assignee,
an order's manager, the client's personal manager) and the calls, in time order.

Pages go backwards in time like every list here: the newest page first, continued by an opaque cursor naming the
oldest entry shown. Entries of different kinds may share a moment, so the order is (time, kind, id), and the cursor
carries all three.

Each kind is read by one bounded query (the cursor's condition, newest first, `limit + 1` rows) walking an index that
starts with the chat, its client or one of his orders (whose ids are read first, once); assignments take three, one
per index (chat, client, orders), as neither database walks three indexes for one OR (SQLite scans the table, and
PostgreSQL did while the orders were a subquery). The few hundred rows at most are merged here in Python: a UNION
over six tables would read the same rows and be harder to keep right on both databases. The top `limit` entries of
the merge are the top of the timeline, since no query can put more than `limit + 1` rows into them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from sales.errors import Invalid
from sales.listing import page_limit, visible_chat
from storage.models import (
    AssignmentLog,
    CallLog,
    Chat,
    ChatNote,
    Employee,
    Message,
    Order,
    PaymentEffect,
    PaymentEvent,
)

# The order of kinds at one moment: a client's message routes his chat, an order is made and then assigned, then
# paid; what staff write about it comes last.
KINDS = ("message", "order_created", "assignment", "payment", "call", "note")
_RANK = {kind: rank for rank, kind in enumerate(KINDS)}
# Row ids of every table here fit in a signed 64-bit integer; a cursor naming another is not one of ours.
_MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class Entry:
    kind: str
    at: datetime
    id: int
    row: object  # the row: Message, ChatNote, Order, PaymentEvent, AssignmentLog or CallLog

    @property
    def key(self) -> tuple[datetime, int, int]:
        return self.at, _RANK[self.kind], self.id


@dataclass(frozen=True)
class TimelinePage:
    chat: Chat
    entries: list[Entry]  # oldest first, as a page is read
    next_cursor: str | None  # the page before this one (older), if any


@dataclass(frozen=True)
class Cursor:
    at: datetime
    kind: str
    id: int


def encode_cursor(entry: Entry) -> str:
    # In UTC, as the rows are stored: SQLite compares times as text.
    raw = f"{entry.at.astimezone(UTC).isoformat()}|{entry.kind}|{entry.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Cursor:
    """The cursor of a page this server gave out; anything else is bad input (422), never a database error."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, kind, row_id = raw.split("|")
        at, number = datetime.fromisoformat(moment), int(row_id)
        if kind not in _RANK or not 0 <= number <= _MAX_ID or at.tzinfo is None:
            raise ValueError(raw)
        at = at.astimezone(UTC)
    except (ValueError, UnicodeDecodeError, OverflowError):
        raise Invalid("not a cursor this server gave out", field="before") from None
    return Cursor(at, kind, number)


def _older(kind: str, key: str, cursor: Cursor | None) -> Q:
    """Rows of `kind` that come before the cursor in (time, kind, id) order."""
    if cursor is None:
        return Q()
    rank, cursor_rank = _RANK[kind], _RANK[cursor.kind]
    if rank < cursor_rank:
        return Q(**{f"{key}__lte": cursor.at})
    if rank > cursor_rank:
        return Q(**{f"{key}__lt": cursor.at})
    return Q(**{f"{key}__lt": cursor.at}) | Q(**{key: cursor.at, "id__lt": cursor.id})


async def _newest(kind: str, query: QuerySet, key: str, cursor: Cursor | None, limit: int) -> list[Entry]:
    rows = await query.filter(_older(kind, key, cursor)).order_by(f"-{key}", "-id").limit(limit + 1)
    return [Entry(kind, getattr(row, key), row.id, row) for row in rows]


def _sources(chat: Chat, order_ids: list[int]) -> list[tuple[str, QuerySet, str]]:
    """Per kind: its rows of this chat, and the time they are ordered by. The indexes each one walks:
    message_history_idx and chat_note_history_idx (chat_id, created_at); order_client_idx (client_id, created_at);
    payment_event_order_idx (order_id, occurred_at) and call_log_order_idx (order_id, created_at) for each of the
    client's orders; assignment_log_chat_idx, assignment_log_client_idx and assignment_log_order_idx
    (…, created_at)."""
    sources = [
        ("message", Message.filter(chat_id=chat.id), "created_at"),
        ("note", ChatNote.filter(chat_id=chat.id), "created_at"),
        ("assignment", AssignmentLog.filter(chat_id=chat.id), "created_at"),
        ("assignment", AssignmentLog.filter(client_id=chat.client_id), "created_at"),
    ]
    if order_ids:
        sources += [
            ("assignment", AssignmentLog.filter(order_id__in=order_ids), "created_at"),
            ("order_created", Order.filter(client_id=chat.client_id), "created_at"),
            # Applied events only: a duplicate success (Stripe reports one payment twice) or a failure that came
            # after the payment changed nothing, and the timeline shows what happened to the order.
            ("payment", PaymentEvent.filter(order_id__in=order_ids, effect=PaymentEffect.APPLIED), "occurred_at"),
            ("call", CallLog.filter(order_id__in=order_ids), "created_at"),
        ]
    return sources


async def timeline(actor: Employee, chat_id: int, *, before: str | None = None,
                   limit: int | None = None) -> TimelinePage:
    """One page of the chat's timeline, for an employee who may see the chat (else: not found)."""
    chat = await visible_chat(actor, chat_id)
    limit = page_limit(limit)
    cursor = decode_cursor(before) if before else None
    order_ids = list(await Order.filter(client_id=chat.client_id).values_list("id", flat=True))
    found: dict[tuple[str, int], Entry] = {}
    for kind, query, key in _sources(chat, order_ids):
        found.update(((e.kind, e.id), e) for e in await _newest(kind, query, key, cursor, limit))
    merged = sorted(found.values(), key=lambda e: e.key, reverse=True)
    page = merged[:limit]
    next_cursor = encode_cursor(page[-1]) if len(merged) > limit else None
    return TimelinePage(chat, page[::-1], next_cursor)
