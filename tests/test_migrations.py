"""The schema is built by the migrations, and they agree with the models."""

from __future__ import annotations

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
