"""The inbox's place in the app: its middlewares, resources and every route of SPEC §8 (and the document of them)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from core.keys import CLOCK, REDIS, SETTINGS
from inbox.api import canned, catalog, chats, clients, important, notes, operations, orders, reports, session, staff
from inbox.api.chats import TabQuery
from inbox.api.clients import ClientQuery
from inbox.api.orders import OrderQuery
from inbox.api.reports import Period
from inbox import live
from inbox.auth import PUBLIC_ROUTES, auth_middleware
from inbox.errors import error_middleware
from inbox.files import setup_files
from inbox.openapi import Endpoint, add_routes, document
from inbox.respond import PageQuery
from inbox.pages import setup_pages
from inbox.schemas import (
    AccountOut,
    AccountPatch,
    AssignIn,
    AssignOut,
    CallIn,
    CallListOut,
    CallOut,
    CannedReplyIn,
    CannedReplyOut,
    CannedReplyPatch,
    FilledReplyOut,
    CommentIn,
    CommentOut,
    DemoFailureIn,
    DemoFailureOut,
    ChatAssignIn,
    ChatOut,
    ChatStatusIn,
    ClientIn,
    ClientOut,
    ClientPatch,
    CommissionReport,
    EmployeeIn,
    EmployeeOut,
    EmployeePatch,
    HistoryOut,
    ImportantList,
    ImportantOut,
    InviteOut,
    LogIn,
    Me,
    MessageIn,
    MessageOut,
    MessageUpload,
    NoteIn,
    NoteOut,
    NewSession,
    NewToken,
    OfferIn,
    OfferOut,
    OfferPatch,
    OrderIn,
    OrderOut,
    OrderStatusIn,
    OutboxRowOut,
    PaymentEventOut,
    RecoveredReport,
    TimelinePage,
    TokenIn,
    UnreadOut,
    WidgetIn,
    WidgetOut,
    WidgetPatch,
    list_of,
    page_of,
)
from inbox.throttle import LOGIN_THROTTLE, LoginThrottle

OPENAPI = web.AppKey("openapi", dict)

async def openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])


E = Endpoint
ENDPOINTS: list[Endpoint] = [
    E("POST", "/api/v1/session", session.log_in, "Log in; sets the session cookie", body=LogIn, response=NewSession,
      public=True),
    E("GET", "/api/v1/openapi.json", openapi, "This document", public=True),
    E("GET", "/api/v1/session", staff.me, "Who is logged in, his account and the CSRF token", response=Me),
    E("DELETE", "/api/v1/session", session.log_out, "Log out"),
    E("POST", "/api/v1/tokens", session.new_token, "A bearer token for an integration (owner/admin)", body=TokenIn,
      response=NewToken, status=201),
    E("GET", "/api/v1/account", staff.get_account, "The account and its detach_after", response=AccountOut),
    E("PATCH", "/api/v1/account", staff.update_account,
      "Set detach_after, first_response_minutes, reassign_unanswered (owner/admin)", body=AccountPatch,
      response=AccountOut),
    E("GET", "/api/v1/employees", staff.list_employees, "The account's staff", response=list_of(EmployeeOut)),
    E("POST", "/api/v1/employees", staff.add_employee, "Invite an employee (owner/admin)", body=EmployeeIn,
      response=EmployeeOut, status=201),
    E("PATCH", "/api/v1/employees/{id}", staff.update_employee, "Role, active, away, capacity, commission rate",
      body=EmployeePatch, response=EmployeeOut),
    E("POST", "/api/v1/employees/{id}/telegram-invite", staff.telegram_invite, "A one-time Telegram link",
      response=InviteOut, status=201),
    E("GET", "/api/v1/widgets", catalog.list_widgets, "Widgets", response=list_of(WidgetOut)),
    E("POST", "/api/v1/widgets", catalog.add_widget, "Add a widget (owner/admin)", body=WidgetIn, response=WidgetOut,
      status=201),
    E("PATCH", "/api/v1/widgets/{id}", catalog.update_widget, "Name, notification e-mails, exclusions",
      body=WidgetPatch, response=WidgetOut),
    E("GET", "/api/v1/offers", catalog.list_offers, "Offers", response=list_of(OfferOut)),
    E("POST", "/api/v1/offers", catalog.add_offer, "Add an offer (owner/admin)", body=OfferIn, response=OfferOut,
      status=201),
    E("GET", "/api/v1/offers/{id}", catalog.get_offer, "One offer", response=OfferOut),
    E("PATCH", "/api/v1/offers/{id}", catalog.update_offer, "Edit an offer (owner/admin)", body=OfferPatch,
      response=OfferOut),
    E("GET", "/api/v1/clients", clients.list_clients, "Clients", query=ClientQuery, response=page_of(ClientOut)),
    E("POST", "/api/v1/clients", clients.add_client, "Add a client", body=ClientIn, response=ClientOut, status=201),
    E("GET", "/api/v1/clients/{id}", clients.get_client, "The client card", response=ClientOut),
    E("PATCH", "/api/v1/clients/{id}", clients.update_client, "Contact, notes, personal manager", body=ClientPatch,
      response=ClientOut),
    E("GET", "/api/v1/clients/{id}/orders", clients.client_orders, "All the client's orders",
      response=list_of(OrderOut)),
    E("GET", "/api/v1/orders", orders.list_orders, "Orders by filters", query=OrderQuery, response=page_of(OrderOut)),
    E("POST", "/api/v1/orders", orders.create_order, "Create an order; assigned at once", body=OrderIn,
      response=OrderOut, status=201),
    E("POST", "/api/v1/orders/assign", orders.assign, "Assign responsible for selected orders", body=AssignIn,
      response=AssignOut),
    E("GET", "/api/v1/orders/{id}", orders.get_order, "One order", response=OrderOut),
    E("GET", "/api/v1/orders/{id}/history", orders.order_history,
      "The order's trail in time order: its managers, its status changes by hand and its payment events",
      response=HistoryOut),
    E("POST", "/api/v1/orders/{id}/take", orders.take, "Take an unassigned order", response=OrderOut),
    E("POST", "/api/v1/orders/{id}/calls", orders.record_call, "Record a call outcome", body=CallIn,
      response=CallOut, status=201),
    E("GET", "/api/v1/orders/{id}/comments", orders.list_comments, "The order's comments, oldest first",
      response=list_of(CommentOut)),
    E("POST", "/api/v1/orders/{id}/comments", orders.add_comment, "Comment on the order (an action of its manager)",
      body=CommentIn, response=CommentOut, status=201),
    E("POST", "/api/v1/orders/{id}/status", orders.set_status,
      "Set an unpaid order's status by hand (paid and refunded come from payments)", body=OrderStatusIn,
      response=OrderOut),
    E("POST", "/api/v1/orders/{id}/payment-link-sent", orders.payment_link_sent,
      "Record that a payment link was sent; a new order now awaits payment", response=OrderOut),
    E("GET", "/api/v1/call-list", orders.call_list, "My unpaid orders in calling order", response=CallListOut),
    E("GET", "/api/v1/chats", chats.list_chats, "A chat tab", query=TabQuery, response=page_of(ChatOut)),
    E("GET", "/api/v1/chats/unread", chats.unread, "How many chats of each tab have unread client messages",
      response=UnreadOut),
    E("GET", "/api/v1/chats/{id}", chats.get_chat, "One chat", response=ChatOut),
    E("POST", "/api/v1/chats/{id}/assign", chats.assign,
      "Assign the chat (owner/admin: anyone, or null for nobody; its assignee: hand it over)", body=ChatAssignIn,
      response=ChatOut),
    E("POST", "/api/v1/chats/{id}/take", chats.take, "Take an unassigned chat; 409 when someone was faster",
      response=ChatOut),
    E("POST", "/api/v1/chats/{id}/status", chats.set_status, "Open, pending, snoozed (until a time) or resolved",
      body=ChatStatusIn, response=ChatOut),
    E("POST", "/api/v1/chats/{id}/read", chats.mark_read, "I have read the chat", response=ChatOut),
    E("GET", "/api/v1/chats/{id}/history", chats.history, "The chat's assignment trail", response=HistoryOut),
    E("GET", "/api/v1/chats/{id}/messages", chats.messages, "History, newest first", query=PageQuery,
      response=page_of(MessageOut)),
    E("POST", "/api/v1/chats/{id}/messages", chats.send_message,
      "Write to the client: JSON text, or multipart/form-data with a file (up to 50 MB) and its caption",
      body=MessageIn, form=MessageUpload, response=MessageOut, status=201),
    E("POST", "/api/v1/chats/{id}/notes", notes.add_note,
      "A private note for the staff (never sent to the client); @name pings that colleague", body=NoteIn,
      response=NoteOut, status=201),
    E("GET", "/api/v1/chats/{id}/timeline", notes.chat_timeline,
      "Messages, notes, orders, payments, assignments and calls in time order; newest page first",
      query=notes.TimelineQuery, response=TimelinePage),
    E("GET", "/api/v1/chats/{id}/canned-replies/{reply_id}", canned.filled_reply,
      "A canned reply with {client_name}, {manager_name} and {offer_title} filled in for this chat",
      response=FilledReplyOut),
    E("GET", "/api/v1/canned-replies", canned.list_replies, "The account's canned replies, by shortcut",
      response=list_of(CannedReplyOut)),
    E("POST", "/api/v1/canned-replies", canned.add_reply, "Add a canned reply (owner/admin)", body=CannedReplyIn,
      response=CannedReplyOut, status=201),
    E("PATCH", "/api/v1/canned-replies/{id}", canned.update_reply, "Change a canned reply (owner/admin)",
      body=CannedReplyPatch, response=CannedReplyOut),
    E("DELETE", "/api/v1/canned-replies/{id}", canned.delete_reply, "Delete a canned reply (owner/admin)",
      status=204),
    E("GET", "/api/v1/important", important.list_items, "My open important items, newest failure first",
      query=PageQuery, response=ImportantList),
    E("GET", "/api/v1/important/history", important.history, "My resolved important items",
      query=PageQuery, response=page_of(ImportantOut)),
    E("POST", "/api/v1/important/{id}/seen", important.mark_seen, "The bell goes", response=ImportantOut),
    E("POST", "/api/v1/important/{id}/take", important.take, "I handle it", response=ImportantOut),
    E("GET", "/api/v1/reports/commissions", reports.commissions, "Commission per manager", query=Period,
      response=CommissionReport),
    E("GET", "/api/v1/reports/recovered", reports.recovered_revenue,
      "Recovered revenue: failed payments of flagged offers in [from, to), how many were paid later, how much, how "
      "fast; overall, per employee and per ISO week (a manager: his own orders)", query=Period,
      response=RecoveredReport),
    E("GET", "/api/v1/reports/recovered.csv", reports.recovered_revenue_csv,
      "The recovered-revenue report as a CSV download (text/csv): one row per employee and a total row",
      query=Period, media_type="text/csv"),
    E("GET", "/api/v1/payment-events", operations.payment_events,
      "Payment events as received, newest first; effect=unmatched: those naming no known order (owner/admin)",
      query=operations.PaymentEventQuery, response=page_of(PaymentEventOut)),
    E("GET", "/api/v1/outbox/parked", operations.parked_outbox,
      "Notifications that kept failing, with the last error (owner/admin)", query=PageQuery,
      response=page_of(OutboxRowOut)),
    E("POST", "/api/v1/outbox/{id}/retry", operations.retry_outbox, "Send a parked notification again (owner/admin)",
      response=OutboxRowOut),
]


# Registered by `closer demo` only (Settings.demo): never part of a production deployment or its document.
DEMO_ENDPOINTS: list[Endpoint] = [
    E("POST", "/api/v1/demo/orders/{id}/fail-payment", orders.demo_fail_payment,
      "Demo: the order's payment fails as a provider would report it (owner/admin)", body=DemoFailureIn,
      response=DemoFailureOut),
]


async def _throttle(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[LOGIN_THROTTLE] = LoginThrottle(
        app.get(REDIS), per_address=settings.login_failures_per_address, per_email=settings.login_failures_per_email,
        window_seconds=settings.login_window_seconds, clock=app[CLOCK],
    )
    yield


def setup_inbox(app: web.Application) -> None:
    app.middlewares.extend([error_middleware, auth_middleware])
    app.cleanup_ctx.append(_throttle)
    app[OPENAPI] = document(ENDPOINTS)
    app[PUBLIC_ROUTES] = frozenset((e.method, e.path) for e in ENDPOINTS if e.public)
    app.router.add_get("/api/v1/live", live.websocket)
    app.on_shutdown.append(live.close_sockets)
    add_routes(app, ENDPOINTS)
    if app[SETTINGS].demo:
        add_routes(app, DEMO_ENDPOINTS)
    setup_pages(app)
    setup_files(app)
