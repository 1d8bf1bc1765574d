"""Statements written by hand, for the path every customer message takes (issue 14).

Tortoise builds a query anew in Python (pypika) each time it runs: on a customer's update that was about a third of
closer's CPU, more than the database's own work. A `Statement` is written once, in PostgreSQL's spelling (`$1`,
`$2`…, `FOR UPDATE`), and its SQLite spelling (`?1`, `?2`…, no row locks: SQLite has one writer at a time anyway) is
made once at import. asyncpg prepares each statement once per connection and reuses it.

They run on the connection Tortoise would use: inside `in_transaction()` that transaction's, so they mix with ORM
queries. Values go as the drivers take them: aware datetimes, plain strings for enums, JSON as text.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from tortoise.connection import get_connection

_NUMBERED = re.compile(r"\$(\d+)")
_ROW_LOCK = re.compile(r" FOR UPDATE(?: OF \w+)?")
R = TypeVar("R")
M = TypeVar("M")


class Statement:
    __slots__ = ("postgres", "sqlite")

    def __init__(self, postgres: str) -> None:
        self.postgres = postgres
        self.sqlite = _ROW_LOCK.sub("", _NUMBERED.sub(r"?\1", postgres))

    def __repr__(self) -> str:
        return f"Statement({self.postgres!r})"


def _client_and_text(statement: Statement) -> tuple[Any, str]:
    client = get_connection("default")
    text = statement.postgres if client.capabilities.dialect == "postgres" else statement.sqlite
    return client, text


@dataclass(frozen=True, slots=True)
class Write:
    """A write (no RETURNING) kept to go with the caller's next statement: `rows(…, along=write)`."""

    statement: Statement
    values: tuple[Any, ...]


_CARRYING: dict[tuple[Statement, Statement, int], str] = {}


def _carrying(along: Write, statement: Statement, count: int) -> str:
    """PostgreSQL's spelling of `statement` (of `count` values) with the write `along` as a data-modifying WITH
    before it, whose values follow the statement's: one round trip for both."""
    key = (along.statement, statement, count)
    if key not in _CARRYING:
        if statement.postgres.lstrip().upper().startswith("WITH"):
            raise ValueError(f"{statement!r} has a WITH of its own: a write cannot be carried before it")
        renumbered = _NUMBERED.sub(lambda m: f"${int(m.group(1)) + count}", along.statement.postgres)
        _CARRYING[key] = f"WITH carried AS ({renumbered}) {statement.postgres}"
    return _CARRYING[key]


async def rows(statement: Statement, *values: Any, along: Write | None = None) -> list[dict[str, Any]]:
    """The rows a statement returns (a SELECT, or a write with RETURNING), each as a dict of its columns.

    `along`: a write that must happen in the same transaction, written with this statement (on PostgreSQL in the
    same round trip: under a lock every round trip counts). The statement must not read what `along` writes (one
    statement sees one snapshot); on SQLite `along` simply runs first."""
    client, text = _client_and_text(statement)
    if along is not None:
        # Spelled on SQLite too, so that what PostgreSQL would refuse is refused everywhere.
        carrying = _carrying(along, statement, len(values))
        if client.capabilities.dialect == "postgres":
            return await client.execute_query_dict(carrying, [*values, *along.values])
        await execute(along.statement, *along.values)
    return await client.execute_query_dict(text, list(values))


async def first(statement: Statement, *values: Any, along: Write | None = None) -> dict[str, Any] | None:
    found = await rows(statement, *values, along=along)
    return found[0] if found else None


async def one(model: type[M], statement: Statement, *values: Any, along: Write | None = None) -> M | None:
    """The first row a statement returns as a `model` instance (Tortoise's own constructor of a fetched row, which
    converts SQLite's values as its queries do), or None."""
    row = await first(statement, *values, along=along)
    return model._init_from_db(**row) if row is not None else None


def columns_of(model: type, alias: str) -> str:
    """A joined model's columns in a select list, each named `alias__column`: a statement that reads several models
    in one row (a join) gives each back with `part`. Only once Tortoise has set the models up (before, a foreign
    key has no column yet)."""
    return ", ".join(f"{alias}.{column} AS {alias}__{column}" for column in sorted(model._meta.db_fields))


def part(model: type[M], row: dict[str, Any], alias: str) -> M | None:
    """The `model` that `columns_of(model, alias)` put in `row`, or None when its join found none (no id)."""
    prefix = f"{alias}__"
    if row[f"{prefix}{model._meta.db_pk_column}"] is None:
        return None
    return model._init_from_db(**{key[len(prefix):]: value for key, value in row.items() if key.startswith(prefix)})


async def execute(statement: Statement, *values: Any) -> int:
    """A write without RETURNING; returns how many rows it changed."""
    client, text = _client_and_text(statement)
    changed, _ = await client.execute_query(text, list(values))
    return changed


def columns(calls: list[tuple[Any, ...]]) -> list[list[Any]]:
    """Callers' values as one list per column: the arrays a statement over `unnest($1, $2, …)` takes."""
    return [list(column) for column in zip(*calls, strict=True)]


async def update_each(single: Statement, together: Statement, calls: list[tuple[Any, ...]]) -> list[None]:
    """An UPDATE for several callers, each keyed by its first value: `together` (`UPDATE … FROM unnest(…)`) once.
    Such an UPDATE writes a row once, whichever of its values; one row twice runs `single` for each, in order."""
    if len({values[0] for values in calls}) < len(calls):
        for values in calls:
            await execute(single, *values)
    else:
        await execute(together, *columns(calls))
    return [None] * len(calls)


class Forms(Generic[R]):
    """A statement in two forms: `one(*values)` for one caller, `many(calls)` (PostgreSQL only) for several callers
    in one set-based statement, each caller's result in the callers' order. Callers that meet (storage.group_commit,
    storage.coalesce) run the second."""

    __slots__ = ("one", "many")

    def __init__(self, one: Callable[..., Awaitable[R]],
                 many: Callable[[list[tuple[Any, ...]]], Awaitable[Sequence[R]]]) -> None:
        self.one = one
        self.many = many

    @classmethod
    def update(cls, single: Statement, together: Statement):
        """An UPDATE keyed by its first value (`update_each`)."""

        async def one(*values: Any) -> None:
            await execute(single, *values)

        async def many(calls: list[tuple[Any, ...]]) -> list[None]:
            return await update_each(single, together, calls)

        return cls(one, many)

    async def results(self, calls: list[tuple[Any, ...]]) -> Sequence[R]:
        """Each caller's result: `one` for a single caller, else `many`."""
        if len(calls) == 1:
            return [await self.one(*calls[0])]
        results = await self.many(calls)
        if len(results) != len(calls):
            raise RuntimeError(f"{len(calls)} calls of a set-based statement got {len(results)} results")
        return results
