"""Accounts and their staff, widgets and offers: the setup every rule stands on."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from sales.access import get_in_account, require_admin
from sales.clients import SUPPORTED_LANGUAGES, normalize_email
from sales.errors import Conflict, Invalid, NotAllowed
from storage.models import Account, Employee, Offer, Role, RotationState, Widget, WidgetExclusion

_hasher = PasswordHasher()
_T = TypeVar("_T")
_WIDGET_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what a t.me deep link's start parameter allows
MIN_PASSWORD = 8
DEFAULT_WIDGET_CODE = "default"


# argon2 takes ~0.1-0.3 s of CPU and 64 MiB per hash or check: it runs on these threads, never on the event loop
# (argon2-cffi releases the GIL), and at most this many at once, so a burst of log-ins queues instead of taking all
# the memory or the default executor that other work shares.
_ARGON2_THREADS = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1), thread_name_prefix="argon2")


async def off_the_loop(work: Callable[..., _T], *args: object) -> _T:
    return await asyncio.get_running_loop().run_in_executor(_ARGON2_THREADS, work, *args)


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise Invalid("a password has at least {limit} characters", field="password", limit=MIN_PASSWORD)
    return _hasher.hash(password)


def rehash_password(password: str) -> str:
    """A hash with today's parameters of a password that already works (no length rule: it was set under older ones)."""
    return _hasher.hash(password)


async def hashed_password(password: str) -> str:
    """hash_password, off the event loop."""
    return await off_the_loop(hash_password, password)


@cache
def _dummy_hash() -> str:
    # Made once with the current parameters, of a password nobody knows: checking it costs what a real check costs.
    # Made at the first log-in that needs it, not at start-up: argon2 takes 64 MiB while it works, and a process that
    # never sees a log-in (a webhook-only replica) should not carry that in its peak memory.
    return _hasher.hash(secrets.token_urlsafe(24))


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether the password is the one hashed. Without a usable hash the same work is done against a dummy one, so
    the time taken tells nobody whether an e-mail exists or has a password (SPEC §7)."""
    try:
        if password_hash:
            return _hasher.verify(password_hash, password)
    except VerificationError:
        return False
    except InvalidHashError:
        pass
    try:
        _hasher.verify(_dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        pass
    return False


def needs_rehash(password_hash: str) -> bool:
    """The hash was made with other argon2 parameters (or another scheme) than the current ones."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def _name(value: str, field: str) -> str:
    value = value.strip()
    if not value or len(value) > 200:
        raise Invalid("{what} must be 1 to 200 characters", field=field, what=field)
    return value


def _rate(value: Decimal | str | float | int | None, field: str) -> Decimal | None:
    if value is None:
        return None
    try:
        rate = Decimal(str(value))
    except InvalidOperation:
        raise Invalid("a rate is a number between 0 and 1", field=field) from None
    if not rate.is_finite() or rate < 0 or rate > 1:
        raise Invalid("a rate is a number between 0 and 1", field=field)
    return rate


async def installation_account() -> Account | None:
    """The oldest account runs the installation: BOT_TOKEN connects its bot, and its owner and admins see the payment
    events that name no order of any account (nobody else can claim them)."""
    return await Account.all().order_by("id").first()


async def create_account(name: str, owner_email: str, owner_password: str, owner_name: str = "Owner") -> Account:
    """A new tenant with its owner (there is always exactly one) and a default widget."""
    name, owner_email, owner_name = _name(name, "name"), normalize_email(owner_email), _name(owner_name, "owner_name")
    password_hash = await hashed_password(owner_password)
    async with in_transaction():
        account = await Account.create(name=name)
        await Employee.create(
            account_id=account.id,
            email=owner_email,
            name=owner_name,
            password_hash=password_hash,
            role=Role.OWNER,
        )
        await _new_widget(account.id, DEFAULT_WIDGET_CODE, "Default", is_default=True)
    return account


async def add_employee(
    actor: Employee,
    *,
    email: str,
    name: str,
    role: Role | str = Role.MANAGER,
    password: str | None = None,
    commission_rate: Decimal | str | None = None,
    capacity: int | None = None,
) -> Employee:
    require_admin(actor)
    try:
        role = Role(role)
    except ValueError:
        raise Invalid("role is admin or manager", field="role") from None
    if role == Role.OWNER:
        raise NotAllowed("an account has exactly one owner", field="role")
    if capacity is not None and capacity < 0:
        raise Invalid("capacity cannot be negative", field="capacity")
    email, name = normalize_email(email), _name(name, "name")
    password_hash = await hashed_password(password) if password else None
    try:
        async with in_transaction():
            return await Employee.create(
                account_id=actor.account_id,
                email=email,
                name=name,
                role=role,
                password_hash=password_hash,
                commission_rate=_rate(commission_rate, "commission_rate") or Decimal(0),
                capacity=capacity,
            )
    except IntegrityError:
        raise Conflict("an employee with this e-mail exists", field="email") from None


async def update_employee(
    actor: Employee,
    employee_id: int,
    *,
    role: Role | str | None = None,
    active: bool | None = None,
    away: bool | None = None,
    capacity: int | None | object = ...,
    commission_rate: Decimal | str | None = None,
    language: str | None = None,
) -> Employee:
    """Owner/admin change staff; anyone may mark himself away or back (SPEC §1.8) and choose his language."""
    employee = await get_in_account(Employee, actor.account_id, employee_id, what="employee")
    only_away = role is None and active is None and capacity is ... and commission_rate is None
    if not (only_away and actor.id == employee.id and actor.active):
        require_admin(actor)
    if role is not None:
        try:
            role = Role(role)
        except ValueError:
            raise Invalid("role is admin or manager", field="role") from None
        if Role.OWNER in (role, employee.role) and role != employee.role:
            raise NotAllowed("the owner's role cannot change", field="role")
        employee.role = role
    if active is not None:
        if employee.role == Role.OWNER and not active:
            raise NotAllowed("the owner cannot be deactivated", field="active")
        employee.active = active
    if away is not None:
        employee.away = away
    if language is not None:
        if language not in SUPPORTED_LANGUAGES:
            raise Invalid("language is one of {languages}", field="language", languages=", ".join(SUPPORTED_LANGUAGES))
        employee.language = language
    if capacity is not ...:
        if capacity is not None and (not isinstance(capacity, int) or capacity < 0):
            raise Invalid("capacity is a whole number of orders, or empty", field="capacity")
        employee.capacity = capacity
    if commission_rate is not None:
        employee.commission_rate = _rate(commission_rate, "commission_rate")
    await employee.save()
    return employee


def _price(value: Decimal | str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise Invalid("a price is a number", field="price") from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e10"):
        raise Invalid("a price is a non-negative number below 10^10", field="price")
    return amount.quantize(Decimal("0.01"))


async def _new_widget(account_id: int, code: str, name: str, *, is_default: bool = False) -> Widget:
    if not _WIDGET_CODE.match(code):
        raise Invalid("a widget code is 1 to 64 letters, digits, _ or -", field="code")
    try:
        async with in_transaction():
            widget = await Widget.create(account_id=account_id, code=code, name=name, is_default=is_default)
            await RotationState.create(widget_id=widget.id)
    except IntegrityError:
        raise Conflict("a widget with this code exists", field="code") from None
    return widget


async def add_widget(actor: Employee, *, code: str, name: str, notification_emails: Iterable[str] = (),
                     excluded_employee_ids: Iterable[int] = ()) -> Widget:
    """A widget with its e-mails and exclusions is one change: a bad employee id leaves no half-made widget."""
    require_admin(actor)
    emails = [normalize_email(e) for e in notification_emails]
    excluded = list(excluded_employee_ids)
    async with in_transaction():
        widget = await _new_widget(actor.account_id, code, _name(name, "name"))
        if emails:
            widget.notification_emails = emails
            await widget.save(update_fields=["notification_emails"])
        if excluded:
            await set_widget_exclusions(actor, widget.id, excluded)
    return widget


async def set_widget_exclusions(actor: Employee, widget_id: int, employee_ids: Iterable[int]) -> list[int]:
    """Replace the widget's exclusion list: these employees never get its orders by rotation or sticky."""
    require_admin(actor)
    wanted = set(employee_ids)
    async with in_transaction():
        widget = await get_in_account(Widget, actor.account_id, widget_id, what="widget")
        found = set(
            await Employee.filter(account_id=actor.account_id, id__in=wanted).values_list("id", flat=True)
        )
        if found != wanted:
            raise Invalid("no such employees: {ids}", field="excluded_employee_ids",
                          ids=", ".join(str(i) for i in sorted(wanted - found)))
        await WidgetExclusion.filter(widget_id=widget.id).delete()
        for employee_id in sorted(wanted):
            await WidgetExclusion.create(widget_id=widget.id, employee_id=employee_id)
    return sorted(wanted)


async def set_notification_emails(actor: Employee, widget_id: int, emails: Iterable[str]) -> Widget:
    require_admin(actor)
    widget = await get_in_account(Widget, actor.account_id, widget_id, what="widget")
    widget.notification_emails = [normalize_email(e) for e in emails]
    await widget.save(update_fields=["notification_emails"])
    return widget


async def add_offer(
    actor: Employee,
    *,
    title: str,
    price: Decimal | str,
    currency: str,
    notify_on_failed_payment: bool = False,
    commission_rate: Decimal | str | None = None,
) -> Offer:
    require_admin(actor)
    amount = _price(price)
    currency = currency.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise Invalid("a currency is a three-letter code", field="currency")
    return await Offer.create(
        account_id=actor.account_id,
        title=_name(title, "title"),
        price=amount,
        currency=currency,
        notify_on_failed_payment=notify_on_failed_payment,
        commission_rate=_rate(commission_rate, "commission_rate"),
    )


async def set_notify_on_failed_payment(actor: Employee, offer_id: int, enabled: bool) -> Offer:
    require_admin(actor)
    offer = await get_in_account(Offer, actor.account_id, offer_id, what="offer")
    offer.notify_on_failed_payment = enabled
    await offer.save(update_fields=["notify_on_failed_payment"])
    return offer


async def set_detach_after(actor: Employee, seconds: int) -> Account:
    """SPEC §1.3: how long an order manager may stay idle; 0 = never detach."""
    return await update_settings(actor, detach_after=seconds)


MAX_FIRST_RESPONSE_MINUTES = 7 * 24 * 60


async def update_settings(actor: Employee, *, detach_after: int | None = None,
                          first_response_minutes: int | None = None,
                          reassign_unanswered: bool | None = None) -> Account:
    """The account's settings (owner/admin): `detach_after` (SPEC §1.3, seconds, 0 = never), `first_response_minutes`
    (SPEC §10.5, 0 = off) and `reassign_unanswered`. What is left out stays; all or nothing changes."""
    require_admin(actor)
    if detach_after is not None and not 0 <= detach_after <= 365 * 24 * 3600:
        raise Invalid("detach_after is 0 (never) up to a year, in seconds", field="detach_after")
    if first_response_minutes is not None and not 0 <= first_response_minutes <= MAX_FIRST_RESPONSE_MINUTES:
        raise Invalid("first_response_minutes is 0 (off) up to {limit}",
                      field="first_response_minutes", limit=MAX_FIRST_RESPONSE_MINUTES)
    account = await Account.get(id=actor.account_id)
    if detach_after is not None:
        account.detach_after_seconds = detach_after
    if first_response_minutes is not None:
        account.first_response_minutes = first_response_minutes
    if reassign_unanswered is not None:
        account.reassign_unanswered = reassign_unanswered
    await account.save(update_fields=["detach_after_seconds", "first_response_minutes", "reassign_unanswered"])
    return account


async def update_widget(
    actor: Employee,
    widget_id: int,
    *,
    name: str | None = None,
    notification_emails: Iterable[str] | None = None,
    excluded_employee_ids: Iterable[int] | None = None,
) -> Widget:
    """Change a widget's name, notification e-mails and rotation exclusions, all or nothing.

    Its code stays: it is printed in deep links customers already have.
    """
    require_admin(actor)
    async with in_transaction():
        widget = await get_in_account(Widget, actor.account_id, widget_id, what="widget")
        if name is not None:
            widget.name = _name(name, "name")
            await widget.save(update_fields=["name"])
        if notification_emails is not None:
            widget = await set_notification_emails(actor, widget.id, notification_emails)
        if excluded_employee_ids is not None:
            await set_widget_exclusions(actor, widget.id, excluded_employee_ids)
    return widget


async def update_offer(
    actor: Employee,
    offer_id: int,
    *,
    title: str | None = None,
    price: Decimal | str | None = None,
    notify_on_failed_payment: bool | None = None,
    commission_rate: Decimal | str | None | object = ...,
    active: bool | None = None,
) -> Offer:
    """Edit an offer. Existing orders keep the amount they were placed at; its currency never changes."""
    require_admin(actor)
    offer = await get_in_account(Offer, actor.account_id, offer_id, what="offer")
    if title is not None:
        offer.title = _name(title, "title")
    if price is not None:
        offer.price = _price(price)
    if notify_on_failed_payment is not None:
        offer.notify_on_failed_payment = notify_on_failed_payment
    if commission_rate is not ...:
        offer.commission_rate = _rate(commission_rate, "commission_rate")
    if active is not None:
        offer.active = active
    await offer.save()
    return offer
