"""POST/GET/DELETE /api/v1/session: log in, who am I, log out; POST /api/v1/tokens: bearer tokens."""

from __future__ import annotations

from aiohttp import web

from core.keys import SETTINGS
from inbox.auth import SESSION_COOKIE, employee_of
from webio.body import parse
from inbox.present import employee_out
from inbox.respond import send
from inbox.schemas import LogIn, NewSession, NewToken, TokenIn
from inbox.throttle import LOGIN_THROTTLE, request_address
from sales import sessions


async def log_in(request: web.Request) -> web.Response:
    body = await parse(request, LogIn)
    throttle = request.app[LOGIN_THROTTLE]
    address = request_address(request, request.app[SETTINGS].trusted_proxies)
    admission = await throttle.admit(address, body.email)
    try:
        new = await sessions.log_in(body.email, body.password)
    except sessions.WrongCredentials:
        refusal = await throttle.failed(address, body.email, admission)
        if refusal is not None:
            raise refusal from None
        raise
    await throttle.succeeded(address, body.email)
    response = send(NewSession(employee=employee_out(new.employee), csrf_token=new.csrf_token))
    response.set_cookie(
        SESSION_COOKIE, new.token, expires=new.expires_at.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        httponly=True, samesite="Lax", secure=request.app[SETTINGS].public_url.startswith("https://"), path="/",
    )
    return response


async def log_out(request: web.Request) -> web.Response:
    await sessions.log_out(request.cookies.get(SESSION_COOKIE, ""))
    response = web.json_response({"ok": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def new_token(request: web.Request) -> web.Response:
    body = await parse(request, TokenIn)
    token = await sessions.issue_api_token(employee_of(request), body.name)
    return send(NewToken(token=token, name=body.name), status=201)
