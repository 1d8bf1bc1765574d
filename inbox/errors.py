"""The API's errors: a domain refusal, a bad request, storage away or a bug each become one JSON answer (SPEC §8)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from inbox.throttle import TooManyAttempts
from sales.errors import Conflict, DomainError, Invalid, NotAllowed, NotFound
from storage.db import STORAGE_DOWN
from webio.errors import json_error

log = logging.getLogger(__name__)

_STATUS = {NotFound: 404, NotAllowed: 403, Invalid: 422, Conflict: 409, TooManyAttempts: 429}


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
        return json_error(status, error.code, error.message, error.field)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return json_error(error.status, error.reason.lower().replace(" ", "_"), error.reason)
    except STORAGE_DOWN as exc:
        log.error("request failed: storage unavailable", extra={"path": request.path, "error": repr(exc)})
        return json_error(503, "unavailable", "the service is briefly unavailable; nothing was changed, try again")
    except Exception:
        # The reason goes to the log, not to the caller.
        log.exception("request failed", extra={"path": request.path, "method": request.method})
        return json_error(500, "internal", "something went wrong; nothing was changed")
