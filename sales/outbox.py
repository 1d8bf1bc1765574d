"""Side effects leave through the outbox: rows written in the caller's transaction, sent later by a worker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage.models import Outbox

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
    return await Outbox.create(
        account_id=account_id,
        kind=kind,
        dedupe_key=dedupe_key,
        employee_id=employee_id,
        client_id=client_id,
        payload=payload or {},
        available_at=now,
        created_at=now,
    )
