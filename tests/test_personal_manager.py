"""SPEC §2: a client's personal manager, set from the contact card or any order, shown on every order of his."""

from __future__ import annotations

import asyncio

import pytest

from sales import accounts
from sales.audit import client_history
from sales.clients import (
    client_from_telegram,
    find_or_create_client,
    normalize_email,
    orders_of_personal_manager,
    personal_manager_of_order,
    set_client_email,
    set_personal_manager,
    set_personal_manager_from_order,
    update_notes,
)
from sales.errors import Invalid, NotAllowed, NotFound
from sales.orders import create_order
from storage.models import AssignmentReason, Client, Outbox
from tests.factories import make_shop, new_client, reload


async def _order_for(shop, email):
    client = await find_or_create_client(shop.account.id, email=email)
    return await create_order(shop.account.id, client_id=client.id, offer_id=shop.offer.id, widget_id=shop.widget.id)


def test_email_match_ignores_case_and_surrounding_spaces():
    assert normalize_email("  Anna.Client@Example.COM ") == "anna.client@example.com"


@pytest.mark.parametrize("bad", ["", "anna", "anna@", "@example.com", "an na@example.com", "a@b", "x" * 250 + "@ex.com"])
def test_an_invalid_email_is_refused_naming_the_field(bad):
    with pytest.raises(Invalid) as error:
        normalize_email(bad)
    assert error.value.field == "email"


async def test_the_same_email_in_other_case_and_spaces_is_the_same_client(db):
    shop = await make_shop(managers=1)
    first = await find_or_create_client(shop.account.id, email="Anna@Example.com")
    again = await find_or_create_client(shop.account.id, email="  anna@example.COM  ")
    assert first.id == again.id
    assert await Client.filter(account_id=shop.account.id).count() == 1


async def test_personal_manager_set_on_one_order_shows_on_every_order_of_that_email(db):
    shop = await make_shop(managers=2)
    first = await _order_for(shop, "Petro@Example.com")
    second = await _order_for(shop, " petro@example.com ")
    third = await _order_for(shop, "someone.else@example.com")
    await set_personal_manager_from_order(shop.owner, first.id, shop.managers[1].id)
    assert (await personal_manager_of_order(second)).id == shop.managers[1].id
    assert (await personal_manager_of_order(first)).id == shop.managers[1].id
    assert await personal_manager_of_order(third) is None


async def test_personal_manager_is_independent_of_the_order_manager(db):
    shop = await make_shop(managers=2)
    order = await _order_for(shop, "c@example.com")
    other = next(m for m in shop.managers if m.id != order.order_manager_id)
    await set_personal_manager_from_order(shop.admin, order.id, other.id)
    assert (await reload(order)).order_manager_id != other.id
    assert (await personal_manager_of_order(order)).id == other.id


async def test_personal_manager_set_in_the_contact_card(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    await set_personal_manager(shop.owner, client.id, shop.managers[0].id)
    assert (await reload(client)).personal_manager_id == shop.managers[0].id


async def test_filter_by_personal_manager_gives_the_orders_of_all_his_clients(db):
    shop = await make_shop(managers=2)
    mine = [await _order_for(shop, "a@example.com"), await _order_for(shop, "b@example.com")]
    mine.append(await _order_for(shop, "a@example.com"))
    await _order_for(shop, "c@example.com")
    for email in ("a@example.com", "b@example.com"):
        client = await Client.get(account_id=shop.account.id, email=email)
        await set_personal_manager(shop.owner, client.id, shop.managers[0].id)
    found = await orders_of_personal_manager(shop.account.id, shop.managers[0].id)
    assert sorted(o.id for o in found) == sorted(o.id for o in mine)


async def test_the_filter_follows_a_change_of_personal_manager(db):
    shop = await make_shop(managers=2)
    orders = [await _order_for(shop, "moved@example.com"), await _order_for(shop, "moved@example.com")]
    client = await Client.get(account_id=shop.account.id, email="moved@example.com")
    first, second = shop.managers
    await set_personal_manager(shop.owner, client.id, first.id)
    assert sorted(o.id for o in await orders_of_personal_manager(shop.account.id, first.id)) == sorted(
        o.id for o in orders)
    await set_personal_manager_from_order(shop.owner, orders[0].id, second.id)
    assert await orders_of_personal_manager(shop.account.id, first.id) == []
    assert len(await orders_of_personal_manager(shop.account.id, second.id)) == 2
    await set_personal_manager(shop.owner, client.id, None)
    assert await orders_of_personal_manager(shop.account.id, second.id) == []


async def test_a_new_order_of_a_client_with_a_personal_manager_is_in_his_filter_at_once(db):
    shop = await make_shop(managers=2)
    client = await find_or_create_client(shop.account.id, email="kept@example.com")
    await set_personal_manager(shop.owner, client.id, shop.managers[1].id)
    order = await _order_for(shop, "kept@example.com")
    assert [o.id for o in await orders_of_personal_manager(shop.account.id, shop.managers[1].id)] == [order.id]


async def test_orders_of_a_telegram_client_merged_by_email_take_the_known_clients_personal_manager(db):
    shop = await make_shop(managers=2)
    known = await find_or_create_client(shop.account.id, email="merge@example.com")
    await set_personal_manager(shop.owner, known.id, shop.managers[0].id)
    stranger, _ = await client_from_telegram(shop.account.id, 555_001, name="Tg")
    order = await create_order(shop.account.id, client_id=stranger.id, offer_id=shop.offer.id)
    assert order.personal_manager_id is None
    merged = await set_client_email(stranger, "merge@example.com")
    assert merged.id == known.id
    assert [o.id for o in await orders_of_personal_manager(shop.account.id, shop.managers[0].id)] == [order.id]


async def test_personal_manager_change_is_audited_and_pings_him(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    await set_personal_manager(shop.owner, client.id, shop.managers[0].id)
    await set_personal_manager(shop.admin, client.id, shop.managers[1].id)
    logs = await client_history(client.id)
    assert [(l.from_employee_id, l.to_employee_id, l.reason, l.actor_id) for l in logs] == [
        (None, shop.managers[0].id, AssignmentReason.MANUAL, shop.owner.id),
        (shop.managers[0].id, shop.managers[1].id, AssignmentReason.MANUAL, shop.admin.id),
    ]
    # The ping names the client: the Telegram notice reads his name from the row's client.
    pings = await Outbox.filter(kind="client.personal_manager", employee_id=shop.managers[1].id).values_list(
        "client_id", "payload")
    assert pings == [(client.id, {"client_id": client.id})]


async def test_manager_may_make_himself_personal_manager_of_a_client_without_one(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    await set_personal_manager(shop.managers[0], client.id, shop.managers[0].id)
    assert (await reload(client)).personal_manager_id == shop.managers[0].id
    assert (await client_history(client.id))[-1].reason == AssignmentReason.TAKEN


async def test_manager_may_not_take_another_managers_client_or_set_someone_else(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    await set_personal_manager(shop.owner, client.id, shop.managers[0].id)
    with pytest.raises(NotAllowed):
        await set_personal_manager(shop.managers[1], client.id, shop.managers[1].id)
    other = await new_client(shop)
    with pytest.raises(NotAllowed):
        await set_personal_manager(shop.managers[1], other.id, shop.managers[0].id)
    assert (await reload(client)).personal_manager_id == shop.managers[0].id


async def test_a_deactivated_employee_cannot_become_personal_manager(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    await accounts.update_employee(shop.owner, shop.managers[0].id, active=False)
    with pytest.raises(NotAllowed) as error:
        await set_personal_manager(shop.owner, client.id, shop.managers[0].id)
    assert (error.value.message, error.value.field) == ("a deactivated employee cannot be assigned", "employee_id")
    assert (await reload(client)).personal_manager_id is None


async def test_another_accounts_client_is_not_found(db):
    shop = await make_shop(managers=1)
    other = await make_shop(managers=1)
    theirs = await new_client(other)
    with pytest.raises(NotFound):
        await set_personal_manager(shop.owner, theirs.id, shop.managers[0].id)


async def test_contact_card_notes_are_kept_and_limited(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    await update_notes(shop.managers[0], client.id, "Prefers calls after 18:00 <b>not bold</b>")
    assert (await reload(client)).notes == "Prefers calls after 18:00 <b>not bold</b>"
    with pytest.raises(Invalid):
        await update_notes(shop.managers[0], client.id, "x" * 10_001)


async def test_the_same_new_client_created_twice_at_once_is_one_client(db):
    shop = await make_shop(managers=0)
    created = await asyncio.gather(
        *(find_or_create_client(shop.account.id, email="Race@Example.com") for _ in range(5))
    )
    assert len({c.id for c in created}) == 1
    assert await Client.filter(account_id=shop.account.id).count() == 1
