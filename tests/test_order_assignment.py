"""SPEC §1.1 and §1.8: every new order gets an order manager at once — sticky, rotation, owner fallback."""

from __future__ import annotations

from sales import accounts
from sales.assignment import assign_orders
from sales.audit import order_history
from sales.orders import create_order
from storage.models import AssignmentReason, Outbox, Role, RotationState, Widget
from tests.factories import at, make_shop, new_client, reload


async def _order(shop, client=None, widget=None):
    client = client or await new_client(shop)
    return await create_order(
        shop.account.id, client_id=client.id, offer_id=shop.offer.id, widget_id=(widget or shop.widget).id
    )


async def test_new_order_gets_a_manager_at_once(db):
    shop = await make_shop(managers=2)
    order = await _order(shop)
    assert order.order_manager_id in {m.id for m in shop.managers}
    assert (await reload(order)).assigned_at is not None


async def test_rotation_is_strict_round_robin_in_a_stable_order(db):
    shop = await make_shop(managers=3)
    picks = [(await _order(shop)).order_manager_id for _ in range(7)]
    ids = sorted(m.id for m in shop.managers)
    assert picks == [ids[0], ids[1], ids[2], ids[0], ids[1], ids[2], ids[0]]


async def test_rotation_skips_admins_and_the_owner(db):
    shop = await make_shop(managers=2)
    picks = {(await _order(shop)).order_manager_id for _ in range(6)}
    assert picks == {m.id for m in shop.managers}
    assert shop.admin.id not in picks and shop.owner.id not in picks


async def test_rotation_skips_managers_excluded_from_the_widget(db):
    shop = await make_shop(managers=3)
    excluded = shop.managers[1]
    await accounts.set_widget_exclusions(shop.owner, shop.widget.id, [excluded.id])
    picks = [(await _order(shop)).order_manager_id for _ in range(6)]
    assert excluded.id not in picks
    assert set(picks) == {shop.managers[0].id, shop.managers[2].id}


async def test_exclusion_applies_only_to_its_widget(db):
    shop = await make_shop(managers=1)
    other = await accounts.add_widget(shop.owner, code="other", name="Other")
    await accounts.set_widget_exclusions(shop.owner, shop.widget.id, [shop.managers[0].id])
    order = await _order(shop, widget=other)
    assert order.order_manager_id == shop.managers[0].id


async def test_empty_rotation_goes_to_the_owner(db):
    shop = await make_shop(managers=0)
    order = await _order(shop)
    assert order.order_manager_id == shop.owner.id
    assert [log.reason for log in await order_history(order.id)] == [AssignmentReason.FALLBACK]


async def test_rotation_of_only_away_managers_goes_to_the_owner(db):
    shop = await make_shop(managers=2)
    for manager in shop.managers:
        await accounts.update_employee(manager, manager.id, away=True)
    assert (await _order(shop)).order_manager_id == shop.owner.id


async def test_rotation_skips_deactivated_and_away_managers(db):
    shop = await make_shop(managers=3)
    await accounts.update_employee(shop.owner, shop.managers[0].id, active=False)
    await accounts.update_employee(shop.managers[1], shop.managers[1].id, away=True)
    picks = {(await _order(shop)).order_manager_id for _ in range(4)}
    assert picks == {shop.managers[2].id}


async def test_returning_client_gets_his_previous_manager(db):
    shop = await make_shop(managers=3)
    client = await new_client(shop)
    first = await _order(shop, client)
    for _ in range(2):
        await _order(shop)  # the pointer moves on meanwhile
    second = await _order(shop, client)
    assert second.order_manager_id == first.order_manager_id
    assert [log.reason for log in await order_history(second.id)] == [AssignmentReason.STICKY]


async def test_of_two_earlier_managers_the_latest_orders_one_keeps_the_client(db):
    shop = await make_shop(managers=3)
    first_manager, latest_manager = shop.managers[0], shop.managers[2]
    client = await new_client(shop)
    older = await create_order(shop.account.id, client_id=client.id, offer_id=shop.offer.id, now=at(0))
    newer = await create_order(shop.account.id, client_id=client.id, offer_id=shop.offer.id, now=at(10))
    await assign_orders(shop.admin, [older.id], first_manager.id, now=at(11))
    await assign_orders(shop.admin, [newer.id], latest_manager.id, now=at(12))
    third = await create_order(shop.account.id, client_id=client.id, offer_id=shop.offer.id, now=at(20))
    assert third.order_manager_id == latest_manager.id
    assert [log.reason for log in await order_history(third.id)] == [AssignmentReason.STICKY]


async def test_sticky_assignment_does_not_move_the_rotation_pointer(db):
    shop = await make_shop(managers=2)
    ids = sorted(m.id for m in shop.managers)
    client = await new_client(shop)
    assert (await _order(shop, client)).order_manager_id == ids[0]
    assert (await _order(shop, client)).order_manager_id == ids[0]  # sticky
    assert (await _order(shop)).order_manager_id == ids[1]


async def test_previous_manager_now_deactivated_does_not_get_the_order(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    first = await _order(shop, client)
    await accounts.update_employee(shop.owner, first.order_manager_id, active=False)
    second = await _order(shop, client)
    assert second.order_manager_id != first.order_manager_id
    assert [log.reason for log in await order_history(second.id)] == [AssignmentReason.ROTATION]


async def test_previous_manager_now_away_does_not_get_the_order(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    first = await _order(shop, client)
    await accounts.update_employee(shop.owner, first.order_manager_id, away=True)
    assert (await _order(shop, client)).order_manager_id != first.order_manager_id


async def test_previous_manager_excluded_from_this_widget_does_not_get_the_order(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    first = await _order(shop, client)
    await accounts.set_widget_exclusions(shop.owner, shop.widget.id, [first.order_manager_id])
    assert (await _order(shop, client)).order_manager_id != first.order_manager_id


async def test_previous_manager_who_became_admin_is_not_auto_assigned(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    first = await _order(shop, client)
    await accounts.update_employee(shop.owner, first.order_manager_id, role=Role.ADMIN)
    assert (await _order(shop, client)).order_manager_id != first.order_manager_id


async def test_sticky_is_per_account(db):
    shop = await make_shop(managers=1)
    other = await make_shop(managers=1)
    email = "same.person@example.com"
    mine = await _order(shop, await new_client(shop, email))
    theirs = await _order(other, await new_client(other, email))
    assert mine.order_manager_id == shop.managers[0].id
    assert theirs.order_manager_id == other.managers[0].id


async def test_full_managers_are_skipped_while_someone_has_room(db):
    shop = await make_shop(managers=2)
    full, free = sorted(shop.managers, key=lambda m: m.id)
    await accounts.update_employee(shop.owner, full.id, capacity=0)
    picks = {(await _order(shop)).order_manager_id for _ in range(3)}
    assert picks == {free.id}


async def test_when_everyone_is_full_rotation_ignores_capacity(db):
    shop = await make_shop(managers=2)
    for manager in shop.managers:
        await accounts.update_employee(shop.owner, manager.id, capacity=1)
    picks = [(await _order(shop)).order_manager_id for _ in range(4)]
    assert all(p in {m.id for m in shop.managers} for p in picks)
    assert sorted(picks.count(m.id) for m in shop.managers) == [2, 2]


async def test_sticky_skips_a_full_manager_while_another_has_room(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    first = await _order(shop, client)
    await accounts.update_employee(shop.owner, first.order_manager_id, capacity=1)
    assert (await _order(shop, client)).order_manager_id != first.order_manager_id


async def test_manager_back_from_holiday_is_not_flooded(db):
    shop = await make_shop(managers=3)
    back = shop.managers[0]
    await accounts.update_employee(back, back.id, away=True)
    for _ in range(10):
        await _order(shop)
    await accounts.update_employee(back, back.id, away=False)
    picks = [(await _order(shop)).order_manager_id for _ in range(6)]
    assert picks.count(back.id) == 2


async def test_assignment_writes_audit_and_a_ping_in_the_same_transaction(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    [log] = await order_history(order.id)
    assert (log.from_employee_id, log.to_employee_id, log.actor_id) == (None, shop.managers[0].id, None)
    ping = await Outbox.get(kind="order.assigned", employee_id=shop.managers[0].id)
    assert ping.payload == {"order_id": order.id, "reason": "rotation"}


async def test_new_order_emails_the_widget_addresses_naming_the_manager(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    mail = await Outbox.get(kind="order.created_email")
    assert mail.payload == {"order_id": order.id, "order_manager_id": shop.managers[0].id, "to": ["sales@shop.test"]}


async def test_order_without_widget_goes_through_the_default_widget(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    order = await create_order(shop.account.id, client_id=client.id, offer_id=shop.offer.id)
    assert order.order_manager_id == shop.managers[0].id


async def test_an_order_without_a_widget_comes_through_the_accounts_default_widget_and_its_rotation(db):
    shop = await make_shop(managers=2)
    default = await Widget.get(account_id=shop.account.id, is_default=True)
    order = await create_order(shop.account.id, client_id=(await new_client(shop)).id, offer_id=shop.offer.id)
    assert order.widget_id == default.id and order.widget_id != shop.widget.id
    assert order.order_manager_id in {m.id for m in shop.managers}
    assert (await RotationState.get(widget_id=default.id)).last_employee_id == order.order_manager_id
