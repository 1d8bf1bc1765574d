"""Log-in throttling (SPEC §7, issue 11 item 5): per address and per e-mail, and a locked-out attacker cannot lock the
real user out of a correct password from another address.

The rules run against each store the throttle counts in: the database (SQLite, PostgreSQL) and Redis (the run's
own server). Then the same through the API, with the addresses callers are known by.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from ipaddress import ip_network

import pytest
from pydantic import ValidationError
from redis.asyncio import Redis

from core.config import Settings
from inbox.throttle import DatabaseFailures, LoginThrottle, TooManyAttempts, client_address
from storage.db import close_database, open_database
from storage.models import LoginFailure
from tests.apitools import PASSWORD, make_api
from tests.conftest import redis_database, require_backend
from tests.dbtools import truncate_all
from tests.factories import at

VICTIM = "victim@shop.test"


class Clock:
    def __init__(self) -> None:
        self.now = at(0)

    def __call__(self):
        return self.now


@pytest.fixture(params=["sqlite", "postgres", "redis"])
async def throttles(request, database_urls) -> AsyncIterator:
    """Makes throttles (one per "process") counting in the store named by the parameter, on one shared clock."""
    url = require_backend(database_urls, "sqlite" if request.param == "redis" else request.param)
    # Only the Redis cases need the run's redis-server (and are left out with it).
    redis_url = redis_database(request.getfixturevalue("redis_url"), 10) if request.param == "redis" else None
    ctx = await open_database(url)
    await truncate_all()
    redis = None
    if redis_url is not None:
        redis = Redis.from_url(redis_url, decode_responses=True)
        await redis.flushdb()  # each test counts from zero
    clock = Clock()

    def make(**limits) -> LoginThrottle:
        return LoginThrottle(redis, clock=clock, **limits)

    make.clock = clock
    try:
        yield make
    finally:
        if redis is not None:
            await redis.aclose()
        await close_database(ctx)


async def _fail(throttle: LoginThrottle, address: str, email: str) -> TooManyAttempts | None:
    admission = await throttle.admit(address, email)
    return await throttle.failed(address, email, admission)


# ------------------------------------------------------------------------------------------------------ the rules


async def test_an_address_is_refused_after_its_cap_whatever_emails_it_tried(throttles):
    throttle = throttles(per_address=20, per_email=5)
    for n in range(20):
        await _fail(throttle, "203.0.113.7", f"user{n}@shop.test")
    with pytest.raises(TooManyAttempts):
        await throttle.admit("203.0.113.7", "someone-new@shop.test")


async def test_a_capped_address_does_not_hold_back_other_addresses(throttles):
    throttle = throttles(per_address=20, per_email=5)
    for n in range(20):
        await _fail(throttle, "203.0.113.7", f"user{n}@shop.test")
    admission = await throttle.admit("198.51.100.1", "user0@shop.test")
    assert admission.email_locked is False


async def test_below_the_limits_a_wrong_password_is_a_plain_failure(throttles):
    throttle = throttles(per_address=20, per_email=5)
    refusals = [await _fail(throttle, "203.0.113.7", VICTIM) for _ in range(4)]
    assert refusals == [None] * 4


async def test_failures_from_many_addresses_lock_the_email_for_addresses_that_failed(throttles):
    throttle = throttles(per_address=20, per_email=5)
    for n in range(5):
        await _fail(throttle, f"203.0.113.{n}", VICTIM)
    with pytest.raises(TooManyAttempts):
        await throttle.admit("203.0.113.0", VICTIM)


async def test_a_locked_email_lets_an_address_without_failures_try_but_answers_its_wrong_guess_429(throttles):
    throttle = throttles(per_address=20, per_email=5)
    for n in range(5):
        await _fail(throttle, f"203.0.113.{n}", VICTIM)
    admission = await throttle.admit("198.51.100.1", VICTIM)
    assert admission.email_locked is True
    assert isinstance(await throttle.failed("198.51.100.1", VICTIM, admission), TooManyAttempts)


async def test_a_lock_on_one_email_leaves_other_emails_alone(throttles):
    throttle = throttles(per_address=20, per_email=5)
    for n in range(5):
        await _fail(throttle, f"203.0.113.{n}", VICTIM)
    assert (await throttle.admit("198.51.100.1", "other@shop.test")).email_locked is False


async def test_a_success_forgives_the_failures_of_its_own_address_only(throttles):
    throttle = throttles(per_address=20, per_email=5)
    for _ in range(4):
        await _fail(throttle, "198.51.100.1", VICTIM)  # the owner's typos
    await _fail(throttle, "203.0.113.9", VICTIM)  # somebody else's guess
    await throttle.succeeded("198.51.100.1", VICTIM)
    for _ in range(3):
        await _fail(throttle, "198.51.100.1", VICTIM)
    # 1 + 3 failures count now; without forgiving, 8 would have locked the e-mail and this address.
    assert (await throttle.admit("198.51.100.1", VICTIM)).email_locked is False
    await _fail(throttle, "198.51.100.1", VICTIM)
    with pytest.raises(TooManyAttempts):
        await throttle.admit("198.51.100.1", VICTIM)


async def test_failures_stop_counting_once_the_window_has_passed(throttles):
    throttle = throttles(per_address=20, per_email=5, window_seconds=900)
    for _ in range(5):
        await _fail(throttle, "203.0.113.7", VICTIM)
    throttles.clock.now += timedelta(seconds=899)
    with pytest.raises(TooManyAttempts):
        await throttle.admit("203.0.113.7", VICTIM)
    throttles.clock.now += timedelta(seconds=2)
    assert (await throttle.admit("203.0.113.7", VICTIM)).email_locked is False


async def test_the_window_slides_failures_age_out_one_by_one(throttles):
    throttle = throttles(per_address=3, per_email=100, window_seconds=900)
    for minute in (0, 5, 10):
        throttles.clock.now = at(minute)
        await _fail(throttle, "203.0.113.7", f"u{minute}@shop.test")
    throttles.clock.now = at(14)
    with pytest.raises(TooManyAttempts):
        await throttle.admit("203.0.113.7", "x@shop.test")
    throttles.clock.now = at(15) + timedelta(seconds=1)  # the first failure is out, two remain
    await throttle.admit("203.0.113.7", "x@shop.test")


async def test_every_process_sees_the_same_counts(throttles):
    first, second = throttles(per_address=20, per_email=5), throttles(per_address=20, per_email=5)
    for n in range(5):
        await _fail(first if n % 2 else second, "203.0.113.7", VICTIM)
    with pytest.raises(TooManyAttempts):
        await throttles(per_address=20, per_email=5).admit("203.0.113.7", VICTIM)


async def test_failure_rows_older_than_the_window_are_deleted_as_new_ones_come(db):
    clock = Clock()
    throttle = LoginThrottle(None, clock=clock, window_seconds=900)
    await _fail(throttle, "203.0.113.7", VICTIM)
    clock.now += timedelta(minutes=16)
    await _fail(throttle, "203.0.113.8", VICTIM)
    assert await LoginFailure.all().values_list("address", flat=True) == ["203.0.113.8"]


async def test_one_failure_deletes_at_most_a_batch_of_old_rows(db):
    clock = Clock()
    throttle = LoginThrottle(None, clock=clock, window_seconds=900)
    await LoginFailure.bulk_create([LoginFailure(address="203.0.113.7", email_key="k", failed_at=at(0))
                                    for _ in range(150)])
    clock.now = at(20)
    await _fail(throttle, "203.0.113.8", VICTIM)
    assert await LoginFailure.filter(address="203.0.113.7").count() == 150 - DatabaseFailures.PURGE_BATCH


async def test_concurrent_failures_while_old_rows_are_purged_all_count(pg):
    clock = Clock()
    throttle = LoginThrottle(None, clock=clock, per_address=1000, per_email=1000, window_seconds=900)
    await LoginFailure.bulk_create([LoginFailure(address="203.0.113.7", email_key="k", failed_at=at(0))
                                    for _ in range(300)])
    clock.now = at(20)
    await asyncio.gather(*(_fail(throttle, f"198.51.100.{n}", VICTIM) for n in range(40)))
    assert await LoginFailure.filter(failed_at=at(20)).count() == 40


async def test_failure_rows_keep_a_digest_of_the_email_as_typed_not_the_email(db):
    throttle = LoginThrottle(None, clock=Clock())
    await _fail(throttle, "203.0.113.7", "  Victim@Shop.TEST ")
    [row] = await LoginFailure.all()
    assert VICTIM not in row.email_key and len(row.email_key) == 64
    await _fail(throttle, "203.0.113.7", VICTIM)
    assert await LoginFailure.filter(email_key=row.email_key).count() == 2


# -------------------------------------------------------------------------------------------------------- addresses

PROXY = (ip_network("10.0.0.0/8"),)


def test_without_trusted_proxies_x_forwarded_for_is_ignored():
    assert client_address("203.0.113.7", ["198.51.100.1"], ()) == "203.0.113.7"


def test_a_peer_that_is_not_a_trusted_proxy_is_the_address_whatever_it_forwards():
    assert client_address("203.0.113.7", ["198.51.100.1"], PROXY) == "203.0.113.7"


def test_behind_a_trusted_proxy_the_rightmost_untrusted_forwarded_address_counts():
    # The caller made up the first entry; the proxies appended what they saw.
    forwarded = ["1.2.3.4, 198.51.100.1", "10.1.2.3"]
    assert client_address("10.0.0.9", forwarded, PROXY) == "198.51.100.1"


def test_a_proxy_that_forwards_nothing_is_the_address():
    assert client_address("10.0.0.9", [], PROXY) == "10.0.0.9"


def test_an_unreadable_forwarded_entry_stops_the_walk_at_the_last_trusted_hop():
    assert client_address("10.0.0.9", ["198.51.100.1, not-an-ip, 10.0.0.5"], PROXY) == "10.0.0.5"


def test_forwarded_addresses_may_carry_ports():
    assert client_address("10.0.0.9", ["198.51.100.1:5678"], PROXY) == "198.51.100.1"
    assert client_address("10.0.0.9", ["[2001:db8::1]:443"], PROXY) == "2001:db8::/64"


def test_ipv6_addresses_count_by_their_64_prefix():
    assert client_address("2001:db8:1:2:aaaa::1", [], ()) == client_address("2001:db8:1:2:bbbb::2", [], ())
    assert client_address("2001:db8:1:2::1", [], ()) != client_address("2001:db8:1:3::1", [], ())


def test_an_ipv4_mapped_ipv6_peer_counts_as_its_ipv4_address():
    assert client_address("::ffff:203.0.113.7", [], ()) == "203.0.113.7"


def test_the_trusted_proxies_setting_reads_comma_separated_addresses_and_networks():
    settings = Settings(trusted_proxies="10.0.0.1, 192.168.0.0/16,fd00::/8")
    assert settings.trusted_proxies == (ip_network("10.0.0.1/32"), ip_network("192.168.0.0/16"),
                                        ip_network("fd00::/8"))
    assert Settings().trusted_proxies == ()


def test_a_malformed_trusted_proxy_is_refused_at_start():
    with pytest.raises(ValidationError, match="TRUSTED_PROXIES"):
        Settings(trusted_proxies="10.0.0.1,proxy.internal")


def test_the_throttle_limits_default_to_20_per_address_and_5_per_email_in_15_minutes():
    settings = Settings()
    assert (settings.login_failures_per_address, settings.login_failures_per_email,
            settings.login_window_seconds) == (20, 5, 900)


# -------------------------------------------------------------------------------------------------------- the API


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request):
    return request.param


async def _api(database_urls, aiohttp_client, backend, **settings):
    return await make_api(require_backend(database_urls, backend), aiohttp_client, settings=settings)


async def _log_in(api, email: str, password: str, via: str | None = None) -> int:
    headers = {"X-Forwarded-For": via} if via else None
    response = await api.client.post("/api/v1/session", json={"email": email, "password": password}, headers=headers)
    return response.status


async def test_forty_emails_from_one_address_get_twenty_answers_then_429(database_urls, aiohttp_client, backend):
    api = await _api(database_urls, aiohttp_client, backend)  # the defaults: 20 per address
    statuses = [await _log_in(api, f"user{n}@nowhere.test", "guess-guess") for n in range(40)]
    assert statuses == [403] * 20 + [429] * 20


async def test_a_capped_address_is_refused_even_the_right_password(database_urls, aiohttp_client, backend):
    api = await _api(database_urls, aiohttp_client, backend, login_failures_per_address=3)
    for n in range(3):
        await _log_in(api, f"user{n}@nowhere.test", "guess-guess")
    assert await _log_in(api, api.shop.managers[0].email, PASSWORD) == 429


async def test_a_made_up_forwarded_for_does_not_escape_the_address_cap(database_urls, aiohttp_client, backend):
    api = await _api(database_urls, aiohttp_client, backend, login_failures_per_address=3)
    for n in range(3):
        await _log_in(api, f"user{n}@nowhere.test", "guess-guess", via=f"198.51.100.{n}")
    assert await _log_in(api, "user9@nowhere.test", "guess-guess", via="198.51.100.99") == 429


async def test_behind_a_trusted_proxy_each_caller_has_his_own_cap(database_urls, aiohttp_client, backend):
    api = await _api(database_urls, aiohttp_client, backend, login_failures_per_address=3, trusted_proxies="127.0.0.1")
    for n in range(3):
        await _log_in(api, f"user{n}@nowhere.test", "guess-guess", via="198.51.100.1")
    assert await _log_in(api, "user9@nowhere.test", "guess-guess", via="198.51.100.1") == 429
    assert await _log_in(api, api.shop.managers[0].email, PASSWORD, via="198.51.100.2") == 200


async def test_wrong_guesses_from_many_addresses_lock_further_wrong_guesses(database_urls, aiohttp_client, backend):
    api = await _api(database_urls, aiohttp_client, backend, trusted_proxies="127.0.0.1")
    email = api.shop.managers[0].email
    first = [await _log_in(api, email, "guess-guess", via=f"203.0.113.{n}") for n in range(5)]
    assert first == [403] * 5
    assert await _log_in(api, email, "guess-guess", via="203.0.113.0") == 429  # an address that failed
    assert await _log_in(api, email, "guess-guess", via="203.0.113.200") == 429  # a new one, wrong too


async def test_the_real_user_logs_in_from_a_fresh_address_while_his_email_is_locked(
    database_urls, aiohttp_client, backend
):
    api = await _api(database_urls, aiohttp_client, backend, trusted_proxies="127.0.0.1")
    email = api.shop.managers[0].email
    for n in range(10):
        await _log_in(api, email, "guess-guess", via=f"203.0.113.{n}")
    assert await _log_in(api, email, PASSWORD, via="198.51.100.1") == 200


async def test_a_locked_email_refuses_the_right_password_from_an_address_that_guessed_wrong(
    database_urls, aiohttp_client, backend
):
    api = await _api(database_urls, aiohttp_client, backend, trusted_proxies="127.0.0.1")
    email = api.shop.managers[0].email
    for n in range(5):
        await _log_in(api, email, "guess-guess", via=f"203.0.113.{n}")
    assert await _log_in(api, email, PASSWORD, via="203.0.113.0") == 429


async def test_an_unknown_email_is_locked_exactly_like_a_known_one(database_urls, aiohttp_client, backend):
    api = await _api(database_urls, aiohttp_client, backend)
    answers = {}
    for email in (api.shop.managers[0].email, "nobody@nowhere.test"):
        statuses = [await _log_in(api, email, "guess-guess") for _ in range(6)]
        response = await api.client.post("/api/v1/session", json={"email": email, "password": "guess-guess"})
        answers[email] = (statuses, response.status, await response.json())
    known, unknown = answers.values()
    assert known == unknown and known[0] == [403] * 5 + [429]
