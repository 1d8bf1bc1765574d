"""Deeply nested JSON (SPEC §7, issue 11 item 6) is bad input on every route that reads a JSON body: 4xx, never 500.

A thousand levels in a 2 KB body once overflowed the recursion of the parser (and of everything walking the parsed
value) into a 500, on unauthenticated routes too.
"""

from __future__ import annotations

import base64
import json
import time

import pytest

from closer.app import create_app
from core.config import Settings
from webio.body import MAX_JSON_DEPTH, BadJson, load_json
from inbox.routes import DEMO_ENDPOINTS, ENDPOINTS
from providers.signatures import liqpay_signature, sign_timestamped
from sales.accounts import hash_password
from storage.db import close_database, open_database
from storage.models import Account, Client, Employee, Message, PaymentEvent, TelegramUpdate
from tests.apitools import PASSWORD, Api
from tests.conftest import require_backend
from tests.dbtools import truncate_all
from tests.factories import make_shop

STRIPE_SECRET = "whsec_nested_0123456789"
GENERIC_SECRET = "closer-generic-nested"
LIQPAY_KEY = "sandbox_nested_key"
BOT_TOKEN = "4242:nested-token"
TELEGRAM_SECRET = "nested-s3cret_token"

# About 2 KB each: the shapes that answered 500.
NESTED_ARRAYS = "[" * 1000 + "]" * 1000
NESTED_OBJECTS = '{"a":' * 1000 + "1" + "}" * 1000
BODIES = [pytest.param(NESTED_ARRAYS, id="arrays"), pytest.param(NESTED_OBJECTS, id="objects")]


@pytest.fixture
async def api(database_urls, aiohttp_client) -> Api:
    """The whole app: the API (demo routes included), the payment webhooks and one account's Telegram bot."""
    url = require_backend(database_urls, "sqlite")
    ctx = await open_database(url)
    await truncate_all()
    shop = await make_shop(managers=1)
    await Employee.all().update(password_hash=hash_password(PASSWORD))
    await Account.filter(id=shop.account.id).update(bot_token=BOT_TOKEN, webhook_secret=TELEGRAM_SECRET)
    await close_database(ctx)
    settings = Settings(
        database_url=url, telegram_api_url="http://127.0.0.1:1", webhook_base_url="https://closer.example",
        demo=True, stripe_webhook_secret=STRIPE_SECRET, payments_webhook_secret=GENERIC_SECRET,
        liqpay_private_key=LIQPAY_KEY,
    )
    return Api(await aiohttp_client(create_app(settings, scheduler=False)), shop, shop)


def _path(template: str) -> str:
    # Every handler reads its body before it looks the id up, so any well-formed id reaches the parser.
    return template.replace("{id}", "1")


def _signed(secret: str, body: bytes) -> str:
    return sign_timestamped(secret, body, int(time.time()))


# --- the API

@pytest.mark.parametrize("nested", BODIES)
async def test_every_api_route_reading_a_body_refuses_deeply_nested_json_with_the_error_shape(api, nested):
    await api.as_(api.shop.owner)
    reading = [e for e in ENDPOINTS + DEMO_ENDPOINTS if e.body is not None]
    assert ("POST", "/api/v1/session") in {(e.method, e.path) for e in reading}
    answers = {}
    for endpoint in reading:
        response = await api.client.request(
            endpoint.method, _path(endpoint.path), data=nested,
            headers={"Content-Type": "application/json", "X-CSRF-Token": api.csrf},
        )
        answers[f"{endpoint.method} {endpoint.path}"] = (response.status, await response.json())
    wrong = {
        route: answer for route, answer in answers.items()
        if answer[0] not in (400, 422) or answer[1].get("error", {}).get("field") != "body"
        or "nested deeper" not in answer[1]["error"]["message"]
    }
    assert wrong == {}
    assert len(answers) == len(reading)


async def test_logging_in_with_a_deeply_nested_body_is_refused_without_a_session(api):
    response = await api.client.post("/api/v1/session", data=NESTED_ARRAYS,
                                      headers={"Content-Type": "application/json"})
    assert response.status == 422
    assert (await response.json())["error"] == {
        "code": "invalid", "message": f"the body is nested deeper than {MAX_JSON_DEPTH} levels", "field": "body",
    }
    assert "closer_session" not in response.cookies


async def test_api_routes_that_read_no_body_never_answer_5xx_to_a_nested_one(api):
    await api.as_(api.shop.owner)
    # Logging out last: it ends the session the others ride on.
    ignoring = sorted((e for e in ENDPOINTS if e.body is None), key=lambda e: (e.method, e.path) == ("DELETE",
                                                                                                   "/api/v1/session"))
    statuses = {}
    for endpoint in ignoring:
        response = await api.client.request(
            endpoint.method, _path(endpoint.path), data=NESTED_ARRAYS,
            headers={"Content-Type": "application/json", "X-CSRF-Token": api.csrf},
        )
        statuses[f"{endpoint.method} {endpoint.path}"] = response.status
    assert {route: status for route, status in statuses.items() if status >= 500} == {}


async def test_brackets_inside_strings_are_text_not_nesting(api):
    await api.as_(api.shop.owner)
    notes = "[{" * 2000
    status, body = await api.post("/api/v1/clients", {"email": "brackets@shop.test", "notes": notes})
    assert status == 201 and body["notes"] == notes
    assert await Client.filter(email="brackets@shop.test", notes=notes).exists()


async def test_a_body_in_an_unknown_charset_is_refused_naming_the_content_type(api):
    response = await api.client.post("/api/v1/session", data=b'{"email": "a@b.c", "password": "x"}',
                                      headers={"Content-Type": "application/json; charset=no-such-charset"})
    assert response.status == 422
    assert (await response.json())["error"]["field"] == "Content-Type"


# --- the parser itself

def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_json_nested_to_the_limit_is_read():
    assert load_json(_nested(MAX_JSON_DEPTH)) == json.loads(_nested(MAX_JSON_DEPTH))


def test_json_nested_one_level_past_the_limit_is_refused():
    with pytest.raises(BadJson, match="nested deeper"):
        load_json(_nested(MAX_JSON_DEPTH + 1))


@pytest.mark.parametrize("depth", [500, 1_000, 100_000])
def test_json_nested_far_past_the_limit_is_refused_never_raised_as_recursion(depth):
    with pytest.raises(BadJson, match="nested deeper"):
        load_json(_nested(depth).encode())


def test_wide_but_shallow_json_is_read():
    wide = json.dumps([{"a": [i]} for i in range(5_000)])
    assert len(load_json(wide)) == 5_000


# --- the webhooks: each verifies its sender first, then refuses the body as it refuses other bad ones

@pytest.mark.parametrize("nested", BODIES)
async def test_a_signed_stripe_event_nested_deeply_is_400_and_stores_nothing(api, nested):
    body = nested.encode()
    response = await api.client.post("/webhooks/stripe", data=body, headers={
        "Content-Type": "application/json", "Stripe-Signature": _signed(STRIPE_SECRET, body)})
    assert response.status == 400
    assert (await response.json())["error"]["field"] == "body"
    assert await PaymentEvent.all().count() == 0


@pytest.mark.parametrize("nested", BODIES)
async def test_a_signed_generic_payment_event_nested_deeply_is_400_and_stores_nothing(api, nested):
    body = nested.encode()
    response = await api.client.post("/webhooks/payments", data=body, headers={
        "Content-Type": "application/json", "X-Closer-Signature": _signed(GENERIC_SECRET, body)})
    assert response.status == 400
    assert (await response.json())["error"]["field"] == "body"
    assert await PaymentEvent.all().count() == 0


@pytest.mark.parametrize("nested", BODIES)
async def test_a_signed_liqpay_callback_whose_data_nests_deeply_is_400_and_stores_nothing(api, nested):
    data = base64.b64encode(nested.encode()).decode()
    response = await api.client.post("/webhooks/liqpay",
                                      data={"data": data, "signature": liqpay_signature(LIQPAY_KEY, data)})
    assert response.status == 400
    assert (await response.json())["error"]["field"] == "data"
    assert await PaymentEvent.all().count() == 0


@pytest.mark.parametrize("nested", BODIES)
async def test_a_telegram_update_nested_deeply_is_400_with_the_right_secret_and_stores_nothing(api, nested):
    response = await api.client.post("/webhooks/telegram/4242", data=nested, headers={
        "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET})
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid"
    assert await TelegramUpdate.all().count() == 0 and await Message.all().count() == 0


async def test_a_nested_telegram_update_with_a_wrong_secret_is_401_before_its_body_is_read(api):
    response = await api.client.post("/webhooks/telegram/4242", data=NESTED_ARRAYS, headers={
        "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "wrong"})
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthorized"
