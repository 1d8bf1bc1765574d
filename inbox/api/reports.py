"""The reports: commission (SPEC §1.5), what each manager earned in a period; recovered revenue (SPEC §11.5), what
failed payments of flagged offers brought back, as JSON and as a CSV download."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from inbox.auth import employee_of
from inbox.respond import query, send
from inbox.schemas import (
    AmountOut,
    CommissionLineOut,
    CommissionReport,
    EmployeeRef,
    Instant,
    RecoveredFiguresOut,
    RecoveredLineOut,
    RecoveredReport,
    RecoveredWeekOut,
)
from sales import commission, recovered
from sales.errors import Invalid
from storage.models import Employee


class Period(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_: Instant = Field(alias="from")
    to: Instant


async def commissions(request: web.Request) -> web.Response:
    period = query(request, Period)
    if period.to <= period.from_:
        raise Invalid("the period ends after it starts", field="to")
    lines = await commission.report(employee_of(request), period.from_, period.to)
    names = dict(await Employee.filter(id__in=[line.employee_id for line in lines]).values_list("id", "name"))
    return send(CommissionReport(
        period_from=period.from_, period_to=period.to,
        lines=[CommissionLineOut(employee=EmployeeRef(id=line.employee_id, name=names[line.employee_id]),
                                 total=str(line.amount)) for line in lines],
    ))


# --- recovered revenue (SPEC §11.5)

def _amounts(figures: recovered.Figures) -> list[AmountOut]:
    return [AmountOut(currency=currency, amount=str(amount)) for currency, amount in figures.amounts]


def _seconds(value: timedelta | None) -> float | None:
    return value.total_seconds() if value is not None else None


def _figures(figures: recovered.Figures) -> dict:
    rate = figures.rate
    return {"failed": figures.failed, "recovered": figures.recovered,
            "recovery_rate": str(rate) if rate is not None else None, "recovered_amounts": _amounts(figures),
            "median_recovery_seconds": _seconds(figures.median_time_to_recovery)}


async def _recovered_report(request: web.Request) -> recovered.RecoveredReport:
    period = query(request, Period)
    return await recovered.report(employee_of(request), period.from_, period.to)


async def recovered_revenue(request: web.Request) -> web.Response:
    found = await _recovered_report(request)
    return send(RecoveredReport(
        period_from=found.period_from, period_to=found.period_to,
        total=RecoveredFiguresOut(**_figures(found.total)),
        lines=[RecoveredLineOut(
            employee=EmployeeRef(id=line.employee_id, name=line.employee_name or "")
            if line.employee_id is not None else None, **_figures(line.figures)) for line in found.lines],
        weeks=[RecoveredWeekOut(week=week.label, starts=week.starts, **_figures(week.figures))
               for week in found.weeks],
    ))


# A spreadsheet runs a cell that starts like a formula (CSV injection): such a cell is written as text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _exact_seconds(value: timedelta | None) -> str:
    if value is None:
        return ""
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    return str(Decimal(micros) / 1_000_000)  # exact: "5400", "5400.5"


def recovered_csv_text(found: recovered.RecoveredReport) -> str:
    """One row per employee and a total row; amounts per currency in columns of their own."""
    currencies = found.currencies
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["employee_id", "employee", "failed", "recovered", "recovery_rate", "median_recovery_seconds",
                     *(f"recovered_{currency}" for currency in currencies)])

    def row(employee_id: object, name: object, figures: recovered.Figures) -> list[str]:
        amounts = dict(figures.amounts)
        rate = figures.rate
        cells = [employee_id, name, figures.failed, figures.recovered, rate if rate is not None else "",
                 _exact_seconds(figures.median_time_to_recovery),
                 *(amounts.get(currency, Decimal("0.00")) for currency in currencies)]
        return [csv_cell(cell) for cell in cells]

    for line in found.lines:
        writer.writerow(row(line.employee_id if line.employee_id is not None else "",
                            line.employee_name if line.employee_id is not None else "(nobody)", line.figures))
    writer.writerow(row("", "Total", found.total))
    return out.getvalue()


async def recovered_revenue_csv(request: web.Request) -> web.Response:
    found = await _recovered_report(request)
    name = f"recovered-revenue_{found.period_from:%Y-%m-%d}_{found.period_to:%Y-%m-%d}.csv"
    # The byte-order mark makes spreadsheets read the names (Cyrillic ones too) as UTF-8.
    return web.Response(
        body=("\ufeff" + recovered_csv_text(found)).encode(), content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
