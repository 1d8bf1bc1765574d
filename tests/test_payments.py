"""SPEC §5.2–5.4: a payment event is stored once by its provider id and applied to its order in one transaction."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from sales import dialogs, orders
from sales.errors import Invalid
from sales.payments import PaymentNotice, apply_payment
from storage.models import (
    CommissionEntry,
    ImportantItem,
    Order,
    OrderStatus,
    Outbox,
    PaymentEffect,
    PaymentEvent,
    PaymentResult,
)
from tests.factories import at, make_shop, new_client, reload


async def _order(shop, offer=None, client=None):
    client = client or await new_client(shop)
    return await orders.create_order(
        shop.account.id,
        client_id=client.id,
        offer_id=(offer or shop.offer).id,
        widget_id=shop.widget.id,
        now=at(0),
    )


def _notice(order_ref, result, minute, *, event_id=None, provider="generic", **extra) -> PaymentNotice:
    return PaymentNotice(
        provider=provider,
        event_id=event_id or f"evt-{result}-{minute}",
        order_ref=str(order_ref),
        result=result,
        occurred_at=at(minute),
        **extra,
    )


async def _pay(order, minute, **extra):
    return await apply_payment(_notice(order.id, PaymentResult.PAID, minute, **extra), now=at(minute))


async def _fail(order, minute, **extra):
    return await apply_payment(_notice(order.id, PaymentResult.FAILED, minute, **extra), now=at(minute))


async def _refund(order, minute, **extra):
    return await apply_payment(_notice(order.id, PaymentResult.REFUNDED, minute, **extra), now=at(minute))


async def test_paid_sets_status_paid_time_and_amount(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    notice = _notice(order.id, PaymentResult.PAID, 10, amount=Decimal("100.00"), currency="eur")
    outcome = await apply_payment(notice, now=at(11))
    assert (outcome.duplicate, outcome.effect, outcome.order_id) == (False, PaymentEffect.APPLIED, order.id)
    order = await reload(order)
    assert (order.status, order.paid_at, order.paid_amount) == (OrderStatus.PAID, at(10), Decimal("100.00"))
    event = await PaymentEvent.get(order_id=order.id)
    assert (event.effect, event.currency, event.account_id, event.received_at) == (
        PaymentEffect.APPLIED, "EUR", shop.account.id, at(11)
    )


async def test_paid_without_an_amount_takes_the_order_amount(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    await _pay(order, 10)
    assert (await reload(order)).paid_amount == Decimal("100.00")


async def test_paid_at_is_the_event_time_in_utc_whatever_zone_it_came_in(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    kyiv = timezone(timedelta(hours=2))
    notice = PaymentNotice("generic", "evt-tz", str(order.id), PaymentResult.PAID, occurred_at=at(10).astimezone(kyiv))
    await apply_payment(notice, now=at(11))
    assert (await reload(order)).paid_at == at(10)


async def test_failed_sets_status_failed_and_keeps_the_reason(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    outcome = await _fail(order, 10, reason="insufficient_funds")
    assert outcome.effect == PaymentEffect.APPLIED
    order = await reload(order)
    assert (order.status, order.failed_at, order.failure_reason) == (OrderStatus.FAILED, at(10), "insufficient_funds")


async def test_a_failed_order_can_still_be_paid(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    await _fail(order, 10, reason="card_declined")
    outcome = await _pay(order, 20)
    assert outcome.effect == PaymentEffect.APPLIED
    order = await reload(order)
    assert (order.status, order.paid_at) == (OrderStatus.PAID, at(20))
    assert await CommissionEntry.filter(order_id=order.id).count() == 1


async def test_a_paid_event_delivered_five_times_in_a_row_is_stored_once_and_applied_once(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    outcomes = [await _pay(order, 10 + i, event_id="evt-same") for i in range(5)]
    assert [o.duplicate for o in outcomes] == [False, True, True, True, True]
    assert [o.effect for o in outcomes[1:]] == [None] * 4
    assert await PaymentEvent.filter(provider="generic", event_id="evt-same").count() == 1
    order = await reload(order)
    # The redeliveries carry later times; had any of them been applied, paid_at would have moved.
    assert (order.status, order.paid_at) == (OrderStatus.PAID, at(10))
    assert await CommissionEntry.filter(order_id=order.id).count() == 1


async def test_duplicated_failure_event_changes_nothing_after_the_first_delivery(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    for manager in shop.managers:
        await dialogs.record_outbound(manager, client.id, "hello", now=at(1))
    order = await _order(shop, offer=shop.flagged_offer, client=client)
    outcomes = [await _fail(order, 10, event_id="evt-fail", reason="card_declined") for _ in range(5)]
    assert [o.duplicate for o in outcomes] == [False, True, True, True, True]
    assert len(outcomes[0].important_item_ids) == 2
    assert all(o.important_item_ids == () for o in outcomes[1:])
    assert await PaymentEvent.filter(event_id="evt-fail").count() == 1
    assert await ImportantItem.filter(order_id=order.id).count() == 2
    assert await Outbox.filter(kind="important.created").count() == 2
    assert (await reload(order)).status == OrderStatus.FAILED


async def test_the_same_event_id_from_another_provider_is_another_event(db):
    shop = await make_shop(managers=1)
    first, second = await _order(shop), await _order(shop)
    await apply_payment(_notice(first.id, PaymentResult.PAID, 10, event_id="42", provider="stripe"), now=at(10))
    outcome = await apply_payment(
        _notice(second.id, PaymentResult.PAID, 10, event_id="42", provider="liqpay"), now=at(10)
    )
    assert (outcome.duplicate, outcome.effect) == (False, PaymentEffect.APPLIED)
    assert (await reload(second)).status == OrderStatus.PAID


async def test_a_second_success_event_of_a_paid_order_credits_nothing_more(db):
    # Stripe reports one payment twice (checkout.session.completed and payment_intent.succeeded).
    shop = await make_shop(managers=1)
    order = await _order(shop)
    await _pay(order, 10, event_id="cs_1")
    outcome = await _pay(order, 11, event_id="pi_1")
    assert (outcome.duplicate, outcome.effect) == (False, PaymentEffect.IGNORED)
    assert (await reload(order)).paid_at == at(10)
    assert await CommissionEntry.filter(order_id=order.id).count() == 1


async def test_a_failure_after_payment_leaves_the_order_paid(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    await _pay(order, 10)
    outcome = await _fail(order, 20, reason="card_declined")
    assert outcome.effect == PaymentEffect.IGNORED
    order = await reload(order)
    assert (order.status, order.failed_at, order.failure_reason) == (OrderStatus.PAID, None, None)
    assert (await PaymentEvent.get(event_id="evt-failed-20")).effect == PaymentEffect.IGNORED


async def test_a_late_delivered_earlier_failure_leaves_the_order_paid(db):
    # Providers reorder events: the failure happened first but arrives after the success.
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    await dialogs.record_outbound(shop.managers[0], client.id, "hello", now=at(1))
    order = await _order(shop, offer=shop.flagged_offer, client=client)
    await _pay(order, 20)
    outcome = await apply_payment(_notice(order.id, PaymentResult.FAILED, 10, reason="3ds_failed"), now=at(30))
    assert (outcome.effect, outcome.important_item_ids) == (PaymentEffect.IGNORED, ())
    assert (await reload(order)).status == OrderStatus.PAID
    assert await ImportantItem.all().count() == 0
    assert await CommissionEntry.filter(order_id=order.id).count() == 1


async def test_refund_after_payment_refunds_and_reverses_the_commission(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    await _pay(order, 10)
    outcome = await _refund(order, 20)
    assert outcome.effect == PaymentEffect.APPLIED
    assert (await reload(order)).status == OrderStatus.REFUNDED
    amounts = await CommissionEntry.filter(order_id=order.id).order_by("id").values_list("amount", flat=True)
    assert [Decimal(a) for a in amounts] == [Decimal("10"), Decimal("-10")]


async def test_refund_of_an_unpaid_order_is_ignored(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    await _fail(order, 5, reason="card_declined")
    outcome = await _refund(order, 10)
    assert outcome.effect == PaymentEffect.IGNORED
    assert (await reload(order)).status == OrderStatus.FAILED
    assert await CommissionEntry.all().count() == 0


async def test_a_refunded_order_stays_refunded_whatever_comes_late(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    await _pay(order, 10)
    await _refund(order, 20)
    late = [await _pay(order, 30, event_id="late-paid"), await _fail(order, 31, event_id="late-failed")]
    assert [o.effect for o in late] == [PaymentEffect.IGNORED, PaymentEffect.IGNORED]
    assert (await reload(order)).status == OrderStatus.REFUNDED
    assert sum(Decimal(a) for a in await CommissionEntry.all().values_list("amount", flat=True)) == 0


async def test_an_older_failure_delivered_late_keeps_the_newer_failure(db):
    # Providers reorder events: the order and its item show the last attempt, not whichever arrived last.
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    await dialogs.record_outbound(shop.managers[0], client.id, "hello", now=at(1))
    order = await _order(shop, offer=shop.flagged_offer, client=client)
    await _fail(order, 20, event_id="evt-new", reason="insufficient_funds")
    (item,) = await ImportantItem.filter(order_id=order.id)
    outcome = await apply_payment(
        _notice(order.id, PaymentResult.FAILED, 10, event_id="evt-old", reason="card_declined"), now=at(30)
    )
    assert (outcome.effect, outcome.important_item_ids) == (PaymentEffect.IGNORED, ())
    order = await reload(order)
    assert (order.status, order.failed_at, order.failure_reason) == (OrderStatus.FAILED, at(20), "insufficient_funds")
    item = await reload(item)
    assert (item.failed_at, item.reason) == (at(20), "insufficient_funds")
    assert await Outbox.filter(kind="important.created").count() == 1


async def test_a_failure_of_a_cancelled_order_is_ignored(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    await orders.set_status(shop.owner, order.id, OrderStatus.CANCELLED, now=at(5))
    outcome = await _fail(order, 10, reason="card_declined")
    assert outcome.effect == PaymentEffect.IGNORED
    assert (await reload(order)).status == OrderStatus.CANCELLED


async def test_an_event_for_an_unknown_order_is_stored_unmatched(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    outcome = await apply_payment(_notice(order.id + 1000, PaymentResult.PAID, 10), now=at(10))
    assert (outcome.duplicate, outcome.effect, outcome.order_id) == (False, PaymentEffect.UNMATCHED, None)
    event = await PaymentEvent.get(event_id="evt-paid-10")
    assert (event.order_id, event.account_id, event.order_ref) == (None, None, str(order.id + 1000))
    assert (await reload(order)).status == OrderStatus.NEW


# Beyond 32 bits, superscripts and other scripts' digits: none is an id we issued, none may crash the webhook.
ODD_REFS = ["abc", "12a", "", " ", "-5", "1.5", "1" * 40, "99999999999", "2147483648", "\u00b2", "\u0661\u0662"]


@pytest.mark.parametrize("ref", ODD_REFS)
async def test_an_event_with_a_non_numeric_order_ref_is_stored_unmatched(db, ref):
    shop = await make_shop(managers=1)
    await _order(shop)
    outcome = await apply_payment(_notice(ref, PaymentResult.PAID, 10, event_id="evt-odd"), now=at(10))
    assert outcome.effect == PaymentEffect.UNMATCHED
    event = await PaymentEvent.get(event_id="evt-odd")
    assert (event.order_id, event.order_ref, event.effect) == (None, ref, PaymentEffect.UNMATCHED)
    assert await Order.filter(status=OrderStatus.PAID).count() == 0


async def test_a_redelivered_unmatched_event_is_a_duplicate(db):
    await make_shop(managers=1)
    first = await apply_payment(_notice("nope", PaymentResult.PAID, 10, event_id="evt-x"), now=at(10))
    again = await apply_payment(_notice("nope", PaymentResult.PAID, 10, event_id="evt-x"), now=at(11))
    assert (first.duplicate, again.duplicate) == (False, True)
    assert await PaymentEvent.all().count() == 1


# Each refusal whole: its message and the field it names.
NAIVE_TIME = ("the event time needs a time zone", "occurred_at")
BAD_CURRENCY = ("a currency is a three-letter code", "currency")
BAD_EVENT_ID = ("an event needs an id of at most 255 characters", "event_id")
BAD_AMOUNT = ("an amount is a non-negative number below 10^10", "amount")
# case: (changes to a valid notice, the refusal)
INVALID_NOTICES = {
    "naive datetime": (dict(occurred_at=datetime(2026, 3, 2, 9, 10)), NAIVE_TIME),
    "short currency": (dict(currency="EU"), BAD_CURRENCY),
    "long currency": (dict(currency="EURO"), BAD_CURRENCY),
    "non-letter currency": (dict(currency="E1$"), BAD_CURRENCY),
    "empty event id": (dict(event_id=""), BAD_EVENT_ID),
    "too long event id": (dict(event_id="e" * 256), BAD_EVENT_ID),
    "negative amount": (dict(amount=Decimal("-0.01")), BAD_AMOUNT),
    "not a number amount": (dict(amount=Decimal("NaN")), BAD_AMOUNT),
    "infinite amount": (dict(amount=Decimal("Infinity")), BAD_AMOUNT),
    "too large amount": (dict(amount=Decimal("1e10")), BAD_AMOUNT),
    "unknown result": (dict(result="chargeback"), ("a payment result is paid, failed or refunded", "status")),
    "empty provider": (dict(provider=""), ("unknown payment provider", "provider")),
}


@pytest.mark.parametrize("case", sorted(INVALID_NOTICES))
async def test_an_invalid_notice_is_refused_and_stores_nothing(db, case):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    fields = dict(
        provider="generic",
        event_id="evt-1",
        order_ref=str(order.id),
        result=PaymentResult.PAID,
        occurred_at=at(10),
        amount=Decimal("100.00"),
        currency="EUR",
    )
    changes, refusal = INVALID_NOTICES[case]
    with pytest.raises(Invalid) as refused:
        await apply_payment(PaymentNotice(**{**fields, **changes}), now=at(10))
    assert (refused.value.message, refused.value.field) == refusal
    assert await PaymentEvent.all().count() == 0
    assert (await reload(order)).status == OrderStatus.NEW
    assert await CommissionEntry.all().count() == 0


async def test_the_failure_reason_is_kept_on_the_order_and_the_important_item(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    await dialogs.record_outbound(shop.managers[0], client.id, "hello", now=at(1))
    order = await _order(shop, offer=shop.flagged_offer, client=client)
    outcome = await _fail(order, 10, reason="3-D Secure failed")
    assert (await reload(order)).failure_reason == "3-D Secure failed"
    (item,) = await ImportantItem.filter(id__in=outcome.important_item_ids)
    assert (item.reason, item.failed_at) == ("3-D Secure failed", at(10))


async def test_a_new_failure_replaces_the_reason_on_the_order(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    await _fail(order, 10, reason="card_declined")
    await _fail(order, 20, reason="insufficient_funds")
    order = await reload(order)
    assert (order.failed_at, order.failure_reason) == (at(20), "insufficient_funds")


async def test_a_payment_is_applied_all_or_nothing(db, monkeypatch):
    # SPEC §5.2: a crash while applying leaves nothing behind, so the provider's resend applies it whole.
    from sales import commission

    shop = await make_shop(managers=1)
    order = await _order(shop)

    async def crash(*args, **kwargs):
        raise RuntimeError("crash while crediting")

    monkeypatch.setattr(commission, "credit_paid_order", crash)
    with pytest.raises(RuntimeError):
        await _pay(order, 10, event_id="evt-crash")
    assert await PaymentEvent.all().count() == 0
    assert (await reload(order)).status == OrderStatus.NEW
    monkeypatch.undo()
    outcome = await _pay(order, 10, event_id="evt-crash")
    assert (outcome.duplicate, outcome.effect) == (False, PaymentEffect.APPLIED)
    assert (await reload(order)).status == OrderStatus.PAID
