"""What went astray, for owner and admins: payment events (unmatched ones kept and shown, SPEC §5.2) and parked
notifications, which an admin sends again."""

from __future__ import annotations

import pytest

from sales import outbox
from sales.orders import create_order
from sales.payments import PaymentNotice, apply_payment
from storage.models import Outbox, OutboxStatus, PaymentResult
from tests.apitools import make_api
from tests.conftest import require_backend
from tests.factories import at, new_client


@pytest.fixture(params=["sqlite", "postgres"])
async def api(request, database_urls, aiohttp_client):
    return await make_api(require_backend(database_urls, request.param), aiohttp_client)


async def _parked(shop, error: str = "SMTPRecipientsRefused") -> Outbox:
    # Written parked in one statement: a pending row could be claimed (and skipped) by any delivery worker on the
    # shared database before it is parked.
    row = outbox.row(account_id=shop.account.id, kind=outbox.ORDER_CREATED_EMAIL,
                     dedupe_key=f"parked-{shop.account.id}", now=at(0), payload={"order_id": 1}).model()
    row.status, row.attempts, row.last_error = OutboxStatus.PARKED, 8, error
    await row.save(force_create=True)
    return await Outbox.get(id=row.id)


async def test_an_event_for_an_unknown_order_is_shown_to_the_installations_admins_as_unmatched(api):
    await apply_payment(PaymentNotice("generic", "lost-1", "99999", PaymentResult.FAILED, occurred_at=at(5),
                                      reason="card_declined"))
    await api.as_(api.shop.admin)
    status, body = await api.get("/api/v1/payment-events", effect="unmatched")
    assert status == 200
    assert [(e["event_id"], e["order_id"], e["order_ref"], e["effect"], e["reason"]) for e in body["items"]] == [
        ("lost-1", None, "99999", "unmatched", "card_declined")]


async def test_an_accounts_admins_see_its_own_events_and_no_other_accounts(api):
    mine = await create_order(api.other.account.id, client_id=(await new_client(api.other)).id,
                              offer_id=api.other.offer.id, now=at(0))
    theirs = await create_order(api.shop.account.id, client_id=(await new_client(api.shop)).id,
                                offer_id=api.shop.offer.id, now=at(0))
    await apply_payment(PaymentNotice("generic", "mine", str(mine.id), PaymentResult.PAID, occurred_at=at(5)))
    await apply_payment(PaymentNotice("generic", "theirs", str(theirs.id), PaymentResult.PAID, occurred_at=at(5)))
    await apply_payment(PaymentNotice("generic", "lost", "99999", PaymentResult.PAID, occurred_at=at(5)))
    await api.as_(api.other.owner)
    status, body = await api.get("/api/v1/payment-events")
    assert status == 200
    assert [(e["event_id"], e["order_id"], e["effect"]) for e in body["items"]] == [("mine", mine.id, "applied")]


async def test_a_manager_cannot_list_payment_events(api):
    await api.as_(api.shop.managers[0])
    status, body = await api.get("/api/v1/payment-events")
    assert status == 403 and body["error"]["code"]


async def test_a_bad_effect_filter_is_refused_naming_it(api):
    await api.as_(api.shop.admin)
    status, body = await api.get("/api/v1/payment-events", effect="lost")
    assert status == 422 and body["error"]["field"] == "effect"


async def test_a_parked_notification_is_listed_with_its_last_error(api):
    row = await _parked(api.shop)
    await _parked(api.other)
    await api.as_(api.shop.owner)
    status, body = await api.get("/api/v1/outbox/parked")
    assert status == 200
    assert [(r["id"], r["kind"], r["attempts"], r["last_error"]) for r in body["items"]] == [
        (row.id, outbox.ORDER_CREATED_EMAIL, 8, "SMTPRecipientsRefused")]


async def test_an_admin_sends_a_parked_notification_again_once(api):
    row = await _parked(api.shop)
    await api.as_(api.shop.admin)
    status, body = await api.post(f"/api/v1/outbox/{row.id}/retry")
    assert status == 200 and (body["status"], body["attempts"], body["last_error"]) == ("pending", 0, None)
    again = await Outbox.get(id=row.id)
    assert (again.status, again.attempts) == (OutboxStatus.PENDING, 0)
    # Now pending: a second press must not queue it twice.
    status, body = await api.post(f"/api/v1/outbox/{row.id}/retry")
    assert status == 409 and body["error"]["field"] == "outbox_id"


async def test_a_sent_notification_cannot_be_sent_again(api):
    row = await _parked(api.shop)
    await Outbox.filter(id=row.id).update(status=OutboxStatus.SENT)
    await api.as_(api.shop.owner)
    assert (await api.post(f"/api/v1/outbox/{row.id}/retry"))[0] == 409
    assert (await Outbox.get(id=row.id)).status == OutboxStatus.SENT


async def test_another_accounts_parked_notification_is_not_found_and_stays_parked(api):
    row = await _parked(api.other)
    await api.as_(api.shop.owner)
    assert (await api.post(f"/api/v1/outbox/{row.id}/retry"))[0] == 404
    assert (await Outbox.get(id=row.id)).status == OutboxStatus.PARKED


async def test_a_manager_cannot_send_a_parked_notification_again(api):
    row = await _parked(api.shop)
    await api.as_(api.shop.managers[0])
    assert (await api.post(f"/api/v1/outbox/{row.id}/retry"))[0] == 403
    assert (await Outbox.get(id=row.id)).status == OutboxStatus.PARKED
