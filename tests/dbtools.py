"""Database helpers of the test suite (and of the multi-process test workers)."""

from __future__ import annotations

import asyncpg
from tortoise import connections

from storage.db import dialect
from storage.models import (
    Account,
    ApiToken,
    AssignmentLog,
    Attachment,
    CallLog,
    CannedReply,
    Chat,
    ChatNote,
    ChatRead,
    Client,
    CommissionEntry,
    DialogRecord,
    Employee,
    ImportantItem,
    JobRun,
    LoginFailure,
    Message,
    Offer,
    OrderStatusChange,
    Order,
    OrderComment,
    Outbox,
    PaymentEvent,
    PollerLease,
    RotationState,
    StaffRelay,
    TelegramInvite,
    TelegramUpdate,
    WebSession,
    Widget,
    WidgetExclusion,
)

# Children before parents, so plain deletes never trip a foreign key.
_ALL = (
    PollerLease,
    LoginFailure,
    WebSession,
    ApiToken,
    CannedReply,
    StaffRelay,
    TelegramInvite,
    TelegramUpdate,
    Outbox,
    ImportantItem,
    CommissionEntry,
    PaymentEvent,
    AssignmentLog,
    CallLog,
    OrderComment,
    OrderStatusChange,
    Order,
    DialogRecord,
    ChatRead,
    ChatNote,
    Attachment,
    Message,
    Chat,
    Client,
    Offer,
    WidgetExclusion,
    RotationState,
    Widget,
    Employee,
    JobRun,
    Account,
)


async def truncate_all() -> None:
    conn = connections.get("default")
    tables = [m._meta.db_table for m in _ALL]
    if dialect() == "postgres":
        await conn.execute_script(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    else:
        for table in tables:
            await conn.execute_script(f'DELETE FROM "{table}"')


async def reset_postgres_schema(url: str) -> None:
    """Start the session from an empty database, so the migrations are what builds it."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()
