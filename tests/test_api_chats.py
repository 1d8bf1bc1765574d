"""The conversation API of SPEC §10.8: assignee, take, status, read, unread counts, search, the trail, settings."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from aiohttp import ClientSession, CookieJar

from sales import dialogs
from sales.clock import utcnow
from storage.models import AssignmentLog, Chat, Employee
from tests.apitools import PASSWORD, make_api
from tests.conftest import require_backend
from tests.factories import new_client


@pytest.fixture
async def api(database_urls, aiohttp_client):
    # The rules behind these routes run on both databases in test_conversations; here the HTTP shapes, on SQLite.
    return await make_api(require_backend(database_urls, "sqlite"), aiohttp_client)


@pytest.fixture
async def pg_api(database_urls, aiohttp_client):
    return await make_api(require_backend(database_urls, "postgres"), aiohttp_client)


async def _lead(api, name: str = "Lead", text: str = "hello?") -> Chat:
    client = await new_client(api.shop, name=name)
    await dialogs.record_inbound(client, text)
    return await Chat.get(client_id=client.id)


async def test_a_chat_shows_its_assignee_status_and_unread_count(api):
    chat = await _lead(api)
    await api.as_(api.shop.managers[0])
    status, body = await api.get(f"/api/v1/chats/{chat.id}")
    assert status == 200
    assert body["assignee"] == {"id": api.shop.managers[0].id, "name": "Manager 0"}
    assert (body["status"], body["snoozed_until"], body["unread"], body["last_message_direction"]) == (
        "open", None, 1, "in")


async def test_reading_a_chat_clears_its_unread_count_and_the_tabs(api):
    chat = await _lead(api)
    await api.as_(api.shop.managers[0])
    assert (await api.get("/api/v1/chats/unread"))[1] == {"mine": 1, "unassigned": 0, "important": 0, "all": None}
    status, body = await api.post(f"/api/v1/chats/{chat.id}/read")
    assert status == 200 and body["unread"] == 0
    assert (await api.get("/api/v1/chats/unread"))[1]["mine"] == 0


async def test_an_unassigned_chat_is_taken_once(api):
    chat = await _lead(api)
    await api.as_(api.shop.admin)
    assert (await api.post(f"/api/v1/chats/{chat.id}/assign", {"employee_id": None}))[1]["assignee"] is None
    await api.as_(api.shop.managers[1])
    status, body = await api.post(f"/api/v1/chats/{chat.id}/take")
    assert status == 200 and body["assignee"]["id"] == api.shop.managers[1].id
    await api.as_(api.shop.managers[0])
    status, body = await api.post(f"/api/v1/chats/{chat.id}/take")
    assert status == 409 and body["error"]["code"] == "conflict"


async def test_two_employees_taking_at_once_one_wins(api):
    await _race_to_take(api)


async def test_two_employees_taking_at_once_one_wins_on_postgres(pg_api):
    await _race_to_take(pg_api)


async def _race_to_take(api):
    chat = await _lead(api)
    await api.as_(api.shop.admin)
    await api.post(f"/api/v1/chats/{chat.id}/assign", {"employee_id": None})
    await api.as_(api.shop.managers[0])
    # A second browser: its own cookie jar and session on the same app.
    async with ClientSession(base_url=str(api.client.make_url("")), cookie_jar=CookieJar(unsafe=True)) as other:
        response = await other.post("/api/v1/session", json={"email": api.shop.managers[1].email,
                                                             "password": PASSWORD})
        csrf = (await response.json())["csrf_token"]
        first, second = await asyncio.gather(
            api.client.post(f"/api/v1/chats/{chat.id}/take", headers={"X-CSRF-Token": api.csrf}),
            other.post(f"/api/v1/chats/{chat.id}/take", headers={"X-CSRF-Token": csrf}),
        )
        assert sorted([first.status, second.status]) == [200, 409]
    assert await AssignmentLog.filter(chat_id=chat.id, reason="take").count() == 1


async def test_assigning_to_another_accounts_employee_is_404_naming_the_field(api):
    chat = await _lead(api)
    await api.as_(api.shop.admin)
    status, body = await api.post(f"/api/v1/chats/{chat.id}/assign", {"employee_id": api.other.managers[0].id})
    assert status == 404 and body["error"]["field"] == "employee_id"
    assert (await Chat.get(id=chat.id)).assignee_id == api.shop.managers[0].id


async def test_assigning_to_a_deactivated_employee_is_422_naming_the_field(api):
    chat = await _lead(api)
    await Employee.filter(id=api.shop.managers[1].id).update(active=False)
    await api.as_(api.shop.admin)
    status, body = await api.post(f"/api/v1/chats/{chat.id}/assign", {"employee_id": api.shop.managers[1].id})
    assert status == 422 and body["error"]["field"] == "employee_id"


async def test_another_accounts_chat_is_404_for_every_action(api):
    chat = await _lead(api)
    await api.as_(api.other.owner)
    for path, body in [("take", None), ("assign", {"employee_id": api.other.owner.id}), ("read", None),
                       ("status", {"status": "resolved"})]:
        assert (await api.post(f"/api/v1/chats/{chat.id}/{path}", body))[0] == 404, path
    assert (await api.get(f"/api/v1/chats/{chat.id}/history"))[0] == 404


async def test_a_manager_cannot_assign_another_managers_chat(api):
    chat = await _lead(api)
    await api.as_(api.shop.managers[1])
    assert (await api.post(f"/api/v1/chats/{chat.id}/assign", {"employee_id": api.shop.managers[1].id}))[0] == 404
    # Unassigned chats he may see; passing one on is still not his to do.
    await api.as_(api.shop.admin)
    await api.post(f"/api/v1/chats/{chat.id}/assign", {"employee_id": None})
    await api.as_(api.shop.managers[1])
    assert (await api.post(f"/api/v1/chats/{chat.id}/assign", {"employee_id": api.shop.managers[1].id}))[0] == 403


async def test_the_assignee_resolves_and_snoozes_his_chat(api):
    chat = await _lead(api)
    await api.as_(api.shop.managers[0])
    status, body = await api.post(f"/api/v1/chats/{chat.id}/status", {"status": "resolved"})
    assert status == 200 and body["status"] == "resolved"
    assert (await api.get("/api/v1/chats", tab="mine"))[1]["items"] == []
    until = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    status, body = await api.post(f"/api/v1/chats/{chat.id}/status",
                                  {"status": "snoozed", "snoozed_until": until.isoformat()})
    assert status == 200 and body["status"] == "snoozed"
    assert datetime.fromisoformat(body["snoozed_until"]) == until
    items = (await api.get("/api/v1/chats", tab="mine", status="snoozed"))[1]["items"]
    assert [c["id"] for c in items] == [chat.id]


@pytest.mark.parametrize("body, field", [
    ({"status": "snoozed"}, "snoozed_until"),
    ({"status": "snoozed", "snoozed_until": "2099-01-01T09:00:00"}, "snoozed_until"),
    ({"status": "closed"}, "status"),
    ({"status": "open", "snoozed_until": "2099-01-01T09:00:00+00:00"}, "snoozed_until"),
])
async def test_a_bad_status_change_is_422_and_changes_nothing(api, body, field):
    chat = await _lead(api)
    await api.as_(api.shop.admin)
    status, answer = await api.post(f"/api/v1/chats/{chat.id}/status", body)
    assert status == 422 and answer["error"]["field"] == field
    assert (await Chat.get(id=chat.id)).status == "open"


async def test_chats_are_found_by_status_and_by_words(api):
    await _lead(api, "Anna", "do you have winter tyres?")
    await _lead(api, "Bohdan", "price of the course?")
    await api.as_(api.shop.owner)
    items = (await api.get("/api/v1/chats", tab="all", q="tyres"))[1]["items"]
    assert [c["client"]["name"] for c in items] == ["Anna"]
    assert (await api.get("/api/v1/chats", tab="all", status="resolved"))[1]["items"] == []
    status, body = await api.get("/api/v1/chats", tab="all", status="gone")
    assert status == 422 and body["error"]["field"] == "status"


async def test_a_chats_history_is_its_assignment_trail(api):
    chat = await _lead(api)
    await api.as_(api.shop.admin)
    await api.post(f"/api/v1/chats/{chat.id}/assign", {"employee_id": api.shop.managers[1].id})
    status, body = await api.get(f"/api/v1/chats/{chat.id}/history")
    assert status == 200
    assert [(i["target"], i["reason"], i["to_employee_id"]) for i in body["items"]] == [
        ("chat", "rotation", api.shop.managers[0].id), ("chat", "manual", api.shop.managers[1].id)]


async def test_the_account_takes_first_response_settings(api):
    await api.as_(api.shop.admin)
    status, body = await api.patch("/api/v1/account", {"first_response_minutes": 5, "reassign_unanswered": True})
    assert status == 200 and (body["first_response_minutes"], body["reassign_unanswered"]) == (5, True)
    assert body["detach_after"] == 24 * 3600
    status, body = await api.patch("/api/v1/account", {"first_response_minutes": -1})
    assert status == 422 and body["error"]["field"] == "first_response_minutes"
    await api.as_(api.shop.managers[0])
    assert (await api.patch("/api/v1/account", {"first_response_minutes": 1}))[0] == 403


async def test_a_staff_reply_is_the_last_message_direction(api):
    chat = await _lead(api)
    await api.as_(api.shop.managers[0])
    await api.post(f"/api/v1/chats/{chat.id}/messages", {"text": "Yes, we do."})
    items = (await api.get("/api/v1/chats", tab="mine"))[1]["items"]
    assert [(c["last_message"], c["last_message_direction"]) for c in items] == [("Yes, we do.", "out")]


async def test_a_cursor_naming_an_impossible_id_is_422_not_unavailable(pg_api):
    """Bad input that would reach PostgreSQL out of range is the caller's mistake (SPEC §7), not an outage."""
    import base64

    cursor = base64.urlsafe_b64encode(f"2026-03-02T09:00:00+00:00|{2**31}".encode()).decode().rstrip("=")
    await pg_api.as_(pg_api.shop.owner)
    status, body = await pg_api.get("/api/v1/chats", tab="all", cursor=cursor)
    assert status == 422 and body["error"]["field"] == "cursor"
    fine = base64.urlsafe_b64encode(f"2026-03-02T09:00:00+00:00|{2**31 - 1}".encode()).decode().rstrip("=")
    assert (await pg_api.get("/api/v1/chats", tab="all", cursor=fine))[0] == 200
