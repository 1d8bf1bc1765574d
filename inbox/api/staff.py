"""Employees and the account (SPEC §1.2, §1.3, §1.8, §4.2): who works here, with which rights and limits."""

from __future__ import annotations

from aiohttp import web

from core.keys import CLOCK, SETTINGS
from inbox.auth import csrf_of, employee_of
from webio.body import parse, path_id
from inbox.present import employee_out
from inbox.respond import send
from inbox.schemas import AccountOut, AccountPatch, EmployeeIn, EmployeePatch, InviteOut, Me
from sales import accounts, telegram_link
from sales.access import require_active
from storage.models import Account, Employee


def _account_out(account: Account) -> AccountOut:
    return AccountOut(id=account.id, name=account.name, detach_after=account.detach_after_seconds,
                      first_response_minutes=account.first_response_minutes,
                      reassign_unanswered=account.reassign_unanswered)


async def me(request: web.Request) -> web.Response:
    employee = employee_of(request)
    account = await Account.get(id=employee.account_id)
    return send(Me(employee=employee_out(employee), account=_account_out(account), csrf_token=csrf_of(request),
                   demo=request.app[SETTINGS].demo))


async def list_employees(request: web.Request) -> web.Response:
    actor = employee_of(request)
    require_active(actor)
    staff = await Employee.filter(account_id=actor.account_id).order_by("id")
    body = '{"items":[' + ",".join(employee_out(e).model_dump_json() for e in staff) + "]}"
    return web.Response(text=body, content_type="application/json")


async def add_employee(request: web.Request) -> web.Response:
    body = await parse(request, EmployeeIn)
    employee = await accounts.add_employee(
        employee_of(request), email=body.email, name=body.name, role=body.role, password=body.password,
        commission_rate=body.commission_rate, capacity=body.capacity,
    )
    return send(employee_out(employee), status=201)


async def update_employee(request: web.Request) -> web.Response:
    body = await parse(request, EmployeePatch)
    given = body.model_fields_set
    employee = await accounts.update_employee(
        employee_of(request), path_id(request),
        role=body.role, active=body.active, away=body.away, commission_rate=body.commission_rate,
        language=body.language,
        # Sending "capacity": null means "no limit", leaving it out keeps the limit.
        capacity=body.capacity if "capacity" in given else ...,
    )
    return send(employee_out(employee))


async def telegram_invite(request: web.Request) -> web.Response:
    actor = employee_of(request)
    link = await telegram_link.invite_link(actor, path_id(request), now=request.app[CLOCK]())
    return send(InviteOut(url=link.url, expires_at=link.expires_at), 201)


async def get_account(request: web.Request) -> web.Response:
    actor = employee_of(request)
    return send(_account_out(await Account.get(id=actor.account_id)))


async def update_account(request: web.Request) -> web.Response:
    body = await parse(request, AccountPatch)
    return send(_account_out(await accounts.update_settings(
        employee_of(request), detach_after=body.detach_after, first_response_minutes=body.first_response_minutes,
        reassign_unanswered=body.reassign_unanswered)))
