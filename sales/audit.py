"""The audit trail of manager changes (SPEC §1.6)."""

from __future__ import annotations

from datetime import datetime

from storage.models import AssignmentLog, AssignmentReason, AssignmentTarget


async def _log(target: AssignmentTarget, *, from_id: int | None, to_id: int | None, now: datetime, **fields) -> AssignmentLog:
    return await AssignmentLog.create(
        target=target, from_employee_id=from_id, to_employee_id=to_id, created_at=now, **fields
    )


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
    return await _log(
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
    return await _log(
        AssignmentTarget.CLIENT, account_id=account_id, client_id=client_id, from_id=from_id, to_id=to_id,
        reason=reason, actor_id=actor_id, now=now,
    )


async def order_history(order_id: int) -> list[AssignmentLog]:
    return await AssignmentLog.filter(order_id=order_id).order_by("id")


async def client_history(client_id: int) -> list[AssignmentLog]:
    return await AssignmentLog.filter(client_id=client_id).order_by("id")
