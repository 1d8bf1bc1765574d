"""A Telegram update is handled once (SPEC §7): its claim is a row of telegram_update (bot id, update id).

Telegram resends an update until it gets a 200. Where a handler writes the update's effects in one transaction (a
customer's message, a staff reply, a payment), the claim is written in that very transaction (`take`): a process
killed before the commit leaves neither, and the resend is handled; a second delivery of an update whose claim is
committed, or still in another transaction, waits for that one on the unique key, then finds it (`AlreadyHandled`).
Other handlers take it on its own before they start (`take_alone`), as a guard against a resend while they run.
"""

from __future__ import annotations

from datetime import datetime

from storage import group_commit, sql

# Every update makes one: written by hand (storage.sql), it is on every update's path.
_CLAIM = sql.Statement("INSERT INTO telegram_update (bot_id, update_id, received_at) VALUES ($1, $2, $3) "
                       "ON CONFLICT (bot_id, update_id) DO NOTHING RETURNING id")
_CLAIMS = sql.Statement(
    "INSERT INTO telegram_update (bot_id, update_id, received_at) "
    "SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[]) "
    "ON CONFLICT (bot_id, update_id) DO NOTHING RETURNING id, bot_id, update_id"
)


async def _claim(bot_id: int, update_id: int, received_at: datetime) -> int | None:
    row = await sql.first(_CLAIM, bot_id, update_id, received_at)
    return row["id"] if row is not None else None


async def _claims(calls: list[tuple[int, int, datetime]]) -> list[int | None]:
    bots, updates, times = sql.columns(calls)
    made = {(row["bot_id"], row["update_id"]): row["id"] for row in await sql.rows(_CLAIMS, bots, updates, times)}
    # pop: of two claims of one update, only the first made it.
    return [made.pop((bot_id, update_id), None) for bot_id, update_id, _ in calls]


# The claims of a batch's messages (storage.group_commit) are one INSERT.
_claimed = group_commit.Batched(_claim, _claims)
_RELEASE = sql.Statement("DELETE FROM telegram_update WHERE id = $1")


class AlreadyHandled(Exception):
    """This update was handled (or is being handled) already: the delivery is a resend."""


class UpdateClaim:
    __slots__ = ("bot_id", "update_id", "received_at", "id", "alone")

    def __init__(self, bot_id: int, update_id: int, received_at: datetime) -> None:
        self.bot_id = bot_id
        self.update_id = update_id
        self.received_at = received_at
        self.id: int | None = None
        self.alone = False

    @property
    def taken(self) -> bool:
        return self.id is not None

    async def take(self) -> None:
        """In the caller's transaction, before its effects; again when that transaction is run again."""
        claim_id = await _claimed(self.bot_id, self.update_id, self.received_at)
        if claim_id is None:
            raise AlreadyHandled(self.update_id)
        self.id = claim_id

    async def take_alone(self) -> None:
        """Outside any transaction: committed at once, so a resend while the handler runs is skipped."""
        await self.take()
        self.alone = True

    async def release(self) -> None:
        """After a failure before the effects were committed: the resend is handled. Only a claim taken alone is
        released; one taken with the effects went (or stays) with them."""
        if self.alone and self.id is not None:
            await sql.execute(_RELEASE, self.id)
            self.id, self.alone = None, False
