"""Canned replies (SPEC §11.3): owner/admin keep the account's list, everyone inserts them with their placeholders
filled in for the chat; another account's ids are not found, bad input is refused naming the field and changes
nothing."""

from __future__ import annotations

import pytest

from sales import canned, dialogs
from sales.errors import Conflict, Invalid, NotAllowed, NotFound
from sales.orders import create_order
from storage.models import CannedReply, Chat, Order
from tests.apitools import make_api
from tests.conftest import require_backend
from tests.factories import at, make_shop, new_client, reload


async def _chat(shop, name: str = "Anna", assignee=None) -> Chat:
    client = await new_client(shop, name=name)
    await dialogs.record_inbound(client, "Hello", now=at(1))
    await Chat.filter(client_id=client.id).update(assignee_id=assignee.id if assignee else None)
    return await Chat.get(client_id=client.id)


async def _order(shop, chat: Chat, offer, minutes: float) -> Order:
    return await create_order(shop.account.id, client_id=chat.client_id, offer_id=offer.id, now=at(minutes))


# --- the rules (sales.canned), on SQLite and PostgreSQL

async def test_an_admin_adds_a_reply_stored_lower_case_without_its_slash(db):
    shop = await make_shop(managers=1)
    reply = await canned.add_reply(shop.admin, shortcut=" /Greet ", text="  Hello!  ", now=at(0))
    stored = await reload(reply)
    assert (stored.account_id, stored.shortcut, stored.text) == (shop.account.id, "greet", "Hello!")
    assert stored.created_at == stored.updated_at == at(0)


async def test_a_shortcut_may_be_written_in_any_alphabet(db):
    shop = await make_shop(managers=1)
    reply = await canned.add_reply(shop.owner, shortcut="Привіт_2-a", text="Добрий день")
    assert (await reload(reply)).shortcut == "привіт_2-a"


async def test_every_employee_lists_the_accounts_replies_by_shortcut_and_no_others(db):
    shop, other = await make_shop(managers=1), await make_shop(managers=1)
    await canned.add_reply(shop.owner, shortcut="thanks", text="Thank you")
    await canned.add_reply(shop.owner, shortcut="bye", text="Bye")
    await canned.add_reply(other.owner, shortcut="alien", text="Not yours")
    replies = await canned.list_replies(shop.managers[0])
    assert [r.shortcut for r in replies] == ["bye", "thanks"]


async def test_a_manager_cannot_add_a_reply(db):
    shop = await make_shop(managers=1)
    with pytest.raises(NotAllowed):
        await canned.add_reply(shop.managers[0], shortcut="greet", text="Hi")
    assert not await CannedReply.exists()


async def test_a_manager_cannot_change_a_reply(db):
    shop = await make_shop(managers=1)
    reply = await canned.add_reply(shop.owner, shortcut="greet", text="Hi")
    with pytest.raises(NotAllowed):
        await canned.update_reply(shop.managers[0], reply.id, text="Changed")
    assert (await reload(reply)).text == "Hi"


async def test_a_manager_cannot_delete_a_reply(db):
    shop = await make_shop(managers=1)
    reply = await canned.add_reply(shop.owner, shortcut="greet", text="Hi")
    with pytest.raises(NotAllowed):
        await canned.delete_reply(shop.managers[0], reply.id)
    assert await CannedReply.filter(id=reply.id).exists()


async def test_an_admin_changes_the_text_and_the_shortcut_stays(db):
    shop = await make_shop(managers=1)
    reply = await canned.add_reply(shop.owner, shortcut="greet", text="Hi", now=at(0))
    await canned.update_reply(shop.admin, reply.id, text="Hello there", now=at(5))
    stored = await reload(reply)
    assert (stored.shortcut, stored.text, stored.created_at, stored.updated_at) == ("greet", "Hello there", at(0), at(5))


async def test_an_admin_deletes_a_reply(db):
    shop = await make_shop(managers=1)
    reply = await canned.add_reply(shop.owner, shortcut="greet", text="Hi")
    await canned.delete_reply(shop.admin, reply.id)
    assert not await CannedReply.exists()


async def test_a_duplicate_shortcut_is_a_conflict_naming_the_shortcut_whatever_its_case(db):
    shop = await make_shop(managers=1)
    await canned.add_reply(shop.owner, shortcut="greet", text="Hi")
    with pytest.raises(Conflict) as refused:
        await canned.add_reply(shop.owner, shortcut="GREET", text="Hello")
    assert refused.value.field == "shortcut"
    assert await CannedReply.all().count() == 1


async def test_renaming_onto_another_replys_shortcut_is_a_conflict_and_changes_nothing(db):
    shop = await make_shop(managers=1)
    await canned.add_reply(shop.owner, shortcut="greet", text="Hi")
    bye = await canned.add_reply(shop.owner, shortcut="bye", text="Bye")
    with pytest.raises(Conflict) as refused:
        await canned.update_reply(shop.owner, bye.id, shortcut="greet", text="Changed")
    assert refused.value.field == "shortcut"
    stored = await reload(bye)
    assert (stored.shortcut, stored.text) == ("bye", "Bye")


async def test_two_accounts_may_use_the_same_shortcut(db):
    shop, other = await make_shop(managers=1), await make_shop(managers=1)
    await canned.add_reply(shop.owner, shortcut="greet", text="Hi")
    await canned.add_reply(other.owner, shortcut="greet", text="Hola")
    assert await CannedReply.filter(shortcut="greet").count() == 2


@pytest.mark.parametrize("shortcut", ["", "/", "two words", "a.b", "emoji🙂", "x" * 33, "{client_name}"])
async def test_a_bad_shortcut_is_refused_naming_it(db, shortcut):
    shop = await make_shop(managers=1)
    with pytest.raises(Invalid) as refused:
        await canned.add_reply(shop.owner, shortcut=shortcut, text="Hi")
    assert refused.value.field == "shortcut"
    assert not await CannedReply.exists()


@pytest.mark.parametrize("text", ["", "   \n ", "x" * 4097])
async def test_an_empty_or_too_long_text_is_refused_naming_it(db, text):
    shop = await make_shop(managers=1)
    with pytest.raises(Invalid) as refused:
        await canned.add_reply(shop.owner, shortcut="greet", text=text)
    assert refused.value.field == "text"
    assert not await CannedReply.exists()


async def test_a_blank_text_is_refused_saying_a_reply_cannot_be_empty(db):
    shop = await make_shop(managers=1)
    with pytest.raises(Invalid) as refused:
        await canned.add_reply(shop.owner, shortcut="greet", text="  \n ")
    assert (refused.value.message, refused.value.field) == ("a canned reply's text cannot be empty", "text")


async def test_a_text_of_one_whole_telegram_message_is_kept(db):
    shop = await make_shop(managers=1)
    reply = await canned.add_reply(shop.owner, shortcut="long", text="я" * 4096)
    assert len((await reload(reply)).text) == 4096


async def test_another_accounts_reply_is_not_found(db):
    shop, other = await make_shop(managers=1), await make_shop(managers=1)
    reply = await canned.add_reply(other.owner, shortcut="greet", text="Hi")
    with pytest.raises(NotFound):
        await canned.update_reply(shop.owner, reply.id, text="Mine now")
    with pytest.raises(NotFound):
        await canned.delete_reply(shop.owner, reply.id)
    assert (await reload(reply)).text == "Hi"


async def test_the_placeholders_are_filled_with_the_client_the_assignee_and_the_latest_offer(db):
    shop = await make_shop(managers=2)
    chat = await _chat(shop, name="Anna", assignee=shop.managers[1])
    await _order(shop, chat, shop.offer, 2)
    await _order(shop, chat, shop.flagged_offer, 3)
    reply = await canned.add_reply(shop.owner, shortcut="greet",
                                   text="Hi {client_name}, {manager_name} here about {offer_title}.")
    filled = await canned.filled_reply(shop.owner, chat.id, reply.id)
    assert filled.text == "Hi Anna, Manager 1 here about Flagged course."
    assert filled.chat_id == chat.id and filled.reply.id == reply.id


async def test_the_manager_name_is_the_inserting_employees_in_an_unassigned_chat(db):
    shop = await make_shop(managers=1)
    chat = await _chat(shop, assignee=None)
    reply = await canned.add_reply(shop.owner, shortcut="me", text="{manager_name}")
    assert (await canned.filled_reply(shop.managers[0], chat.id, reply.id)).text == "Manager 0"


async def test_the_offer_title_is_empty_for_a_client_without_orders(db):
    shop = await make_shop(managers=1)
    chat = await _chat(shop)
    reply = await canned.add_reply(shop.owner, shortcut="offer", text="About [{offer_title}]")
    assert (await canned.filled_reply(shop.owner, chat.id, reply.id)).text == "About []"


async def test_an_unknown_placeholder_is_left_as_typed(db):
    shop = await make_shop(managers=1)
    chat = await _chat(shop, name="Anna")
    reply = await canned.add_reply(shop.owner, shortcut="x", text="{client_name} {price} {Client_Name} {} {client_name")
    assert (await canned.filled_reply(shop.owner, chat.id, reply.id)).text == "Anna {price} {Client_Name} {} {client_name"


async def test_a_filled_in_value_is_not_filled_again(db):
    shop = await make_shop(managers=1)
    chat = await _chat(shop, name="{offer_title}")
    reply = await canned.add_reply(shop.owner, shortcut="x", text="Hi {client_name}")
    assert (await canned.filled_reply(shop.owner, chat.id, reply.id)).text == "Hi {offer_title}"


async def test_a_manager_cannot_fill_a_reply_for_a_chat_he_may_not_see(db):
    shop = await make_shop(managers=2)
    chat = await _chat(shop, assignee=shop.managers[1])
    reply = await canned.add_reply(shop.owner, shortcut="greet", text="Hi")
    with pytest.raises(NotFound):
        await canned.filled_reply(shop.managers[0], chat.id, reply.id)


# --- the API, on SQLite and PostgreSQL

@pytest.fixture(params=["sqlite", "postgres"])
async def api(request, database_urls, aiohttp_client):
    return await make_api(require_backend(database_urls, request.param), aiohttp_client, managers=2)


async def _delete(api, path: str):
    response = await api.client.delete(path, headers={"X-CSRF-Token": api.csrf})
    return response.status, (await response.json() if response.status != 204 else None)


async def test_api_an_admin_adds_a_reply(api):
    await api.as_(api.shop.admin)
    status, body = await api.post("/api/v1/canned-replies", {"shortcut": "Greet", "text": "Hello {client_name}"})
    assert status == 201, body
    assert (body["shortcut"], body["text"]) == ("greet", "Hello {client_name}")
    assert await CannedReply.filter(id=body["id"], account_id=api.shop.account.id).exists()


async def test_api_a_manager_lists_the_accounts_replies(api):
    await canned.add_reply(api.shop.owner, shortcut="greet", text="Hi")
    await canned.add_reply(api.other.owner, shortcut="alien", text="Not yours")
    await api.as_(api.shop.managers[0])
    status, body = await api.get("/api/v1/canned-replies")
    assert status == 200
    assert [(r["shortcut"], r["text"]) for r in body["items"]] == [("greet", "Hi")]
    assert set(body["items"][0]) == {"id", "shortcut", "text", "created_at", "updated_at"}


async def test_api_an_admin_changes_a_reply(api):
    reply = await canned.add_reply(api.shop.owner, shortcut="greet", text="Hi")
    await api.as_(api.shop.admin)
    status, body = await api.patch(f"/api/v1/canned-replies/{reply.id}", {"shortcut": "hello", "text": "Hello"})
    assert status == 200, body
    assert (body["shortcut"], body["text"]) == ("hello", "Hello")
    stored = await reload(reply)
    assert (stored.shortcut, stored.text) == ("hello", "Hello")


async def test_api_an_admin_deletes_a_reply(api):
    reply = await canned.add_reply(api.shop.owner, shortcut="greet", text="Hi")
    await api.as_(api.shop.admin)
    status, _ = await _delete(api, f"/api/v1/canned-replies/{reply.id}")
    assert status == 204
    assert not await CannedReply.exists()


async def test_api_a_manager_adding_a_reply_is_forbidden(api):
    await api.as_(api.shop.managers[0])
    status, body = await api.post("/api/v1/canned-replies", {"shortcut": "greet", "text": "Hi"})
    assert status == 403 and body["error"]["code"] == "forbidden"
    assert not await CannedReply.exists()


async def test_api_a_manager_changing_a_reply_is_forbidden_and_changes_nothing(api):
    reply = await canned.add_reply(api.shop.owner, shortcut="greet", text="Hi")
    await api.as_(api.shop.managers[0])
    status, body = await api.patch(f"/api/v1/canned-replies/{reply.id}", {"text": "Changed"})
    assert status == 403 and body["error"]["code"] == "forbidden"
    assert (await reload(reply)).text == "Hi"


async def test_api_a_manager_deleting_a_reply_is_forbidden(api):
    reply = await canned.add_reply(api.shop.owner, shortcut="greet", text="Hi")
    await api.as_(api.shop.managers[0])
    status, body = await _delete(api, f"/api/v1/canned-replies/{reply.id}")
    assert status == 403 and body["error"]["code"] == "forbidden"
    assert await CannedReply.filter(id=reply.id).exists()


async def test_api_another_accounts_reply_is_not_found(api):
    reply = await canned.add_reply(api.other.owner, shortcut="greet", text="Hi")
    chat = await _chat(api.shop)
    await api.as_(api.shop.owner)
    assert (await api.patch(f"/api/v1/canned-replies/{reply.id}", {"text": "Mine"}))[0] == 404
    assert (await _delete(api, f"/api/v1/canned-replies/{reply.id}"))[0] == 404
    status, body = await api.get(f"/api/v1/chats/{chat.id}/canned-replies/{reply.id}")
    assert status == 404 and body["error"]["code"] == "not_found"
    assert (await reload(reply)).text == "Hi"


async def test_api_another_accounts_chat_is_not_found_for_filling(api):
    reply = await canned.add_reply(api.shop.owner, shortcut="greet", text="Hi")
    chat = await _chat(api.other)
    await api.as_(api.shop.owner)
    status, _ = await api.get(f"/api/v1/chats/{chat.id}/canned-replies/{reply.id}")
    assert status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"shortcut": "", "text": "Hi"}, "shortcut"),
        ({"shortcut": "two words", "text": "Hi"}, "shortcut"),
        ({"shortcut": "x" * 33, "text": "Hi"}, "shortcut"),
        ({"shortcut": 5, "text": "Hi"}, "shortcut"),
        ({"shortcut": "greet", "text": ""}, "text"),
        ({"shortcut": "greet", "text": "  "}, "text"),
        ({"shortcut": "greet", "text": "x" * 4097}, "text"),
        ({"shortcut": "greet"}, "text"),
        ({"shortcut": "greet", "text": "Hi", "colour": "red"}, "colour"),
    ],
)
async def test_api_a_bad_reply_is_refused_naming_the_field_and_nothing_is_added(api, body, field):
    await api.as_(api.shop.admin)
    status, answer = await api.post("/api/v1/canned-replies", body)
    assert status == 422 and answer["error"]["field"] == field, answer
    assert not await CannedReply.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [({"shortcut": "a/b", "text": "Changed"}, "shortcut"), ({"shortcut": "fine", "text": " "}, "text")],
)
async def test_api_a_bad_change_is_refused_naming_the_field_and_changes_nothing(api, body, field):
    reply = await canned.add_reply(api.shop.owner, shortcut="greet", text="Hi", now=at(0))
    await api.as_(api.shop.admin)
    status, answer = await api.patch(f"/api/v1/canned-replies/{reply.id}", body)
    assert status == 422 and answer["error"]["field"] == field, answer
    stored = await reload(reply)
    assert (stored.shortcut, stored.text, stored.updated_at) == ("greet", "Hi", at(0))


async def test_api_a_duplicate_shortcut_is_a_conflict_naming_it(api):
    await canned.add_reply(api.shop.owner, shortcut="greet", text="Hi")
    await api.as_(api.shop.admin)
    status, body = await api.post("/api/v1/canned-replies", {"shortcut": "/GREET", "text": "Hello"})
    assert status == 409 and body["error"] == {"code": "conflict", "message": body["error"]["message"],
                                               "field": "shortcut"}
    assert await CannedReply.all().count() == 1


async def test_api_a_manager_gets_the_reply_filled_in_for_his_chat(api):
    manager = api.shop.managers[0]
    chat = await _chat(api.shop, name="Anna", assignee=manager)
    await _order(api.shop, chat, api.shop.offer, 2)
    reply = await canned.add_reply(api.shop.owner, shortcut="greet",
                                   text="Hi {client_name}! {manager_name} about {offer_title}, {discount}")
    await api.as_(manager)
    status, body = await api.get(f"/api/v1/chats/{chat.id}/canned-replies/{reply.id}")
    assert status == 200, body
    assert body == {"id": reply.id, "chat_id": chat.id, "shortcut": "greet",
                    "text": "Hi Anna! Manager 0 about Course, {discount}"}


async def test_api_markup_in_a_reply_is_stored_and_returned_as_text(api):
    markup = '<script>alert("x")</script> <b>{client_name}</b> &amp;'
    chat = await _chat(api.shop, name="<img src=x onerror=alert(1)>")
    await api.as_(api.shop.admin)
    status, body = await api.post("/api/v1/canned-replies", {"shortcut": "markup", "text": markup})
    assert status == 201 and body["text"] == markup
    assert (await CannedReply.get(id=body["id"])).text == markup
    status, listed = await api.get("/api/v1/canned-replies")
    assert listed["items"][0]["text"] == markup
    status, filled = await api.get(f"/api/v1/chats/{chat.id}/canned-replies/{body['id']}")
    assert filled["text"] == '<script>alert("x")</script> <b><img src=x onerror=alert(1)></b> &amp;'
