"""Reading rules (SPEC §2.3, §10.7, §11.4): who sees which orders, pages of the asked size, refusals of forged
cursors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sales import dialogs, listing, orders, recovered
from sales.assignment import detach_idle_orders
from sales.clients import set_personal_manager
from sales.errors import Invalid, NotFound
from sales.payments import PaymentNotice, apply_payment
from sales.timeline import timeline
from storage.models import Chat, OrderStatus, PaymentResult
from tests.factories import at, make_shop, new_client

DAY = 24 * 60  # minutes


async def _order(shop, minute: float = 0):
    client = await new_client(shop)
    return await orders.create_order(shop.account.id, client_id=client.id, offer_id=shop.offer.id,
                                     widget_id=shop.widget.id, now=at(minute))


async def test_a_manager_lists_unassigned_open_orders_but_not_unassigned_closed_ones(db):
    shop = await make_shop(managers=2)
    waiting, cancelled = await _order(shop, 0), await _order(shop, 1)
    # Their managers did nothing for the account's detach_after (a day): both lose them.
    assert sorted(await detach_idle_orders(at(DAY + 2))) == sorted([waiting.id, cancelled.id])
    await orders.set_status(shop.admin, cancelled.id, OrderStatus.CANCELLED, now=at(DAY + 3))
    outsider = await listing.orders(shop.managers[1], listing.OrderFilter(unassigned=True))
    assert [o.id for o in outsider.rows] == [waiting.id]
    everyone = await listing.orders(shop.admin, listing.OrderFilter(unassigned=True))
    assert [o.id for o in everyone.rows] == [cancelled.id, waiting.id]


async def test_payment_events_come_a_page_of_the_asked_size_at_a_time(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    results = [PaymentResult.FAILED, PaymentResult.PAID, PaymentResult.REFUNDED]
    for minute, result in enumerate(results, start=1):
        await apply_payment(PaymentNotice("generic", f"evt-{minute}", str(order.id), result, occurred_at=at(minute)),
                            now=at(minute))
    first = await listing.payment_events(shop.admin, limit=2)
    assert [e.event_id for e in first.rows] == ["evt-3", "evt-2"]
    assert first.next_cursor is not None
    rest = await listing.payment_events(shop.admin, cursor=first.next_cursor, limit=2)
    assert ([e.event_id for e in rest.rows], rest.next_cursor) == (["evt-1"], None)


async def test_a_forged_timeline_cursor_is_refused_as_not_ours_naming_before(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    await dialogs.record_inbound(client, "hello", now=at(1))
    chat = await Chat.get(client_id=client.id)
    with pytest.raises(Invalid) as refused:
        await timeline(shop.admin, chat.id, before="garbage")
    assert (refused.value.message, refused.value.field) == ("not a cursor this server gave out", "before")


async def test_a_recovered_revenue_period_starting_before_year_one_in_utc_is_refused_naming_from(db):
    shop = await make_shop(managers=1)
    east = timezone(timedelta(hours=5))
    with pytest.raises(Invalid) as refused:
        await recovered.report(shop.owner, datetime(1, 1, 1, tzinfo=east), datetime(1, 2, 1, tzinfo=UTC))
    assert (refused.value.message, refused.value.field) == ("the period is out of range", "from")


async def test_another_managers_client_is_not_found_for_a_manager_naming_client_id(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    await set_personal_manager(shop.owner, client.id, shop.managers[0].id)
    with pytest.raises(NotFound) as refused:
        await listing.visible_client(shop.managers[1], client.id)
    assert (refused.value.message, refused.value.field) == (f"client {client.id} not found", "client_id")


async def test_a_cursor_naming_the_largest_id_an_int_key_holds_is_accepted(db):
    shop = await make_shop(managers=0)
    client = await new_client(shop)
    page = await listing.clients(shop.admin, cursor=listing._encode(datetime(2100, 1, 1, tzinfo=UTC), 2**31 - 1))
    assert [c.id for c in page.rows] == [client.id]


async def test_a_cursor_naming_an_id_beyond_an_int_key_is_refused_naming_cursor(db):
    shop = await make_shop(managers=0)
    await new_client(shop)
    with pytest.raises(Invalid) as refused:
        await listing.clients(shop.admin, cursor=listing._encode(datetime(2100, 1, 1, tzinfo=UTC), 2**31))
    assert (refused.value.message, refused.value.field) == ("not a cursor this server gave out", "cursor")


async def test_a_chat_whose_first_message_was_never_written_comes_after_the_chats_with_messages(db):
    shop = await make_shop(managers=1)
    silent = await new_client(shop)
    await Chat.create(account_id=shop.account.id, client_id=silent.id)  # no message: no last_message_at
    talking = await new_client(shop)
    await dialogs.record_inbound(talking, "hello", now=at(1))
    page = await listing.chats(shop.admin, listing.Tab.ALL)
    assert [c.client_id for c in page.rows] == [talking.id, silent.id]


async def test_a_page_holding_exactly_the_last_rows_has_no_next_cursor(db):
    shop = await make_shop(managers=0)
    older, newer = await new_client(shop), await new_client(shop)
    page = await listing.clients(shop.admin, limit=2)
    assert ([c.id for c in page.rows], page.next_cursor) == ([newer.id, older.id], None)


async def test_an_unknown_tab_is_refused_naming_tab(db):
    shop = await make_shop(managers=0)
    with pytest.raises(Invalid) as refused:
        await listing.chats(shop.admin, "archived")
    assert (refused.value.message, refused.value.field) == ("tab is mine, unassigned, important or all", "tab")


async def test_a_client_is_found_by_a_part_of_his_name_alone(db):
    shop = await make_shop(managers=0)
    wanted = await new_client(shop, email="o.b@example.com", name="Oksana Bilyk")
    await new_client(shop, name="Ivan Petrenko")
    page = await listing.clients(shop.admin, search="bILY")
    assert [c.id for c in page.rows] == [wanted.id]
