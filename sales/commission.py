"""Commission (SPEC §1.5, §5.4): a signed ledger per order, so moves and refunds are plain new lines.

Invariant: the commission of a paid order always sits with its current order manager.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tortoise.functions import Sum

from sales.access import is_admin, require_active
from storage.models import CommissionEntry, CommissionReason, Employee, Offer, Order

_CENTS = Decimal("0.0001")


def rate_for(manager: Employee, offer: Offer) -> Decimal:
    """The offer's rate when set, else the manager's own."""
    rate = offer.commission_rate if offer.commission_rate is not None else manager.commission_rate
    return Decimal(rate)


async def _credit(order: Order, manager_id: int, reason: CommissionReason, now: datetime) -> None:
    manager = await Employee.get(id=manager_id)
    offer = await Offer.get(id=order.offer_id)
    rate = rate_for(manager, offer)
    base = Decimal(order.paid_amount if order.paid_amount is not None else order.amount)
    await CommissionEntry.create(
        account_id=order.account_id,
        order_id=order.id,
        employee_id=manager_id,
        amount=(base * rate).quantize(_CENTS),
        rate=rate,
        reason=reason,
        created_at=now,
    )


async def _withdraw_all(order: Order, reason: CommissionReason, now: datetime) -> None:
    balances = (
        await CommissionEntry.filter(order_id=order.id)
        .group_by("employee_id")
        .annotate(total=Sum("amount"))
        .values("employee_id", "total")
    )
    for row in balances:
        total = Decimal(row["total"] or 0)
        if total != 0:
            await CommissionEntry.create(
                account_id=order.account_id,
                order_id=order.id,
                employee_id=row["employee_id"],
                amount=-total,
                rate=0,
                reason=reason,
                created_at=now,
            )


async def credit_paid_order(order: Order, now: datetime) -> None:
    """Called in the transaction that marks the order paid."""
    if order.order_manager_id is not None:
        await _credit(order, order.order_manager_id, CommissionReason.PAID, now)


async def move_to_new_manager(order: Order, new_manager_id: int | None, now: datetime) -> None:
    """Re-assigning a paid order moves its commission to the new manager at his rate (seed 000)."""
    await _withdraw_all(order, CommissionReason.REASSIGNED_FROM, now)
    if new_manager_id is not None:
        await _credit(order, new_manager_id, CommissionReason.REASSIGNED_TO, now)


async def reverse_refunded_order(order: Order, now: datetime) -> None:
    await _withdraw_all(order, CommissionReason.REFUNDED, now)


@dataclass(frozen=True)
class CommissionLine:
    employee_id: int
    amount: Decimal


async def balance_of(order_id: int, employee_id: int) -> Decimal:
    rows = await CommissionEntry.filter(order_id=order_id, employee_id=employee_id).values_list("amount", flat=True)
    return sum((Decimal(a) for a in rows), Decimal(0))


async def report(actor: Employee, period_from: datetime, period_to: datetime) -> list[CommissionLine]:
    """Commission per manager credited in [from, to): moves and refunds count in the period they happened.

    Owner and admin see everyone; a manager sees his own line.
    """
    require_active(actor)
    query = CommissionEntry.filter(account_id=actor.account_id, created_at__gte=period_from, created_at__lt=period_to)
    if not is_admin(actor):
        query = query.filter(employee_id=actor.id)
    rows = (
        await query
        .group_by("employee_id")
        .annotate(total=Sum("amount"))
        .values("employee_id", "total")
    )
    lines = [CommissionLine(r["employee_id"], Decimal(r["total"] or 0).quantize(_CENTS)) for r in rows]
    return sorted(lines, key=lambda line: line.employee_id)
