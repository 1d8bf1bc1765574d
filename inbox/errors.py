"""The API's errors: a domain refusal, a bad request, storage away or a bug each become one JSON answer (SPEC §8).

An employee's page (a session cookie) gets the message in the employee's language from the inbox catalogue, when it
has the text (inbox/texts.py, ERROR_TEXTS); a bearer token (an integration) always gets the stable English.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from inbox.auth import EMPLOYEE, csrf_of
from inbox.pages import translations
from inbox.throttle import TooManyAttempts
from sales.clients import SUPPORTED_LANGUAGES
from sales.errors import Conflict, DomainError, Invalid, NotAllowed, NotFound
from storage.db import STORAGE_DOWN
from storage.models import Employee
from webio.errors import json_error

log = logging.getLogger(__name__)

_STATUS = {NotFound: 404, NotAllowed: 403, Invalid: 422, Conflict: 409, TooManyAttempts: 429}
UNAVAILABLE = "the service is briefly unavailable; nothing was changed, try again"
INTERNAL = "something went wrong; nothing was changed"


def words_for(employee: Employee | None, *, page: bool) -> Callable[[str], str]:
    """The catalogue's gettext for an employee's page (his session cookie); English as it is for bearer tokens
    (integrations keep stable words) and before anyone is known."""
    if employee is None or not page or employee.language not in SUPPORTED_LANGUAGES:
        return str
    return translations(employee.language).gettext


def gettext_of(request: web.Request) -> Callable[[str], str]:
    """words_for the employee whose page (session cookie, hence a CSRF token) made this API request."""
    return words_for(request.get(EMPLOYEE), page=csrf_of(request) is not None)


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except DomainError as error:
        status = next((s for kind, s in _STATUS.items() if isinstance(error, kind)), 400)
        return json_error(status, error.code, error.in_language(gettext_of(request)), error.field)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return json_error(error.status, error.reason.lower().replace(" ", "_"), error.reason)
    except STORAGE_DOWN as exc:
        log.error("request failed: storage unavailable", extra={"path": request.path, "error": repr(exc)})
        return json_error(503, "unavailable", gettext_of(request)(UNAVAILABLE))
    except Exception:
        # The reason goes to the log, not to the caller.
        log.exception("request failed", extra={"path": request.path, "method": request.method})
        return json_error(500, "internal", gettext_of(request)(INTERNAL))
