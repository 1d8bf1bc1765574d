"""Every storage-backed test runs on SQLite and on PostgreSQL (the `db` fixture is parametrised).

PostgreSQL is the server of `TEST_DATABASE_URL` (default: the local `test` database): each run creates a database of
its own there and drops it at the end, so two runs on one machine never reset each other's schema. When the server
is unreachable its cases fail, saying so: a green run has checked the races and the processes too. Someone running a
subset without PostgreSQL on purpose sets CLOSER_TESTS_WITHOUT_POSTGRES=1, and only then are they skipped.

Redis is never the shared server (127.0.0.1:6379): its keys, its FLUSHDB and its pub/sub channels (global to a
server, whatever the database number) would be every run's at once. The `redis_url` fixture starts a redis-server of
the run's own on a free port and stops it at the end; tests that keep their keys apart take a database number of
their own in it (`redis_database`). Tests that stop or freeze Redis start one of their own (tests/private_redis.py).
Without `redis-server` on PATH these tests fail, saying so; CLOSER_TESTS_WITHOUT_REDIS=1 skips them instead.
"""

from __future__ import annotations

from core import aiogram_models

# As in a closer process (closer/__init__.py): aiogram's models are built on first use, so the tests use them so.
aiogram_models.defer()

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from storage.db import close_database, migrate, open_database
from tests.dbtools import fresh_sqlite, reset_postgres_schema, truncate_all
from tests.private_redis import private_redis

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
# The one way to skip PostgreSQL's cases: asked for by name, never because the server happened to be down.
WITHOUT_POSTGRES = os.environ.get("CLOSER_TESTS_WITHOUT_POSTGRES") == "1"


async def _postgres_reachable() -> bool:
    try:
        conn = await asyncio.wait_for(asyncpg.connect(PG_URL), timeout=5)
    except (OSError, asyncpg.PostgresError, asyncio.TimeoutError):
        return False
    await conn.close()
    return True


def _with_database(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def database_urls(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, str | None]]:
    """Each backend migrated from empty with the project's own migrations: PostgreSQL once per session, SQLite once
    per version of the schema (a copy of the template kept across sessions, see `tests.dbtools.sqlite_template`)."""
    sqlite_url = await fresh_sqlite(tmp_path_factory.mktemp("db") / "closer-test.db")
    urls: dict[str, str | None] = {"sqlite": sqlite_url, "postgres": None}
    name = f"closer_test_{os.getpid()}_{secrets.token_hex(3)}"
    if not WITHOUT_POSTGRES and await _postgres_reachable():
        await _admin(f'CREATE DATABASE "{name}"')
        urls["postgres"] = _with_database(PG_URL, name)
        await reset_postgres_schema(urls["postgres"])
        await migrate(urls["postgres"])
    yield urls
    if urls["postgres"] is not None:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The URL (database 0) of this run's own redis-server, started on a free port and stopped at the end."""
    with private_redis() as server:
        yield server.url


def redis_database(url: str, number: int) -> str:
    """`url`'s server with database `number`: keys apart from the other numbers' (pub/sub channels are not)."""
    return url.rsplit("/", 1)[0] + f"/{number}"


def require_backend(urls: dict[str, str | None], backend: str) -> str:
    url = urls[backend]
    if url is None:
        if WITHOUT_POSTGRES:
            pytest.skip(f"{backend} left out (CLOSER_TESTS_WITHOUT_POSTGRES=1)")
        pytest.fail(f"{backend} is unreachable at {PG_URL}: start it (scripts/services.sh), or run a subset with "
                    "CLOSER_TESTS_WITHOUT_POSTGRES=1 to leave its cases out")
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


@pytest.fixture
async def fresh_database(request: pytest.FixtureRequest, database_urls, tmp_path) -> AsyncIterator[str]:
    """An empty database of the backend named by the test's `backend` parameter: no schema at all, for upgrades."""
    backend = request.param
    if backend == "sqlite":
        yield f"sqlite://{tmp_path / 'fresh.db'}"
        return
    require_backend(database_urls, "postgres")
    name = f"closer_fresh_{os.getpid()}_{secrets.token_hex(3)}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(PG_URL, name)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
