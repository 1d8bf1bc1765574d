"""SPEC §1.4: a manager's call list — overdue call-backs first, then never called, then the rest — and call outcomes."""

from __future__ import annotations

import pytest

from sales import orders
from sales.errors import Conflict, Invalid, NotAllowed
from sales.payments import PaymentNotice, apply_payment
from storage.models import CallLog, CallOutcome, OrderComment, OrderStatus, PaymentResult
from tests.factories import at, make_shop, new_client, reload


async def _orders(shop, n):
    made = []
    for i in range(n):
        client = await new_client(shop)
        made.append(
            await orders.create_order(
                shop.account.id, client_id=client.id, offer_id=shop.offer.id, widget_id=shop.widget.id, now=at(i)
            )
        )
    return made


async def test_call_list_puts_overdue_call_backs_first_then_never_called_then_the_rest(db):
    shop = await make_shop(managers=1)
    manager = shop.managers[0]
    talked, later, never_a, due_late, due_early, never_b = await _orders(shop, 6)
    await orders.record_call(manager, talked.id, "talked", now=at(10))
    await orders.record_call(manager, later.id, "call_back", call_back_at=at(500), now=at(11))
    await orders.record_call(manager, due_late.id, "call_back", call_back_at=at(40), now=at(12))
    await orders.record_call(manager, due_early.id, "call_back", call_back_at=at(30), now=at(13))
    listed = await orders.call_list(manager, now=at(60))
    assert [e.order.id for e in listed] == [due_early.id, due_late.id, never_a.id, never_b.id, talked.id, later.id]
    assert [e.overdue for e in listed] == [True, True, False, False, False, False]


async def test_call_list_holds_only_his_unpaid_orders(db):
    shop = await make_shop(managers=2)
    made = await _orders(shop, 4)
    mine = [o for o in made if o.order_manager_id == shop.managers[0].id]
    paid = mine[0]
    await apply_payment(PaymentNotice("generic", "e1", str(paid.id), PaymentResult.PAID, occurred_at=at(20)))
    listed = await orders.call_list(shop.managers[0], now=at(30))
    assert [e.order.id for e in listed] == [o.id for o in mine[1:]]


@pytest.mark.parametrize("outcome", [o.value for o in CallOutcome if o != CallOutcome.CALL_BACK])
async def test_each_call_outcome_is_recorded_with_its_comment(db, outcome):
    shop = await make_shop(managers=1)
    [order] = await _orders(shop, 1)
    await orders.record_call(shop.managers[0], order.id, outcome, comment="note", now=at(5))
    call = await CallLog.get(order_id=order.id)
    assert (call.outcome, call.comment, call.employee_id, call.call_back_at) == (outcome, "note", shop.managers[0].id, None)


async def test_a_call_back_needs_its_time(db):
    shop = await make_shop(managers=1)
    [order] = await _orders(shop, 1)
    with pytest.raises(Invalid) as error:
        await orders.record_call(shop.managers[0], order.id, "call_back")
    assert error.value.field == "call_back_at"
    assert await CallLog.all().count() == 0


async def test_an_unknown_outcome_is_refused_listing_the_outcomes(db):
    shop = await make_shop(managers=1)
    [order] = await _orders(shop, 1)
    with pytest.raises(Invalid) as refused:
        await orders.record_call(shop.managers[0], order.id, "maybe")
    outcomes = ", ".join(CallOutcome)
    assert (refused.value.message, refused.value.field) == (f"a call outcome is one of {outcomes}", "outcome")
    assert refused.value.params == {"outcomes": outcomes}


async def test_a_blank_comment_on_an_order_is_refused_naming_the_text(db):
    shop = await make_shop(managers=1)
    [order] = await _orders(shop, 1)
    with pytest.raises(Invalid) as refused:
        await orders.add_comment(shop.managers[0], order.id, "  \n ", now=at(5))
    assert (refused.value.message, refused.value.field) == ("a comment cannot be empty", "text")
    assert not await OrderComment.exists(order_id=order.id)


async def test_a_manager_cannot_record_calls_on_another_managers_order(db):
    shop = await make_shop(managers=2)
    [order] = await _orders(shop, 1)
    other = next(m for m in shop.managers if m.id != order.order_manager_id)
    with pytest.raises(NotAllowed) as refused:
        await orders.record_call(other, order.id, "talked")
    assert (refused.value.message, refused.value.field) == (
        "only the order's manager, the owner or an admin may work on this order", None)
    assert not await CallLog.exists(order_id=order.id)
    await orders.record_call(shop.admin, order.id, "talked")
    assert await CallLog.filter(order_id=order.id).count() == 1


async def test_staff_cannot_mark_an_order_paid_by_hand(db):
    shop = await make_shop(managers=1)
    [order] = await _orders(shop, 1)
    with pytest.raises(Invalid):
        await orders.set_status(shop.owner, order.id, "paid")
    assert (await reload(order)).status == OrderStatus.NEW


async def test_a_paid_order_cannot_be_cancelled_by_hand(db):
    shop = await make_shop(managers=1)
    [order] = await _orders(shop, 1)
    await apply_payment(PaymentNotice("generic", "e1", str(order.id), PaymentResult.PAID, occurred_at=at(20)))
    with pytest.raises(Conflict):
        await orders.set_status(shop.owner, order.id, "cancelled")


async def test_sending_a_payment_link_moves_a_new_order_to_awaiting_payment(db):
    shop = await make_shop(managers=1)
    [order] = await _orders(shop, 1)
    await orders.mark_payment_link_sent(shop.managers[0], order.id, now=at(3))
    order = await reload(order)
    assert order.status == OrderStatus.AWAITING_PAYMENT and order.last_action_at == at(3)
