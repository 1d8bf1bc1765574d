"""Recovered revenue (SPEC §11.5): failed payments of flagged offers in a period, which were paid later, how much,
how fast, per employee and per ISO week; the JSON report, its CSV download, who sees what.

Every case runs on SQLite and PostgreSQL against the real app. The history below is made through the real rules
(orders, messages, payment events, *Take*, re-assignment) and its figures are worked out by hand in the comments.
"""

from __future__ import annotations

import csv
import io
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from sales import accounts, dialogs, important
from sales.assignment import assign_order
from sales.errors import Invalid
from sales.orders import create_order
from sales.payments import PaymentNotice, apply_payment
from sales.recovered import failed_orders, median, weeks_of
from storage.models import Employee, ImportantItem, Offer, Order, PaymentResult
from tests.apitools import Api, make_api
from tests.conftest import require_backend
from tests.factories import Shop, new_client

# Monday 2 March 2026, 09:00 UTC: day 0 of the history, in ISO week 2026-W10.
DAY0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# The period: three whole ISO weeks, W10 (2–8 March), W11 (9–15 March) and W12 (16–22 March).
PERIOD = {"from": "2026-03-02T00:00:00Z", "to": "2026-03-23T00:00:00Z"}
REPORT = "/api/v1/reports/recovered"
CSV = "/api/v1/reports/recovered.csv"
_events = itertools.count(1)


def day(d: float, hours: float = 0) -> datetime:
    return DAY0 + timedelta(days=d, hours=hours)


@pytest.fixture(params=["sqlite", "postgres"])
async def api(request, database_urls, aiohttp_client) -> Api:
    return await make_api(require_backend(database_urls, request.param), aiohttp_client, managers=3)


async def order_of(shop: Shop, offer: Offer, manager: Employee | None, name: str) -> Order:
    client = await new_client(shop, name=name)
    order = await create_order(shop.account.id, client_id=client.id, offer_id=offer.id, now=day(-10))
    await Order.filter(id=order.id).update(order_manager_id=manager.id if manager else None)
    return await Order.get(id=order.id)


async def pay(order: Order, result: PaymentResult, when: datetime, amount: str | None = None,
              currency: str | None = None) -> None:
    await apply_payment(PaymentNotice(
        "generic", f"recovered-{next(_events)}", str(order.id), result, occurred_at=when,
        amount=Decimal(amount) if amount is not None else None, currency=currency,
        reason="card_declined" if result == PaymentResult.FAILED else None,
    ), now=when)


@dataclass
class History:
    orders: dict[str, Order]
    usd_offer: Offer


async def seed_history(shop: Shop, other: Shop | None = None) -> History:
    """The history every case reads. Managers m0, m1, m2; the flagged offer costs 200.00 EUR, the USD one 300.00.

    counted (first failure in the period, flagged offer, failure before any payment):
      A  m0's; m0 wrote before; fails day 0 10:00 (W10); paid day 1 10:00, amount not reported → 200.00 EUR;
         nobody took it → m0, the order manager at payment.            recovered, 24 h = 86 400 s
      B  m0's; m0 and m1 wrote before; fails day 2 12:00 (W10) and again day 3 12:00 (counted once, from the first);
         m1 takes the item day 3 13:00; paid day 4 12:00, 150.00 EUR reported → m1 (the taker).
                                                                          recovered, 2 d = 172 800 s
      C  m1's; fails day 8 09:00 (W11); never paid → m1 (current order manager).           not recovered
      D  m2's; fails day 9 09:00 (W11); paid day 9 15:00 → 200.00 EUR; then re-assigned to m0 → still m2
         (the order manager at payment time).                             recovered, 6 h = 21 600 s
      E  m2's, USD offer; fails day 15 09:00 (W12); paid day 25 10:30, after the period → 300.00 USD → m2.
                                                                          recovered, 10 d 1.5 h = 869 400 s
      J  m0's; fails day 16 09:00 (W12); paid day 17; refunded day 18 → m0 (manager at payment).   not recovered
      L  no manager; fails day 16 12:00 (W12); never paid → nobody.                                not recovered
    left out:
      F  first failure day -1 (before the period), again day 1, paid day 2   (belongs to the earlier period)
      G  fails day 21 09:00 = 23 March, after the period
      H  unflagged offer: fails day 5, paid day 6
      I  failure at day 11 10:00 applied, then a payment made at day 11 09:00 arrives   (paid before the failure)
      K  another account's flagged order: fails day 1, paid day 2

    totals: failed 7 (A B C D E J L); recovered 4 (A B D E); rate 4/7 = 0.5714;
            EUR 200 + 150 + 200 = 550.00; USD 300.00;
            median of 21 600, 86 400, 172 800, 869 400 = (86 400 + 172 800) / 2 = 129 600 s
    lines:  m0: A J     failed 2, recovered 1, 0.5000, EUR 200.00,             median  86 400
            m1: B C     failed 2, recovered 1, 0.5000, EUR 150.00,             median 172 800
            m2: D E     failed 2, recovered 2, 1.0000, EUR 200.00, USD 300.00, median (21 600 + 869 400) / 2 = 445 500
            nobody: L   failed 1, recovered 0, 0.0000, nothing,                median none
    weeks:  W10 A B     failed 2, recovered 2, EUR 350.00
            W11 C D     failed 2, recovered 1, EUR 200.00
            W12 E J L   failed 3, recovered 1, USD 300.00
    """
    m0, m1, m2 = shop.managers
    flagged = shop.flagged_offer
    usd = await accounts.add_offer(shop.owner, title="Online course", price="300.00", currency="USD",
                                   notify_on_failed_payment=True)
    o: dict[str, Order] = {}

    o["A"] = await order_of(shop, flagged, m0, "Anna")
    await dialogs.record_outbound(m0, o["A"].client_id, "Your link", now=day(-1))
    await pay(o["A"], PaymentResult.FAILED, day(0, 1))
    await pay(o["A"], PaymentResult.PAID, day(1, 1))

    o["B"] = await order_of(shop, flagged, m0, "Boris")
    await dialogs.record_outbound(m0, o["B"].client_id, "Your link", now=day(-1))
    await dialogs.record_outbound(m1, o["B"].client_id, "I can help too", now=day(-1, 1))
    await pay(o["B"], PaymentResult.FAILED, day(2, 3))
    await pay(o["B"], PaymentResult.FAILED, day(3, 3))
    taken = await ImportantItem.get(order_id=o["B"].id, employee_id=m1.id)
    await important.take(m1, taken.id, now=day(3, 4))
    await pay(o["B"], PaymentResult.PAID, day(4, 3), amount="150.00", currency="EUR")

    o["C"] = await order_of(shop, flagged, m1, "Chen")
    await pay(o["C"], PaymentResult.FAILED, day(8))

    o["D"] = await order_of(shop, flagged, m2, "Dana")
    await pay(o["D"], PaymentResult.FAILED, day(9))
    await pay(o["D"], PaymentResult.PAID, day(9, 6))
    await assign_order(shop.owner, o["D"].id, m0.id, now=day(10))

    o["E"] = await order_of(shop, usd, m2, "Emil")
    await pay(o["E"], PaymentResult.FAILED, day(15))
    await pay(o["E"], PaymentResult.PAID, day(25, 1.5), amount="300.00", currency="USD")

    o["J"] = await order_of(shop, flagged, m0, "Jana")
    await pay(o["J"], PaymentResult.FAILED, day(16))
    await pay(o["J"], PaymentResult.PAID, day(17))
    await pay(o["J"], PaymentResult.REFUNDED, day(18))

    o["L"] = await order_of(shop, flagged, None, "Lev")
    await pay(o["L"], PaymentResult.FAILED, day(16, 3))

    o["F"] = await order_of(shop, flagged, m0, "Fedir")
    await pay(o["F"], PaymentResult.FAILED, day(-1))
    await pay(o["F"], PaymentResult.FAILED, day(1))
    await pay(o["F"], PaymentResult.PAID, day(2))

    o["G"] = await order_of(shop, flagged, m0, "Galya")
    await pay(o["G"], PaymentResult.FAILED, day(21))

    o["H"] = await order_of(shop, shop.offer, m0, "Hanna")
    await pay(o["H"], PaymentResult.FAILED, day(5))
    await pay(o["H"], PaymentResult.PAID, day(6))

    o["I"] = await order_of(shop, flagged, m1, "Ihor")
    await pay(o["I"], PaymentResult.FAILED, day(11, 1))
    await pay(o["I"], PaymentResult.PAID, day(11))

    if other is not None:
        o["K"] = await order_of(other, other.flagged_offer, other.managers[0], "Kyrylo")
        await pay(o["K"], PaymentResult.FAILED, day(1))
        await pay(o["K"], PaymentResult.PAID, day(2))
    return History(o, usd)


async def report_as(api: Api, employee: Employee, period: dict | None = None) -> dict:
    await api.as_(employee)
    status, body = await api.get(REPORT, **(period or PERIOD))
    assert status == 200, body
    return body


def line_of(body: dict, employee: Employee | None) -> dict:
    wanted = employee.id if employee else None
    return next(line for line in body["lines"] if (line["employee"] or {}).get("id") == wanted)


async def counted(shop: Shop) -> set[int]:
    found = await failed_orders(shop.account.id, datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 23, tzinfo=UTC))
    return {o.order_id for o in found}


# --- what counts

async def test_a_failure_inside_the_period_is_counted_and_failures_outside_it_are_not(api):
    history = await seed_history(api.shop)
    ids = await counted(api.shop)
    assert history.orders["A"].id in ids and history.orders["E"].id in ids
    assert history.orders["G"].id not in ids  # failed on 23 March, the period's end excluded


async def test_an_order_that_first_failed_before_the_period_belongs_to_that_earlier_period(api):
    history = await seed_history(api.shop)
    assert history.orders["F"].id not in await counted(api.shop)
    earlier = await failed_orders(api.shop.account.id, day(-2), day(0, -9))
    assert [o.order_id for o in earlier] == [history.orders["F"].id]


async def test_a_failure_of_an_offer_without_the_flag_is_not_counted(api):
    history = await seed_history(api.shop)
    assert history.orders["H"].id not in await counted(api.shop)


async def test_two_failures_of_one_order_count_once_from_the_first(api):
    history = await seed_history(api.shop)
    found = await failed_orders(api.shop.account.id, day(0, -9), day(21, -9))
    b = [o for o in found if o.order_id == history.orders["B"].id]
    assert len(b) == 1 and b[0].first_failed_at == day(2, 3)


async def test_an_order_paid_before_its_failure_is_not_counted(api):
    history = await seed_history(api.shop)
    assert history.orders["I"].id not in await counted(api.shop)


async def test_the_totals_count_failures_recoveries_amounts_and_the_median(api):
    await seed_history(api.shop)
    body = await report_as(api, api.shop.owner)
    assert body["total"] == {
        "failed": 7, "recovered": 4, "recovery_rate": "0.5714",
        "recovered_amounts": [{"currency": "EUR", "amount": "550.00"}, {"currency": "USD", "amount": "300.00"}],
        "median_recovery_seconds": 129600.0,
    }


async def test_an_order_paid_after_the_period_still_counts_as_recovered(api):
    history = await seed_history(api.shop)
    found = {o.order_id: o for o in await failed_orders(api.shop.account.id, day(0, -9), day(21, -9))}
    e = found[history.orders["E"].id]
    assert e.recovered and e.paid_at == day(25, 1.5) and e.amount == Decimal("300.00") and e.currency == "USD"


async def test_a_failed_order_never_paid_is_not_recovered(api):
    history = await seed_history(api.shop)
    found = {o.order_id: o for o in await failed_orders(api.shop.account.id, day(0, -9), day(21, -9))}
    assert found[history.orders["C"].id].recovered is False and found[history.orders["C"].id].amount is None


async def test_a_refunded_order_is_failed_but_not_recovered(api):
    history = await seed_history(api.shop)
    found = {o.order_id: o for o in await failed_orders(api.shop.account.id, day(0, -9), day(21, -9))}
    assert found[history.orders["J"].id].recovered is False


async def test_the_recovered_amount_is_what_the_provider_reported_as_paid(api):
    history = await seed_history(api.shop)
    found = {o.order_id: o for o in await failed_orders(api.shop.account.id, day(0, -9), day(21, -9))}
    assert found[history.orders["B"].id].amount == Decimal("150.00")  # the offer's price is 200.00
    assert found[history.orders["A"].id].amount == Decimal("200.00")  # nothing reported: the order's amount


async def test_a_failure_that_reached_the_important_tab_counts_after_the_flag_is_turned_off(api):
    history = await seed_history(api.shop)
    await Offer.filter(id=api.shop.flagged_offer.id).update(notify_on_failed_payment=False)
    ids = await counted(api.shop)
    # A and B put items in someone's Important tab; C, D, J and L had nobody who wrote to the client.
    assert ids == {history.orders["A"].id, history.orders["B"].id, history.orders["E"].id}


# --- whose it is

async def test_the_employee_who_took_the_important_item_gets_the_recovery(api):
    await seed_history(api.shop)
    body = await report_as(api, api.shop.owner)
    m1 = line_of(body, api.shop.managers[1])  # B (taken by m1 from m0's order) and C
    assert (m1["failed"], m1["recovered"], m1["recovered_amounts"]) == (
        2, 1, [{"currency": "EUR", "amount": "150.00"}])


async def test_without_a_taker_the_order_manager_at_payment_time_gets_it_not_the_one_after(api):
    await seed_history(api.shop)
    body = await report_as(api, api.shop.owner)
    m2 = line_of(body, api.shop.managers[2])  # D, re-assigned to m0 after it was paid, and E
    assert m2 == {
        "employee": {"id": api.shop.managers[2].id, "name": "Manager 2"},
        "failed": 2, "recovered": 2, "recovery_rate": "1.0000",
        "recovered_amounts": [{"currency": "EUR", "amount": "200.00"}, {"currency": "USD", "amount": "300.00"}],
        "median_recovery_seconds": 445500.0,
    }


async def test_each_employee_has_a_line_and_an_order_without_anyone_is_nobodys(api):
    await seed_history(api.shop)
    body = await report_as(api, api.shop.owner)
    m0, m1, m2 = api.shop.managers
    assert [(line["employee"]["name"] if line["employee"] else None, line["failed"], line["recovered"],
             line["recovery_rate"], line["median_recovery_seconds"]) for line in body["lines"]] == [
        ("Manager 0", 2, 1, "0.5000", 86400.0),
        ("Manager 1", 2, 1, "0.5000", 172800.0),
        ("Manager 2", 2, 2, "1.0000", 445500.0),
        (None, 1, 0, "0.0000", None),
    ]
    assert line_of(body, None)["recovered_amounts"] == []


# --- the median and the weeks

def test_the_median_of_an_even_count_is_the_mean_of_the_middle_two():
    assert median([timedelta(hours=h) for h in (1, 10, 4, 2)]) == timedelta(hours=3)
    assert median([timedelta(hours=h) for h in (5, 1, 9)]) == timedelta(hours=5)
    assert median([]) is None


async def test_the_weeks_are_the_iso_weeks_of_the_period_each_order_in_the_week_of_its_first_failure(api):
    await seed_history(api.shop)
    body = await report_as(api, api.shop.owner)
    assert [(w["week"], w["starts"], w["failed"], w["recovered"], w["recovered_amounts"]) for w in body["weeks"]] == [
        ("2026-W10", "2026-03-02T00:00:00Z", 2, 2, [{"currency": "EUR", "amount": "350.00"}]),
        ("2026-W11", "2026-03-09T00:00:00Z", 2, 1, [{"currency": "EUR", "amount": "200.00"}]),
        ("2026-W12", "2026-03-16T00:00:00Z", 3, 1, [{"currency": "USD", "amount": "300.00"}]),
    ]


def test_a_period_not_on_week_boundaries_has_every_week_it_touches():
    # Sunday 8 March 12:00 to Monday 16 March 00:00:01 touches W10, W11 and W12.
    weeks = weeks_of(datetime(2026, 3, 8, 12, tzinfo=UTC), datetime(2026, 3, 16, 0, 0, 1, tzinfo=UTC))
    assert [w.date().isoformat() for w in weeks] == ["2026-03-02", "2026-03-09", "2026-03-16"]


async def test_an_empty_week_is_a_week_with_nothing(api):
    body = await report_as(api, api.shop.owner, {"from": "2026-03-02T00:00:00Z", "to": "2026-03-09T00:00:00Z"})
    assert body["weeks"] == [{"week": "2026-W10", "starts": "2026-03-02T00:00:00Z", "failed": 0, "recovered": 0,
                              "recovery_rate": None, "recovered_amounts": [], "median_recovery_seconds": None}]
    assert body["lines"] == [] and body["total"]["failed"] == 0


# --- who sees what

async def test_an_admin_sees_the_whole_account_like_the_owner(api):
    await seed_history(api.shop)
    assert await report_as(api, api.shop.admin) == await report_as(api, api.shop.owner)


async def test_a_manager_sees_only_his_own_orders_in_every_figure(api):
    await seed_history(api.shop)
    m1 = api.shop.managers[1]
    body = await report_as(api, m1)
    assert [line["employee"]["id"] for line in body["lines"]] == [m1.id]
    assert (body["total"]["failed"], body["total"]["recovered"]) == (2, 1)  # B and C
    assert [(w["failed"], w["recovered"]) for w in body["weeks"]] == [(1, 1), (1, 0), (0, 0)]


async def test_another_accounts_failures_are_absent_and_its_owner_sees_only_his(api):
    history = await seed_history(api.shop, api.other)
    assert history.orders["K"].id not in await counted(api.shop)
    body = await report_as(api, api.other.owner)
    assert (body["total"]["failed"], body["total"]["recovered"]) == (1, 1)
    assert [line["employee"]["id"] for line in body["lines"]] == [api.other.managers[0].id]
    assert (await report_as(api, api.shop.owner))["total"]["failed"] == 7


async def test_a_deactivated_employee_gets_no_report(api):
    manager = api.shop.managers[0]
    await api.as_(manager)
    await Employee.filter(id=manager.id).update(active=False)
    status, _ = await api.get(REPORT, **PERIOD)
    assert status in (401, 403)


async def test_the_report_needs_a_login(api):
    response = await api.client.get(REPORT, params=PERIOD)
    assert response.status == 401


# --- bad periods

async def test_a_period_that_ends_before_it_starts_is_refused(api):
    await api.as_(api.shop.owner)
    status, body = await api.get(REPORT, **{"from": "2026-03-23T00:00:00Z", "to": "2026-03-02T00:00:00Z"})
    assert status == 422 and body["error"]["field"] == "to"


async def test_a_period_that_ends_when_it_starts_is_refused(api):
    await api.as_(api.shop.owner)
    status, body = await api.get(REPORT, **{"from": "2026-03-02T00:00:00Z", "to": "2026-03-02T00:00:00Z"})
    assert status == 422 and body["error"]["field"] == "to"


async def test_a_time_without_a_zone_is_refused(api):
    await api.as_(api.shop.owner)
    status, body = await api.get(REPORT, **{"from": "2026-03-02T00:00:00", "to": "2026-03-23T00:00:00Z"})
    assert status == 422 and body["error"]["field"] == "from"


async def test_a_period_longer_than_ten_years_is_refused(api):
    await api.as_(api.shop.owner)
    status, body = await api.get(REPORT, **{"from": "2000-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"})
    assert status == 422 and body["error"]["field"] == "to"


async def test_a_period_at_the_calendars_edge_is_refused_not_a_server_error(api):
    await api.as_(api.shop.owner)
    status, _ = await api.get(REPORT, **{"from": "9999-12-20T00:00:00Z", "to": "9999-12-31T23:59:59Z"})
    assert status == 422
    status, _ = await api.get(CSV, **{"from": "0001-01-01T00:00:00+05:00", "to": "0001-02-01T00:00:00Z"})
    assert status == 422


async def test_the_csv_refuses_a_bad_period_as_json(api):
    await api.as_(api.shop.owner)
    response = await api.client.get(CSV, params={"from": "2026-03-23T00:00:00Z", "to": "2026-03-02T00:00:00Z"})
    assert response.status == 422 and (await response.json())["error"]["field"] == "to"


# --- the CSV

async def _csv(api: Api, employee: Employee) -> tuple[object, list[list[str]]]:
    await api.as_(employee)
    response = await api.client.get(CSV, params=PERIOD)
    assert response.status == 200, await response.text()
    text = (await response.read()).decode("utf-8")
    assert text.startswith("\ufeff")
    return response, list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


async def test_the_csv_is_an_attachment_of_text_csv(api):
    response, _ = await _csv(api, api.shop.owner)
    assert response.content_type == "text/csv" and response.charset == "utf-8"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="recovered-revenue_2026-03-02_2026-03-23.csv"')


async def test_the_openapi_document_says_the_csv_answer_is_text_csv(api):
    _, document = await api.get("/api/v1/openapi.json")
    answer = document["paths"][CSV]["get"]["responses"]["200"]
    assert list(answer["content"]) == ["text/csv"]


async def test_the_csv_has_a_row_per_employee_and_a_total_row(api):
    await seed_history(api.shop)
    m0, m1, m2 = api.shop.managers
    _, rows = await _csv(api, api.shop.owner)
    assert rows == [
        ["employee_id", "employee", "failed", "recovered", "recovery_rate", "median_recovery_seconds",
         "recovered_EUR", "recovered_USD"],
        [str(m0.id), "Manager 0", "2", "1", "0.5000", "86400", "200.00", "0.00"],
        [str(m1.id), "Manager 1", "2", "1", "0.5000", "172800", "150.00", "0.00"],
        [str(m2.id), "Manager 2", "2", "2", "1.0000", "445500", "200.00", "300.00"],
        ["", "(nobody)", "1", "0", "0.0000", "", "0.00", "0.00"],
        ["", "Total", "7", "4", "0.5714", "129600", "550.00", "300.00"],
    ]


async def test_a_csv_cell_that_looks_like_a_formula_is_written_as_text(api):
    await seed_history(api.shop)
    m0, m1, m2 = api.shop.managers
    await Employee.filter(id=m0.id).update(name='=HYPERLINK("http://evil.test","x")')
    await Employee.filter(id=m1.id).update(name="+1-555")
    await Employee.filter(id=m2.id).update(name="@SUM(A1)")
    _, rows = await _csv(api, api.shop.owner)
    names = {row[0]: row[1] for row in rows[1:]}
    assert names[str(m0.id)] == '\'=HYPERLINK("http://evil.test","x")'
    assert names[str(m1.id)] == "'+1-555"
    assert names[str(m2.id)] == "'@SUM(A1)"


async def test_a_manager_downloads_only_his_own_line(api):
    await seed_history(api.shop)
    m1 = api.shop.managers[1]
    _, rows = await _csv(api, m1)
    assert rows[1:] == [[str(m1.id), "Manager 1", "2", "1", "0.5000", "172800", "150.00"],
                        ["", "Total", "2", "1", "0.5000", "172800", "150.00"]]


# --- the domain's own refusals

async def test_the_domain_refuses_a_period_without_a_zone(api):
    from sales.recovered import report

    with pytest.raises(Invalid):
        await report(api.shop.owner, datetime(2026, 3, 2), datetime(2026, 3, 9))
