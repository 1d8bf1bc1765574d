"""Recovered revenue (SPEC §11.5): what the Important tab is for, in money.

Everything is derived from what closer already records; nothing is written here.

- **A failed payment in the period** is one per order: the order's *first failure*, and it falls in `[from, to)`.
  A failure is a payment event of the order with result `failed` that closer *applied* (`PaymentEvent.effect ==
  applied`: it made the order `failed` and reached the Important tab); a redelivered, stale or too-late failure that
  changed nothing is not one. Only failures that happened (provider time, `occurred_at`) *before the order was
  paid* count: an order paid before its first failure has nothing to recover and is left out altogether. An order
  whose first failure is before `from` belongs to an earlier period, even if it failed again inside this one.
- **Flagged:** the order's offer has "notify on failed payment" on now, or the order has important items (its
  failure was put in someone's Important tab, so the offer was flagged then; the flag's history is not recorded).
- **Recovered:** the order is `paid` now (at any time up to now, after its first failure, even after `to`). A refund
  undoes the recovery: a `refunded` order counts as failed, not recovered.
- **Amount:** what the provider reported as paid (`Order.paid_amount`), else the order's amount, in the order's
  currency; exact decimals, summed per currency (never converted).
- **Time to recovery:** the payment's time minus the first failure's time, both provider times; the median over
  the recovered orders (the mean of the two middle ones for an even count).
- **Whose it is:** the employee who took the order's important item (*Take*, SPEC §3.5; the first taker, who holds
  it for every holder); else, for an order that was paid (now paid or refunded), its order manager at payment time,
  read from the commission ledger's `paid` line that the payment's transaction writes for him (SPEC §1.5; none when
  the order had no manager then); else the order's current order manager. Nobody → the line without an employee.
- **Weeks:** ISO weeks in UTC (Monday 00:00 to Monday 00:00), every week that overlaps the period, each order in
  the week of its first failure: a bar is what that week's failures brought back so far (a cohort), so every bar
  lies inside the period and recent bars can still grow.
- **Who sees what:** the employee's account only. Owner and admin see everyone; a manager sees his own orders only:
  the totals, the weeks and his one line are all computed over the orders attributed to him.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sales.access import is_admin, require_active
from sales.clock import aware
from sales.errors import Invalid
from storage.models import (
    CommissionEntry,
    CommissionReason,
    Employee,
    ImportantItem,
    Order,
    OrderStatus,
    PaymentEffect,
    PaymentEvent,
    PaymentResult,
)

# A report reads every failure of its period; ten years of weeks is already a chart nobody can read.
MAX_PERIOD = timedelta(days=3660)
_CENTS = Decimal("0.01")
_RATE = Decimal("0.0001")
_WEEK = timedelta(days=7)
# Rows per `IN (...)` list: SQLite's limit on parameters is far above this, PostgreSQL has none to speak of.
_CHUNK = 500
_PAID_ONCE = (OrderStatus.PAID, OrderStatus.REFUNDED)


@dataclass(frozen=True)
class FailedOrder:
    """One failed payment of the period: an order and what became of it."""

    order_id: int
    first_failed_at: datetime
    currency: str
    employee_id: int | None
    recovered: bool
    paid_at: datetime | None = None
    amount: Decimal | None = None  # recovered amount; None when not recovered

    @property
    def time_to_recovery(self) -> timedelta | None:
        return self.paid_at - self.first_failed_at if self.recovered and self.paid_at else None


@dataclass(frozen=True)
class Figures:
    failed: int
    recovered: int
    # Recovered amount per currency, sorted by currency code.
    amounts: tuple[tuple[str, Decimal], ...]
    median_time_to_recovery: timedelta | None

    @property
    def rate(self) -> Decimal | None:
        """Recovered / failed, 4 decimals (half up); None without failures."""
        if not self.failed:
            return None
        return (Decimal(self.recovered) / Decimal(self.failed)).quantize(_RATE, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class RecoveredLine:
    employee_id: int | None
    employee_name: str | None
    figures: Figures


@dataclass(frozen=True)
class RecoveredWeek:
    starts: datetime  # Monday 00:00 UTC
    figures: Figures

    @property
    def label(self) -> str:
        year, week, _ = self.starts.isocalendar()
        return f"{year}-W{week:02d}"


@dataclass(frozen=True)
class RecoveredReport:
    period_from: datetime
    period_to: datetime
    total: Figures
    lines: list[RecoveredLine]
    weeks: list[RecoveredWeek]
    orders: list[FailedOrder] = field(default_factory=list)

    @property
    def currencies(self) -> list[str]:
        return sorted({currency for line in self.lines for currency, _ in line.figures.amounts}
                      | {currency for currency, _ in self.total.amounts})


def median(values: Sequence[timedelta]) -> timedelta | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def figures_of(orders: Iterable[FailedOrder]) -> Figures:
    orders = list(orders)
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for order in orders:
        if order.recovered and order.amount is not None:
            sums[order.currency] += order.amount
    return Figures(
        failed=len(orders),
        recovered=sum(1 for o in orders if o.recovered),
        amounts=tuple((currency, sums[currency].quantize(_CENTS)) for currency in sorted(sums)),
        median_time_to_recovery=median([o.time_to_recovery for o in orders if o.time_to_recovery is not None]),
    )


def week_start(moment: datetime) -> datetime:
    """Monday 00:00 UTC of the ISO week holding `moment`."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def weeks_of(period_from: datetime, period_to: datetime) -> list[datetime]:
    """The Mondays of every ISO week (UTC) that overlaps [from, to)."""
    starts = []
    monday = week_start(period_from)
    while monday < period_to:
        starts.append(monday)
        monday += _WEEK
    return starts


def check_period(period_from: datetime, period_to: datetime) -> tuple[datetime, datetime]:
    try:
        period_from, period_to = aware(period_from), aware(period_to)
    except ValueError:
        raise Invalid("a period's ends need a time zone", field="from") from None
    except OverflowError:
        raise Invalid("the period is out of range", field="from") from None
    if period_to <= period_from:
        raise Invalid("the period ends after it starts", field="to")
    if period_to - period_from > MAX_PERIOD:
        raise Invalid("a period is at most ten years", field="to")
    try:
        # The weeks reach past both ends: a period at the calendar's edge has no weeks to show.
        _edges = (week_start(period_from) - _WEEK, period_to + _WEEK)
    except OverflowError:
        raise Invalid("the period is out of range", field="from") from None
    return period_from, period_to


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


async def failed_orders(account_id: int, period_from: datetime, period_to: datetime) -> list[FailedOrder]:
    """Every failed payment of the period in the account, with what became of it (see the module's rules)."""
    candidates = sorted(set(await PaymentEvent.filter(
        account_id=account_id, result=PaymentResult.FAILED, effect=PaymentEffect.APPLIED,
        occurred_at__gte=period_from, occurred_at__lt=period_to, order_id__isnull=False,
    ).values_list("order_id", flat=True)))
    found: list[FailedOrder] = []
    for ids in _chunks(candidates):
        orders = {row["id"]: row for row in await Order.filter(id__in=ids, account_id=account_id).values(
            "id", "status", "paid_at", "paid_amount", "amount", "currency", "order_manager_id",
            flagged="offer__notify_on_failed_payment")}
        failures: dict[int, list[datetime]] = defaultdict(list)
        for row in await PaymentEvent.filter(
            order_id__in=ids, result=PaymentResult.FAILED, effect=PaymentEffect.APPLIED, occurred_at__lt=period_to,
        ).values("order_id", "occurred_at"):
            failures[row["order_id"]].append(row["occurred_at"])
        with_items: set[int] = set()
        takers: dict[int, tuple[datetime, int, int]] = {}
        for row in await ImportantItem.filter(order_id__in=ids).values("id", "order_id", "taken_by_id", "taken_at"):
            with_items.add(row["order_id"])
            if row["taken_by_id"] is not None and row["taken_at"] is not None:
                key = (row["taken_at"], row["id"], row["taken_by_id"])
                if row["order_id"] not in takers or key < takers[row["order_id"]]:
                    takers[row["order_id"]] = key
        paid_to: dict[int, int] = {}
        for row in await CommissionEntry.filter(order_id__in=ids, reason=CommissionReason.PAID).order_by(
                "id").values("order_id", "employee_id"):
            paid_to.setdefault(row["order_id"], row["employee_id"])

        for order_id in ids:
            order = orders.get(order_id)
            if order is None or not (order["flagged"] or order_id in with_items):
                continue
            status = OrderStatus(order["status"])
            paid_at = order["paid_at"] if status in _PAID_ONCE else None
            before_payment = [t for t in failures[order_id] if paid_at is None or t < paid_at]
            if not before_payment:
                continue
            first = min(before_payment)
            if not period_from <= first < period_to:
                continue
            if order_id in takers:
                employee_id = takers[order_id][2]
            elif status in _PAID_ONCE:
                employee_id = paid_to.get(order_id)
            else:
                employee_id = order["order_manager_id"]
            recovered = status == OrderStatus.PAID
            amount = None
            if recovered:
                amount = Decimal(order["paid_amount"] if order["paid_amount"] is not None else order["amount"])
            found.append(FailedOrder(
                order_id=order_id, first_failed_at=first.astimezone(UTC), currency=order["currency"],
                employee_id=employee_id, recovered=recovered,
                paid_at=paid_at.astimezone(UTC) if paid_at is not None else None, amount=amount,
            ))
    return sorted(found, key=lambda o: (o.first_failed_at, o.order_id))


async def report(actor: Employee, period_from: datetime, period_to: datetime) -> RecoveredReport:
    """The recovered-revenue report of [from, to) for the actor's account (a manager: his own orders)."""
    require_active(actor)
    period_from, period_to = check_period(period_from, period_to)
    orders = await failed_orders(actor.account_id, period_from, period_to)
    if not is_admin(actor):
        orders = [o for o in orders if o.employee_id == actor.id]

    by_employee: dict[int | None, list[FailedOrder]] = defaultdict(list)
    by_week: dict[datetime, list[FailedOrder]] = defaultdict(list)
    for order in orders:
        by_employee[order.employee_id].append(order)
        by_week[week_start(order.first_failed_at)].append(order)
    names = dict(await Employee.filter(
        account_id=actor.account_id, id__in=[e for e in by_employee if e is not None]).values_list("id", "name"))
    lines = [RecoveredLine(employee_id, names.get(employee_id) if employee_id is not None else None,
                           figures_of(rows))
             for employee_id, rows in by_employee.items()]
    lines.sort(key=lambda line: (line.employee_id is None, (line.employee_name or "").casefold(),
                                 line.employee_id or 0))
    return RecoveredReport(
        period_from=period_from,
        period_to=period_to,
        total=figures_of(orders),
        lines=lines,
        weeks=[RecoveredWeek(monday, figures_of(by_week.get(monday, ()))) for monday in weeks_of(period_from, period_to)],
        orders=orders,
    )

