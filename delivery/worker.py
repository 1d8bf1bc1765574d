"""Claims due outbox rows and hands each to its channel; survives crashes and shares work across processes.

A row is claimed by moving its `available_at` forward (a lease): on PostgreSQL in one UPDATE over a
`FOR UPDATE SKIP LOCKED` selection, on SQLite with a compare-and-set per row; either way in a statement of its
own: no transaction stays open while a message is on the wire. A process that dies mid-send leaves the lease to
expire, and the row is sent again: delivery is at least once, and a second claim while the first is alive is
impossible. Rows to one recipient are sent in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Protocol

from tortoise.expressions import F

from bot.pacing import Unreachable
from sales.clock import utcnow
from storage import coalesce, sql
from storage.db import STORAGE_DOWN, dialect
from storage.models import Outbox, OutboxStatus

log = logging.getLogger(__name__)
# Every outbox row ends with it, two per customer message: written by hand (storage.sql).
_CLAIM = sql.Statement(
    "UPDATE outbox SET available_at = $1, attempts = attempts + 1 WHERE id IN ("
    "SELECT id FROM outbox WHERE status = 'pending' AND available_at <= $2 AND kind = ANY($3::text[]) "
    "ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING *"
)
_FINISH = sql.Statement("UPDATE outbox SET status = $2, sent_at = $3, last_error = $4 WHERE id = $1")
# Rows that finish in one turn of the event loop (storage.coalesce): one statement. Every customer message has two.
_FINISH_EACH = sql.Statement(
    "UPDATE outbox SET status = v.status, sent_at = v.sent_at, last_error = v.error "
    "FROM unnest($1::bigint[], $2::varchar[], $3::timestamptz[], $4::text[]) AS v(id, status, sent_at, error) "
    "WHERE outbox.id = v.id"
)

_finished = coalesce.Coalesced.update(_FINISH, _FINISH_EACH)
# The longest pause between rounds while the database or Redis is away.
MAX_BACKOFF_SECONDS = 5.0


class Channel(Protocol):
    kinds: frozenset[str]

    async def deliver(self, row: Outbox) -> bool:
        """Send the row; False when there is nobody to send it to (the row is then skipped)."""

    async def recipient_unreachable(self, row: Outbox) -> None:
        """Remember that this row's recipient blocked the bot."""


class Settles(Protocol):
    """A channel that can tell, for a whole batch at once, the fate of rows that need nothing on the wire."""

    async def settled(self, rows: list[Outbox]) -> dict[int, bool]:
        """By row id: True for a row whose work is already done (a live event, shown when it was claimed), False for
        one with nobody to send to. Rows left out go through `deliver`."""


class DeliveryWorker:
    def __init__(
        self,
        channels: Iterable[Channel],
        *,
        clock: Callable[[], datetime] = utcnow,
        batch: int = 100,
        lease: timedelta = timedelta(seconds=60),
        max_attempts: int = 8,
        idle_sleep: float = 0.2,
        on_claimed: Callable[[list[Outbox]], Awaitable[None]] | None = None,
        in_flight: int = 8,
        gather: float = 0.02,
    ) -> None:
        self._by_kind: dict[str, Channel] = {kind: ch for ch in channels for kind in ch.kinds}
        self._clock = clock
        self._batch = batch
        self._lease = lease
        self._max_attempts = max_attempts
        self._idle_sleep = idle_sleep
        self._wake = asyncio.Event()
        # Told of every claimed batch before sending (the inbox's live events): a page need not wait for Telegram.
        self._on_claimed = on_claimed
        # Few sends at a time: enough to keep Telegram's 30/s busy, and a crash leaves at most this many rows
        # whose fate is unknown (sent, but not yet marked).
        self._in_flight = asyncio.Semaphore(in_flight)
        # After a part batch, the pause that lets the next round take many rows at once (see run_forever).
        self._gather = gather

    def wake(self) -> None:
        """Something was just written: look now instead of after the idle sleep."""
        self._wake.set()

    async def _claim(self) -> list[Outbox]:
        now = self._clock()
        if dialect() == "postgres":
            return await self._claim_skip_locked(now)
        claimed = await self._claim_compare_and_set(now)
        return await Outbox.filter(id__in=claimed).order_by("id") if claimed else []

    async def _claim_skip_locked(self, now: datetime) -> list[Outbox]:
        # One statement, which returns the rows it claimed: rows another worker is claiming right now are skipped,
        # not waited for. Under load a round takes a few rows at a time, so its cost per round is its cost per row.
        rows = await sql.rows(_CLAIM, now + self._lease, now, list(self._by_kind), self._batch)
        # Tortoise's own constructor of a fetched row (it decodes the payload as its queries do).
        return [Outbox._init_from_db(**row) for row in sorted(rows, key=lambda row: row["id"])]

    async def _claim_compare_and_set(self, now: datetime) -> list[int]:
        # SQLite has one writer at a time; a compare-and-set per row is enough there.
        due = await Outbox.filter(
            status=OutboxStatus.PENDING, available_at__lte=now, kind__in=list(self._by_kind)
        ).order_by("id").limit(self._batch).values_list("id", flat=True)
        claimed = []
        for row_id in due:
            won = await Outbox.filter(id=row_id, status=OutboxStatus.PENDING, available_at__lte=now).update(
                available_at=now + self._lease, attempts=F("attempts") + 1
            )
            if won:
                claimed.append(row_id)
        return claimed

    async def _finish(self, row: Outbox, status: OutboxStatus, error: str | None = None) -> None:
        await _finished(row.id, status.value, self._clock(), error)

    async def _settle(self, rows: list[Outbox]) -> list[Outbox]:
        """Finishes together the rows whose fate needs no send, in one statement (most of a busy outbox: every
        customer message makes a live event and a staff copy, and most staff answer in the inbox, not in Telegram);
        returns the rest. Nothing goes on the wire for them, so finishing them first breaks no recipient's order."""
        by_channel: dict[Channel, list[Outbox]] = defaultdict(list)
        for row in rows:
            by_channel[self._by_kind[row.kind]].append(row)
        known: dict[int, bool] = {}
        try:
            for channel, its in by_channel.items():
                if hasattr(channel, "settled"):
                    known |= await channel.settled(its)
        except Exception:  # a row the pre-pass cannot judge still goes out one by one
            log.exception("delivery could not settle a batch at once; sending it row by row")
            return rows
        if not known:
            return rows
        now = self._clock()
        calls = [(row_id, (OutboxStatus.SENT if sent else OutboxStatus.SKIPPED).value, now, None)
                 for row_id, sent in known.items()]
        if dialect() == "postgres":
            await sql.update_each(_FINISH, _FINISH_EACH, calls)
        else:
            for call in calls:
                await sql.execute(_FINISH, *call)
        return [row for row in rows if row.id not in known]

    async def _handle(self, row: Outbox) -> None:
        channel = self._by_kind[row.kind]
        try:
            sent = await channel.deliver(row)
        except Unreachable as exc:
            await channel.recipient_unreachable(row)
            await self._finish(row, OutboxStatus.PARKED, f"unreachable: {exc}")
            return
        except Exception as exc:  # any failure is retried later; the reason is kept on the row
            log.warning("delivery failed", extra={"outbox_id": row.id, "kind": row.kind, "error": repr(exc)})
            if row.attempts >= self._max_attempts:
                await self._finish(row, OutboxStatus.PARKED, repr(exc)[:2000])
            else:
                backoff = timedelta(seconds=min(2 ** row.attempts, 300))
                await Outbox.filter(id=row.id).update(available_at=self._clock() + backoff, last_error=repr(exc)[:2000])
            return
        await self._finish(row, OutboxStatus.SENT if sent else OutboxStatus.SKIPPED)

    async def _run_in_order(self, rows: list[Outbox], held: set[int]) -> None:
        for row in rows:
            async with self._in_flight:
                await self._handle(row)
            held.discard(row.id)

    async def run_once(self) -> int:
        rows = await self._claim()
        if rows and self._on_claimed is not None:
            try:
                await self._on_claimed(rows)
            except Exception:  # live events are a courtesy; delivery goes on without them
                log.exception("live events failed")
        claimed = len(rows)
        rows = await self._settle(rows)
        by_recipient: dict[tuple[str, int | None], list[Outbox]] = defaultdict(list)
        for row in rows:
            key = ("employee", row.employee_id) if row.employee_id is not None else ("client", row.client_id)
            by_recipient[key].append(row)
        held = {row.id for row in rows}  # claimed and not yet handled
        renewing = asyncio.create_task(self._renew(held)) if rows else None
        try:
            await asyncio.gather(*(self._run_in_order(group, held) for group in by_recipient.values()))
        finally:
            if renewing is not None:
                renewing.cancel()
        return claimed

    async def _renew(self, held: set[int]) -> None:
        """Holds the lease of a batch while it is being sent: a live worker extends it every third of the lease, so
        the lease can be short (a crashed worker's rows go out again soon) however long the batch takes."""
        while True:
            await asyncio.sleep(self._lease.total_seconds() / 3)
            if not held:
                continue
            until = self._clock() + self._lease
            try:
                # Never backwards: a row that failed meanwhile has its backoff, which a renewal already on its way
                # (the row was still held when it was sent) must not cut to a lease.
                await Outbox.filter(id__in=list(held), status=OutboxStatus.PENDING, available_at__lt=until).update(
                    available_at=until)
            except Exception as exc:  # storage away: the batch may be sent twice after the lease, never lost
                log.warning("could not renew a delivery lease", extra={"error": repr(exc)})

    async def run_forever(self) -> None:
        failing = 0  # rounds failed in a row
        while True:
            try:
                done = await self.run_once()
            except STORAGE_DOWN as exc:
                # Said once when the outage starts and once when it ends, not every round; rounds back off meanwhile.
                if failing == 0:
                    log.warning("delivery paused: storage unavailable", extra={"error": repr(exc)})
                failing += 1
                await asyncio.sleep(min(self._idle_sleep * 2 ** failing, MAX_BACKOFF_SECONDS))
                continue
            except Exception:
                log.exception("delivery round failed; retrying")
                done = 0
            else:
                if failing:
                    log.info("delivery resumed", extra={"failed_rounds": failing})
                    failing = 0
            if done == 0:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self._idle_sleep)
                except TimeoutError:
                    pass
            elif done < self._batch and self._gather:
                # Rows are coming a few at a time (a busy webhook wakes the worker for each): a round's statements
                # cost about the same for one row as for a hundred, so the next round waits for more. A full batch
                # means a backlog: straight on.
                await asyncio.sleep(self._gather)

