"""The commission report (SPEC §1.5): what each manager earned in a period."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from inbox.auth import employee_of
from inbox.respond import query, send
from inbox.schemas import CommissionLineOut, CommissionReport, EmployeeRef, Instant
from sales import commission
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
