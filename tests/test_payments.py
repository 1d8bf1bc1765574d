"""SPEC §5.2–5.4: a payment result is stored once by provider event id and applied to its order."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from sales.errors import Invalid
from sales.orders import create_order
from sales.payments import PaymentNotice, apply_payment
from storage.models import CommissionEntry, ImportantItem, Order, OrderStatus, PaymentEffect, PaymentEvent, PaymentResult
from tests.factories import at, make_shop, new_client, reload


async def _order(shop, offer=None):
    client = await new_client(shop)
    return await create_order(
        shop.account.id, client_id=client.id, offer_id=(offer or shop.offer).id, widget_id=shop.widget.id, now=at(0)
    )


def notice(order, result, event_id, minute, **extra):
    return PaymentNotice(
        provider=extra.pop("provider", "generic"),
        event_id=event_id,
        order_ref=str(order.id) if hasattr(order, "id") else order,
        result=result,
        occurred_at=at(minute),
        **extra,
    )


async def test_a_payment_marks_the_order_paid_with_time_and_amount(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    outcome = await apply_payment(notice(order, PaymentResult.PAID, "evt-1", 10, amount=Decimal("100.00"), currency="eur"), now=at(11))
    order = await reload(order)
    assert (order.status, order.paid_at, order.paid_amount) == (OrderStatus.PAID, at(10), Decimal("100.00"))
    assert (outcome.duplicate, outcome.effect, outcome.order_id) == (False, PaymentEffect.APPLIED, order.id)
    event = await PaymentEvent.get(event_id="evt-1")
    assert (event.currency, event.received_at, event.order_id) == ("EUR", at(11), order.id)


async def test_a_failure_keeps_its_reason_and_the_client_can_still_pay(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    await apply_payment(notice(order, PaymentResult.FAILED, "evt-1", 10, reason="insufficient_funds"))
    failed = await reload(order)
    assert (failed.status, failed.failure_reason, failed.failed_at) == (OrderStatus.FAILED, "insufficient_funds", at(10))
    await apply_payment(notice(order, PaymentResult.PAID, "evt-2", 20))
    assert (await reload(order)).status == OrderStatus.PAID


async def test_the_same_event_delivered_five_times_is_stored_and_applied_once(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    outcomes = [await apply_payment(notice(order, PaymentResult.PAID, "evt-dup", 10)) for _ in range(5)]
    assert [o.duplicate for o in outcomes] == [False, True, True, True, True]
    assert await PaymentEvent.filter(event_id="evt-dup").count() == 1
    assert await CommissionEntry.filter(order_id=order.id).count() == 1


async def test_event_ids_are_unique_per_provider(db):
    shop = await make_shop(managers=1)
    first, second = await _order(shop), await _order(shop)
    await apply_payment(notice(first, PaymentResult.PAID, "same-id", 10, provider="stripe"))
    outcome = await apply_payment(notice(second, PaymentResult.PAID, "same-id", 10, provider="liqpay"))
    assert not outcome.duplicate and (await reload(second)).status == OrderStatus.PAID


async def test_a_failure_after_paid_leaves_it_paid(db):
    shop = await make_shop(managers=1)
    order = await _order(shop, shop.flagged_offer)
    await apply_payment(notice(order, PaymentResult.PAID, "evt-paid", 20))
    outcome = await apply_payment(notice(order, PaymentResult.FAILED, "evt-late", 30, reason="declined"))
    assert outcome.effect == PaymentEffect.IGNORED
    order = await reload(order)
    assert (order.status, order.failure_reason) == (OrderStatus.PAID, None)
    assert await ImportantItem.all().count() == 0


async def test_a_failure_delivered_after_the_success_it_preceded_changes_nothing(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    await apply_payment(notice(order, PaymentResult.PAID, "evt-2", 20))
    await apply_payment(notice(order, PaymentResult.FAILED, "evt-1", 10))
    assert (await reload(order)).status == OrderStatus.PAID


async def test_a_refund_after_payment_refunds_the_order(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    await apply_payment(notice(order, PaymentResult.PAID, "evt-1", 10))
    outcome = await apply_payment(notice(order, PaymentResult.REFUNDED, "evt-2", 20))
    assert outcome.effect == PaymentEffect.APPLIED and (await reload(order)).status == OrderStatus.REFUNDED


async def test_a_refund_of_an_unpaid_order_is_ignored(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    outcome = await apply_payment(notice(order, PaymentResult.REFUNDED, "evt-1", 10))
    assert outcome.effect == PaymentEffect.IGNORED and (await reload(order)).status == OrderStatus.NEW


async def test_a_paid_event_after_a_refund_does_not_resurrect_the_order(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    await apply_payment(notice(order, PaymentResult.PAID, "evt-1", 10))
    await apply_payment(notice(order, PaymentResult.REFUNDED, "evt-2", 20))
    await apply_payment(notice(order, PaymentResult.PAID, "evt-3", 30))
    assert (await reload(order)).status == OrderStatus.REFUNDED


@pytest.mark.parametrize("ref", ["999999", "not-a-number", "", "1" * 40])
async def test_an_event_for_an_unknown_order_is_kept_as_unmatched(db, ref):
    outcome = await apply_payment(notice(ref, PaymentResult.PAID, "evt-x", 10))
    assert (outcome.duplicate, outcome.effect, outcome.order_id) == (False, PaymentEffect.UNMATCHED, None)
    event = await PaymentEvent.get(event_id="evt-x")
    assert (event.order_id, event.effect, event.order_ref) == (None, PaymentEffect.UNMATCHED, ref[:255])


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("occurred_at", {"occurred_at": datetime(2026, 3, 2, 9, 0)}),
        ("currency", {"currency": "EURO"}),
        ("event_id", {"event_id": ""}),
        ("amount", {"amount": Decimal("-1")}),
        ("status", {"result": "maybe"}),
    ],
)
async def test_an_invalid_notice_is_refused_and_stores_nothing(db, field, changes):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    base = {"provider": "generic", "event_id": "evt-1", "order_ref": str(order.id), "result": PaymentResult.PAID, "occurred_at": at(5)}
    with pytest.raises(Invalid) as error:
        await apply_payment(PaymentNotice(**{**base, **changes}))
    assert error.value.field == field
    assert await PaymentEvent.all().count() == 0 and (await reload(order)).status == OrderStatus.NEW
