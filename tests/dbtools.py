"""Database helpers of the test suite (and of the multi-process test workers)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import asyncpg
from tortoise import connections

from storage.db import dialect, migrate

# One empty migrated SQLite database per test process, copied for each test that needs a file of its own: migrating
# takes about 3 s (10 s on a loaded machine), copying a few milliseconds.
_template: Path | None = None


async def fresh_sqlite(path: Path) -> str:
    """The URL of a new, migrated SQLite database at `path` (a copy of the process's template)."""
    global _template
    if _template is None:
        folder = Path(tempfile.mkdtemp(prefix="closer-sqlite-template-"))
        atexit.register(shutil.rmtree, folder, True)
        await migrate(f"sqlite://{folder / 'template.db'}")
        _template = folder / "template.db"
    shutil.copyfile(_template, path)
    return f"sqlite://{path}"
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
