"""SPEC §1.5 and §5.4: commission is credited to the order manager when paid, follows re-assignment, and reverses."""

from __future__ import annotations

from decimal import Decimal

from sales import accounts
from sales.assignment import assign_order
from sales.commission import balance_of, report
from sales.orders import create_order
from sales.payments import PaymentNotice, apply_payment
from storage.models import CommissionEntry, PaymentResult
from tests.factories import at, make_shop, new_client


async def _order(shop, offer=None):
    client = await new_client(shop)
    return await create_order(
        shop.account.id, client_id=client.id, offer_id=(offer or shop.offer).id, widget_id=shop.widget.id, now=at(0)
    )


async def _pay(order, minute=10, event="evt-paid", amount=None):
    await apply_payment(
        PaymentNotice("generic", event, str(order.id), PaymentResult.PAID, occurred_at=at(minute), amount=amount),
        now=at(minute),
    )


async def test_commission_is_credited_to_the_order_manager_at_his_rate(db):
    shop = await make_shop(managers=1, commission_rate="0.10")
    order = await _order(shop)
    await _pay(order)
    assert await balance_of(order.id, shop.managers[0].id) == Decimal("10.0000")


async def test_the_offers_rate_wins_over_the_managers(db):
    shop = await make_shop(managers=1, commission_rate="0.10")
    offer = await accounts.add_offer(shop.owner, title="Premium", price="1000", currency="EUR", commission_rate="0.02")
    order = await _order(shop, offer)
    await _pay(order)
    assert await balance_of(order.id, shop.managers[0].id) == Decimal("20.0000")


async def test_commission_is_on_the_amount_actually_paid(db):
    shop = await make_shop(managers=1, commission_rate="0.10")
    order = await _order(shop)
    await _pay(order, amount=Decimal("80.00"))
    assert await balance_of(order.id, shop.managers[0].id) == Decimal("8.0000")


async def test_reassigning_a_paid_order_moves_the_commission_to_the_new_manager(db):
    shop = await make_shop(managers=2, commission_rate="0.10")
    order = await _order(shop)
    old = order.order_manager_id
    new = next(m for m in shop.managers if m.id != old)
    await accounts.update_employee(shop.owner, new.id, commission_rate="0.05")
    await _pay(order)
    await assign_order(shop.owner, order.id, new.id, now=at(20))
    assert await balance_of(order.id, old) == 0
    assert await balance_of(order.id, new.id) == Decimal("5.0000")


async def test_reassigning_an_unpaid_order_moves_no_commission(db):
    shop = await make_shop(managers=2)
    order = await _order(shop)
    new = next(m for m in shop.managers if m.id != order.order_manager_id)
    await assign_order(shop.owner, order.id, new.id)
    assert await CommissionEntry.all().count() == 0


async def test_a_refund_reverses_the_commission(db):
    shop = await make_shop(managers=1, commission_rate="0.10")
    order = await _order(shop)
    await _pay(order)
    await apply_payment(PaymentNotice("generic", "evt-refund", str(order.id), PaymentResult.REFUNDED, occurred_at=at(30)))
    assert await balance_of(order.id, shop.managers[0].id) == 0


async def test_the_report_sums_commission_per_manager_in_a_period(db):
    shop = await make_shop(managers=2, commission_rate="0.10")
    orders = [await _order(shop) for _ in range(3)]
    await _pay(orders[0], minute=10, event="e0")
    await _pay(orders[1], minute=20, event="e1")
    await _pay(orders[2], minute=120, event="e2")
    lines = await report(shop.owner, at(0), at(60))
    expected: dict[int, Decimal] = {}
    for order in orders[:2]:
        expected[order.order_manager_id] = expected.get(order.order_manager_id, Decimal(0)) + Decimal("10")
    assert {line.employee_id: line.amount for line in lines} == expected


async def test_a_manager_sees_only_his_own_line(db):
    shop = await make_shop(managers=2, commission_rate="0.10")
    first, second = await _order(shop), await _order(shop)
    await _pay(first, event="e1")
    await _pay(second, event="e2")
    mine = await report(shop.managers[0], at(0), at(60))
    assert [line.employee_id for line in mine] == [shop.managers[0].id]
    everyone = await report(shop.admin, at(0), at(60))
    assert sorted(line.employee_id for line in everyone) == sorted(m.id for m in shop.managers)
