"""SPEC §3.3–3.6: a failed payment of a flagged offer reaches exactly the employees who chatted with the client."""

from __future__ import annotations

import pytest

from sales import accounts, dialogs, important
from sales.errors import NotAllowed, NotFound
from sales.orders import create_order
from sales.payments import PaymentNotice, apply_payment
from storage.models import ImportantItem, Outbox, PaymentResult
from tests.factories import at, make_shop, new_client, reload


async def _flagged_order(shop, client=None):
    client = client or await new_client(shop)
    return await create_order(
        shop.account.id, client_id=client.id, offer_id=shop.flagged_offer.id, widget_id=shop.widget.id, now=at(0)
    )


async def _fail(order, minute, event_id="evt-fail", reason="card_declined"):
    return await apply_payment(
        PaymentNotice("generic", event_id, str(order.id), PaymentResult.FAILED, occurred_at=at(minute), reason=reason),
        now=at(minute),
    )


async def _holders(order):
    return sorted(i.employee_id for i in await ImportantItem.filter(order_id=order.id))


async def test_only_employees_who_wrote_before_the_failure_get_an_item(db):
    shop = await make_shop(managers=3)
    early, other, late = shop.managers
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    await dialogs.record_outbound(early, client.id, "hi", now=at(5))
    await dialogs.record_outbound(shop.admin, client.id, "hello", now=at(6))
    await dialogs.record_outbound(late, client.id, "too late", now=at(30))
    await _fail(order, 20)
    assert await _holders(order) == sorted([early.id, shop.admin.id])
    assert other.id not in await _holders(order)


async def test_an_employee_who_first_wrote_after_the_failure_gets_nothing(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    await dialogs.record_outbound(shop.managers[0], client.id, "first words", now=at(21))
    await _fail(order, 20)
    assert await _holders(order) == []


async def test_a_client_message_alone_makes_no_dialog(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    await dialogs.record_inbound(client, "help", now=at(5))
    await _fail(order, 20)
    assert await _holders(order) == []


async def test_a_deactivated_employee_gets_no_item(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    for manager in shop.managers:
        await dialogs.record_outbound(manager, client.id, "hi", now=at(5))
    await accounts.update_employee(shop.owner, shop.managers[1].id, active=False)
    await _fail(order, 20)
    assert await _holders(order) == [shop.managers[0].id]


async def test_an_offer_without_the_flag_creates_nothing(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    order = await create_order(shop.account.id, client_id=client.id, offer_id=shop.offer.id, widget_id=shop.widget.id)
    await dialogs.record_outbound(shop.managers[0], client.id, "hi", now=at(5))
    await _fail(order, 20)
    assert await ImportantItem.all().count() == 0


async def test_the_item_holds_time_reason_and_links_and_rings_the_bell(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    await dialogs.record_outbound(shop.managers[0], client.id, "hi", now=at(5))
    outcome = await _fail(order, 20, reason="3ds_failed")
    [item] = await ImportantItem.filter(order_id=order.id).prefetch_related("chat")
    assert list(outcome.important_item_ids) == [item.id]
    assert (item.failed_at, item.reason, item.seen_at, item.offer_id, item.chat.client_id) == (
        at(20), "3ds_failed", None, shop.flagged_offer.id, client.id,
    )


async def test_each_item_queues_an_alert_in_the_same_transaction(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    for manager in shop.managers:
        await dialogs.record_outbound(manager, client.id, "hi", now=at(5))
    await _fail(order, 20)
    alerts = await Outbox.filter(kind="important.created").order_by("employee_id")
    assert [a.employee_id for a in alerts] == sorted(m.id for m in shop.managers)


async def test_a_duplicated_failure_creates_nothing_new(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    await dialogs.record_outbound(shop.managers[0], client.id, "hi", now=at(5))
    for _ in range(3):
        await _fail(order, 20)
    assert await ImportantItem.all().count() == 1
    assert await Outbox.filter(kind="important.created").count() == 1


async def test_a_new_failure_of_the_same_order_rings_the_same_item_again(db):
    shop = await make_shop(managers=1)
    manager = shop.managers[0]
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    await dialogs.record_outbound(manager, client.id, "hi", now=at(5))
    await _fail(order, 20, "evt-1", "card_declined")
    [item] = await ImportantItem.all()
    await important.mark_seen(manager, item.id, now=at(21))
    await _fail(order, 40, "evt-2", "insufficient_funds")
    [again] = await ImportantItem.all()
    assert (again.id, again.failed_at, again.reason, again.seen_at) == (item.id, at(40), "insufficient_funds", None)
    assert await Outbox.filter(kind="important.created").count() == 2


async def test_a_later_payment_resolves_the_open_items(db):
    shop = await make_shop(managers=1)
    manager = shop.managers[0]
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    await dialogs.record_outbound(manager, client.id, "hi", now=at(5))
    await _fail(order, 20)
    await apply_payment(PaymentNotice("generic", "evt-paid", str(order.id), PaymentResult.PAID, occurred_at=at(30)), now=at(31))
    [item] = await ImportantItem.all()
    assert item.resolved_at == at(31)
    assert await important.open_items(manager) == []
    assert await Outbox.filter(kind="important.resolved", employee_id=manager.id).count() == 1


async def test_only_the_holder_clears_his_bell(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    await dialogs.record_outbound(shop.managers[0], client.id, "hi", now=at(5))
    await _fail(order, 20)
    [item] = await ImportantItem.all()
    with pytest.raises(NotAllowed):
        await important.mark_seen(shop.managers[1], item.id)
    other = await make_shop(managers=1)
    with pytest.raises(NotFound):
        await important.mark_seen(other.managers[0], item.id)
    seen = await important.mark_seen(shop.managers[0], item.id, now=at(25))
    assert seen.seen_at == at(25)


async def test_taking_shows_every_holder_who_took_it(db):
    shop = await make_shop(managers=3)
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    for manager in shop.managers:
        await dialogs.record_outbound(manager, client.id, "hi", now=at(5))
    await _fail(order, 20)
    mine = await ImportantItem.get(employee_id=shop.managers[1].id)
    await important.take(shop.managers[1], mine.id, now=at(22))
    items = await ImportantItem.filter(order_id=order.id)
    assert {(i.taken_by_id, i.taken_at) for i in items} == {(shop.managers[1].id, at(22))}
    assert await Outbox.filter(kind="important.taken").count() == 3


async def test_the_first_taker_wins(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    for manager in shop.managers:
        await dialogs.record_outbound(manager, client.id, "hi", now=at(5))
    await _fail(order, 20)
    first = await ImportantItem.get(employee_id=shop.managers[0].id)
    second = await ImportantItem.get(employee_id=shop.managers[1].id)
    await important.take(shop.managers[0], first.id)
    await important.take(shop.managers[1], second.id)
    assert (await reload(second)).taken_by_id == shop.managers[0].id
