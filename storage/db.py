"""Database lifecycle: one Tortoise context per process, migrations, and a reset for tests."""

from __future__ import annotations

from typing import Any

import asyncpg
from redis.exceptions import ConnectionError as RedisConnectionError
from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.connection import get_connection
from tortoise.context import TortoiseContext
from tortoise.exceptions import DBConnectionError, OperationalError

# What "the database (or Redis) is not there" looks like from inside a request: answer 503 and let the sender retry.
# OperationalError is included because Tortoise wraps a dropped server connection in it; bad input never reaches
# the database as such (it is refused at the edge), so it does not hide behind a 503.
# asyncpg's own errors of a server starting, stopping or full come raw from a pool opening a connection.
# OSError includes TimeoutError: a statement or a connection that outlived its timeout (a frozen server).
STORAGE_DOWN: tuple[type[BaseException], ...] = (
    DBConnectionError, OperationalError, OSError, RedisConnectionError,
    asyncpg.exceptions.OperatorInterventionError, asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.TooManyConnectionsError,
)

# A frozen or unreachable PostgreSQL must answer 503 within seconds, not hang requests for as long as it stays so.
CONNECT_TIMEOUT_SECONDS = 5
STATEMENT_TIMEOUT_SECONDS = 5

MODELS_MODULE = "storage.models"
MIGRATIONS_MODULE = "storage.migrations"


class _LeanResetConnection(asyncpg.Connection):
    """A pooled connection whose release costs no round trip.

    asyncpg's pool resets a connection on every release with `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL` in case a user left session state behind. closer leaves none (no session advisory locks, cursors,
    LISTEN or SET; its locks are row locks that end with their transaction), and outside a transaction every
    Tortoise query is an acquire and a release, so that reset was one extra round trip per query. asyncpg still
    rolls back a transaction left open, which is the reset that matters.
    """

    def get_reset_query(self) -> str:
        return ""


def _connection(database_url: str, bounded: bool) -> str | dict[str, Any]:
    if not database_url.startswith(("postgres://", "postgresql://", "asyncpg://")):
        return database_url
    config = expand_db_url(database_url)
    config["credentials"]["connection_class"] = _LeanResetConnection
    if bounded:
        # Client-side: a frozen server (SIGSTOP) never answers, so only the client can give up.
        config["credentials"]["timeout"] = CONNECT_TIMEOUT_SECONDS
        config["credentials"]["command_timeout"] = STATEMENT_TIMEOUT_SECONDS
    return config


def tortoise_config(database_url: str, *, bounded: bool = True) -> dict[str, Any]:
    """`bounded`: every statement and connection attempt has a timeout (serving); migrations may take longer."""
    return {
        "connections": {"default": _connection(database_url, bounded)},
        "apps": {
            "models": {
                "models": [MODELS_MODULE],
                "migrations": MIGRATIONS_MODULE,
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# For Tortoise's own command line (`tortoise makemigrations`, see [tool.tortoise] in pyproject.toml).
TORTOISE_ORM = tortoise_config("sqlite://closer.db")


def dialect() -> str:
    """'postgres' or 'sqlite': the few places that need a row lock or an advisory lock ask this."""
    return get_connection("default").capabilities.dialect


async def open_database(database_url: str) -> TortoiseContext:
    """Connect this process to the database.

    The context is the process-wide fallback because aiohttp runs startup, request handlers and background
    workers in different tasks; each of them must see the same connections.
    """
    # Tortoise caches compiled INSERT/UPDATE statements per connection *name*, not per dialect; a process that
    # reconnects to another backend (the test suite does) must not reuse SQLite's statements on PostgreSQL.
    EXECUTOR_CACHE.clear()
    ctx = TortoiseContext()
    # Current only while initialising: afterwards every task finds it through the global fallback.
    with ctx:
        await ctx.init(config=tortoise_config(database_url), _enable_global_fallback=True)
    return ctx


async def close_database(ctx: TortoiseContext) -> None:
    await ctx.close_connections()


async def migrate(database_url: str) -> None:
    """Bring the schema to the latest migration (`closer migrate`)."""
    # Imported here: a serving process (`closer run`) never migrates, and the migration machinery holds memory.
    from tortoise.migrations.api import migrate as _migrate_api

    async with TortoiseContext():
        await _migrate_api(config=tortoise_config(database_url, bounded=False))
        await Tortoise.close_connections()


async def pending_model_changes(database_url: str) -> list[str]:
    """Names of migrations `makemigrations` would write now: empty when models and migrations agree."""
    from tortoise.migrations.autodetector import MigrationAutodetector

    config = tortoise_config(database_url)
    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        detector = MigrationAutodetector(ctx.apps, config["apps"])
        writers = await detector.changes()
        return [w.name for w in writers]
