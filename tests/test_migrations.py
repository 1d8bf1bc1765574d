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
