"""Issue 12: the API's refusals speak to an employee's page in the employee's language, in our words rather than
pydantic's; integrations (bearer tokens) keep the stable English. The error's shape and field never change."""

from __future__ import annotations

import pytest
from babel.messages.pofile import read_po

from core.i18n import LOCALES_DIR
from inbox.texts import ERROR_TEXTS
from sales.errors import Invalid
from storage.models import Client, Employee
from tests.apitools import make_api
from tests.conftest import require_backend
from tests.factories import new_client


# The translation happens in the web layer, after storage has answered: one backend is enough here.
@pytest.fixture
async def api(database_urls, aiohttp_client):
    return await make_api(require_backend(database_urls, "sqlite"), aiohttp_client)


async def _speaking(api, employee: Employee, language: str):
    await Employee.filter(id=employee.id).update(language=language)
    return await api.as_(employee)


async def _bearer(api, employee: Employee) -> dict:
    """An integration's headers: a token the employee made, and no session cookie any more."""
    csrf = await api.log_in(employee.email)
    response = await api.client.post("/api/v1/tokens", json={"name": "crm"}, headers={"X-CSRF-Token": csrf})
    assert response.status == 201, await response.text()
    token = (await response.json())["token"]
    api.client.session.cookie_jar.clear()
    return {"Authorization": f"Bearer {token}"}


def _translations(lang: str) -> dict[str, str]:
    with open(LOCALES_DIR / lang / "LC_MESSAGES" / "inbox.po", "rb") as handle:
        return {m.id: m.string for m in read_po(handle) if m.id}


OFFER = {"title": "Course", "price": "100.00", "currency": "EUR"}


async def test_a_russian_employees_page_gets_a_bad_price_refused_in_russian(api):
    await _speaking(api, api.shop.owner, "ru")
    status, body = await api.post("/api/v1/offers", OFFER | {"price": "abc"})
    assert status == 422
    assert body["error"] == {"code": "invalid", "message": "Введите число", "field": "price"}


async def test_a_russian_employees_page_gets_a_missing_field_in_russian_naming_the_same_field(api):
    await _speaking(api, api.shop.owner, "ru")
    status, body = await api.post("/api/v1/offers", {"price": "100.00", "currency": "EUR"})
    assert status == 422
    assert body["error"] == {"code": "invalid", "message": "Обязательное поле", "field": "title"}


async def test_the_same_request_with_a_bearer_token_gets_english(api):
    await Employee.filter(id=api.shop.owner.id).update(language="ru")
    headers = await _bearer(api, api.shop.owner)
    response = await api.client.post("/api/v1/offers", json=OFFER | {"price": "abc"}, headers=headers)
    assert response.status == 422
    assert (await response.json())["error"] == {"code": "invalid", "message": "Enter a number", "field": "price"}


async def test_a_domain_refusal_reaches_a_ukrainian_employee_in_ukrainian(api):
    await _speaking(api, api.shop.managers[0], "uk")
    status, body = await api.post("/api/v1/employees", {"email": "x@shop.test", "name": "X"})
    assert status == 403
    assert body["error"] == {
        "code": "forbidden", "message": "Це може зробити лише власник або адміністратор", "field": None,
    }


async def test_a_template_with_a_number_is_translated_then_filled_in(api):
    await _speaking(api, api.shop.owner, "ru")
    status, body = await api.get("/api/v1/clients/987654")
    assert status == 404
    assert body["error"] == {"code": "not_found", "message": "Клиент 987654 не найден", "field": "client_id"}


async def test_a_limit_from_the_schema_is_translated_with_its_number(api):
    await _speaking(api, api.shop.owner, "es")
    status, body = await api.post("/api/v1/offers", OFFER | {"title": "x" * 201})
    assert (status, body["error"]["field"]) == (422, "title")
    assert body["error"]["message"] == "Como máximo 200 caracteres"


async def test_a_client_out_of_sight_and_a_client_that_does_not_exist_read_the_same_in_russian(api):
    me, colleague = api.shop.managers
    hidden = await new_client(api.shop)
    await Client.filter(id=hidden.id).update(personal_manager_id=colleague.id)
    await _speaking(api, me, "ru")
    _, seen = await api.get(f"/api/v1/clients/{hidden.id}")
    _, missing = await api.get("/api/v1/clients/987654")
    assert seen["error"]["message"].replace(str(hidden.id), "N") == missing["error"]["message"].replace("987654", "N")
    assert seen["error"]["message"] == f"Клиент {hidden.id} не найден"


async def test_a_message_without_a_translation_stays_english(api):
    await _speaking(api, api.shop.owner, "ru")
    status, body = await api.get("/api/v1/offers/987654")
    assert status == 404 and body["error"]["message"] == "offer 987654 not found"


async def test_an_english_speaking_employee_reads_the_same_words_as_an_integration(api):
    await _speaking(api, api.shop.owner, "en")
    _, body = await api.post("/api/v1/offers", OFFER | {"price": "abc"})
    assert body["error"]["message"] == "Enter a number"


async def test_a_wrong_choice_lists_the_choices_without_pydantics_quotes(api):
    await api.as_(api.shop.owner)
    status, body = await api.post("/api/v1/employees", {"email": "x@shop.test", "name": "X", "role": "owner"})
    assert (status, body["error"]["field"]) == (422, "role")
    assert body["error"]["message"] == "Must be one of: admin, manager"


@pytest.mark.parametrize("lang", ["es", "ru", "uk"])
def test_every_error_text_has_a_translation_of_its_own(lang):
    catalog = _translations(lang)
    assert sorted(t for t in ERROR_TEXTS if not catalog.get(t) or catalog[t] == t) == []


def test_a_translation_that_does_not_fit_the_params_gives_the_english_message():
    error = Invalid("at most {limit} orders at once", field="order_ids", limit=1000)
    assert error.message == "at most 1000 orders at once"
    assert error.in_language(lambda text: "как максимум {limt}") == "at most 1000 orders at once"
    assert error.in_language(lambda text: "не более {limit} заказов за раз") == "не более 1000 заказов за раз"


def test_a_fixed_message_with_braces_is_left_as_it_is():
    assert Invalid("a {literal} text", field="x").message == "a {literal} text"


BAD_BODIES = [
    ("/api/v1/offers", ["not", "an", "object"]),
    ("/api/v1/offers", "text"),
    ("/api/v1/offers", OFFER | {"price": [1]}),
    ("/api/v1/offers", OFFER | {"price": "1.234"}),
    ("/api/v1/offers", OFFER | {"price": "1e12"}),
    ("/api/v1/offers", OFFER | {"price": "-1"}),
    ("/api/v1/offers", OFFER | {"title": 5}),
    ("/api/v1/offers", OFFER | {"title": ""}),
    ("/api/v1/offers", OFFER | {"currency": "euro"}),
    ("/api/v1/offers", OFFER | {"notify_on_failed_payment": "yes"}),
    ("/api/v1/offers", OFFER | {"commission_rate": 2}),
    ("/api/v1/offers", OFFER | {"colour": "red"}),
    ("/api/v1/employees", {"email": "x@shop.test", "name": "X", "role": "owner"}),
    ("/api/v1/employees", {"email": "x@shop.test", "name": "X", "capacity": "5"}),
    ("/api/v1/employees", {"email": "not-an-email", "name": "X"}),
    ("/api/v1/orders/assign", {"order_ids": [], "employee_id": 1}),
    ("/api/v1/orders/assign", {"order_ids": ["a"], "employee_id": 1}),
    ("/api/v1/orders/assign", {"order_ids": [0], "employee_id": 2**40}),
]


@pytest.mark.parametrize(("path", "body"), BAD_BODIES)
async def test_pydantics_wording_never_reaches_an_answer(api, path, body):
    await api.as_(api.shop.owner)
    status, answer = await api.post(path, body)
    assert status == 422
    message = answer["error"]["message"]
    assert "Input should" not in message and "should" not in message.lower(), message
    assert answer["error"]["field"]


@pytest.mark.parametrize("query", [{"limit": "abc"}, {"limit": "0"}, {"created_from": "yesterday"}])
async def test_pydantics_wording_never_reaches_an_answer_to_a_query(api, query):
    await api.as_(api.shop.owner)
    status, answer = await api.get("/api/v1/orders", **query)
    assert status == 422 and "should" not in answer["error"]["message"].lower(), answer
    assert answer["error"]["field"] == next(iter(query))
