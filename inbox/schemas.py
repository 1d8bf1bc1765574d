"""The API's shapes: what each endpoint accepts and returns. The OpenAPI document is generated from these."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from webio.types import Instant

# Ids are 32-bit columns; anything outside is no row (and PostgreSQL would refuse the parameter).
Id = Annotated[StrictInt, Field(ge=1, le=2**31 - 1)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
# The same modest shape sales.clients.normalize_email checks, so the document tells callers what passes.
Email = Annotated[str, Field(min_length=3, max_length=254, pattern=r"^\s*[^@\s]+@[^@\s]+\.[^@\s]+\s*$")]
Rate = Annotated[Decimal, Field(ge=0, le=1, max_digits=6, decimal_places=4)]
# An order's status as the API reads and writes it (storage.models.OrderStatus).
OrderStatusName = Literal["new", "awaiting_payment", "paid", "failed", "cancelled", "refunded"]
Money = Annotated[Decimal, Field(ge=0, lt=Decimal("1e10"), max_digits=12, decimal_places=2)]

class In(BaseModel):
    # Unknown fields are a mistake of the caller, not something to ignore silently.
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    pass


class Error(Out):
    class Body(Out):
        code: str
        message: str
        field: str | None

    error: Body


# --- session and tokens

class LogIn(In):
    email: Annotated[str, Field(max_length=254)]
    password: Annotated[str, Field(max_length=1024)]


class TokenIn(In):
    name: Annotated[str, Field(min_length=1, max_length=100)]


class NewToken(Out):
    token: str
    name: str


# --- employees

class EmployeeRef(Out):
    id: int
    name: str


class EmployeeOut(Out):
    id: int
    email: str
    name: str
    role: Literal["owner", "admin", "manager"]
    active: bool
    away: bool
    capacity: int | None
    commission_rate: str
    language: str
    telegram_linked: bool


class EmployeeIn(In):
    email: Email
    name: Name
    role: Literal["admin", "manager"] = "manager"
    password: Annotated[str, Field(min_length=8, max_length=1024)] | None = None
    commission_rate: Rate | None = None
    capacity: Annotated[StrictInt, Field(ge=0, le=100_000)] | None = None


class EmployeePatch(In):
    role: Literal["owner", "admin", "manager"] | None = None
    active: StrictBool | None = None
    away: StrictBool | None = None
    capacity: Annotated[StrictInt, Field(ge=0, le=100_000)] | None = None
    commission_rate: Rate | None = None
    language: Literal["en", "es", "ru", "uk"] | None = None


class InviteOut(Out):
    url: str
    expires_at: datetime


# --- widgets

class WidgetOut(Out):
    id: int
    code: str
    name: str
    is_default: bool
    notification_emails: list[str]
    excluded_employee_ids: list[int]


class WidgetIn(In):
    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    name: Name
    notification_emails: Annotated[list[Email], Field(max_length=20)] = []
    excluded_employee_ids: Annotated[list[Id], Field(max_length=500)] = []


class WidgetPatch(In):
    name: Name | None = None
    notification_emails: Annotated[list[Email], Field(max_length=20)] | None = None
    excluded_employee_ids: Annotated[list[Id], Field(max_length=500)] | None = None


# --- offers

class OfferOut(Out):
    id: int
    title: str
    price: str
    currency: str
    notify_on_failed_payment: bool
    commission_rate: str | None
    active: bool


class OfferIn(In):
    title: Name
    price: Money
    currency: Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")]
    notify_on_failed_payment: StrictBool = False
    commission_rate: Rate | None = None


class OfferPatch(In):
    title: Name | None = None
    price: Money | None = None
    notify_on_failed_payment: StrictBool | None = None
    commission_rate: Rate | None = None
    active: StrictBool | None = None


# --- clients

class ClientRef(Out):
    id: int
    name: str
    email: str | None


class ClientOut(Out):
    id: int
    email: str | None
    name: str
    phone: str
    notes: str
    language: str
    telegram: bool
    personal_manager: EmployeeRef | None
    chat_id: int | None
    created_at: datetime


class ClientIn(In):
    email: Email
    name: Annotated[str, Field(max_length=200)] = ""
    phone: Annotated[str, Field(max_length=40)] = ""
    notes: Annotated[str, Field(max_length=10_000)] = ""


class ClientPatch(In):
    name: Annotated[str, Field(max_length=200)] | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None
    # "" clears it (for a client Telegram reaches); another client's e-mail is a 409.
    email: Annotated[str, Field(max_length=254)] | None = None
    notes: Annotated[str, Field(max_length=10_000)] | None = None
    # null clears the personal manager; leaving the field out keeps him.
    personal_manager_id: Id | None = None


# --- orders

class OfferRef(Out):
    id: int
    title: str


class OrderOut(Out):
    id: int
    client: ClientRef
    offer: OfferRef
    widget_id: int
    status: OrderStatusName
    amount: str
    currency: str
    order_manager: EmployeeRef | None
    personal_manager: EmployeeRef | None
    assigned_at: datetime | None
    last_action_at: datetime | None
    failure_reason: str | None
    failed_at: datetime | None
    paid_at: datetime | None
    last_call_at: datetime | None
    call_back_at: datetime | None
    customer_info: str
    created_at: datetime


class OrderIn(In):
    client_id: Id | None = None
    client_email: Email | None = None
    offer_id: Id
    widget_id: Id | None = None
    customer_info: Annotated[str, Field(max_length=10_000)] = ""


class AssignIn(In):
    order_ids: Annotated[list[Id], Field(min_length=1, max_length=500)]
    employee_id: Id


class AssignOut(Out):
    changed: list[int]


class CallIn(In):
    outcome: Literal["no_answer", "call_back", "talked", "promised_to_pay", "refused"]
    call_back_at: Instant | None = None
    comment: Annotated[str, Field(max_length=10_000)] = ""


class CommentIn(In):
    text: Annotated[str, Field(min_length=1, max_length=10_000)]


class CommentOut(Out):
    id: int
    order_id: int
    employee_id: int
    text: str
    created_at: datetime


class OrderStatusIn(In):
    # Which of them staff may set by hand is the domain's rule (sales.orders.set_status), answered 422 there.
    status: OrderStatusName


class CallListEntryOut(Out):
    order: OrderOut
    overdue: bool


class CallListOut(Out):
    items: list[CallListEntryOut]


class CallOut(Out):
    id: int
    order_id: int
    outcome: str
    call_back_at: datetime | None
    comment: str
    created_at: datetime


class HistoryEntry(Out):
    # `kind`: a change of manager (`assignment`), or, in an order's history, a status change by hand (`status`:
    # `from_status` → `status`, by `actor_id`) or a payment event (`payment`: its result in `status`, `amount`,
    # `currency`, `failure_reason`, `effect` — applied or ignored). `id` is unique within its kind.
    id: int
    kind: Literal["assignment", "status", "payment"] = "assignment"
    target: Literal["order", "client", "chat"]
    from_employee_id: int | None
    to_employee_id: int | None
    reason: str
    actor_id: int | None
    created_at: datetime
    status: str | None = None
    from_status: str | None = None
    amount: str | None = None  # exact decimal, 2 places
    currency: str | None = None
    failure_reason: str | None = None
    effect: str | None = None


class HistoryOut(Out):
    items: list[HistoryEntry]


# --- chats

class ChatOut(Out):
    id: int
    client: ClientRef
    last_message_at: datetime | None
    last_message: str | None
    last_message_direction: Literal["in", "out"] | None
    # The kind of the newest message's file, if it has one (photo, document, voice, …): a caption-less file's
    # preview names it.
    last_message_attachment: str | None = None
    assignee: EmployeeRef | None
    status: Literal["open", "pending", "snoozed", "resolved"]
    snoozed_until: datetime | None
    # Client messages this employee has not read yet (SPEC §10.6).
    unread: int


class ChatAssignIn(In):
    # null leaves the chat unassigned (owner/admin).
    employee_id: Id | None


class ChatStatusIn(In):
    status: Literal["open", "pending", "snoozed", "resolved"]
    snoozed_until: Instant | None = None


class UnreadOut(Out):
    # Chats with unread client messages, per tab; `all` only for owner and admins.
    mine: int
    unassigned: int
    important: int
    all: int | None = None


class AttachmentOut(Out):
    # A message's file (SPEC §11.1); the message's text is its caption.
    id: int
    kind: Literal["photo", "document", "voice", "audio", "video", "video_note", "sticker", "animation"]
    file_name: str
    mime_type: str
    size: int | None
    # Where the file is streamed to employees who may see the chat: /inbox/files/{id}.
    url: str
    # A client's file over Telegram's 20 MB download limit for bots: closer cannot fetch it, and says so.
    too_big: bool = False


class MessageOut(Out):
    id: int
    chat_id: int
    direction: Literal["in", "out"]
    sender_kind: str
    employee: EmployeeRef | None
    text: str
    created_at: datetime
    attachments: list[AttachmentOut] = Field(default_factory=list)


class MessageIn(In):
    text: Annotated[str, Field(min_length=1, max_length=4096)]


class MessageUpload(In):
    """A file to the client (SPEC §11.1), as multipart/form-data: at most 50 MB (413 beyond), its type read from its
    bytes; a JPEG, PNG or WebP up to 10 MB goes as a photo, anything else as a document."""
    # The file's caption (Telegram's limit for one).
    text: Annotated[str, Field(max_length=1024)] = ""
    file: bytes


# --- canned replies (SPEC §11.3)

# The characters a shortcut may hold (letters of any alphabet, digits, _ and -) are sales.canned's rule, answered 422.
CannedShortcut = Annotated[str, Field(min_length=1, max_length=32)]
CannedText = Annotated[str, Field(min_length=1, max_length=4096)]


class CannedReplyOut(Out):
    id: int
    shortcut: str
    text: str
    created_at: datetime
    updated_at: datetime


class CannedReplyIn(In):
    shortcut: CannedShortcut
    text: CannedText


class CannedReplyPatch(In):
    shortcut: CannedShortcut | None = None
    text: CannedText | None = None


class FilledReplyOut(Out):
    # The reply's text with {client_name}, {manager_name} and {offer_title} filled in for this chat.
    id: int
    chat_id: int
    shortcut: str
    text: str


# --- private notes and the timeline (SPEC §11.2, §11.4)

class NoteIn(In):
    text: Annotated[str, Field(min_length=1, max_length=4096)]


class NoteOut(Out):
    id: int
    chat_id: int
    author: EmployeeRef
    text: str
    # The colleagues its @mentions pinged (never its author).
    mentioned: list[EmployeeRef]
    created_at: datetime


class TimelineMessage(Out):
    kind: Literal["message"]
    at: datetime
    id: int
    # The same shape as GET /api/v1/chats/{id}/messages.
    message: MessageOut


class TimelineNote(Out):
    kind: Literal["note"]
    at: datetime
    id: int
    note: NoteOut


class TimelineOrderCreated(Out):
    kind: Literal["order_created"]
    at: datetime
    id: int
    order_id: int
    offer: OfferRef
    amount: str
    currency: str
    # The order's status now.
    status: OrderStatusName


class TimelinePayment(Out):
    kind: Literal["payment"]
    # When the provider says it happened.
    at: datetime
    id: int
    order_id: int
    offer: OfferRef
    result: Literal["paid", "failed", "refunded"]
    # The event's amount, or the order's when the provider named none.
    amount: str
    currency: str
    reason: str | None


class TimelineAssignment(Out):
    kind: Literal["assignment"]
    at: datetime
    id: int
    # The chat's assignee, an order's manager (order_id) or the client's personal manager.
    target: Literal["chat", "order", "client"]
    order_id: int | None
    from_employee: EmployeeRef | None
    to_employee: EmployeeRef | None
    reason: str
    # Who made the change; null when closer's rules did.
    actor: EmployeeRef | None


class TimelineCall(Out):
    kind: Literal["call"]
    at: datetime
    id: int
    order_id: int
    employee: EmployeeRef
    outcome: Literal["no_answer", "call_back", "talked", "promised_to_pay", "refused"]
    comment: str
    call_back_at: datetime | None


TimelineEntry = Annotated[
    TimelineMessage | TimelineNote | TimelineOrderCreated | TimelinePayment | TimelineAssignment | TimelineCall,
    Field(discriminator="kind"),
]


class TimelinePage(Out):
    # Oldest first; next_cursor (pass it as `before`) continues further back in time.
    items: list[TimelineEntry]
    next_cursor: str | None


# --- important items

class ImportantOut(Out):
    id: int
    client: ClientRef
    failed_at: datetime
    reason: str | None
    seen: bool
    taken_by: EmployeeRef | None
    resolved: bool
    chat_id: int
    chat_url: str
    offer_url: str
    offer: OfferRef
    order_id: int
    # The failed order: its page (PUBLIC_URL/inbox/orders?order={id}) and what it was for (exact decimal).
    order_url: str
    amount: str
    currency: str


class ImportantList(Out):
    items: list[ImportantOut]
    # All my unseen open items, not only this page's: the bell's number.
    unseen: int
    next_cursor: str | None


# --- operations: what went astray (owner/admin)

class PaymentEventOut(Out):
    id: int
    provider: str
    event_id: str
    order_id: int | None
    # The order reference as the provider sent it: what to look for when the event matched no order.
    order_ref: str
    result: Literal["paid", "failed", "refunded"]
    effect: Literal["applied", "ignored", "unmatched"]
    amount: str | None
    currency: str | None
    reason: str | None
    occurred_at: datetime
    received_at: datetime


class OutboxRowOut(Out):
    id: int
    kind: str
    status: Literal["pending", "sent", "skipped", "parked"]
    employee_id: int | None
    client_id: int | None
    attempts: int
    last_error: str | None
    created_at: datetime


# --- reports

class CommissionLineOut(Out):
    employee: EmployeeRef
    total: str


class CommissionReport(Out):
    period_from: datetime
    period_to: datetime
    lines: list[CommissionLineOut]


class AmountOut(Out):
    currency: str
    amount: str  # exact decimal, 2 places


class RecoveredFiguresOut(Out):
    # SPEC §11.5 (sales.recovered): failed payments, how many were paid later, how much, how fast.
    failed: int
    recovered: int
    recovery_rate: str | None  # recovered / failed, 4 places; null without failures
    recovered_amounts: list[AmountOut]  # per currency
    median_recovery_seconds: float | None


class RecoveredLineOut(RecoveredFiguresOut):
    employee: EmployeeRef | None  # null: nobody (an order paid or failed without a manager, not taken)


class RecoveredWeekOut(RecoveredFiguresOut):
    week: str  # ISO week, "2026-W10"
    starts: datetime  # its Monday 00:00 UTC


class RecoveredReport(Out):
    period_from: datetime
    period_to: datetime
    total: RecoveredFiguresOut
    lines: list[RecoveredLineOut]
    weeks: list[RecoveredWeekOut]


class AccountOut(Out):
    id: int
    name: str
    detach_after: int
    first_response_minutes: int
    reassign_unanswered: bool


class AccountPatch(In):
    detach_after: Annotated[StrictInt, Field(ge=0, le=365 * 24 * 3600)] | None = None
    first_response_minutes: Annotated[StrictInt, Field(ge=0, le=7 * 24 * 60)] | None = None
    reassign_unanswered: StrictBool | None = None


class NewSession(Out):
    employee: EmployeeOut
    csrf_token: str


class Me(Out):
    employee: EmployeeOut
    account: AccountOut
    csrf_token: str | None
    # `closer demo`: the pages offer to make a payment fail (owner/admin), as a provider would report it.
    demo: bool = False


class DemoFailureIn(In):
    reason: Annotated[str, Field(min_length=1, max_length=200)] = "card_declined"


class DemoFailureOut(Out):
    order_id: int
    effect: str | None


def page_of(model: type[Out]) -> type[Out]:
    """A page of a list: its rows and the cursor of the next page (null on the last one)."""
    return type(
        f"{model.__name__.removesuffix('Out')}Page",
        (Out,),
        {"__annotations__": {"items": list[model], "next_cursor": str | None}},
    )


def list_of(model: type[Out]) -> type[Out]:
    """A whole (short) list: staff, widgets, offers, a client's orders."""
    return type(f"{model.__name__.removesuffix('Out')}List", (Out,), {"__annotations__": {"items": list[model]}})
