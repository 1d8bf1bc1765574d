"""SPEC §1.5 and §5.4: commission is credited to the order manager when paid, follows re-assignment, and reverses."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sales import accounts
from sales.assignment import assign_order, detach_idle_orders
from sales.commission import balance_of, rate_for, report
from sales.errors import NotAllowed
from sales.orders import create_order
from sales.payments import PaymentNotice, apply_payment
from storage.models import CommissionEntry, CommissionReason, Employee, Offer, PaymentResult
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


async def _refund(order, minute=30, event="evt-refund"):
    await apply_payment(
        PaymentNotice("generic", event, str(order.id), PaymentResult.REFUNDED, occurred_at=at(minute)), now=at(minute)
    )


def _other(shop, order):
    return next(m for m in shop.managers if m.id != order.order_manager_id)


async def _totals(shop, actor, start, end):
    return {line.employee_id: line.amount for line in await report(actor, start, end)}


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
    await _refund(order, 30)
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


async def test_the_credit_is_one_ledger_line_at_payment_time(db):
    shop = await make_shop(managers=1, commission_rate="0.10")
    order = await _order(shop)
    await _pay(order, minute=15)
    [entry] = await CommissionEntry.filter(order_id=order.id)
    assert (entry.employee_id, entry.reason, entry.rate, entry.created_at, entry.account_id) == (
        order.order_manager_id, CommissionReason.PAID, Decimal("0.1"), at(15), shop.account.id
    )


def test_an_offer_rate_of_zero_still_wins_over_the_managers():
    manager = Employee(commission_rate=Decimal("0.10"))
    assert rate_for(manager, Offer(commission_rate=Decimal("0"))) == 0
    assert rate_for(manager, Offer(commission_rate=None)) == Decimal("0.10")
    assert rate_for(manager, Offer(commission_rate=Decimal("0.3"))) == Decimal("0.3")


async def test_the_manager_rate_is_his_rate_when_the_order_is_paid(db):
    shop = await make_shop(managers=1, commission_rate="0.10")
    manager = shop.managers[0]
    order = await _order(shop)
    await accounts.update_employee(shop.owner, manager.id, commission_rate="0.15")
    await _pay(order)
    await accounts.update_employee(shop.owner, manager.id, commission_rate="0.50")
    assert await balance_of(order.id, manager.id) == Decimal("15.0000")


async def test_a_moved_commission_follows_the_offers_rate_when_set(db):
    shop = await make_shop(managers=2, commission_rate="0.10")
    offer = await accounts.add_offer(shop.owner, title="Premium", price="1000", currency="EUR", commission_rate="0.02")
    order = await _order(shop, offer)
    new = _other(shop, order)
    await accounts.update_employee(shop.owner, new.id, commission_rate="0.40")
    await _pay(order)
    await assign_order(shop.owner, order.id, new.id, now=at(20))
    assert await balance_of(order.id, new.id) == Decimal("20.0000")


async def test_the_commission_follows_every_reassignment_by_owner_or_admin(db):
    shop = await make_shop(managers=3, commission_rate="0.10")
    order = await _order(shop)
    first = order.order_manager_id
    second, third = [m.id for m in shop.managers if m.id != first]
    await _pay(order)
    await assign_order(shop.owner, order.id, second, now=at(20))
    await assign_order(shop.admin, order.id, first, now=at(30))
    await assign_order(shop.admin, order.id, third, now=at(40))
    balances = {m.id: await balance_of(order.id, m.id) for m in shop.managers}
    assert balances == {first: 0, second: 0, third: Decimal("10.0000")}


async def test_odd_amounts_move_and_reverse_to_exactly_zero(db):
    # Ledger sums must stay exact on both backends: a float creeping in would leave 0.0000000001 behind.
    shop = await make_shop(managers=2, commission_rate="0.0733")
    offer = await accounts.add_offer(shop.owner, title="Odd", price="33.33", currency="EUR")
    order = await _order(shop, offer)
    old, new = order.order_manager_id, _other(shop, order).id
    await _pay(order, amount=Decimal("33.33"))
    await assign_order(shop.owner, order.id, new, now=at(20))
    await assign_order(shop.owner, order.id, old, now=at(25))
    assert await balance_of(order.id, new) == 0
    assert await balance_of(order.id, old) == Decimal("2.4431")
    await _refund(order, 30)
    assert await balance_of(order.id, old) == 0
    assert await _totals(shop, shop.owner, at(0), at(60)) == {old: 0, new: 0}


async def test_a_refund_after_reassignment_reverses_the_new_managers_commission(db):
    shop = await make_shop(managers=2, commission_rate="0.10")
    order = await _order(shop)
    old, new = order.order_manager_id, _other(shop, order).id
    await _pay(order)
    await assign_order(shop.owner, order.id, new, now=at(20))
    await _refund(order, 30)
    assert (await balance_of(order.id, old), await balance_of(order.id, new)) == (0, 0)


async def test_reassigning_a_refunded_order_moves_nothing(db):
    shop = await make_shop(managers=2)
    order = await _order(shop)
    await _pay(order)
    await _refund(order, 30)
    before = await CommissionEntry.all().count()
    await assign_order(shop.owner, order.id, _other(shop, order).id, now=at(40))
    assert await CommissionEntry.all().count() == before


async def test_an_order_reassigned_before_payment_pays_its_current_manager(db):
    shop = await make_shop(managers=2, commission_rate="0.10")
    order = await _order(shop)
    old, new = order.order_manager_id, _other(shop, order).id
    await assign_order(shop.owner, order.id, new, now=at(5))
    await _pay(order)
    assert (await balance_of(order.id, old), await balance_of(order.id, new)) == (0, Decimal("10.0000"))


async def test_an_order_paid_while_unassigned_credits_whoever_gets_it(db):
    shop = await make_shop(managers=1, commission_rate="0.10")
    manager = shop.managers[0]
    order = await _order(shop)
    assert await detach_idle_orders(at(24 * 60)) == [order.id]
    await _pay(order, minute=24 * 60 + 5)
    assert await CommissionEntry.all().count() == 0
    await assign_order(shop.owner, order.id, manager.id, now=at(24 * 60 + 10))
    assert await balance_of(order.id, manager.id) == Decimal("10.0000")


async def test_the_report_counts_moves_and_refunds_in_the_period_they_happen(db):
    shop = await make_shop(managers=2, commission_rate="0.10")
    order = await _order(shop)
    old, new = order.order_manager_id, _other(shop, order).id
    await _pay(order, minute=10)
    await assign_order(shop.owner, order.id, new, now=at(70))
    await _refund(order, 130)
    assert await _totals(shop, shop.owner, at(0), at(60)) == {old: Decimal("10.0000")}
    assert await _totals(shop, shop.owner, at(60), at(120)) == {old: Decimal("-10.0000"), new: Decimal("10.0000")}
    assert await _totals(shop, shop.owner, at(120), at(180)) == {new: Decimal("-10.0000")}
    assert await _totals(shop, shop.owner, at(0), at(180)) == {old: 0, new: 0}


async def test_the_report_period_includes_its_start_and_excludes_its_end(db):
    shop = await make_shop(managers=1, commission_rate="0.10")
    order = await _order(shop)
    await _pay(order, minute=60)
    manager = order.order_manager_id
    assert await _totals(shop, shop.owner, at(60), at(120)) == {manager: Decimal("10.0000")}
    assert await _totals(shop, shop.owner, at(0), at(60)) == {}


async def test_the_report_never_shows_another_accounts_commission(db):
    shop = await make_shop(managers=1, commission_rate="0.10")
    rival = await make_shop(managers=1, commission_rate="0.10")
    await _pay(await _order(shop), event="e-shop")
    await _pay(await _order(rival), event="e-rival")
    assert await _totals(shop, shop.owner, at(0), at(60)) == {shop.managers[0].id: Decimal("10.0000")}
    assert await _totals(rival, rival.admin, at(0), at(60)) == {rival.managers[0].id: Decimal("10.0000")}


async def test_a_manager_without_commission_gets_an_empty_report(db):
    shop = await make_shop(managers=2, commission_rate="0.10")
    order = await _order(shop)
    await _pay(order)
    idle = _other(shop, order)
    assert await report(idle, at(0), at(60)) == []
    assert [line.employee_id for line in await report(shop.owner, at(0), at(60))] == [order.order_manager_id]


async def test_a_deactivated_employee_gets_no_report(db):
    shop = await make_shop(managers=1)
    gone = await accounts.update_employee(shop.owner, shop.managers[0].id, active=False)
    with pytest.raises(NotAllowed):
        await report(gone, at(0), at(60))
