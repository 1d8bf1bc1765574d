"""Side effects leave through the outbox: rows written in the caller's transaction, sent later by a worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sales.access import get_in_account, require_admin
from sales.errors import Conflict
from storage import group_commit, sql
from storage.models import Employee, Outbox, OutboxStatus

# Kinds the delivery worker understands. One row is one message to one recipient.
ORDER_ASSIGNED = "order.assigned"
ORDERS_ASSIGNED_DIGEST = "orders.assigned_digest"
ORDER_DETACHED = "order.detached"
ORDER_CREATED_EMAIL = "order.created_email"
PERSONAL_MANAGER_SET = "client.personal_manager"
IMPORTANT_CREATED = "important.created"
IMPORTANT_TAKEN = "important.taken"
IMPORTANT_RESOLVED = "important.resolved"
MESSAGE_TO_STAFF = "message.to_staff"
MESSAGE_TO_CLIENT = "message.to_client"
# SPEC §10.3: the assignment ping of a chat's new assignee; the first-response alert (§10.5) to owner and admins.
CHAT_ASSIGNED = "chat.assigned"
CHAT_UNANSWERED = "chat.unanswered"
# A chat changed (message, assignee, status): one row, no recipient; the live bus shows it to everyone who may see
# the chat. Nothing leaves closer for it.
CHAT_EVENT = "chat.event"


@dataclass(slots=True)
class NewRow:
    """An outbox row not yet written (`row`), due at `available_at`: plain values, as every customer message makes
    two, and a Tortoise model of one took longer to build than its share of the INSERT (issue 14)."""

    account_id: int
    kind: str
    dedupe_key: str
    employee_id: int | None
    client_id: int | None
    payload: dict[str, Any]
    available_at: datetime
    created_at: datetime

    def model(self) -> Outbox:
        return Outbox(account_id=self.account_id, kind=self.kind, dedupe_key=self.dedupe_key,
                      employee_id=self.employee_id, client_id=self.client_id, payload=self.payload,
                      available_at=self.available_at, created_at=self.created_at)


def row(
    *,
    account_id: int,
    kind: str,
    dedupe_key: str,
    now: datetime,
    employee_id: int | None = None,
    client_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> NewRow:
    """An outbox row, not yet written: due now."""
    return NewRow(account_id, kind, dedupe_key, employee_id, client_id, payload or {}, now, now)


async def enqueue(
    *,
    account_id: int,
    kind: str,
    dedupe_key: str,
    now: datetime,
    employee_id: int | None = None,
    client_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> Outbox:
    written = row(account_id=account_id, kind=kind, dedupe_key=dedupe_key, now=now, employee_id=employee_id,
                  client_id=client_id, payload=payload).model()
    await written.save(force_create=True)
    return written


_COLUMNS = ("account_id", "kind", "dedupe_key", "employee_id", "client_id", "payload", "status", "attempts",
            "available_at", "created_at")
_PAYLOAD = Outbox._meta.fields_map["payload"]
_INSERTS: dict[int, sql.Statement] = {}
# Rows per statement: PostgreSQL and SQLite both take at most 32,766 values in one.
_CHUNK = 1000


def _insert(count: int) -> sql.Statement:
    """The INSERT of `count` rows (one statement per count, made once)."""
    if count not in _INSERTS:
        width = len(_COLUMNS)
        values = ", ".join(
            "(" + ", ".join(f"${n * width + i + 1}" for i in range(width)) + ")" for n in range(count))
        _INSERTS[count] = sql.Statement(f"INSERT INTO outbox ({', '.join(_COLUMNS)}) VALUES {values}")
    return _INSERTS[count]


_PENDING = OutboxStatus.PENDING.value


def _values(r: NewRow) -> tuple[Any, ...]:
    return (r.account_id, r.kind, r.dedupe_key, r.employee_id, r.client_id, _PAYLOAD.to_db_value(r.payload, None),
            _PENDING, 0, r.available_at, r.created_at)


async def _write(rows: list[NewRow]) -> None:
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start:start + _CHUNK]
        await sql.execute(_insert(len(chunk)), *(value for r in chunk for value in _values(r)))


# A batch's rows (storage.group_commit), however many, in one statement of one spelling.
_INSERT_EACH = sql.Statement(
    f"INSERT INTO outbox ({', '.join(_COLUMNS)}) SELECT a, k, d, e, c, p::jsonb, s, n, t, m FROM unnest("
    "$1::bigint[], $2::varchar[], $3::varchar[], $4::bigint[], $5::bigint[], $6::text[], $7::varchar[], $8::int[], "
    "$9::timestamptz[], $10::timestamptz[]) AS r(a, k, d, e, c, p, s, n, t, m)"
)


async def _write_each(calls: list[tuple[list[NewRow]]]) -> list[None]:
    rows = [r for rows, in calls for r in rows]
    if len(rows) > _CHUNK:
        await _write(rows)
    elif rows:
        await sql.execute(_INSERT_EACH, *sql.columns([_values(r) for r in rows]))
    return [None] * len(calls)


_written = group_commit.Batched(_write, _write_each)


async def enqueue_many(rows: list[NewRow]) -> None:
    """Rows made by `row`, in one statement (a fan-out of 50 alerts was 50 round trips inside the payment's
    transaction), written by hand (storage.sql): every customer message writes some; a batch's messages
    (storage.group_commit) write theirs together."""
    await _written(rows)


async def retry_parked(actor: Employee, outbox_id: int, *, now: datetime) -> Outbox:
    """An admin sends a parked notification again (after the cause is fixed, e.g. the employee unblocked the bot):
    it becomes due now with a fresh count of attempts. Only a parked row: a pending or sent one must not go twice."""
    require_admin(actor)
    await get_in_account(Outbox, actor.account_id, outbox_id, what="outbox")
    # Conditional, so two admins pressing at once queue it once.
    changed = await Outbox.filter(id=outbox_id, status=OutboxStatus.PARKED).update(
        status=OutboxStatus.PENDING, attempts=0, available_at=now, last_error=None)
    if not changed:
        raise Conflict("only a parked notification can be sent again", field="outbox_id")
    return await Outbox.get(id=outbox_id)
