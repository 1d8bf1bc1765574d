"""SPEC §3.3–3.6: a failed payment of a flagged offer reaches exactly the employees who chatted with the client."""

from __future__ import annotations

import pytest

from sales import accounts, dialogs, important, outbox
from sales.clients import find_or_create_client
from sales.errors import NotAllowed, NotFound
from sales.orders import create_order, set_status
from sales.payments import PaymentNotice, apply_payment
from storage.models import Chat, DialogRecord, ImportantItem, Order, OrderStatus, Outbox, PaymentEvent, PaymentResult
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


async def _pay(order, minute, event_id="evt-paid", received=None):
    return await apply_payment(
        PaymentNotice("generic", event_id, str(order.id), PaymentResult.PAID, occurred_at=at(minute)),
        now=at(minute if received is None else received),
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


async def test_an_employee_who_wrote_before_the_failure_and_again_after_it_gets_an_item(db):
    # The failure event arrives late: by then he has written again, after the moment the payment failed.
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    await dialogs.record_outbound(shop.managers[0], client.id, "before", now=at(5))
    await dialogs.record_outbound(shop.managers[0], client.id, "after", now=at(25))
    await _fail(order, 20)
    assert await _holders(order) == [shop.managers[0].id]


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


async def test_the_presented_item_carries_the_orders_amount_currency_and_offer_title(db):
    from inbox.present import important_out

    shop = await make_shop(managers=1)
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    await dialogs.record_outbound(shop.managers[0], client.id, "hi", now=at(5))
    await _fail(order, 20)
    [out] = await important_out(await ImportantItem.filter(order_id=order.id), "https://closer.test")
    assert (out.order_id, out.order_url, out.amount, out.currency, out.offer.title) == (
        order.id, f"https://closer.test/inbox/orders?order={order.id}", "200.00", "EUR", "Flagged course",
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
    await _pay(order, 30, received=31)
    [item] = await ImportantItem.all()
    assert item.resolved_at == at(31)
    assert await important.open_items(manager) == []
    assert await Outbox.filter(kind="important.resolved", employee_id=manager.id).count() == 1


async def test_cancelling_the_order_resolves_its_open_items(db):
    shop = await make_shop(managers=1)
    manager = shop.managers[0]
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    await dialogs.record_outbound(manager, client.id, "hi", now=at(5))
    await _fail(order, 20)
    await set_status(shop.admin, order.id, OrderStatus.CANCELLED, now=at(40))
    [item] = await ImportantItem.all()
    assert item.resolved_at == at(40)
    assert await important.open_items(manager) == []
    assert await Outbox.filter(kind="important.resolved", employee_id=manager.id).count() == 1


async def test_a_payment_link_sent_again_leaves_the_items_open(db):
    shop = await make_shop(managers=1)
    manager = shop.managers[0]
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    await dialogs.record_outbound(manager, client.id, "hi", now=at(5))
    await _fail(order, 20)
    await set_status(shop.admin, order.id, OrderStatus.AWAITING_PAYMENT, now=at(40))
    assert [i.resolved_at for i in await ImportantItem.all()] == [None]


async def test_only_the_holder_clears_his_bell(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    await dialogs.record_outbound(shop.managers[0], client.id, "hi", now=at(5))
    await _fail(order, 20)
    [item] = await ImportantItem.all()
    with pytest.raises(NotAllowed) as refused:
        await important.mark_seen(shop.managers[1], item.id)
    # What the API answers (SPEC §8): the reason and the field it is about.
    assert (refused.value.message, refused.value.field) == ("this item is someone else's", "important_item_id")
    other = await make_shop(managers=1)
    with pytest.raises(NotFound) as unknown:
        await important.mark_seen(other.managers[0], item.id)
    assert (unknown.value.message, unknown.value.field) == (f"important_item {item.id} not found", "important_item_id")
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


async def test_a_message_at_the_very_moment_of_the_failure_is_not_before_it(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    await dialogs.record_outbound(shop.managers[0], client.id, "hi", now=at(20))
    await _fail(order, 20)
    assert await _holders(order) == []


async def test_another_accounts_employee_who_talks_to_the_same_person_gets_nothing(db):
    shop = await make_shop(managers=1)
    rival = await make_shop(managers=1)
    client = await new_client(shop, email="same.person@example.com")
    twin = await find_or_create_client(rival.account.id, email="same.person@example.com", name="Client")
    await dialogs.record_outbound(shop.managers[0], client.id, "hi", now=at(5))
    await dialogs.record_outbound(rival.managers[0], twin.id, "hi from the rival", now=at(5))
    order = await _flagged_order(shop, client)
    await _fail(order, 20)
    assert await _holders(order) == [shop.managers[0].id]
    assert await important.open_items(rival.managers[0]) == []


async def test_a_dialog_record_of_another_accounts_employee_never_counts(db):
    # Defence in depth: even a stray record on this chat must not put one account's chat in front of another's staff.
    shop = await make_shop(managers=1)
    rival = await make_shop(managers=1)
    client = await new_client(shop)
    await dialogs.record_inbound(client, "hello", now=at(1))
    chat = await Chat.get(client_id=client.id)
    await DialogRecord.create(
        account_id=rival.account.id, employee_id=rival.managers[0].id, chat_id=chat.id,
        first_at=at(2), last_at=at(2), message_count=1,
    )
    order = await _flagged_order(shop, client)
    await _fail(order, 20)
    assert await ImportantItem.all().count() == 0


async def test_the_order_manager_who_never_wrote_gets_nothing(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    writer = next(m for m in shop.managers if m.id != order.order_manager_id)
    await dialogs.record_outbound(writer, client.id, "hi", now=at(5))
    await _fail(order, 20)
    assert await _holders(order) == [writer.id]


async def test_a_new_failure_reaches_whoever_wrote_since_the_first_one_once_each(db):
    shop = await make_shop(managers=2)
    first, second = shop.managers
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    await dialogs.record_outbound(first, client.id, "hi", now=at(5))
    await _fail(order, 20, "evt-1")
    [earlier] = await ImportantItem.all()
    await dialogs.record_outbound(second, client.id, "hello", now=at(25))
    outcome = await _fail(order, 40, "evt-2")
    assert await _holders(order) == sorted([first.id, second.id])
    assert earlier.id in outcome.important_item_ids
    assert {i.failed_at for i in await ImportantItem.all()} == {at(40)}


async def test_open_items_are_mine_only_newest_failure_first(db):
    shop = await make_shop(managers=2)
    writer, silent = shop.managers
    older = await _flagged_order(shop, await new_client(shop))
    newer = await _flagged_order(shop, await new_client(shop))
    for order in (older, newer):
        await dialogs.record_outbound(writer, order.client_id, "hi", now=at(5))
    await _fail(older, 20, "evt-older")
    await _fail(newer, 30, "evt-newer")
    assert [i.order_id for i in await important.open_items(writer)] == [newer.id, older.id]
    assert await important.open_items(silent) == []
    await _pay(newer, 50)
    assert [i.order_id for i in await important.open_items(writer)] == [older.id]


async def test_open_items_order_by_failure_time_even_when_reported_late_then_newest_item_and_honour_the_limit(db):
    shop = await make_shop(managers=1)
    writer = shop.managers[0]
    late, reported_late, twin = [await _flagged_order(shop, await new_client(shop)) for _ in range(3)]
    for order in (late, reported_late, twin):
        await dialogs.record_outbound(writer, order.client_id, "hi", now=at(5))
    await _fail(late, 30, "evt-late")
    await _fail(reported_late, 20, "evt-reported-late")  # a younger item of an older failure
    await _fail(twin, 30, "evt-twin")  # the same moment as `late`: the newer item first
    assert [i.order_id for i in await important.open_items(writer)] == [twin.id, late.id, reported_late.id]
    assert [i.order_id for i in await important.open_items(writer, limit=2)] == [twin.id, late.id]


async def test_a_deactivated_employee_cannot_read_or_touch_his_items(db):
    shop = await make_shop(managers=1)
    manager = shop.managers[0]
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    await dialogs.record_outbound(manager, client.id, "hi", now=at(5))
    await _fail(order, 20)
    [item] = await ImportantItem.all()
    gone = await accounts.update_employee(shop.owner, manager.id, active=False)
    for attempt in (important.open_items(gone), important.mark_seen(gone, item.id), important.take(gone, item.id)):
        with pytest.raises(NotAllowed):
            await attempt
    item = await reload(item)
    assert (item.seen_at, item.taken_by_id) == (None, None)


async def test_a_refused_mark_seen_leaves_the_bell_on(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    await dialogs.record_outbound(shop.managers[0], client.id, "hi", now=at(5))
    await _fail(order, 20)
    [item] = await ImportantItem.all()
    with pytest.raises(NotAllowed):
        await important.mark_seen(shop.owner, item.id, now=at(21))
    assert (await reload(item)).seen_at is None


async def test_taking_writes_one_outbox_row_per_item_to_its_holder(db):
    shop = await make_shop(managers=3)
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    for manager in shop.managers:
        await dialogs.record_outbound(manager, client.id, "hi", now=at(5))
    await _fail(order, 20)
    taker = shop.managers[2]
    mine = await ImportantItem.get(employee_id=taker.id)
    taken = await important.take(taker, mine.id, now=at(22))
    assert {i.taken_by_id for i in taken} == {taker.id}
    rows = await Outbox.filter(kind="important.taken").order_by("employee_id")
    assert [r.employee_id for r in rows] == sorted(m.id for m in shop.managers)
    assert {r.payload["taken_by"] for r in rows} == {taker.id}
    assert sorted(r.payload["important_item_id"] for r in rows) == sorted(i.id for i in taken)


async def test_taking_twice_changes_nothing_more(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    for manager in shop.managers:
        await dialogs.record_outbound(manager, client.id, "hi", now=at(5))
    await _fail(order, 20)
    mine = await ImportantItem.get(employee_id=shop.managers[0].id)
    await important.take(shop.managers[0], mine.id, now=at(22))
    await important.take(shop.managers[0], mine.id, now=at(23))
    assert {i.taken_at for i in await ImportantItem.all()} == {at(22)}
    assert await Outbox.filter(kind="important.taken").count() == 2


async def test_only_the_holder_may_take_his_item(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    await dialogs.record_outbound(shop.managers[0], client.id, "hi", now=at(5))
    await _fail(order, 20)
    [item] = await ImportantItem.all()
    with pytest.raises(NotAllowed):
        await important.take(shop.managers[1], item.id)
    other = await make_shop(managers=1)
    with pytest.raises(NotFound):
        await important.take(other.owner, item.id)
    assert (await reload(item)).taken_by_id is None
    assert await Outbox.filter(kind="important.taken").count() == 0


async def test_taking_a_resolved_item_changes_nothing(db):
    shop = await make_shop(managers=1)
    manager = shop.managers[0]
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    await dialogs.record_outbound(manager, client.id, "hi", now=at(5))
    await _fail(order, 20)
    await _pay(order, 30)
    [item] = await ImportantItem.all()
    assert await important.take(manager, item.id, now=at(31)) == []
    assert (await reload(item)).taken_by_id is None


async def test_each_alert_names_its_item_order_offer_and_client(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    for manager in shop.managers:
        await dialogs.record_outbound(manager, client.id, "hi", now=at(5))
    outcome = await _fail(order, 20)
    rows = await Outbox.filter(kind="important.created").order_by("id")
    assert sorted(r.payload["important_item_id"] for r in rows) == sorted(outcome.important_item_ids)
    assert {(r.client_id, r.payload["order_id"], r.payload["offer_id"]) for r in rows} == {
        (client.id, order.id, shop.flagged_offer.id)
    }
    assert {r.account_id for r in rows} == {shop.account.id}


async def test_items_and_alerts_are_written_with_the_failure_or_not_at_all(db, monkeypatch):
    # SPEC §5.2: a crash half-way through the alerts leaves no item, no alert, no event and no status change,
    # so the provider's resend delivers them all, once.
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    for manager in shop.managers:
        await dialogs.record_outbound(manager, client.id, "hi", now=at(5))
    real_enqueue_many = outbox.enqueue_many

    async def crash_after_the_first(rows):
        await real_enqueue_many(rows[:1])
        raise RuntimeError("crash while queueing the second alert")

    monkeypatch.setattr(outbox, "enqueue_many", crash_after_the_first)
    with pytest.raises(RuntimeError):
        await _fail(order, 20)
    assert await ImportantItem.all().count() == 0
    assert await Outbox.filter(kind="important.created").count() == 0
    assert await PaymentEvent.all().count() == 0
    assert (await Order.get(id=order.id)).status == OrderStatus.NEW
    monkeypatch.undo()
    await _fail(order, 20)
    assert await ImportantItem.all().count() == 2
    assert await Outbox.filter(kind="important.created").count() == 2


async def test_paying_one_order_resolves_only_its_items_and_says_which(db):
    shop = await make_shop(managers=1)
    manager = shop.managers[0]
    client = await new_client(shop)
    first, second = await _flagged_order(shop, client), await _flagged_order(shop, client)
    await dialogs.record_outbound(manager, client.id, "hi", now=at(5))
    await _fail(first, 20, event_id="evt-fail-1")
    await _fail(second, 21, event_id="evt-fail-2")
    await _pay(first, 30)
    resolved = await ImportantItem.get(order_id=first.id)
    still_open = await ImportantItem.get(order_id=second.id)
    assert (resolved.resolved_at, still_open.resolved_at) == (at(30), None)
    assert [i.id for i in await important.open_items(manager)] == [still_open.id]
    [notice] = await Outbox.filter(kind="important.resolved")
    assert (notice.employee_id, notice.payload) == (manager.id, {"important_item_id": resolved.id,
                                                                  "order_id": first.id})


async def test_a_second_failure_of_another_order_makes_its_own_item_with_its_event(db):
    shop = await make_shop(managers=1)
    manager = shop.managers[0]
    client = await new_client(shop)
    first, second = await _flagged_order(shop, client), await _flagged_order(shop, client)
    await dialogs.record_outbound(manager, client.id, "hi", now=at(5))
    await _fail(first, 20, event_id="evt-fail-1")
    await _fail(second, 21, event_id="evt-fail-2")
    items = {i.order_id: i for i in await ImportantItem.filter(employee_id=manager.id)}
    events = {e.event_id: e.id for e in await PaymentEvent.all()}
    assert {order_id: item.payment_event_id for order_id, item in items.items()} == {
        first.id: events["evt-fail-1"], second.id: events["evt-fail-2"]}


async def test_a_refused_take_says_why_and_names_the_item(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    order = await _flagged_order(shop, client)
    await dialogs.record_outbound(shop.managers[0], client.id, "hi", now=at(5))
    await _fail(order, 20)
    [item] = await ImportantItem.all()
    with pytest.raises(NotAllowed) as refused:
        await important.take(shop.managers[1], item.id)
    assert (refused.value.message, refused.value.field) == ("this item is someone else's", "important_item_id")
