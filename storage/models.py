"""Tortoise models for every word of SPEC's table, plus what the rules need to stay consistent.

Every row carries its account (directly or through a parent that does) so that each query can be scoped by it.
Indexes follow the queries the inbox and the rules run: tabs, order filters, important items per employee,
the auto-detach sweep and the outbox.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MANAGER = "manager"


class OrderStatus(StrEnum):
    NEW = "new"
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class CallOutcome(StrEnum):
    NO_ANSWER = "no_answer"
    CALL_BACK = "call_back"
    TALKED = "talked"
    PROMISED_TO_PAY = "promised_to_pay"
    REFUSED = "refused"


class AssignmentReason(StrEnum):
    # Orders (SPEC §1.6) and chats (SPEC §10.4) share sticky, rotation and manual; the rest is one side's own.
    STICKY = "sticky"
    ROTATION = "rotation"
    FALLBACK = "fallback"
    MANUAL = "manual"
    GROUP = "group"
    TAKEN = "taken"
    DETACHED = "detached"
    PERSONAL = "personal"
    ORDER = "order"
    OWNER_FALLBACK = "owner_fallback"
    TAKE = "take"
    HANDOVER = "handover"
    UNANSWERED = "unanswered"


class AssignmentTarget(StrEnum):
    ORDER = "order"
    CLIENT = "client"
    CHAT = "chat"


class ChatStatus(StrEnum):
    # SPEC §10.1: open; pending = waiting for the client; snoozed until a time; resolved.
    OPEN = "open"
    PENDING = "pending"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


class Direction(StrEnum):
    INBOUND = "in"
    OUTBOUND = "out"


class SenderKind(StrEnum):
    CLIENT = "client"
    EMPLOYEE = "employee"
    BOT = "bot"


class AttachmentKind(StrEnum):
    PHOTO = "photo"
    DOCUMENT = "document"
    VOICE = "voice"
    AUDIO = "audio"
    VIDEO = "video"
    VIDEO_NOTE = "video_note"
    STICKER = "sticker"
    ANIMATION = "animation"


class PaymentResult(StrEnum):
    PAID = "paid"
    FAILED = "failed"
    REFUNDED = "refunded"


class PaymentEffect(StrEnum):
    # What applying a payment event did to its order (kept for admins and for the audit).
    APPLIED = "applied"
    IGNORED = "ignored"
    UNMATCHED = "unmatched"


class CommissionReason(StrEnum):
    PAID = "paid"
    REASSIGNED_FROM = "reassigned_from"
    REASSIGNED_TO = "reassigned_to"
    REFUNDED = "refunded"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    # Nothing to deliver it to (say, the employee never linked Telegram): done, on purpose.
    SKIPPED = "skipped"
    # Failed too often, or the recipient blocked the bot: kept for an admin to see.
    PARKED = "parked"


class Account(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    # SPEC §1.3: 24 h by default, 0 = never detach.
    detach_after_seconds = fields.IntField(default=24 * 3600)
    # The account's own Telegram bot (SPEC §9): one deployment serves several accounts, each with its bot.
    bot_token = fields.CharField(max_length=100, null=True, unique=True)
    bot_username = fields.CharField(max_length=64, null=True)
    # Telegram sends it back in X-Telegram-Bot-Api-Secret-Token on every webhook call.
    webhook_secret = fields.CharField(max_length=64, null=True)
    # SPEC §10.5: a client waiting this long for a staff reply raises an alert (0 = never); optionally the chat
    # then passes to the next in rotation.
    first_response_minutes = fields.IntField(default=15, db_default=15)
    reassign_unanswered = fields.BooleanField(default=False, db_default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "account"


class Employee(Model):
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="employees", on_delete=fields.RESTRICT
    )
    email = fields.CharField(max_length=254)
    name = fields.CharField(max_length=200)
    password_hash = fields.CharField(max_length=255, null=True)
    role = fields.CharEnumField(Role, max_length=16)
    active = fields.BooleanField(default=True)
    away = fields.BooleanField(default=False)
    # Open unpaid orders he may hold before rotation prefers others (SPEC §1.8); null = no cap.
    capacity = fields.IntField(null=True)
    commission_rate = fields.DecimalField(max_digits=6, decimal_places=4, default=0)
    language = fields.CharField(max_length=8, default="en")
    telegram_user_id = fields.BigIntField(null=True)
    telegram_chat_id = fields.BigIntField(null=True)
    telegram_unreachable = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "employee"
        unique_together = (("account", "email"), ("account", "telegram_user_id"))
        indexes = (Index(fields=("account_id", "role", "active"), name="employee_rotation_idx"),)


class Widget(Model):
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="widgets", on_delete=fields.RESTRICT
    )
    code = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    notification_emails = fields.JSONField(default=list)
    is_default = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "widget"
        unique_together = (("account", "code"),)


class WidgetExclusion(Model):
    # An employee who never takes orders from this widget's rotation (nor sticky ones through it).
    id = fields.IntField(primary_key=True)
    widget: fields.ForeignKeyRelation[Widget] = fields.ForeignKeyField(
        "models.Widget", related_name="exclusions", on_delete=fields.CASCADE
    )
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", related_name="widget_exclusions", on_delete=fields.CASCADE
    )

    class Meta:
        table = "widget_exclusion"
        unique_together = (("widget", "employee"),)


class RotationState(Model):
    # The rotation pointer of a widget: the last employee rotation picked. Its row is the lock of the rotation.
    id = fields.IntField(primary_key=True)
    widget: fields.OneToOneRelation[Widget] = fields.OneToOneField(
        "models.Widget", related_name="rotation", on_delete=fields.CASCADE
    )
    last_employee_id = fields.IntField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "rotation_state"


class Client(Model):
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="clients", on_delete=fields.RESTRICT
    )
    # Normalised: trimmed and lower-cased (SPEC: identity inside an account).
    email = fields.CharField(max_length=254, null=True)
    telegram_user_id = fields.BigIntField(null=True)
    name = fields.CharField(max_length=200, default="")
    phone = fields.CharField(max_length=40, default="")
    notes = fields.TextField(default="")
    language = fields.CharField(max_length=8, default="en")
    personal_manager: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", related_name="personal_clients", null=True, on_delete=fields.SET_NULL
    )
    # The widget he first came through (a bot deep link's code); his bot orders go through its rotation.
    widget: fields.ForeignKeyNullableRelation[Widget] = fields.ForeignKeyField(
        "models.Widget", related_name="clients", null=True, on_delete=fields.SET_NULL
    )
    # The bot asks for the e-mail once (SPEC §4.1); skipping counts as asked.
    email_asked = fields.BooleanField(default=False, db_default=False)
    # The question is open: his next plain text is taken as his e-mail. Kept here, not in Redis, so that a Redis
    # restart cannot turn his answer into a message to the team (SPEC §7), and read with the client, not apart.
    awaiting_email = fields.BooleanField(default=False, db_default=False)
    # He blocked the bot: nothing is sent to him until he writes again.
    unreachable = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "client"
        unique_together = (("account", "email"), ("account", "telegram_user_id"))
        indexes = (Index(fields=("account_id", "personal_manager_id"), name="client_personal_manager_idx"),)


class Chat(Model):
    # The one conversation between the account and a client.
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="chats", on_delete=fields.RESTRICT
    )
    client: fields.OneToOneRelation[Client] = fields.OneToOneField(
        "models.Client", related_name="chat", on_delete=fields.CASCADE
    )
    last_message_at = fields.DatetimeField(null=True)
    # SPEC §10.1: who answers for the conversation, and where it stands.
    assignee: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", related_name="assigned_chats", null=True, on_delete=fields.RESTRICT
    )
    status = fields.CharEnumField(ChatStatus, max_length=10, default=ChatStatus.OPEN, db_default="open")
    snoozed_until = fields.DatetimeField(null=True)
    # The client's first message since the last staff reply: he has been waiting since then (SPEC §10.5).
    waiting_since = fields.DatetimeField(null=True)
    # Set when that wait raised its alert, so one stretch raises one alert; a staff reply clears both.
    unanswered_alerted_at = fields.DatetimeField(null=True)
    # The newest client message: a chat is unread for an employee whose last read message is older (SPEC §10.6).
    last_inbound_message_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "chat"
        indexes = (
            Index(fields=("account_id", "last_message_at"), name="chat_recent_idx"),
            Index(fields=("account_id", "assignee_id", "last_message_at"), name="chat_assignee_idx"),
            Index(fields=("status", "waiting_since"), name="chat_waiting_idx"),
        )


class ChatRead(Model):
    # Per (employee, chat): the last message he has seen (SPEC §10.6).
    id = fields.BigIntField(primary_key=True)
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", related_name="chat_reads", on_delete=fields.CASCADE
    )
    chat: fields.ForeignKeyRelation[Chat] = fields.ForeignKeyField(
        "models.Chat", related_name="reads", on_delete=fields.CASCADE
    )
    last_read_message_id = fields.BigIntField()
    read_at = fields.DatetimeField()

    class Meta:
        table = "chat_read"
        unique_together = (("employee", "chat"),)


class Message(Model):
    id = fields.BigIntField(primary_key=True)
    chat: fields.ForeignKeyRelation[Chat] = fields.ForeignKeyField(
        "models.Chat", related_name="messages", on_delete=fields.CASCADE
    )
    direction = fields.CharEnumField(Direction, max_length=4)
    sender_kind = fields.CharEnumField(SenderKind, max_length=10)
    employee: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", related_name="messages", null=True, on_delete=fields.RESTRICT
    )
    text = fields.TextField()
    # Where the message came from or went to in Telegram, for replies and de-duplication.
    telegram_message_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "message"
        indexes = (Index(fields=("chat_id", "created_at"), name="message_history_idx"),)


class Attachment(Model):
    # A file of a message (SPEC §11.1). A client's file stays in Telegram (its file_id, valid for the bot that received
    # it) and is fetched on demand; an employee's upload is kept on disk until it is sent and Telegram names it.
    id = fields.BigIntField(primary_key=True)
    message: fields.ForeignKeyRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name="attachments", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(AttachmentKind, max_length=12)
    file_name = fields.CharField(max_length=255, default="")
    mime_type = fields.CharField(max_length=127, default="application/octet-stream")
    size = fields.BigIntField(null=True)
    bot_id = fields.BigIntField(null=True)
    telegram_file_id = fields.CharField(max_length=255, null=True)
    telegram_file_unique_id = fields.CharField(max_length=64, null=True)
    # Relative to the files directory: an upload waiting to be sent, or a fetched copy kept in the cache.
    stored_path = fields.CharField(max_length=500, null=True)
    sha256 = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "attachment"
        indexes = (Index(fields=("message_id",), name="attachment_message_idx"),)


class ChatNote(Model):
    # A staff-only note in a chat's timeline (SPEC §11.2): never sent to the client, and not a dialog with him (it
    # leaves dialog records, unread counts and the first-response clock alone).
    id = fields.BigIntField(primary_key=True)
    chat: fields.ForeignKeyRelation[Chat] = fields.ForeignKeyField(
        "models.Chat", related_name="notes", on_delete=fields.CASCADE
    )
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", related_name="chat_notes", on_delete=fields.RESTRICT
    )
    text = fields.TextField()
    # The employees its @mentions pinged.
    mentioned = fields.JSONField(default=list)
    created_at = fields.DatetimeField()

    class Meta:
        table = "chat_note"
        indexes = (Index(fields=("chat_id", "created_at"), name="chat_note_history_idx"),)


class CannedReply(Model):
    # A standard answer of the account (SPEC §11.3): owner/admin change them, everyone inserts them with "/shortcut".
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="canned_replies", on_delete=fields.RESTRICT
    )
    shortcut = fields.CharField(max_length=32)
    text = fields.TextField()
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "canned_reply"
        unique_together = (("account", "shortcut"),)


class DialogRecord(Model):
    # Per (employee, chat): when he first and last wrote to the client, and how many messages (SPEC §3.1).
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="dialog_records", on_delete=fields.RESTRICT
    )
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", related_name="dialog_records", on_delete=fields.RESTRICT
    )
    chat: fields.ForeignKeyRelation[Chat] = fields.ForeignKeyField(
        "models.Chat", related_name="dialog_records", on_delete=fields.CASCADE
    )
    first_at = fields.DatetimeField()
    last_at = fields.DatetimeField()
    message_count = fields.IntField(default=0)

    class Meta:
        table = "dialog_record"
        unique_together = (("employee", "chat"),)
        indexes = (Index(fields=("chat_id", "first_at"), name="dialog_chat_first_idx"),)


class Offer(Model):
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="offers", on_delete=fields.RESTRICT
    )
    title = fields.CharField(max_length=200)
    price = fields.DecimalField(max_digits=12, decimal_places=2)
    currency = fields.CharField(max_length=3)
    notify_on_failed_payment = fields.BooleanField(default=False)
    # When set, it wins over the manager's own rate (SPEC §1.5).
    commission_rate = fields.DecimalField(max_digits=6, decimal_places=4, null=True)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "offer"


class Order(Model):
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="orders", on_delete=fields.RESTRICT
    )
    client: fields.ForeignKeyRelation[Client] = fields.ForeignKeyField(
        "models.Client", related_name="orders", on_delete=fields.RESTRICT
    )
    offer: fields.ForeignKeyRelation[Offer] = fields.ForeignKeyField(
        "models.Offer", related_name="orders", on_delete=fields.RESTRICT
    )
    widget: fields.ForeignKeyRelation[Widget] = fields.ForeignKeyField(
        "models.Widget", related_name="orders", on_delete=fields.RESTRICT
    )
    status = fields.CharEnumField(OrderStatus, max_length=20, default=OrderStatus.NEW)
    amount = fields.DecimalField(max_digits=12, decimal_places=2)
    currency = fields.CharField(max_length=3)
    order_manager: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", related_name="managed_orders", null=True, on_delete=fields.RESTRICT
    )
    # A copy of the client's personal manager (SPEC §2.2, §2.3), so that orders by personal manager are one index range
    # instead of a walk through every order. The client's is the truth; sales.clients keeps this equal to it.
    personal_manager: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", related_name="personal_orders", null=True, on_delete=fields.RESTRICT
    )
    assigned_at = fields.DatetimeField(null=True)
    # The current order manager's last action (SPEC §1.3); cleared whenever the manager changes.
    last_action_at = fields.DatetimeField(null=True)
    customer_info = fields.TextField(default="")
    failure_reason = fields.CharField(max_length=200, null=True)
    failed_at = fields.DatetimeField(null=True)
    paid_at = fields.DatetimeField(null=True)
    paid_amount = fields.DecimalField(max_digits=12, decimal_places=2, null=True)
    # The call list (SPEC §1.4): when it was last called and when to call back.
    last_call_at = fields.DatetimeField(null=True)
    call_back_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "orders"
        indexes = (
            Index(fields=("account_id", "status", "created_at"), name="order_status_idx"),
            # Also covers "clients of my open orders" (the Mine tab, SPEC §10.7) without touching the table: a busy
            # manager has 10^4 open orders, and reading their rows was two thirds of the tab's query.
            Index(fields=("account_id", "order_manager_id", "status", "client_id"), name="order_manager_status_idx"),
            Index(fields=("account_id", "personal_manager_id", "created_at"), name="order_personal_manager_idx"),
            Index(fields=("client_id", "created_at"), name="order_client_idx"),
            Index(fields=("account_id", "created_at"), name="order_created_idx"),
            Index(fields=("status", "assigned_at"), name="order_detach_idx"),
        )


class CallLog(Model):
    id = fields.IntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="calls", on_delete=fields.CASCADE
    )
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", related_name="calls", on_delete=fields.RESTRICT
    )
    outcome = fields.CharEnumField(CallOutcome, max_length=20)
    call_back_at = fields.DatetimeField(null=True)
    comment = fields.TextField(default="")
    created_at = fields.DatetimeField()

    class Meta:
        table = "call_log"
        indexes = (Index(fields=("order_id", "created_at"), name="call_log_order_idx"),)


class OrderComment(Model):
    id = fields.IntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="comments", on_delete=fields.CASCADE
    )
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", related_name="order_comments", on_delete=fields.RESTRICT
    )
    text = fields.TextField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "order_comment"


class OrderStatusChange(Model):
    # An employee changed an order's status by hand (cancelled it, sent its payment link): who, when, from what.
    # A payment's changes are its payment event.
    id = fields.IntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="status_changes", on_delete=fields.CASCADE
    )
    actor: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", related_name="order_status_changes", on_delete=fields.RESTRICT
    )
    from_status = fields.CharEnumField(OrderStatus, max_length=20)
    to_status = fields.CharEnumField(OrderStatus, max_length=20)
    created_at = fields.DatetimeField()

    class Meta:
        table = "order_status_change"
        indexes = (Index(fields=("order_id", "created_at"), name="order_status_change_order_idx"),)


class PaymentEvent(Model):
    # One provider event, stored once by its provider event id (SPEC §5.2).
    id = fields.IntField(primary_key=True)
    provider = fields.CharField(max_length=32)
    event_id = fields.CharField(max_length=255)
    account: fields.ForeignKeyNullableRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="payment_events", null=True, on_delete=fields.RESTRICT
    )
    order: fields.ForeignKeyNullableRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="payment_events", null=True, on_delete=fields.RESTRICT
    )
    # The order reference as the provider sent it, kept when it matches no order.
    order_ref = fields.CharField(max_length=255, default="")
    result = fields.CharEnumField(PaymentResult, max_length=16)
    effect = fields.CharEnumField(PaymentEffect, max_length=16)
    amount = fields.DecimalField(max_digits=12, decimal_places=2, null=True)
    currency = fields.CharField(max_length=3, null=True)
    reason = fields.CharField(max_length=200, null=True)
    occurred_at = fields.DatetimeField()
    received_at = fields.DatetimeField()
    payload = fields.JSONField(default=dict)

    class Meta:
        table = "payment_event"
        unique_together = (("provider", "event_id"),)
        indexes = (Index(fields=("order_id", "occurred_at"), name="payment_event_order_idx"),)


class ImportantItem(Model):
    # A row of an employee's Important tab: this chat needs you because a payment failed (SPEC §3.3–3.6).
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="important_items", on_delete=fields.RESTRICT
    )
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", related_name="important_items", on_delete=fields.RESTRICT
    )
    chat: fields.ForeignKeyRelation[Chat] = fields.ForeignKeyField(
        "models.Chat", related_name="important_items", on_delete=fields.CASCADE
    )
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="important_items", on_delete=fields.CASCADE
    )
    offer: fields.ForeignKeyRelation[Offer] = fields.ForeignKeyField(
        "models.Offer", related_name="important_items", on_delete=fields.RESTRICT
    )
    payment_event: fields.ForeignKeyRelation[PaymentEvent] = fields.ForeignKeyField(
        "models.PaymentEvent", related_name="important_items", on_delete=fields.RESTRICT
    )
    failed_at = fields.DatetimeField()
    reason = fields.CharField(max_length=200, null=True)
    seen_at = fields.DatetimeField(null=True)
    taken_by: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", related_name="taken_important_items", null=True, on_delete=fields.RESTRICT
    )
    taken_at = fields.DatetimeField(null=True)
    resolved_at = fields.DatetimeField(null=True)
    # The Telegram alert it was delivered as, so taking it can edit that message for everyone.
    telegram_message_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "important_item"
        unique_together = (("employee", "payment_event"),)
        indexes = (
            Index(fields=("employee_id", "resolved_at", "failed_at"), name="important_tab_idx"),
            Index(fields=("order_id", "resolved_at"), name="important_order_idx"),
        )


class CommissionEntry(Model):
    # A signed line of the commission ledger; a manager's commission is the sum of his lines (SPEC §1.5).
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="commission_entries", on_delete=fields.RESTRICT
    )
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="commission_entries", on_delete=fields.RESTRICT
    )
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", related_name="commission_entries", on_delete=fields.RESTRICT
    )
    amount = fields.DecimalField(max_digits=14, decimal_places=4)
    rate = fields.DecimalField(max_digits=6, decimal_places=4)
    reason = fields.CharEnumField(CommissionReason, max_length=20)
    created_at = fields.DatetimeField()

    class Meta:
        table = "commission_entry"
        indexes = (
            Index(fields=("account_id", "created_at"), name="commission_period_idx"),
            Index(fields=("order_id", "employee_id"), name="commission_order_idx"),
        )


class AssignmentLog(Model):
    # The audit of every change of order manager, personal manager (SPEC §1.6) or chat assignee (SPEC §10.4).
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="assignment_logs", on_delete=fields.RESTRICT
    )
    target = fields.CharEnumField(AssignmentTarget, max_length=10)
    order: fields.ForeignKeyNullableRelation[Order] = fields.ForeignKeyField(
        "models.Order", related_name="assignment_logs", null=True, on_delete=fields.CASCADE
    )
    client: fields.ForeignKeyNullableRelation[Client] = fields.ForeignKeyField(
        "models.Client", related_name="assignment_logs", null=True, on_delete=fields.CASCADE
    )
    chat: fields.ForeignKeyNullableRelation[Chat] = fields.ForeignKeyField(
        "models.Chat", related_name="assignment_logs", null=True, on_delete=fields.CASCADE
    )
    from_employee: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    to_employee: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    reason = fields.CharEnumField(AssignmentReason, max_length=16)
    actor: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", related_name=False, null=True, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField()

    class Meta:
        table = "assignment_log"
        indexes = (
            Index(fields=("order_id", "created_at"), name="assignment_log_order_idx"),
            Index(fields=("client_id", "created_at"), name="assignment_log_client_idx"),
            Index(fields=("chat_id", "created_at"), name="assignment_log_chat_idx"),
        )


class Outbox(Model):
    # A side effect written in the same transaction as its cause; the delivery worker sends it (SPEC §5.2).
    id = fields.BigIntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="outbox", on_delete=fields.RESTRICT
    )
    kind = fields.CharField(max_length=40)
    employee: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", related_name="outbox", null=True, on_delete=fields.RESTRICT
    )
    client: fields.ForeignKeyNullableRelation[Client] = fields.ForeignKeyField(
        "models.Client", related_name="outbox", null=True, on_delete=fields.RESTRICT
    )
    payload = fields.JSONField(default=dict)
    # Makes writing the same effect twice impossible, e.g. a redelivered event or a retried job.
    dedupe_key = fields.CharField(max_length=200, unique=True)
    status = fields.CharEnumField(OutboxStatus, max_length=10, default=OutboxStatus.PENDING)
    attempts = fields.IntField(default=0)
    available_at = fields.DatetimeField()
    last_error = fields.TextField(null=True)
    created_at = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox"
        # Due rows for the delivery worker; done rows by age for housekeeping (SPEC §7).
        indexes = (
            Index(fields=("status", "available_at"), name="outbox_due_idx"),
            Index(fields=("status", "sent_at"), name="outbox_done_idx"),
        )


class JobRun(Model):
    # One row per scheduled job and tick: whoever inserts it runs that tick (the database-only guard).
    id = fields.IntField(primary_key=True)
    job = fields.CharField(max_length=64)
    tick = fields.BigIntField()
    started_at = fields.DatetimeField()

    class Meta:
        table = "job_run"
        unique_together = (("job", "tick"),)


class TelegramInvite(Model):
    # A one-time deep link that ties an employee to his Telegram account (SPEC §4.2).
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="telegram_invites", on_delete=fields.RESTRICT
    )
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", related_name="telegram_invites", on_delete=fields.CASCADE
    )
    token = fields.CharField(max_length=64, unique=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "telegram_invite"


class TelegramUpdate(Model):
    # Telegram resends an update until it gets a 2xx; this row makes the second delivery a no-op.
    id = fields.BigIntField(primary_key=True)
    bot_id = fields.BigIntField()
    update_id = fields.BigIntField()
    received_at = fields.DatetimeField()

    class Meta:
        table = "telegram_update"
        unique_together = (("bot_id", "update_id"),)
        # Housekeeping finds old claims without reading every claim of the last two days.
        indexes = (Index(fields=("received_at",), name="telegram_update_received_idx"),)


class PollerLease(Model):
    # Who long-polls this bot (SPEC §7): Telegram serves one getUpdates consumer per bot, so across the processes of a
    # deployment exactly one holds this row, renewing it; when it dies the row expires and another takes over.
    bot_id = fields.BigIntField(primary_key=True, generated=False)
    holder = fields.CharField(max_length=128)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "poller_lease"


class StaffRelay(Model):
    # A client's message as forwarded into an employee's Telegram: his reply to it goes back to that client.
    id = fields.BigIntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="staff_relays", on_delete=fields.RESTRICT
    )
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", related_name="staff_relays", on_delete=fields.CASCADE
    )
    telegram_message_id = fields.BigIntField()
    client: fields.ForeignKeyRelation[Client] = fields.ForeignKeyField(
        "models.Client", related_name="staff_relays", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField()

    class Meta:
        table = "staff_relay"
        unique_together = (("employee", "telegram_message_id"),)
        indexes = (Index(fields=("created_at",), name="staff_relay_created_idx"),)


class WebSession(Model):
    # A logged-in browser. Only a hash of the cookie's token is stored, so a leaked table opens no session.
    id = fields.BigIntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", related_name="web_sessions", on_delete=fields.CASCADE
    )
    # Sent back by the pages in X-CSRF-Token on every change; a cross-site form cannot know it.
    csrf_token = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()

    class Meta:
        table = "web_session"


class LoginFailure(Model):
    # A wrong password (SPEC §7): what the login throttle counts when Redis is absent or down. Only failures inside the
    # throttle's window matter; older rows are deleted as new ones come. `email_key` is a digest of the trimmed,
    # lower-cased e-mail as typed, so unknown e-mails are counted alike and none is stored in the clear.
    id = fields.BigIntField(primary_key=True)
    address = fields.CharField(max_length=64)
    email_key = fields.CharField(max_length=64)
    failed_at = fields.DatetimeField()

    class Meta:
        table = "login_failure"
        indexes = (
            Index(fields=("address", "failed_at"), name="login_failure_address_idx"),
            Index(fields=("email_key", "failed_at"), name="login_failure_email_idx"),
            Index(fields=("failed_at",), name="login_failure_age_idx"),
        )


class ApiToken(Model):
    # A bearer token for integrations, made by an owner or admin; it acts with its maker's rights.
    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="api_tokens", on_delete=fields.RESTRICT
    )
    created_by: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", related_name="api_tokens", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=100)
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_token"
