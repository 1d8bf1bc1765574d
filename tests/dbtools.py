"""Database helpers of the test suite (and of the multi-process test workers)."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import asyncpg
import tortoise
from tortoise import connections

from storage.db import dialect, migrate

_STORAGE = Path(__file__).resolve().parent.parent / "storage"


def _schema_key() -> str:
    """A hash of what builds the schema: the migrations, the models and the ORM's version."""
    digest = hashlib.sha256(tortoise.__version__.encode())
    for source in [*sorted((_STORAGE / "migrations").rglob("*.py")), _STORAGE / "models.py"]:
        digest.update(source.relative_to(_STORAGE).as_posix().encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


# Migrating an empty SQLite database takes about 3 s (10 s on a loaded machine), copying a migrated one a few
# milliseconds. Every pytest session pays the migration once, and mutation testing starts a session for every mutant,
# so the migrated database is kept on disk across sessions: one file in the temp folder per version of the schema (a
# changed migration or model gives a new name, never a stale schema). It is written under a name of its own and then
# renamed, which is atomic, so a session running in parallel sees the whole file or none and then migrates by itself.
async def sqlite_template() -> Path:
    """The migrated, empty SQLite database of this schema, migrating it first if no session has yet."""
    template = Path(tempfile.gettempdir()) / f"closer-sqlite-template-{_schema_key()}.db"
    if not template.exists():
        folder = Path(tempfile.mkdtemp(prefix="closer-sqlite-migrating-", dir=template.parent))
        try:
            await migrate(f"sqlite://{folder / 'template.db'}")
            os.replace(folder / "template.db", template)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return template


async def fresh_sqlite(path: Path) -> str:
    """The URL of a new, migrated SQLite database at `path` (a copy of the cached template)."""
    shutil.copyfile(await sqlite_template(), path)
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
