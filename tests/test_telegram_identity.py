"""The Telegram side of the rules: clients from Telegram, the e-mail asked once, staff invites, message fan-out."""

from __future__ import annotations

import pytest

from sales import dialogs
from sales.clients import (
    client_from_telegram,
    find_or_create_client,
    pick_language,
    set_client_email,
    set_language,
    set_personal_manager,
    skip_email,
)
from sales.errors import Conflict, Invalid, NotAllowed
from sales.orders import create_order
from sales.telegram_link import create_invite, redeem_invite
from storage.models import Chat, Client, DialogRecord, Message, Outbox
from tests.factories import at, make_shop, new_client, reload


@pytest.mark.parametrize(("code", "expected"), [("uk", "uk"), ("es-MX", "es"), ("RU", "ru"), ("de", "en"), (None, "en")])
def test_language_comes_from_telegram_among_the_four(code, expected):
    assert pick_language(code) == expected


async def test_a_telegram_user_becomes_one_client_with_his_widget(db):
    shop = await make_shop(managers=1)
    client, new = await client_from_telegram(shop.account.id, 5001, name="Ann", language_code="uk", widget_code=shop.widget.code)
    again, new_again = await client_from_telegram(shop.account.id, 5001, widget_code="default")
    assert (new, new_again) == (True, False)
    assert again.id == client.id and again.widget_id == shop.widget.id and again.language == "uk"


async def test_an_unknown_widget_code_is_ignored(db):
    shop = await make_shop(managers=1)
    client, _ = await client_from_telegram(shop.account.id, 5001, widget_code="no-such-widget")
    assert client.widget_id is None


async def test_the_same_telegram_user_is_a_different_client_in_another_account(db):
    shop, other = await make_shop(managers=0), await make_shop(managers=0)
    mine, _ = await client_from_telegram(shop.account.id, 5001)
    theirs, _ = await client_from_telegram(other.account.id, 5001)
    assert mine.id != theirs.id


async def test_orders_from_the_bot_go_through_the_clients_widget(db):
    shop = await make_shop(managers=1)
    client, _ = await client_from_telegram(shop.account.id, 5001, widget_code=shop.widget.code)
    order = await create_order(shop.account.id, client_id=client.id, offer_id=shop.offer.id, widget_id=client.widget_id)
    assert order.widget_id == shop.widget.id


async def test_giving_an_email_stores_it_normalised_and_it_is_asked_once(db):
    shop = await make_shop(managers=0)
    client, _ = await client_from_telegram(shop.account.id, 5001)
    client = await set_client_email(client, "  Ann@Example.COM ")
    assert (client.email, client.email_asked) == ("ann@example.com", True)


async def test_skipping_the_email_counts_as_asked(db):
    shop = await make_shop(managers=0)
    client, _ = await client_from_telegram(shop.account.id, 5001)
    await skip_email(client)
    assert (await reload(client)).email_asked is True


async def test_an_invalid_email_changes_nothing(db):
    shop = await make_shop(managers=0)
    client, _ = await client_from_telegram(shop.account.id, 5001)
    with pytest.raises(Invalid):
        await set_client_email(client, "not an email")
    assert (await reload(client)).email is None


async def test_a_known_email_joins_the_telegram_user_to_that_client_with_his_history(db):
    shop = await make_shop(managers=2)
    known = await find_or_create_client(shop.account.id, email="ann@example.com", name="Ann Known")
    order = await create_order(shop.account.id, client_id=known.id, offer_id=shop.offer.id, widget_id=shop.widget.id)
    await set_personal_manager(shop.owner, known.id, shop.managers[1].id)
    await dialogs.record_outbound(shop.managers[0], known.id, "hello from the web", now=at(1))
    telegram, _ = await client_from_telegram(shop.account.id, 5001, name="Ann TG")
    await dialogs.record_inbound(telegram, "hi from telegram", now=at(2))
    await dialogs.record_outbound(shop.managers[0], telegram.id, "hi again", now=at(3))

    merged = await set_client_email(telegram, "ANN@example.com")

    assert merged.id == known.id and merged.telegram_user_id == 5001
    assert not await Client.exists(id=telegram.id)
    assert (await reload(order)).client_id == known.id
    assert merged.personal_manager_id == shop.managers[1].id
    assert await Chat.filter(client_id=known.id).count() == 1
    texts = [m.text for m in await Message.filter(chat__client_id=known.id).order_by("created_at")]
    assert texts == ["hello from the web", "hi from telegram", "hi again"]
    record = await DialogRecord.get(employee_id=shop.managers[0].id)
    assert (record.first_at, record.last_at, record.message_count) == (at(1), at(3), 2)


async def test_an_email_of_another_telegram_user_is_refused(db):
    shop = await make_shop(managers=0)
    first, _ = await client_from_telegram(shop.account.id, 5001)
    await set_client_email(first, "ann@example.com")
    second, _ = await client_from_telegram(shop.account.id, 5002)
    with pytest.raises(Conflict):
        await set_client_email(second, "ann@example.com")


async def test_client_language_is_one_of_four(db):
    shop = await make_shop(managers=0)
    client, _ = await client_from_telegram(shop.account.id, 5001)
    await set_language(client, "es")
    assert (await reload(client)).language == "es"
    with pytest.raises(Invalid):
        await set_language(client, "de")


async def test_an_invite_links_the_employee_once(db):
    shop = await make_shop(managers=1)
    manager = shop.managers[0]
    invite = await create_invite(shop.owner, manager.id, now=at(0))
    linked = await redeem_invite(shop.account.id, invite.token, 777, language="uk", now=at(1))
    assert (linked.id, linked.telegram_user_id, linked.telegram_chat_id, linked.language) == (manager.id, 777, 777, "uk")
    with pytest.raises(Invalid):
        await redeem_invite(shop.account.id, invite.token, 888, now=at(2))


async def test_an_expired_invite_or_another_accounts_invite_does_not_link(db):
    shop, other = await make_shop(managers=1), await make_shop(managers=1)
    invite = await create_invite(shop.owner, shop.managers[0].id, now=at(0))
    with pytest.raises(Invalid):
        await redeem_invite(other.account.id, invite.token, 777, now=at(1))
    with pytest.raises(Invalid):
        await redeem_invite(shop.account.id, invite.token, 777, now=at(3 * 24 * 60))
    assert (await reload(shop.managers[0])).telegram_user_id is None


async def test_a_manager_may_invite_only_himself(db):
    shop = await make_shop(managers=2)
    await create_invite(shop.managers[0], shop.managers[0].id)
    with pytest.raises(NotAllowed):
        await create_invite(shop.managers[0], shop.managers[1].id)


async def test_a_client_message_goes_to_his_order_and_personal_managers(db):
    shop = await make_shop(managers=3)
    client = await new_client(shop)
    order = await create_order(shop.account.id, client_id=client.id, offer_id=shop.offer.id, widget_id=shop.widget.id)
    personal = next(m for m in shop.managers if m.id != order.order_manager_id)
    await set_personal_manager(shop.owner, client.id, personal.id)
    message = await dialogs.record_inbound(client, "where is my course?")
    rows = await Outbox.filter(kind="message.to_staff").order_by("employee_id")
    assert sorted(r.employee_id for r in rows) == sorted({order.order_manager_id, personal.id})
    assert all(r.payload == {"message_id": message.id} and r.client_id == client.id for r in rows)


async def test_a_message_of_a_client_nobody_manages_reaches_the_owner_when_there_is_no_manager(db):
    # SPEC §10.2: a lead is never left to nobody; with no manager in the rotation the owner answers.
    shop = await make_shop(managers=0)
    client = await new_client(shop)
    await dialogs.record_inbound(client, "hello?")
    rows = await Outbox.filter(kind="message.to_staff").values_list("employee_id", flat=True)
    assert rows == [shop.owner.id]
    assert await Message.filter(chat__client_id=client.id).count() == 1


async def test_an_employee_message_is_queued_for_the_clients_telegram(db):
    shop = await make_shop(managers=1)
    client, _ = await client_from_telegram(shop.account.id, 5001)
    message = await dialogs.record_outbound(shop.managers[0], client.id, "Here is the link")
    row = await Outbox.get(kind="message.to_client")
    assert (row.client_id, row.payload) == (client.id, {"message_id": message.id})


async def test_no_telegram_delivery_for_a_client_without_telegram(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    await dialogs.record_outbound(shop.managers[0], client.id, "by e-mail only")
    assert await Outbox.filter(kind="message.to_client").count() == 0


# --- who writes to the bot (the identity middleware's one lookup for a customer)

async def test_the_sender_is_a_known_client_or_nobody_known(db):
    from sales.clients import telegram_sender

    shop = await make_shop(managers=1)
    client, _ = await client_from_telegram(shop.account.id, 5001)
    employee, found = await telegram_sender(shop.account.id, 5001)
    assert (employee, found.id, found.telegram_user_id) == (None, client.id, 5001)
    assert await telegram_sender(shop.account.id, 5002) == (None, None)


async def test_a_linked_employee_is_staff_even_when_he_is_also_a_client(db):
    from sales.clients import telegram_sender
    from storage.models import Employee

    shop = await make_shop(managers=2)
    await Employee.filter(id=shop.managers[0].id).update(telegram_user_id=5001)
    await Employee.filter(id=shop.managers[1].id).update(telegram_user_id=5003)
    await client_from_telegram(shop.account.id, 5001)  # he wrote to the bot before he was linked
    employee, client = await telegram_sender(shop.account.id, 5001)
    assert (employee.id, client) == (shop.managers[0].id, None)
    employee, client = await telegram_sender(shop.account.id, 5003)  # staff only, no client row
    assert (employee.id, client) == (shop.managers[1].id, None)


async def test_a_deactivated_employee_or_another_accounts_one_is_no_staff_here(db):
    from sales.clients import telegram_sender
    from storage.models import Employee

    shop, other = await make_shop(managers=1), await make_shop(managers=1)
    client, _ = await client_from_telegram(shop.account.id, 5001)
    await Employee.filter(id=other.managers[0].id).update(telegram_user_id=5001)
    employee, found = await telegram_sender(shop.account.id, 5001)
    assert (employee, found.id) == (None, client.id)
    await Employee.filter(id=shop.managers[0].id).update(telegram_user_id=5001, active=False)
    employee, found = await telegram_sender(shop.account.id, 5001)
    assert (employee, found.id) == (None, client.id)
    assert await telegram_sender(shop.account.id, 5009) == (None, None)
