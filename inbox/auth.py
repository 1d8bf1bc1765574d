"""Who calls the API: a session cookie (pages) or a bearer token (integrations); CSRF for cookie calls."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from webio.errors import json_error
from sales.sessions import session_of, token_employee
from storage.models import Employee

SESSION_COOKIE = "closer_session"
CSRF_HEADER = "X-CSRF-Token"
EMPLOYEE = web.RequestKey("employee", Employee)
# The session's CSRF token, for pages that need it again after a reload (bearer calls have none).
CSRF = web.RequestKey("csrf", str)
# Reachable without being logged in: (method, path) of the route table's endpoints marked public.
PUBLIC_ROUTES = web.AppKey("public_routes", frozenset)
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def bearer_token(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer …` header (an integration), if the request carries one."""
    authorization = request.headers.get("Authorization", "")
    return authorization.removeprefix("Bearer ").strip() if authorization.startswith("Bearer ") else None


async def cookie_session(request: web.Request):
    """(employee, session) of the request's session cookie (a page), or None."""
    return await session_of(request.cookies.get(SESSION_COOKIE, ""))


async def authenticate(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if not request.path.startswith("/api/") or (request.method, request.path) in request.app[PUBLIC_ROUTES]:
        return await handler(request)
    token = bearer_token(request)
    if token is not None:
        employee = await token_employee(token)
        if employee is None:
            return json_error(401, "unauthorized", "unknown or revoked token")
    else:
        found = await cookie_session(request)
        if found is None:
            return json_error(401, "unauthorized", "log in first")
        employee, session = found
        request[CSRF] = session.csrf_token
        # A cookie rides along on any cross-site request; the header only comes from our own pages.
        given = request.headers.get(CSRF_HEADER, "")
        if request.method not in SAFE_METHODS and not hmac.compare_digest(given.encode(), session.csrf_token.encode()):
            return json_error(403, "csrf", "missing or wrong X-CSRF-Token header")
    request[EMPLOYEE] = employee
    return await handler(request)


# Declared apart from the function: mutation testing (scripts/mutation.sh) leaves decorated functions alone.
auth_middleware = web.middleware(authenticate)


def employee_of(request: web.Request) -> Employee:
    return request[EMPLOYEE]


def csrf_of(request: web.Request) -> str | None:
    return request.get(CSRF)
