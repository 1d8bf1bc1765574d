"""SPEC §7 Housekeeping: rows that only guard against duplicates or record delivery are purged after the retention
(Telegram update claims after at least 48 h), by a job that runs once per tick across processes."""

from __future__ import annotations

import asyncio
import itertools
import logging
from datetime import datetime, timedelta

import pytest

from core.config import Settings
from jobs.guard import DatabaseTickGuard
from jobs.housekeeping import run_housekeeping
from jobs.scheduler import build_scheduler
from sales.housekeeping import purge
from storage.models import (
    JobRun,
    Outbox,
    OutboxStatus,
    StaffRelay,
    TelegramInvite,
    TelegramUpdate,
    WebSession,
)
from tests.factories import T0, make_shop, new_client

NOW = T0 + timedelta(days=60)
WEEK = timedelta(days=7)
HOUR = 3600
_ids = itertools.count(1)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


async def _outbox(shop, status: OutboxStatus, *, created: float, sent: float | None = None) -> Outbox:
    n = next(_ids)
    return await Outbox.create(
        account_id=shop.account.id, kind="order.assigned", employee_id=shop.managers[0].id, payload={},
        dedupe_key=f"housekeeping-{n}", status=status, available_at=days_ago(created), created_at=days_ago(created),
        sent_at=None if sent is None else days_ago(sent),
    )


async def _claim(days: float) -> TelegramUpdate:
    return await TelegramUpdate.create(bot_id=4242, update_id=next(_ids), received_at=days_ago(days))


async def _job_run(days: float) -> JobRun:
    return await JobRun.create(job="detach", tick=next(_ids), started_at=days_ago(days))


async def _session(shop, *, expires_in_days: float) -> WebSession:
    n = next(_ids)
    return await WebSession.create(token_hash=f"{n:064x}", employee_id=shop.managers[0].id, csrf_token="csrf",
                                   created_at=days_ago(14 - expires_in_days), expires_at=days_ago(-expires_in_days))


async def _invite(shop, *, created: float, used: float | None = None) -> TelegramInvite:
    return await TelegramInvite.create(
        account_id=shop.account.id, employee_id=shop.managers[0].id, token=f"staff-{next(_ids)}",
        created_at=days_ago(created), expires_at=days_ago(created - 2), used_at=None if used is None else days_ago(used),
    )


async def _relay(shop, client, days: float) -> StaffRelay:
    return await StaffRelay.create(account_id=shop.account.id, employee_id=shop.managers[0].id,
                                   telegram_message_id=next(_ids), client_id=client.id, created_at=days_ago(days))


async def _left(model, rows) -> set[int]:
    return set(await model.filter(id__in=[r.id for r in rows]).values_list("id", flat=True))


# -- what goes and what stays -------------------------------------------------------------------------------------


async def test_sent_and_skipped_outbox_rows_go_after_the_retention_and_newer_ones_stay(db):
    shop = await make_shop(managers=1)
    old_sent = await _outbox(shop, OutboxStatus.SENT, created=9, sent=8)
    old_skipped = await _outbox(shop, OutboxStatus.SKIPPED, created=9, sent=8)
    recent = await _outbox(shop, OutboxStatus.SENT, created=9, sent=6)
    counts = await purge(NOW, WEEK)
    assert await _left(Outbox, [old_sent, old_skipped, recent]) == {recent.id}
    assert counts["outbox"] == 2


async def test_an_outbox_row_without_a_sent_time_counts_from_when_it_was_written(db):
    shop = await make_shop(managers=1)
    old = await _outbox(shop, OutboxStatus.SKIPPED, created=8)
    recent = await _outbox(shop, OutboxStatus.SKIPPED, created=6)
    await purge(NOW, WEEK)
    assert await _left(Outbox, [old, recent]) == {recent.id}


async def test_a_pending_outbox_row_is_never_purged(db):
    shop = await make_shop(managers=1)
    pending = await _outbox(shop, OutboxStatus.PENDING, created=365)
    counts = await purge(NOW, timedelta(days=1))
    assert await _left(Outbox, [pending]) == {pending.id}
    assert counts["outbox"] == 0


async def test_a_parked_outbox_row_stays_30_days_whatever_the_retention(db):
    shop = await make_shop(managers=1)
    parked = await _outbox(shop, OutboxStatus.PARKED, created=29, sent=29)
    await purge(NOW, WEEK)
    assert await _left(Outbox, [parked]) == {parked.id}


async def test_a_parked_outbox_row_goes_after_30_days(db):
    shop = await make_shop(managers=1)
    parked = await _outbox(shop, OutboxStatus.PARKED, created=31, sent=31)
    await purge(NOW, WEEK)
    assert await _left(Outbox, [parked]) == set()


async def test_a_parked_outbox_row_goes_after_a_retention_longer_than_30_days(db):
    shop = await make_shop(managers=1)
    kept = await _outbox(shop, OutboxStatus.PARKED, created=59, sent=59)
    gone = await _outbox(shop, OutboxStatus.PARKED, created=61, sent=61)
    await purge(NOW, timedelta(days=60))
    assert await _left(Outbox, [kept, gone]) == {kept.id}


async def test_update_claims_younger_than_48_hours_stay_even_with_a_one_day_retention(db):
    young = await _claim(days=1.9)
    old = await _claim(days=2.1)
    counts = await purge(NOW, timedelta(days=1))
    assert await _left(TelegramUpdate, [young, old]) == {young.id}
    assert counts["telegram_update"] == 1


async def test_update_claims_go_after_a_retention_longer_than_48_hours(db):
    kept = await _claim(days=6)
    gone = await _claim(days=8)
    await purge(NOW, WEEK)
    assert await _left(TelegramUpdate, [kept, gone]) == {kept.id}


async def test_job_runs_go_after_the_retention(db):
    kept = await _job_run(days=6)
    gone = await _job_run(days=8)
    counts = await purge(NOW, WEEK)
    assert await _left(JobRun, [kept, gone]) == {kept.id}
    assert counts["job_run"] == 1


async def test_expired_sessions_go_at_once_and_live_ones_stay(db):
    shop = await make_shop(managers=1)
    live = await _session(shop, expires_in_days=1)
    expired = await _session(shop, expires_in_days=-0.1)
    counts = await purge(NOW, WEEK)
    assert await _left(WebSession, [live, expired]) == {live.id}
    assert counts["web_session"] == 1


async def test_used_invites_go_after_the_retention(db):
    shop = await make_shop(managers=1)
    kept = await _invite(shop, created=7, used=6)
    gone = await _invite(shop, created=9, used=8)
    await purge(NOW, WEEK)
    assert await _left(TelegramInvite, [kept, gone]) == {kept.id}


async def test_unused_invites_go_once_expired_for_longer_than_the_retention(db):
    shop = await make_shop(managers=1)
    # Invites last 2 days: expired 6 and 8 days ago.
    kept = await _invite(shop, created=8)
    gone = await _invite(shop, created=10)
    await purge(NOW, WEEK)
    assert await _left(TelegramInvite, [kept, gone]) == {kept.id}


async def test_an_unused_invite_still_valid_stays_even_when_older_than_the_retention(db):
    shop = await make_shop(managers=1)
    valid = await _invite(shop, created=1.5)  # expires in half a day
    counts = await purge(NOW, timedelta(days=1))
    assert await _left(TelegramInvite, [valid]) == {valid.id}
    assert counts["telegram_invite"] == 0


async def test_staff_relays_go_after_the_retention(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    kept = await _relay(shop, client, days=6)
    gone = await _relay(shop, client, days=8)
    counts = await purge(NOW, WEEK)
    assert await _left(StaffRelay, [kept, gone]) == {kept.id}
    assert counts["staff_relay"] == 1


async def test_a_backlog_larger_than_a_batch_is_purged_whole(db):
    old = [await _job_run(days=8) for _ in range(5)]
    counts = await purge(NOW, WEEK, batch=2)
    assert await _left(JobRun, old) == set()
    assert counts["job_run"] == 5


async def test_nothing_to_purge_counts_zero_for_every_table(db):
    assert await purge(NOW, WEEK) == {
        "outbox": 0, "telegram_update": 0, "job_run": 0, "web_session": 0, "telegram_invite": 0, "staff_relay": 0,
    }


async def test_a_time_without_a_zone_is_refused(db):
    with pytest.raises(ValueError):
        await purge(NOW.replace(tzinfo=None), WEEK)


# -- the job ------------------------------------------------------------------------------------------------------


async def test_two_schedulers_purge_each_tick_once_with_the_database_guard(db):
    gone = await _claim(days=8)
    results = await asyncio.gather(
        run_housekeeping(DatabaseTickGuard(), NOW, HOUR, WEEK), run_housekeeping(DatabaseTickGuard(), NOW, HOUR, WEEK)
    )
    ran = [r for r in results if r is not None]
    assert len(ran) == 1 and results.count(None) == 1
    assert ran[0]["telegram_update"] == 1
    assert await _left(TelegramUpdate, [gone]) == set()


async def test_the_next_tick_purges_again(db):
    guard = DatabaseTickGuard()
    assert await run_housekeeping(guard, NOW, HOUR, WEEK) is not None
    assert await run_housekeeping(guard, NOW + timedelta(minutes=59), HOUR, WEEK) is None
    gone = await _claim(days=8)
    assert (await run_housekeeping(guard, NOW + timedelta(hours=1), HOUR, WEEK))["telegram_update"] == 1
    assert await _left(TelegramUpdate, [gone]) == set()


async def test_a_run_that_purged_logs_its_counts_once(db, caplog):
    await _claim(days=8)
    with caplog.at_level(logging.INFO, logger="jobs.housekeeping"):
        await run_housekeeping(DatabaseTickGuard(), NOW, HOUR, WEEK)
    records = [r for r in caplog.records if r.name == "jobs.housekeeping"]
    assert len(records) == 1
    assert records[0].purged["telegram_update"] == 1


async def test_a_run_that_purged_nothing_logs_nothing(db, caplog):
    with caplog.at_level(logging.INFO, logger="jobs.housekeeping"):
        assert await run_housekeeping(DatabaseTickGuard(), NOW, HOUR, WEEK) is not None
    assert [r for r in caplog.records if r.name == "jobs.housekeeping"] == []


async def test_the_scheduler_runs_housekeeping_on_its_own(db):
    gone = await _claim(days=8)
    scheduler = build_scheduler(DatabaseTickGuard(), lambda: NOW, detach_interval_seconds=3600,
                                conversation_interval_seconds=3600, housekeeping_interval_seconds=1, retention=WEEK)
    scheduler.start()
    try:
        for _ in range(50):
            if not await _left(TelegramUpdate, [gone]):
                break
            await asyncio.sleep(0.1)
    finally:
        scheduler.shutdown(wait=False)
    assert await _left(TelegramUpdate, [gone]) == set()


def test_retention_and_housekeeping_interval_default_to_a_week_and_an_hour():
    settings = Settings(_env_file=None)
    assert (settings.retention_days, settings.housekeeping_seconds) == (7, 3600)


def test_retention_and_housekeeping_interval_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("RETENTION_DAYS", "30")
    monkeypatch.setenv("HOUSEKEEPING_SECONDS", "600")
    settings = Settings(_env_file=None)
    assert (settings.retention_days, settings.housekeeping_seconds) == (30, 600)
