"""Housekeeping (SPEC §7): rows that only guard against duplicates or record delivery are purged after a retention.

What goes, and when (`retention` is `RETENTION_DAYS`, 7 days by default):

- outbox rows sent or skipped longer ago than the retention (by `sent_at`, the moment they were done; by
  `created_at` for a row without one). Pending rows are never touched: they are work still to do.
- parked outbox rows after `max(retention, 30 days)` from parking: they are what owner and admins look at (and may
  send again), so they stay longer than delivered ones; but a blocked employee parks every alert meant for him, so
  they cannot stay for ever either. One sent again is pending, then sent, and goes with the sent ones.
- Telegram update claims after `max(retention, 48 h)`: Telegram resends an update for at most 24 h, so 48 h is the
  least that keeps a resend from being processed twice.
- job runs (the database tick guard's rows) older than the retention.
- web sessions as soon as they have expired: nothing can use an expired session any more.
- Telegram invites used, or expired unused, longer ago than the retention: "used" and "unknown" get one answer.
- staff relays (a client's message as forwarded to an employee) older than the retention: a reply to a forwarded
  message older than that is then answered "reply to a client's message", as a reply to anything else is; the
  employee answers the client from the inbox, or replies to a newer message of his.

Each table is emptied in batches of at most `batch` rows per statement, so that a large backlog never holds its locks
(or SQLite's one writer) for long, and every statement stays well inside the statement timeout.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise.expressions import Q
from tortoise.models import Model

from sales.clock import aware
from storage.models import JobRun, Outbox, OutboxStatus, StaffRelay, TelegramInvite, TelegramUpdate, WebSession

DEFAULT_RETENTION = timedelta(days=7)
# Telegram resends an unacknowledged update for up to 24 h; a claim must outlive that with a margin.
CLAIMS_AT_LEAST = timedelta(hours=48)
# Parked notifications wait for an admin: kept at least this long whatever the retention.
PARKED_AT_LEAST = timedelta(days=30)
BATCH = 5000


def _older(field: str, cutoff: datetime) -> Q:
    return Q(**{f"{field}__lt": cutoff})


def _done_before(cutoff: datetime) -> Q:
    """When an outbox row stopped being work: when it was sent (or skipped or parked), else when it was written."""
    return _older("sent_at", cutoff) | Q(sent_at__isnull=True, created_at__lt=cutoff)


async def _delete_in_batches(model: type[Model], condition: Q, batch: int) -> int:
    """Delete the rows matching `condition`, at most `batch` per statement, oldest ids first, until none is left.

    Each batch is its ids, selected first, then deleted by primary key: as one `DELETE … WHERE id IN (SELECT … LIMIT)`
    PostgreSQL planned a scan of the whole table for every batch. The delete checks the condition again, so a row
    changed since its selection (say, a parked row an admin just sent again) is kept.
    """
    deleted = 0
    while True:
        ids = await model.filter(condition).order_by("id").limit(batch).values_list("id", flat=True)
        if ids:
            deleted += await model.filter(condition, id__in=list(ids)).delete()
        if len(ids) < batch:
            return deleted


async def purge(now: datetime, retention: timedelta = DEFAULT_RETENTION, *, batch: int = BATCH) -> dict[str, int]:
    """Delete what has outlived its use (see the module's description). Returns the rows deleted per table."""
    now = aware(now)
    if retention <= timedelta(0):
        raise ValueError("the retention must be positive")
    if batch < 1:
        raise ValueError("a batch is at least one row")
    cutoff = now - retention
    delivered = Q(status__in=[OutboxStatus.SENT, OutboxStatus.SKIPPED]) & _done_before(cutoff)
    parked = Q(status=OutboxStatus.PARKED) & _done_before(now - max(retention, PARKED_AT_LEAST))
    conditions: dict[str, tuple[type[Model], Q]] = {
        "outbox": (Outbox, delivered | parked),
        "telegram_update": (TelegramUpdate, _older("received_at", now - max(retention, CLAIMS_AT_LEAST))),
        "job_run": (JobRun, _older("started_at", cutoff)),
        "web_session": (WebSession, Q(expires_at__lte=now)),
        "telegram_invite": (
            TelegramInvite,
            _older("used_at", cutoff) | Q(used_at__isnull=True, expires_at__lt=cutoff),
        ),
        "staff_relay": (StaffRelay, _older("created_at", cutoff)),
    }
    return {table: await _delete_in_batches(model, condition, batch) for table, (model, condition) in conditions.items()}
