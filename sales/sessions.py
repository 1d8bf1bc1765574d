"""Who is calling the inbox (SPEC §7, §8): password log-in to a session, and bearer tokens for integrations.

Tokens are random and only their SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sales.access import require_admin
from sales.accounts import needs_rehash, off_the_loop, password_matches, rehash_password
from sales.clients import normalize_email
from sales.clock import utcnow
from sales.errors import Invalid, NotAllowed
from storage.models import ApiToken, Employee, WebSession

SESSION_LIFETIME = timedelta(days=14)
TOKEN_PREFIX = "closer_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewSession:
    employee: Employee
    token: str
    csrf_token: str
    expires_at: datetime


class WrongCredentials(NotAllowed):
    """One answer for an unknown e-mail and a wrong password, so the answer tells nobody which e-mails exist."""


def _first_match(hashes: list[str | None], password: str) -> int | None:
    for index, password_hash in enumerate(hashes):
        if password_matches(password_hash, password):
            return index
    return None


async def log_in(email: str, password: str, *, now: datetime | None = None) -> NewSession:
    now = now or utcnow()
    try:
        email = normalize_email(email)
    except Invalid:
        employees = []
    else:
        # One person may work for several accounts under one e-mail; the password says which.
        employees = await Employee.filter(email=email, active=True).order_by("id")
    # The same argon2 work whether the e-mail exists or not: nobody's e-mail checks against a dummy hash (SPEC §7).
    # Off the event loop: one check takes ~0.1-0.3 s of CPU.
    found = await off_the_loop(_first_match, [e.password_hash for e in employees] or [None], password)
    if found is None:
        raise WrongCredentials("wrong e-mail or password")
    employee = employees[found]
    if needs_rehash(employee.password_hash):
        # argon2's parameters changed since this hash was made: store one made with today's, now that we have the
        # password. Only if nobody changed the hash meanwhile.
        fresh = await off_the_loop(rehash_password, password)
        await Employee.filter(id=employee.id, password_hash=employee.password_hash).update(password_hash=fresh)
        employee.password_hash = fresh
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = now + SESSION_LIFETIME
    await WebSession.create(
        token_hash=_digest(token), employee_id=employee.id, csrf_token=csrf, created_at=now, expires_at=expires
    )
    return NewSession(employee, token, csrf, expires)


async def session_of(token: str, *, now: datetime | None = None) -> tuple[Employee, WebSession] | None:
    """The active employee behind a session cookie, or None when it is unknown, expired or he was deactivated."""
    now = now or utcnow()
    # One statement with the join: this runs before every API call.
    session = await WebSession.filter(token_hash=_digest(token)).select_related("employee").first()
    if session is None or session.expires_at <= now or not session.employee.active:
        return None
    return session.employee, session


async def log_out(token: str) -> None:
    await WebSession.filter(token_hash=_digest(token)).delete()


async def issue_api_token(actor: Employee, name: str, *, now: datetime | None = None) -> str:
    """A bearer token for an integration; shown once, stored hashed."""
    require_admin(actor)
    name = name.strip()
    if not name or len(name) > 100:
        raise Invalid("a token needs a name of 1 to 100 characters", field="name")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await ApiToken.create(
        account_id=actor.account_id, created_by_id=actor.id, name=name, token_hash=_digest(token),
        created_at=now or utcnow(),
    )
    return token


async def token_employee(token: str) -> Employee | None:
    """The maker of a live bearer token, if he still may act as owner or admin."""
    found = await ApiToken.filter(token_hash=_digest(token), revoked_at=None).select_related("created_by").first()
    if found is None:
        return None
    maker = found.created_by
    try:
        require_admin(maker)
    except NotAllowed:
        return None
    return maker
