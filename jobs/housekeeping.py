"""Housekeeping (SPEC §7) as a scheduled job: what only guarded against duplicates or recorded delivery is purged
after the retention; employees' uploads Telegram holds leave the disk after FILES_UPLOADS_KEEP_DAYS."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from jobs.guard import TickGuard
from sales import attachments
from sales.housekeeping import BATCH, purge

log = logging.getLogger(__name__)
JOB = "housekeeping"


# Deletes a stored path's file under the files directory (inbox.files.FileStore.discard).
Discard = Callable[[str], None]


async def forget_sent_uploads(now: datetime, kept: timedelta, discard: Discard, *, batch: int = BATCH) -> int:
    """Uploads sent longer than `kept` ago leave the disk: Telegram holds them, and a view fetches them back into the
    capped cache. The row forgets the file first, so no view reads a file being deleted for long."""
    removed = 0
    while True:
        found = await attachments.sent_uploads(now - kept, batch)
        for attachment_id, stored_path in found:
            if await attachments.forget_upload(attachment_id, stored_path):
                discard(stored_path)
                removed += 1
        if len(found) < batch:
            return removed


async def run_housekeeping(guard: TickGuard, now: datetime, interval_seconds: int, retention: timedelta,
                           uploads: tuple[timedelta, Discard] | None = None) -> dict[str, int] | None:
    """Purge for the tick `now` falls in, unless another process already claimed that tick; with `uploads` (how
    long sent ones stay, and how a file is deleted), sent uploads leave the disk too.

    Returns the rows deleted per table, or None when this process did not run the tick.
    """
    tick = int(now.timestamp()) // interval_seconds
    if not await guard.claim(JOB, tick):
        return None
    purged = await purge(now, retention)
    if uploads is not None:
        purged["uploads"] = await forget_sent_uploads(now, *uploads)
    if any(purged.values()):
        log.info("housekeeping purged old rows", extra={"purged": purged, "tick": tick})
    return purged


def housekeeping_job(guard: TickGuard, clock: Callable[[], datetime], interval_seconds: int, retention: timedelta,
                     uploads: tuple[timedelta, Discard] | None = None):
    async def job() -> None:
        await run_housekeeping(guard, clock(), interval_seconds, retention, uploads)

    return job
