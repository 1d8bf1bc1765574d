"""Widgets and offers (SPEC §1.5, §3.2): where orders come from and what is sold."""

from __future__ import annotations

from aiohttp import web

from inbox.auth import employee_of
from webio.body import parse, path_id
from inbox.present import offer_out, widgets_out
from inbox.respond import send
from inbox.schemas import OfferIn, OfferPatch, WidgetIn, WidgetPatch
from sales import accounts
from sales.access import get_in_account, require_active
from storage.models import Offer, Widget


def _items(models) -> web.Response:
    return web.Response(text='{"items":[' + ",".join(m.model_dump_json() for m in models) + "]}",
                        content_type="application/json")


async def list_widgets(request: web.Request) -> web.Response:
    actor = employee_of(request)
    require_active(actor)
    return _items(await widgets_out(await Widget.filter(account_id=actor.account_id).order_by("id")))


async def add_widget(request: web.Request) -> web.Response:
    body = await parse(request, WidgetIn)
    actor = employee_of(request)
    widget = await accounts.add_widget(actor, code=body.code, name=body.name,
                                       notification_emails=body.notification_emails,
                                       excluded_employee_ids=body.excluded_employee_ids or ())
    return send((await widgets_out([widget]))[0], status=201)


async def update_widget(request: web.Request) -> web.Response:
    body = await parse(request, WidgetPatch)
    widget = await accounts.update_widget(
        employee_of(request), path_id(request), name=body.name, notification_emails=body.notification_emails,
        excluded_employee_ids=body.excluded_employee_ids,
    )
    return send((await widgets_out([widget]))[0])


async def list_offers(request: web.Request) -> web.Response:
    actor = employee_of(request)
    require_active(actor)
    return _items([offer_out(o) for o in await Offer.filter(account_id=actor.account_id).order_by("id")])


async def get_offer(request: web.Request) -> web.Response:
    actor = employee_of(request)
    require_active(actor)
    return send(offer_out(await get_in_account(Offer, actor.account_id, path_id(request), what="offer")))


async def add_offer(request: web.Request) -> web.Response:
    body = await parse(request, OfferIn)
    offer = await accounts.add_offer(
        employee_of(request), title=body.title, price=body.price, currency=body.currency,
        notify_on_failed_payment=body.notify_on_failed_payment, commission_rate=body.commission_rate,
    )
    return send(offer_out(offer), status=201)


async def update_offer(request: web.Request) -> web.Response:
    body = await parse(request, OfferPatch)
    given = body.model_fields_set
    offer = await accounts.update_offer(
        employee_of(request), path_id(request), title=body.title, price=body.price,
        notify_on_failed_payment=body.notify_on_failed_payment, active=body.active,
        commission_rate=body.commission_rate if "commission_rate" in given else ...,
    )
    return send(offer_out(offer))
