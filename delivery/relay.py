"""What a staff copy of a client's message became in the employee's Telegram: the relay his reply is routed by.

Every customer message makes one per employee who answers for the client (issue 14), so it is written by hand in
one statement, and the relays of copies sent in one turn of the event loop share it (storage.coalesce). Sending is at
least once: a copy sent again after a crash has a new Telegram message id, and one id written twice stays one relay.
"""

from __future__ import annotations

from datetime import datetime

from storage import coalesce, sql

_RELAY = sql.Statement(
    "INSERT INTO staff_relay (account_id, employee_id, telegram_message_id, client_id, created_at) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (employee_id, telegram_message_id) DO NOTHING"
)
_RELAYS = sql.Statement(
    "INSERT INTO staff_relay (account_id, employee_id, telegram_message_id, client_id, created_at) "
    "SELECT * FROM unnest($1::int[], $2::int[], $3::bigint[], $4::int[], $5::timestamptz[]) "
    "ON CONFLICT (employee_id, telegram_message_id) DO NOTHING"
)


async def _one(*values: object) -> None:
    await sql.execute(_RELAY, *values)


async def _many(calls: list[tuple[object, ...]]) -> list[None]:
    await sql.execute(_RELAYS, *sql.columns(calls))
    return [None] * len(calls)


_remember = coalesce.Coalesced(_one, _many)


async def remember(account_id: int, employee_id: int, telegram_message_id: int, client_id: int,
                   at: datetime) -> None:
    """The employee's Telegram message `telegram_message_id` is a copy of this client's message."""
    await _remember(account_id, employee_id, telegram_message_id, client_id, at)
