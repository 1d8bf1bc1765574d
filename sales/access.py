"""Who may do what (SPEC §1.2, §7): the role checks every rule shares, and account scoping of lookups."""

from __future__ import annotations

from typing import TypeVar

from tortoise.models import Model

from sales.errors import DomainError, NotAllowed, NotFound
from storage.models import Employee, Role

M = TypeVar("M", bound=Model)

STAFF_ROLES = (Role.OWNER, Role.ADMIN, Role.MANAGER)


def is_admin(actor: Employee) -> bool:
    return actor.role in (Role.OWNER, Role.ADMIN)


def require_admin(actor: Employee) -> None:
    if not actor.active or not is_admin(actor):
        raise NotAllowed("only the owner or an admin may do this")


def require_active(actor: Employee) -> None:
    if not actor.active:
        raise NotAllowed("this employee is deactivated")


def not_found(what: str, object_id: int) -> NotFound:
    """The refusal for a row that is not in the caller's account (or not at all), naming its field."""
    return NotFound(what + " {id} not found", field=f"{what}_id", id=object_id)


async def get_in_account(model: type[M], account_id: int, object_id: int, *, what: str) -> M:
    """Fetch a row of this account; another account's id is simply not found."""
    found = await model.get_or_none(id=object_id, account_id=account_id)
    if found is None:
        raise not_found(what, object_id)
    return found


async def active_staff(account_id: int, employee_id: int, *,
                       deactivated: type[DomainError] = NotAllowed) -> Employee:
    """An employee who may hold an order, a client or a chat: of this account (else not found) and active (else
    `deactivated`: orders and clients have always answered 403, chats answer 422), both naming the field."""
    employee = await Employee.get_or_none(id=employee_id, account_id=account_id)
    if employee is None:
        raise NotFound("employee {id} not found", field="employee_id", id=employee_id)
    if not employee.active:
        raise deactivated("a deactivated employee cannot be assigned", field="employee_id")
    return employee
