"""The schema is built by the migrations, and they agree with the models."""

from __future__ import annotations

import pytest
from tortoise import connections

from storage.db import pending_model_changes
from storage.models import Order
from tests.conftest import require_backend


async def test_models_and_migrations_agree_on_sqlite(database_urls):
    assert await pending_model_changes(require_backend(database_urls, "sqlite")) == []


async def test_models_and_migrations_agree_on_postgres(database_urls):
    assert await pending_model_changes(require_backend(database_urls, "postgres")) == []


async def test_migrations_create_every_table_from_empty(db):
    from tests.dbtools import _ALL

    conn = connections.get("default")
    for model in _ALL:
        rows = await conn.execute_query_dict(f'SELECT COUNT(*) AS n FROM "{model._meta.db_table}"')
        assert rows[0]["n"] == 0
    assert Order._meta.db_table == "orders"


async def test_every_index_the_models_declare_exists_after_the_migrations(db):
    from tests.dbtools import _ALL

    conn = connections.get("default")
    if db == "postgres":
        rows = await conn.execute_query_dict("SELECT indexname AS name FROM pg_indexes WHERE schemaname = 'public'")
    else:
        rows = await conn.execute_query_dict("SELECT name FROM sqlite_master WHERE type = 'index'")
    present = {row["name"] for row in rows}
    declared = {index.name for model in _ALL for index in model._meta.indexes if getattr(index, "name", None)}
    assert declared and declared - present == set()


async def test_upgrading_a_populated_database_keeps_its_rows(database_urls, tmp_path):
    """A deployment on the first schema upgrades in place: rows survive, new columns get their defaults."""
    from tortoise import Tortoise
    from tortoise.context import TortoiseContext
    from tortoise.migrations.api import migrate as migrate_to

    from storage.db import close_database, migrate, open_database, tortoise_config

    url = f"sqlite://{tmp_path / 'upgrade.db'}"
    async with TortoiseContext():
        await migrate_to(config=tortoise_config(url), target="models.0001_initial")
        await Tortoise.close_connections()
    ctx = await open_database(url)
    conn = connections.get("default")
    await conn.execute_script(
        "INSERT INTO account (name, detach_after_seconds, created_at) VALUES ('Old', 60, '2026-01-01T00:00:00+00:00');"
        "INSERT INTO client (account_id, name, phone, notes, language, unreachable, created_at)"
        " VALUES (1, 'Old client', '', '', 'en', 0, '2026-01-01T00:00:00+00:00');"
    )
    await close_database(ctx)

    await migrate(url)

    ctx = await open_database(url)
    try:
        from storage.models import Client

        client = await Client.get(name="Old client")
        assert (client.email_asked, client.widget_id) == (False, None)
    finally:
        await close_database(ctx)


async def _upgrade_from(url: str, target: str, sql: str) -> None:
    from tortoise import Tortoise
    from tortoise.context import TortoiseContext
    from tortoise.migrations.api import migrate as migrate_to

    from storage.db import close_database, migrate, open_database, tortoise_config

    async with TortoiseContext():
        await migrate_to(config=tortoise_config(url), target=target)
        await Tortoise.close_connections()
    ctx = await open_database(url)
    await connections.get("default").execute_script(sql)
    await close_database(ctx)
    await migrate(url)


_BEFORE_CHATS = """
INSERT INTO account (id, name, detach_after_seconds, created_at) VALUES (1, 'Old', 60, '2026-01-01T00:00:00+00:00');
INSERT INTO employee (id, account_id, email, name, role, active, away, commission_rate, language, telegram_unreachable,
  created_at) VALUES
  (1, 1, 'o@x.test', 'Owner', 'owner', {true}, {false}, 0, 'en', {false}, '2026-01-01T00:00:00+00:00'),
  (2, 1, 'p@x.test', 'Personal', 'manager', {true}, {false}, 0, 'en', {false}, '2026-01-01T00:00:00+00:00'),
  (3, 1, 'm@x.test', 'Orders', 'manager', {true}, {false}, 0, 'en', {false}, '2026-01-01T00:00:00+00:00');
INSERT INTO widget (id, account_id, code, name, notification_emails, is_default, created_at)
  VALUES (1, 1, 'default', 'Default', '[]', {true}, '2026-01-01T00:00:00+00:00');
INSERT INTO offer (id, account_id, title, price, currency, notify_on_failed_payment, active, created_at)
  VALUES (1, 1, 'Course', 10, 'EUR', {false}, {true}, '2026-01-01T00:00:00+00:00');
INSERT INTO client (id, account_id, name, phone, notes, language, unreachable, email_asked, personal_manager_id,
  created_at) VALUES
  (1, 1, 'Has personal', '', '', 'en', {false}, {false}, 2, '2026-01-01T00:00:00+00:00'),
  (2, 1, 'Has an open order', '', '', 'en', {false}, {false}, NULL, '2026-01-01T00:00:00+00:00'),
  (3, 1, 'Paid only', '', '', 'en', {false}, {false}, NULL, '2026-01-01T00:00:00+00:00');
INSERT INTO orders (id, account_id, client_id, offer_id, widget_id, status, amount, currency, order_manager_id,
  customer_info, created_at, updated_at) VALUES
  (1, 1, 2, 1, 1, 'awaiting_payment', 10, 'EUR', 3, '', '2026-01-02T00:00:00+00:00', '2026-01-02T00:00:00+00:00'),
  (2, 1, 3, 1, 1, 'paid', 10, 'EUR', 3, '', '2026-01-02T00:00:00+00:00', '2026-01-02T00:00:00+00:00');
INSERT INTO chat (id, account_id, client_id, last_message_at, created_at) VALUES
  (1, 1, 1, '2026-01-03T00:00:00+00:00', '2026-01-01T00:00:00+00:00'),
  (2, 1, 2, '2026-01-03T00:00:00+00:00', '2026-01-01T00:00:00+00:00'),
  (3, 1, 3, '2026-01-03T00:00:00+00:00', '2026-01-01T00:00:00+00:00');
INSERT INTO message (id, chat_id, direction, sender_kind, text, created_at) VALUES
  (1, 2, 'in', 'client', 'hello', '2026-01-03T00:00:00+00:00'),
  (2, 2, 'out', 'bot', 'hi', '2026-01-03T00:00:01+00:00');
"""


@pytest.mark.parametrize("fresh_database", ["sqlite", "postgres"], indirect=True)
async def test_existing_chats_get_their_assignee_from_the_personal_or_open_order_manager(fresh_database):
    """SPEC §10.1 on an upgrade: personal manager, else the latest open order's manager, else nobody; all open."""
    from storage.db import close_database, open_database
    from storage.models import Chat

    url = fresh_database
    booleans = {"true": 1, "false": 0} if url.startswith("sqlite") else {"true": "TRUE", "false": "FALSE"}
    await _upgrade_from(url, "models.0005_order_personal_manager", _BEFORE_CHATS.format(**booleans))
    ctx = await open_database(url)
    try:
        chats = {c.id: c for c in await Chat.all()}
        assert {i: c.assignee_id for i, c in chats.items()} == {1: 2, 2: 3, 3: None}
        assert {str(c.status) for c in chats.values()} == {"open"}
        assert (chats[2].last_inbound_message_id, chats[2].waiting_since) == (1, None)
    finally:
        await close_database(ctx)
