"""Applying a payment result to its order (SPEC §3.3, §3.6, §5.2–5.4).

Every provider adapter (Stripe, LiqPay, the generic webhook, Telegram Payments) verifies its input and turns it into
one `PaymentNotice`; `apply_payment` stores it once by provider event id and applies it in one transaction with the
commission, the important items and the outbox rows it causes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from sales import commission, important, order_events
from sales.access import get_in_account, require_admin
from sales.clock import aware, utcnow
from sales.errors import Invalid
from storage.models import Employee, Offer, Order, OrderStatus, PaymentEffect, PaymentEvent, PaymentResult

# A failure may still be followed by success; these states are settled and a late failure leaves them alone.
_SETTLED = (OrderStatus.PAID, OrderStatus.REFUNDED)
_CURRENCY = re.compile(r"[A-Za-z]{3}")
_MAX_AMOUNT = Decimal("1e10")
_MAX_ORDER_ID = 2**31 - 1


def minor_units(amount: Decimal) -> int:
    """An amount in the currency's smallest unit, as Telegram and Stripe want it; closer's currencies have two
    decimals."""
    return int((amount * 100).to_integral_value())


@dataclass(frozen=True)
class PaymentNotice:
    provider: str
    event_id: str
    order_ref: str
    result: PaymentResult
    occurred_at: datetime
    amount: Decimal | None = None
    currency: str | None = None
    reason: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PaymentOutcome:
    duplicate: bool
    effect: PaymentEffect | None
    order_id: int | None
    important_item_ids: tuple[int, ...] = ()


def _validate(notice: PaymentNotice) -> PaymentNotice:
    if not notice.provider or len(notice.provider) > 32:
        raise Invalid("unknown payment provider", field="provider")
    if not notice.event_id or len(notice.event_id) > 255:
        raise Invalid("an event needs an id of at most 255 characters", field="event_id")
    # NaN and infinities cannot be compared or stored, and the column holds below 10^10: refuse them here as bad
    # input instead of failing later inside the transaction (a 5xx the provider would retry forever).
    if notice.amount is not None and (
        not Decimal(notice.amount).is_finite() or notice.amount < 0 or notice.amount >= _MAX_AMOUNT
    ):
        raise Invalid("an amount is a non-negative number below 10^10", field="amount")
    if notice.currency is not None and not _CURRENCY.fullmatch(notice.currency):
        raise Invalid("a currency is a three-letter code", field="currency")
    try:
        result = PaymentResult(notice.result)
    except ValueError:
        raise Invalid("a payment result is paid, failed or refunded", field="status") from None
    try:
        occurred_at = aware(notice.occurred_at)
    except ValueError:
        raise Invalid("the event time needs a time zone", field="occurred_at") from None
    return PaymentNotice(
        provider=notice.provider,
        event_id=notice.event_id,
        order_ref=notice.order_ref[:255],
        result=result,
        occurred_at=occurred_at,
        amount=notice.amount,
        currency=notice.currency.upper() if notice.currency else None,
        reason=notice.reason[:200] if notice.reason else None,
        payload=notice.payload,
    )


def order_id_from_ref(order_ref: str) -> int | None:
    """The order a provider names, if it is one we could have issued; anything else matches no order."""
    ref = order_ref.strip()
    # ASCII only: str.isdigit() also accepts "²" (which int() refuses) and other scripts' digits (which int()
    # reads as a number): neither is an order id we ever issued, so such an event is unmatched.
    if ref.isascii() and ref.isdigit() and len(ref) < 12:
        number = int(ref)
        # Order ids are a 32-bit column: PostgreSQL refuses a larger parameter outright, which would turn an
        # event we merely cannot match into a 5xx the provider retries forever.
        if number <= _MAX_ORDER_ID:
            return number
    return None


async def apply_payment(notice: PaymentNotice, *, now: datetime | None = None) -> PaymentOutcome:
    """Store the event once and apply it. A redelivered event (same provider and id) changes nothing."""
    notice = _validate(notice)
    now = now or utcnow()
    try:
        async with in_transaction():
            return await _store_and_apply(notice, now)
    except IntegrityError:
        # The unique (provider, event_id) row already exists: a redelivery, possibly racing its twin.
        if await PaymentEvent.exists(provider=notice.provider, event_id=notice.event_id):
            return PaymentOutcome(duplicate=True, effect=None, order_id=None)
        raise


async def _store_and_apply(notice: PaymentNotice, now: datetime) -> PaymentOutcome:
    order_id = order_id_from_ref(notice.order_ref)
    order = None
    if order_id is not None:
        order = await Order.filter(id=order_id).select_for_update().first()
    event = await PaymentEvent.create(
        provider=notice.provider,
        event_id=notice.event_id,
        account_id=order.account_id if order else None,
        order_id=order.id if order else None,
        order_ref=notice.order_ref,
        result=notice.result,
        effect=PaymentEffect.UNMATCHED,
        amount=notice.amount,
        currency=notice.currency,
        reason=notice.reason,
        occurred_at=notice.occurred_at,
        received_at=now,
        payload=notice.payload,
    )
    if order is None:
        return PaymentOutcome(duplicate=False, effect=PaymentEffect.UNMATCHED, order_id=None)

    items: list[int] = []
    if notice.result == PaymentResult.PAID:
        applied = await _apply_paid(order, notice, now)
    elif notice.result == PaymentResult.FAILED:
        applied = order.status not in _SETTLED and order.status != OrderStatus.CANCELLED and not _stale(order, notice)
        if applied:
            await _apply_failed(order, notice)
            offer = await Offer.get(id=order.offer_id)
            if offer.notify_on_failed_payment:
                items = [i.id for i in await important.create_for_failure(order, event, now)]
    else:
        applied = order.status == OrderStatus.PAID
        if applied:
            order.status = OrderStatus.REFUNDED
            await order.save(update_fields=["status", "updated_at"])
            await commission.reverse_refunded_order(order, now)

    effect = PaymentEffect.APPLIED if applied else PaymentEffect.IGNORED
    await PaymentEvent.filter(id=event.id).update(effect=effect)
    if applied:
        await order_events.order_changed(order, now, key=f"payment-{event.id}")
    return PaymentOutcome(duplicate=False, effect=effect, order_id=order.id, important_item_ids=tuple(items))


async def _apply_paid(order: Order, notice: PaymentNotice, now: datetime) -> bool:
    if order.status in _SETTLED:
        return False
    # A payment that arrives for a cancelled order is still money received: the order is paid.
    order.status = OrderStatus.PAID
    order.paid_at = notice.occurred_at
    order.paid_amount = notice.amount if notice.amount is not None else order.amount
    await order.save(update_fields=["status", "paid_at", "paid_amount", "updated_at"])
    await commission.credit_paid_order(order, now)
    await important.resolve_for_order(order, now)
    return True


def _stale(order: Order, notice: PaymentNotice) -> bool:
    """An older failure delivered after a newer one (providers reorder events, SPEC §5.4).

    The order and its important items show the last attempt; applying the older one would put back its time and
    reason and ring the bell again for a failure already reported.
    """
    return order.failed_at is not None and notice.occurred_at < order.failed_at


async def _apply_failed(order: Order, notice: PaymentNotice) -> None:
    order.status = OrderStatus.FAILED
    order.failed_at = notice.occurred_at
    order.failure_reason = notice.reason
    await order.save(update_fields=["status", "failed_at", "failure_reason", "updated_at"])


async def fail_for_demo(actor: Employee, order_id: int, *, reason: str = "card_declined",
                        now: datetime | None = None) -> PaymentOutcome:
    """The demo's stand-in for a provider's failure event (owner/admin; `closer demo` only): the order's payment fails
    exactly as a signed webhook would make it fail, so a newcomer sees the Important tab fill without a secret."""
    require_admin(actor)
    order = await get_in_account(Order, actor.account_id, order_id, what="order")
    now = now or utcnow()
    return await apply_payment(PaymentNotice("demo", f"demo-{order.id}-{uuid4().hex}", str(order.id),
                                             PaymentResult.FAILED, occurred_at=now, reason=reason), now=now)
