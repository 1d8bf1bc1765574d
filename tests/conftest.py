"""Every storage-backed test runs on SQLite and on PostgreSQL (the `db` fixture is parametrised).

PostgreSQL is `TEST_DATABASE_URL` or the local `test` database. When it is unreachable its cases are skipped
locally, but fail when `CI` is set: CI must never pass on SQLite alone.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import asyncpg
import pytest

from storage.db import close_database, migrate, open_database
from tests.dbtools import reset_postgres_schema, truncate_all

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
IN_CI = bool(os.environ.get("CI"))


async def _postgres_reachable() -> bool:
    try:
        conn = await asyncio.wait_for(asyncpg.connect(PG_URL), timeout=5)
    except (OSError, asyncpg.PostgresError, asyncio.TimeoutError):
        return False
    await conn.close()
    return True


@pytest.fixture(scope="session")
def pg_url() -> str:
    return PG_URL


@pytest.fixture(scope="session")
async def database_urls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | None]:
    """Each backend migrated from empty once per session, with the project's own migrations."""
    sqlite_url = f"sqlite://{tmp_path_factory.mktemp('db') / 'closer-test.db'}"
    await migrate(sqlite_url)
    urls: dict[str, str | None] = {"sqlite": sqlite_url, "postgres": None}
    if await _postgres_reachable():
        await reset_postgres_schema(PG_URL)
        await migrate(PG_URL)
        urls["postgres"] = PG_URL
    return urls


def require_backend(urls: dict[str, str | None], backend: str) -> str:
    url = urls[backend]
    if url is None:
        if IN_CI:
            pytest.fail(f"{backend} is unreachable at {PG_URL} and CI is set: it must run")
        pytest.skip(f"{backend} is not reachable here")
    return url


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, database_urls: dict[str, str | None]) -> AsyncIterator[str]:
    """An empty, migrated database of each backend; yields the backend's name."""
    url = require_backend(database_urls, request.param)
    ctx = await open_database(url)
    try:
        await truncate_all()
        yield request.param
    finally:
        await close_database(ctx)


@pytest.fixture
async def pg(database_urls: dict[str, str | None]) -> AsyncIterator[str]:
    """PostgreSQL only: for row locks and several processes. Yields its URL."""
    url = require_backend(database_urls, "postgres")
    ctx = await open_database(url)
    try:
        await truncate_all()
        yield url
    finally:
        await close_database(ctx)
