"""Accounts, staff, widgets and offers: the setup rules every other rule relies on."""

from __future__ import annotations

import pytest

from sales import accounts
from sales.errors import Conflict, Invalid, NotAllowed, NotFound
from storage.models import Employee, Offer, Role, RotationState, Widget
from tests.factories import make_shop, reload


async def test_a_new_account_has_exactly_one_owner_and_a_default_widget(db):
    account = await accounts.create_account("Acme", " Boss@Acme.test ", "long-enough")
    owners = await Employee.filter(account_id=account.id, role=Role.OWNER)
    assert [o.email for o in owners] == ["boss@acme.test"]
    widget = await Widget.get(account_id=account.id, is_default=True)
    assert await RotationState.exists(widget_id=widget.id)


async def test_passwords_are_hashed_with_argon2(db):
    account = await accounts.create_account("Acme", "boss@acme.test", "long-enough")
    owner = await Employee.get(account_id=account.id)
    assert owner.password_hash.startswith("$argon2")
    assert accounts.password_matches(owner.password_hash, "long-enough")
    assert not accounts.password_matches(owner.password_hash, "wrong-password")
    assert not accounts.password_matches(None, "long-enough")


async def test_a_short_password_is_refused(db):
    with pytest.raises(Invalid) as error:
        await accounts.create_account("Acme", "boss@acme.test", "short")
    assert error.value.field == "password"


async def test_no_second_owner_can_be_added(db):
    shop = await make_shop(managers=0)
    with pytest.raises(NotAllowed):
        await accounts.add_employee(shop.owner, email="x@shop.test", name="X", role=Role.OWNER)


async def test_the_owner_cannot_be_deactivated(db):
    shop = await make_shop(managers=0)
    with pytest.raises(NotAllowed):
        await accounts.update_employee(shop.admin, shop.owner.id, active=False)


async def test_a_manager_may_mark_only_himself_away(db):
    shop = await make_shop(managers=2)
    me, colleague = shop.managers
    assert (await accounts.update_employee(me, me.id, away=True)).away is True
    with pytest.raises(NotAllowed):
        await accounts.update_employee(me, colleague.id, away=True)
    with pytest.raises(NotAllowed):
        await accounts.update_employee(me, me.id, capacity=100)


async def test_employee_emails_are_unique_per_account(db):
    shop = await make_shop(managers=0)
    await accounts.add_employee(shop.owner, email="same@shop.test", name="One")
    with pytest.raises(Conflict):
        await accounts.add_employee(shop.owner, email="SAME@shop.test", name="Two")


@pytest.mark.parametrize("code", ["", "has space", "ünicode", "x" * 65])
async def test_a_widget_code_must_fit_a_deep_link(db, code):
    shop = await make_shop(managers=0)
    with pytest.raises(Invalid) as error:
        await accounts.add_widget(shop.owner, code=code, name="W")
    assert error.value.field == "code"


async def test_widget_codes_are_unique_per_account(db):
    shop = await make_shop(managers=0)
    await accounts.add_widget(shop.owner, code="spring", name="Spring")
    with pytest.raises(Conflict):
        await accounts.add_widget(shop.owner, code="spring", name="Again")


async def test_exclusions_of_another_accounts_employee_are_refused(db):
    shop = await make_shop(managers=1)
    other = await make_shop(managers=1)
    with pytest.raises(Invalid) as error:
        await accounts.set_widget_exclusions(shop.owner, shop.widget.id, [other.managers[0].id])
    assert error.value.field == "excluded_employee_ids"


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("price", {"price": "abc"}),
        ("price", {"price": "-1"}),
        ("price", {"price": "NaN"}),
        ("currency", {"currency": "EURO"}),
        ("commission_rate", {"commission_rate": "1.5"}),
        ("title", {"title": "   "}),
    ],
)
async def test_a_bad_offer_is_refused_naming_the_field(db, field, kwargs):
    shop = await make_shop(managers=0)
    values = {"title": "Course", "price": "10", "currency": "EUR", **kwargs}
    with pytest.raises(Invalid) as error:
        await accounts.add_offer(shop.owner, **values)
    assert error.value.field == field
    assert await Offer.filter(account_id=shop.account.id).count() == 2  # the shop's own two, nothing new


async def test_notify_on_failed_payment_is_off_by_default(db):
    shop = await make_shop(managers=0)
    offer = await accounts.add_offer(shop.owner, title="T", price="1", currency="usd")
    assert offer.notify_on_failed_payment is False and offer.currency == "USD"
    assert (await accounts.set_notify_on_failed_payment(shop.owner, offer.id, True)).notify_on_failed_payment


async def test_only_owner_and_admin_change_settings(db):
    shop = await make_shop(managers=1)
    manager = shop.managers[0]
    with pytest.raises(NotAllowed):
        await accounts.add_offer(manager, title="T", price="1", currency="EUR")
    with pytest.raises(NotAllowed):
        await accounts.set_detach_after(manager, 0)
    with pytest.raises(NotAllowed):
        await accounts.add_widget(manager, code="mine", name="Mine")


async def test_notification_emails_of_another_accounts_widget_are_not_found_naming_the_widget(db):
    shop, other = await make_shop(managers=0), await make_shop(managers=0)
    with pytest.raises(NotFound) as refused:
        await accounts.set_notification_emails(shop.owner, other.widget.id, ["me@shop.test"])
    assert (refused.value.message, refused.value.field) == (f"widget {other.widget.id} not found", "widget_id")
    assert (await reload(other.widget)).notification_emails == ["sales@shop.test"]


async def test_flagging_another_accounts_offer_is_not_found_naming_the_offer(db):
    shop, other = await make_shop(managers=0), await make_shop(managers=0)
    with pytest.raises(NotFound) as refused:
        await accounts.set_notify_on_failed_payment(shop.owner, other.offer.id, True)
    assert (refused.value.message, refused.value.field) == (f"offer {other.offer.id} not found", "offer_id")
    assert (await reload(other.offer)).notify_on_failed_payment is False


async def test_an_admin_deactivates_an_offer_and_it_is_stored_inactive(db):
    shop = await make_shop(managers=0)
    await accounts.update_offer(shop.admin, shop.offer.id, active=False)
    assert (await reload(shop.offer)).active is False
