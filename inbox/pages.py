"""The inbox's web pages (SPEC §6, §8 "Pages"): server-rendered shells in the employee's language, filled by
static/app.js from the JSON API. Rendering the frame here and the data there keeps one source of truth (the API)
and no build step; jinja2 escapes the frame, the script writes data as text only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from functools import cache
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from babel.support import NullTranslations, Translations
from markupsafe import Markup

from core import links
from core.i18n import LOCALES_DIR
from core.keys import SETTINGS
from inbox.auth import cookie_session
from webio.body import path_id
from inbox.present import employee_out
from inbox.texts import UI_TEXTS
from sales import listing
from sales.dialogs import MAX_MESSAGE
from sales.access import get_in_account, is_admin
from sales.clients import SUPPORTED_LANGUAGES
from sales.errors import NotFound
from storage.models import Employee, Offer

HERE = Path(__file__).resolve().parent
DOMAIN = "inbox"

# Pages carry no third-party code: scripts and styles only from here, no framing, no inline script.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


# Static files are referenced as /inbox/static/x.js?v=<hash of its content>: a changed file is a new URL, so a
# versioned URL may be cached for a year; unversioned (or stale-versioned) ones are checked each time.
STATIC = HERE / "static"
STATIC_PREFIX = "/inbox/static/"
IMMUTABLE = "public, max-age=31536000, immutable"


def static_versions(folder: Path = STATIC) -> dict[str, str]:
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            for path in sorted(folder.rglob("*")) if path.is_file()}


async def _cache_static(request: web.Request, response: web.StreamResponse) -> None:
    if not request.path.startswith(STATIC_PREFIX) or response.status >= 400:
        return
    versions = request.app[STATIC_VERSIONS]
    version = request.query.get("v")
    fresh = version is not None and version == versions.get(request.path.removeprefix(STATIC_PREFIX))
    response.headers["Cache-Control"] = IMMUTABLE if fresh else "no-cache"


@cache
def translations(language: str) -> NullTranslations:
    return Translations.load(str(LOCALES_DIR), [language], domain=DOMAIN)


def texts_for(language: str) -> dict[str, str]:
    catalog = translations(language)
    return {text: catalog.gettext(text) for text in UI_TEXTS}


def _json(value: object) -> Markup:
    # Inside <script type="application/json"> nothing is HTML-decoded; escaping "<" keeps "</script>" out.
    return Markup(json.dumps(value, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e"))


def _language(request: web.Request, employee: Employee | None) -> str:
    if employee is not None and employee.language in SUPPORTED_LANGUAGES:
        return employee.language
    best = request.headers.get("Accept-Language", "en").split(",")[0].split("-")[0].strip().lower()
    return best if best in SUPPORTED_LANGUAGES else "en"


def _render(request: web.Request, template: str, language: str, context: dict) -> web.Response:
    texts = texts_for(language)
    context |= {"language": language, "_": lambda text: texts.get(text, text), "texts_json": _json(texts)}
    response = aiohttp_jinja2.render_template(template, request, context)
    response.headers.update(SECURITY_HEADERS)
    return response


async def login_page(request: web.Request) -> web.Response:
    return _render(request, "login.html", _language(request, None), {})


Finder = Callable[[Employee, int], Awaitable[object]]


def page(name: str, template: str, find: Finder | None = None):
    """A page handler: logged-in employees only (others go to the login page), 404 for what they may not see."""

    async def handler(request: web.Request) -> web.StreamResponse:
        found = await cookie_session(request)
        if found is None:
            raise web.HTTPFound(links.login_url(request.path_qs))
        employee, session = found
        object_id = None
        if find is not None:
            object_id = path_id(request)
            try:
                await find(employee, object_id)
            except NotFound:
                raise web.HTTPNotFound() from None
        language = _language(request, employee)
        me = {"employee": employee_out(employee).model_dump(mode="json"), "csrf_token": session.csrf_token,
              "language": language, "demo": request.app[SETTINGS].demo, "max_message": MAX_MESSAGE}
        return _render(request, template, language, {
            "page": name, "object_id": object_id, "employee": employee, "admin": is_admin(employee),
            "me_json": _json(me),
        })

    return handler


async def _offer(employee: Employee, offer_id: int) -> Offer:
    return await get_in_account(Offer, employee.account_id, offer_id, what="offer")


async def to_inbox(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/inbox/")


STATIC_VERSIONS = web.AppKey("static_versions", dict)


def setup_pages(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=jinja2.select_autoescape(default=True)
    )
    versions = app[STATIC_VERSIONS] = static_versions()
    env.globals["static"] = lambda name: f"{STATIC_PREFIX}{name}?v={versions.get(name, '0')}"
    app.on_response_prepare.append(_cache_static)
    app.router.add_get("/", to_inbox)
    app.router.add_get("/inbox", to_inbox)
    app.router.add_get("/inbox/login", login_page)
    # One screen, three panes (the list, the conversation, the client): /inbox/chats/{id} is it with that chat open.
    app.router.add_get("/inbox/", page("tabs", "inbox.html"))
    app.router.add_get("/inbox/chats/{id}", page("chat", "inbox.html", listing.visible_chat))
    app.router.add_get("/inbox/clients/{id}", page("client", "client.html", listing.visible_client))
    app.router.add_get("/inbox/orders", page("orders", "orders.html"))
    app.router.add_get("/inbox/offers", page("offers", "offers.html"))
    app.router.add_get("/inbox/offers/{id}", page("offer", "offer.html", _offer))
    app.router.add_get("/inbox/settings", page("settings", "settings.html"))
    app.router.add_get("/inbox/reports/recovered", page("recovered", "recovered.html"))
    app.router.add_static("/inbox/static", STATIC, append_version=False)
