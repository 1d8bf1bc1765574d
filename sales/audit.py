"""The audit trail of manager changes (SPEC §1.6), and an order's whole trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage import sql
from storage.models import AssignmentLog, AssignmentReason, AssignmentTarget, OrderStatusChange, PaymentEvent


# Written by hand (storage.sql): every new order writes one, while it holds its widget's rotation (issue 14).
_INSERT = sql.Statement(
    "INSERT INTO assignment_log (account_id, target, order_id, client_id, chat_id, from_employee_id, "
    "to_employee_id, reason, actor_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *"
)


async def log_change(target: AssignmentTarget, *, account_id: int, from_id: int | None, to_id: int | None,
                     reason: AssignmentReason, actor_id: int | None, now: datetime, order_id: int | None = None,
                     client_id: int | None = None, chat_id: int | None = None) -> AssignmentLog:
    """The audit row of a change of order manager, personal manager or chat assignee (the id of its `target`)."""
    return await sql.one(AssignmentLog, _INSERT, account_id, AssignmentTarget(target).value, order_id, client_id,
                         chat_id, from_id, to_id, AssignmentReason(reason).value, actor_id, now)


async def log_order_manager_change(
    *,
    account_id: int,
    order_id: int,
    from_id: int | None,
    to_id: int | None,
    reason: AssignmentReason,
    actor_id: int | None,
    now: datetime,
) -> AssignmentLog:
    return await log_change(
        AssignmentTarget.ORDER, account_id=account_id, order_id=order_id, from_id=from_id, to_id=to_id,
        reason=reason, actor_id=actor_id, now=now,
    )


async def log_personal_manager_change(
    *,
    account_id: int,
    client_id: int,
    from_id: int | None,
    to_id: int | None,
    reason: AssignmentReason,
    actor_id: int | None,
    now: datetime,
) -> AssignmentLog:
    return await log_change(
        AssignmentTarget.CLIENT, account_id=account_id, client_id=client_id, from_id=from_id, to_id=to_id,
        reason=reason, actor_id=actor_id, now=now,
    )


async def order_history(order_id: int) -> list[AssignmentLog]:
    return await AssignmentLog.filter(order_id=order_id).order_by("id")


async def client_history(client_id: int) -> list[AssignmentLog]:
    return await AssignmentLog.filter(client_id=client_id).order_by("id")


# At one moment: the manager first, then a change by hand, then what a payment did.
TRAIL_KINDS = ("assignment", "status", "payment")


@dataclass(frozen=True)
class TrailEntry:
    kind: str  # one of TRAIL_KINDS
    at: datetime
    row: AssignmentLog | OrderStatusChange | PaymentEvent


async def order_trail(order_id: int) -> list[TrailEntry]:
    """Everything that happened to an order, in time order: its managers, its status changes by hand (who cancelled
    it, who sent the payment link) and its payment events (at the provider's time; an ignored one too, for the
    audit)."""
    entries = [TrailEntry("assignment", row.created_at, row) for row in await order_history(order_id)]
    entries += [TrailEntry("status", row.created_at, row)
                for row in await OrderStatusChange.filter(order_id=order_id).order_by("id")]
    entries += [TrailEntry("payment", row.occurred_at, row)
                for row in await PaymentEvent.filter(order_id=order_id).order_by("id")]
    return sorted(entries, key=lambda e: (e.at, TRAIL_KINDS.index(e.kind), e.row.id))
