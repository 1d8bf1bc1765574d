"""The API's door (SPEC §7, §8): log in to a session cookie, CSRF on changes, bearer tokens, errors in one shape."""

from __future__ import annotations

import pytest

from sales import dialogs
from sales.orders import create_order
from sales.payments import PaymentNotice, apply_payment
from storage.models import Client, ImportantItem, PaymentResult, WebSession
from tests.conftest import require_backend
from tests.apitools import PASSWORD, make_api
from tests.factories import at, new_client, reload

@pytest.fixture(params=["sqlite", "postgres"])
async def api(request, database_urls, aiohttp_client):
    return await make_api(require_backend(database_urls, request.param), aiohttp_client)


async def test_logging_in_sets_a_secure_session_cookie_and_returns_a_csrf_token(api):
    response = await api.client.post("/api/v1/session", json={"email": api.shop.managers[0].email, "password": PASSWORD})
    assert response.status == 200
    body = await response.json()
    assert body["employee"]["id"] == api.shop.managers[0].id and len(body["csrf_token"]) > 20
    cookie = response.cookies["closer_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert await WebSession.filter(employee_id=api.shop.managers[0].id).count() == 1
    stored = await WebSession.get(employee_id=api.shop.managers[0].id)
    assert stored.token_hash != cookie.value  # only a hash is kept


@pytest.mark.parametrize("password", ["wrong-password", ""])
async def test_a_wrong_password_is_refused_with_403_without_saying_whether_the_email_exists(api, password):
    known = await api.client.post("/api/v1/session", json={"email": api.shop.managers[0].email, "password": password})
    unknown = await api.client.post("/api/v1/session", json={"email": "nobody@nowhere.test", "password": password})
    assert (known.status, unknown.status) == (403, 403)
    assert (await known.json())["error"]["message"] == (await unknown.json())["error"]["message"]
    assert await WebSession.all().count() == 0


async def test_repeated_wrong_passwords_are_throttled(api):
    email = api.shop.managers[0].email
    for _ in range(5):
        await api.client.post("/api/v1/session", json={"email": email, "password": "guess"})
    response = await api.client.post("/api/v1/session", json={"email": email, "password": PASSWORD})
    assert response.status == 429
    assert (await response.json())["error"]["code"] == "too_many_attempts"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"email": "a@b.cd"}, "password"), ({"password": "x"}, "email"), ([1, 2], "body"), ("nope", "body")],
)
async def test_a_malformed_login_names_the_field(api, body, field):
    response = await api.client.post("/api/v1/session", json=body)
    assert response.status == 422
    assert (await response.json())["error"]["field"] == field


async def test_the_api_needs_a_login(api):
    response = await api.client.get("/api/v1/important")
    assert response.status == 401
    assert (await response.json())["error"] == {"code": "unauthorized", "message": "log in first", "field": None}


CSRF_REFUSAL = {"code": "csrf", "message": "missing or wrong X-CSRF-Token header", "field": None}


async def test_a_change_without_the_csrf_header_is_refused(api):
    await api.log_in(api.shop.admin.email)
    response = await api.client.post("/api/v1/tokens", json={"name": "crm"})
    assert response.status == 403
    assert (await response.json())["error"] == CSRF_REFUSAL


async def test_a_reloaded_page_learns_its_csrf_token_again_from_the_session(api):
    csrf = await api.log_in(api.shop.managers[0].email)
    response = await api.client.get("/api/v1/session")
    assert response.status == 200 and (await response.json())["csrf_token"] == csrf


async def test_a_change_with_a_wrong_csrf_token_is_refused(api):
    csrf = await api.log_in(api.shop.admin.email)
    response = await api.client.post("/api/v1/tokens", json={"name": "crm"}, headers={"X-CSRF-Token": csrf + "x"})
    assert response.status == 403
    assert (await response.json())["error"] == CSRF_REFUSAL


async def test_patch_and_delete_without_the_csrf_header_are_refused_and_change_nothing(api):
    await api.log_in(api.shop.owner.email)
    patch = await api.client.patch("/api/v1/account", json={"name": "Renamed"})
    delete = await api.client.delete("/api/v1/session")
    assert (patch.status, delete.status) == (403, 403)
    assert (await api.client.get("/api/v1/account")).status == 200  # still logged in
    assert (await reload(api.shop.account)).name != "Renamed"


async def test_logging_out_ends_the_session(api):
    csrf = await api.log_in(api.shop.managers[0].email)
    assert (await api.client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf})).status == 200
    assert (await api.client.get("/api/v1/important")).status == 401


async def test_an_admin_makes_a_bearer_token_that_works_without_cookies(api, aiohttp_client):
    csrf = await api.log_in(api.shop.admin.email)
    response = await api.client.post("/api/v1/tokens", json={"name": "crm"}, headers={"X-CSRF-Token": csrf})
    assert response.status == 201
    token = (await response.json())["token"]
    api.client.session.cookie_jar.clear()
    listed = await api.client.get("/api/v1/important", headers={"Authorization": f"Bearer {token}"})
    assert listed.status == 200
    wrong = await api.client.get("/api/v1/important", headers={"Authorization": "Bearer closer_nope"})
    assert wrong.status == 401


async def test_an_unknown_bearer_token_is_refused_as_unknown_or_revoked(api):
    response = await api.client.get("/api/v1/important", headers={"Authorization": "Bearer closer_nope"})
    assert response.status == 401
    assert (await response.json())["error"] == {
        "code": "unauthorized", "message": "unknown or revoked token", "field": None}


async def test_a_manager_cannot_make_tokens(api):
    csrf = await api.log_in(api.shop.managers[0].email)
    response = await api.client.post("/api/v1/tokens", json={"name": "mine"}, headers={"X-CSRF-Token": csrf})
    assert response.status == 403 and (await response.json())["error"]["code"] == "forbidden"


async def _failed_flagged_order(shop, writers):
    client = await new_client(shop, name="Ann <script>alert(1)</script>")
    order = await create_order(shop.account.id, client_id=client.id, offer_id=shop.flagged_offer.id, now=at(0))
    for employee in writers:
        await dialogs.record_outbound(employee, client.id, "hello", now=at(1))
    await apply_payment(PaymentNotice("generic", f"evt-{order.id}", str(order.id), PaymentResult.FAILED,
                                      occurred_at=at(10), reason="card_declined"))
    return order


async def test_my_important_items_hold_client_time_bell_links_and_order(api):
    order = await _failed_flagged_order(api.shop, [api.shop.managers[0]])
    await api.log_in(api.shop.managers[0].email)
    [item] = (await (await api.client.get("/api/v1/important")).json())["items"]
    stored = await ImportantItem.get(order_id=order.id)
    client_email = (await Client.get(id=order.client_id)).email
    assert item == {
        "id": stored.id,
        "client": {"id": order.client_id, "name": "Ann <script>alert(1)</script>", "email": client_email},
        "failed_at": at(10).isoformat().replace("+00:00", "Z"),
        "reason": "card_declined",
        "seen": False,
        "taken_by": None,
        "resolved": False,
        "chat_url": f"http://127.0.0.1:8080/inbox/chats/{stored.chat_id}",
        "offer_url": f"http://127.0.0.1:8080/inbox/offers/{api.shop.flagged_offer.id}",
        "chat_id": stored.chat_id,
        "offer": {"id": api.shop.flagged_offer.id, "title": api.shop.flagged_offer.title},
        "order_id": order.id,
        "order_url": f"http://127.0.0.1:8080/inbox/orders?order={order.id}",
        "amount": "200.00",
        "currency": "EUR",
    }


async def test_my_important_items_come_in_pages_and_the_bell_counts_them_all(api):
    orders = [await _failed_flagged_order(api.shop, [api.shop.managers[0]]) for _ in range(3)]
    await api.log_in(api.shop.managers[0].email)
    first = await (await api.client.get("/api/v1/important", params={"limit": "2"})).json()
    assert first["unseen"] == 3 and len(first["items"]) == 2 and first["next_cursor"]
    rest = await (await api.client.get("/api/v1/important", params={"limit": "2",
                                                                    "cursor": first["next_cursor"]})).json()
    assert rest["unseen"] == 3 and rest["next_cursor"] is None
    assert sorted(i["order_id"] for i in first["items"] + rest["items"]) == sorted(o.id for o in orders)


async def test_seen_and_take_through_the_api(api):
    order = await _failed_flagged_order(api.shop, api.shop.managers)
    csrf = await api.log_in(api.shop.managers[1].email)
    item = await ImportantItem.get(order_id=order.id, employee_id=api.shop.managers[1].id)
    seen = await api.client.post(f"/api/v1/important/{item.id}/seen", headers={"X-CSRF-Token": csrf})
    assert (await seen.json())["seen"] is True
    taken = await api.client.post(f"/api/v1/important/{item.id}/take", headers={"X-CSRF-Token": csrf})
    assert (await taken.json())["taken_by"]["id"] == api.shop.managers[1].id
    others = await ImportantItem.get(order_id=order.id, employee_id=api.shop.managers[0].id)
    assert others.taken_by_id == api.shop.managers[1].id


async def test_someone_elses_item_is_403_and_another_accounts_is_404(api):
    order = await _failed_flagged_order(api.shop, [api.shop.managers[0]])
    theirs = await _failed_flagged_order(api.other, [api.other.managers[0]])
    csrf = await api.log_in(api.shop.managers[1].email)
    mine_but_not_me = await ImportantItem.get(order_id=order.id)
    other_account = await ImportantItem.get(order_id=theirs.id)
    response = await api.client.post(f"/api/v1/important/{mine_but_not_me.id}/seen", headers={"X-CSRF-Token": csrf})
    assert response.status == 403
    response = await api.client.post(f"/api/v1/important/{other_account.id}/seen", headers={"X-CSRF-Token": csrf})
    assert response.status == 404 and (await response.json())["error"]["code"] == "not_found"
    for bad in ("abc", "99999999999", "-1"):
        response = await api.client.post(f"/api/v1/important/{bad}/seen", headers={"X-CSRF-Token": csrf})
        assert response.status == 404
    assert (await ImportantItem.get(id=other_account.id)).seen_at is None
