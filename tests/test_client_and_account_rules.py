"""Clients, accounts, sessions and staff Telegram links: the rules' answers in detail (the whole refusal, the value
kept), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from sales import accounts, dialogs
from sales.attachments import PHOTO_LIMIT, upload_kind
from sales.bots import bot_id_of
from sales.clients import MAX_NOTES, add_client, ask_email, client_from_telegram, find_or_create_client
from sales.clients import set_client_email, update_client, update_contact
from sales.errors import Conflict, DomainError, Invalid, NotAllowed, NotFound
from sales.sessions import issue_api_token, token_employee
from sales.telegram_link import invite_link
from storage.models import ApiToken, AttachmentKind, Chat, Client, Employee, Role, TelegramInvite
from tests.factories import at, make_shop, new_client, reload

# --- clients entered and corrected by staff


async def test_a_new_client_with_too_long_notes_is_refused_naming_the_limit(db):
    shop = await make_shop(managers=1)
    with pytest.raises(Invalid) as refused:
        await add_client(shop.managers[0], email="ann@example.com", notes="x" * (MAX_NOTES + 1))
    assert (refused.value.message, refused.value.field) == (f"notes are limited to {MAX_NOTES} characters", "notes")
    assert refused.value.params == {"limit": MAX_NOTES}
    assert not await Client.exists(account_id=shop.account.id)


async def test_correcting_another_accounts_client_is_not_found_naming_the_client(db):
    shop, other = await make_shop(managers=1), await make_shop(managers=1)
    theirs = await new_client(other, email="ann@example.com", name="Ann")
    with pytest.raises(NotFound) as refused:
        await update_contact(shop.owner, theirs.id, name="Mine now")
    assert (refused.value.message, refused.value.field) == (f"client {theirs.id} not found", "client_id")
    assert (await reload(theirs)).name == "Ann"


async def test_a_phone_given_on_the_client_card_is_stored_trimmed(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop, email="ann@example.com", name="Ann")
    await update_client(shop.managers[0], client.id, phone=" +34 600 000 000 ")
    stored = await reload(client)
    assert (stored.name, stored.phone, stored.email) == ("Ann", "+34 600 000 000", "ann@example.com")


# --- a Telegram client on first contact and after


async def test_a_client_who_blocked_the_bot_and_writes_again_without_a_deep_link_is_reachable_and_has_no_widget(db):
    shop = await make_shop(managers=0)
    first, new = await client_from_telegram(shop.account.id, 5001, name="Ann")
    await Client.filter(id=first.id).update(unreachable=True)

    again, new_again = await client_from_telegram(shop.account.id, 5001)

    assert (new, new_again, again.id) == (True, False, first.id)
    stored = await reload(again)
    assert (stored.unreachable, stored.widget_id) == (False, None)


# --- a Telegram client's e-mail


async def test_giving_a_new_email_after_being_asked_stops_waiting_for_it(db):
    shop = await make_shop(managers=0)
    client, _ = await client_from_telegram(shop.account.id, 5001)
    await ask_email(client)

    client = await set_client_email(client, "ann@example.com")

    stored = await reload(client)
    assert (stored.email, stored.email_asked, stored.awaiting_email) == ("ann@example.com", True, False)


async def test_a_client_with_an_email_cannot_take_another_clients_email(db):
    shop = await make_shop(managers=0)
    known = await find_or_create_client(shop.account.id, email="ann@example.com")
    client, _ = await client_from_telegram(shop.account.id, 5001)
    client = await set_client_email(client, "bob@example.com")
    with pytest.raises(Conflict) as refused:
        await set_client_email(client, "ann@example.com")
    assert (refused.value.message, refused.value.field) == ("this e-mail belongs to another client", "email")
    assert (await reload(client)).email == "bob@example.com"
    assert (await reload(known)).telegram_user_id is None


# --- a Telegram client who gives the e-mail of a known client becomes him


async def test_merging_keeps_the_earlier_waiting_since_of_the_two_chats(db):
    shop = await make_shop(managers=1)
    known = await find_or_create_client(shop.account.id, email="ann@example.com", name="Ann")
    await dialogs.record_inbound(known, "hello from the web", now=at(1))
    telegram, _ = await client_from_telegram(shop.account.id, 5001, name="Ann TG")
    await dialogs.record_inbound(telegram, "hi from telegram", now=at(2))

    merged = await set_client_email(telegram, "ann@example.com")

    chat = await Chat.get(client_id=merged.id)
    assert chat.waiting_since == at(1)


async def test_merging_a_client_who_was_asked_for_his_email_stops_waiting_for_it(db):
    shop = await make_shop(managers=0)
    known = await find_or_create_client(shop.account.id, email="ann@example.com")
    telegram, _ = await client_from_telegram(shop.account.id, 5001)
    await ask_email(telegram)

    merged = await set_client_email(telegram, "ann@example.com")

    assert merged.id == known.id
    stored = await reload(merged)
    assert (stored.email_asked, stored.awaiting_email) == (True, False)


async def test_merging_keeps_the_widget_the_telegram_client_came_through(db):
    shop = await make_shop(managers=0)
    known = await find_or_create_client(shop.account.id, email="ann@example.com")
    assert known.widget_id is None
    telegram, _ = await client_from_telegram(shop.account.id, 5001, widget_code=shop.widget.code)

    merged = await set_client_email(telegram, "ann@example.com")

    assert (await reload(merged)).widget_id == shop.widget.id


# --- accounts: staff


async def test_the_owners_role_cannot_change_and_the_refusal_names_the_role(db):
    shop = await make_shop(managers=0)
    with pytest.raises(NotAllowed) as refused:
        await accounts.update_employee(shop.admin, shop.owner.id, role=Role.ADMIN)
    assert (refused.value.message, refused.value.field) == ("the owner's role cannot change", "role")
    assert (await reload(shop.owner)).role == Role.OWNER


async def test_an_employee_choosing_an_unsupported_language_is_refused_naming_the_four(db):
    shop = await make_shop(managers=1)
    me = shop.managers[0]
    with pytest.raises(Invalid) as refused:
        await accounts.update_employee(me, me.id, language="de")
    assert (refused.value.message, refused.value.field) == ("language is one of en, es, ru, uk", "language")
    assert (await reload(me)).language == me.language


async def test_a_negative_capacity_is_refused_naming_the_capacity(db):
    shop = await make_shop(managers=1)
    manager = shop.managers[0]
    with pytest.raises(Invalid) as refused:
        await accounts.update_employee(shop.admin, manager.id, capacity=-1)
    assert (refused.value.message, refused.value.field) == ("capacity is a whole number of orders, or empty", "capacity")
    assert (await reload(manager)).capacity == manager.capacity


# --- accounts: widgets


async def test_an_admin_renames_a_widget_and_the_name_is_stored_trimmed(db):
    shop = await make_shop(managers=0)
    widget = await accounts.update_widget(shop.admin, shop.widget.id, name="  Summer landing ")
    assert widget.name == "Summer landing"
    assert (await reload(shop.widget)).name == "Summer landing"


# --- sessions: bearer tokens


async def test_a_revoked_api_token_lets_nobody_in(db):
    shop = await make_shop(managers=0)
    token = await issue_api_token(shop.owner, "crm")
    assert (await token_employee(token)).id == shop.owner.id
    await ApiToken.filter(account_id=shop.account.id).update(revoked_at=at(5))
    assert await token_employee(token) is None


# --- staff Telegram links


async def test_an_invite_link_without_a_connected_bot_is_a_conflict_naming_the_bot(db):
    shop = await make_shop(managers=1)
    with pytest.raises(Conflict) as refused:
        await invite_link(shop.owner, shop.managers[0].id, now=at(0))
    assert (refused.value.message, refused.value.field) == ("this account has no Telegram bot connected yet", "bot")
    assert not await TelegramInvite.exists(account_id=shop.account.id)


# --- bots


def test_a_bot_token_without_the_bots_numeric_id_is_refused_saying_so():
    assert bot_id_of("123456:secret") == 123456
    with pytest.raises(ValueError, match=r"^a bot token starts with the bot's numeric id$"):
        bot_id_of("mybot:secret")


# --- attachments


def test_an_image_of_exactly_telegrams_photo_limit_goes_as_a_photo():
    assert upload_kind("image/jpeg", PHOTO_LIMIT) == AttachmentKind.PHOTO
    assert upload_kind("image/jpeg", PHOTO_LIMIT + 1) == AttachmentKind.DOCUMENT


# --- two requests creating the same client at once


async def test_the_request_that_loses_the_race_to_create_a_client_gets_the_winners_client(db, monkeypatch):
    shop = await make_shop(managers=0)
    await new_client(shop, email="someone-else@example.com")
    winner = await find_or_create_client(shop.account.id, email="ann@example.com", name="Ann")

    async def not_yet_seen(**_):  # the winner's row was committed after the loser looked
        return None

    monkeypatch.setattr(Client, "get_or_none", not_yet_seen)
    loser = await find_or_create_client(shop.account.id, email="ann@example.com", name="Ann again")
    assert (loser.id, loser.name) == (winner.id, "Ann")


async def test_a_telegram_clients_name_is_kept_to_its_first_200_characters(db):
    shop = await make_shop(managers=0)
    client, new = await client_from_telegram(shop.account.id, 5002, name=" " + "N" * 250 + " ")
    assert new and (await reload(client)).name == "N" * 200


async def test_the_bots_username_telegram_reports_is_kept_on_the_account(db):
    from sales.bots import record_bot_username

    shop, other = await make_shop(managers=0), await make_shop(managers=0)
    await record_bot_username(shop.account.id, "closer_shop_bot")
    assert (await reload(shop.account)).bot_username == "closer_shop_bot"
    assert (await reload(other.account)).bot_username is None


async def test_deleting_another_accounts_canned_reply_is_not_found_naming_the_reply(db):
    from sales.canned import add_reply, delete_reply
    from storage.models import CannedReply

    shop, other = await make_shop(managers=0), await make_shop(managers=0)
    theirs = await add_reply(other.owner, shortcut="hi", text="Hello!")
    with pytest.raises(NotFound) as refused:
        await delete_reply(shop.owner, theirs.id)
    assert (refused.value.message, refused.value.field) == (f"canned_reply {theirs.id} not found", "canned_reply_id")
    assert await CannedReply.exists(id=theirs.id)


# role given -> the refusal (its type, message and field)
ROLES_NOT_ADDED = {
    "unknown role": ("boss", (Invalid, "role is admin or manager", "role")),
    "second owner": ("owner", (NotAllowed, "an account has exactly one owner", "role")),
}


@pytest.mark.parametrize("case", list(ROLES_NOT_ADDED))
async def test_an_employee_with_a_role_he_cannot_have_is_refused_saying_why_and_not_added(db, case):
    role, refusal = ROLES_NOT_ADDED[case]
    shop = await make_shop(managers=0)
    with pytest.raises(DomainError) as refused:
        await accounts.add_employee(shop.owner, email="new@example.com", name="New", role=role)
    assert (type(refused.value), refused.value.message, refused.value.field) == refusal
    assert not await Employee.exists(email="new@example.com")
