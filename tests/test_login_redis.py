"""Logging in never needs Redis (SPEC §7, issue 11 item 3): the throttle counts in Redis when it answers, else in the
database. Every test here runs its own redis-server on a free port and stops or freezes that one only.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis

from core.keys import REDIS
from inbox.throttle import LOGIN_THROTTLE, email_key
from storage.models import LoginFailure
from tests.apitools import PASSWORD, make_api
from tests.conftest import require_backend
from tests.private_redis import private_redis
from harness.processes import free_port

# Asserts on wall-clock time or runs several processes: run with the machine to itself (scripts/test.sh).
pytestmark = pytest.mark.alone


@pytest.fixture(params=["sqlite", "postgres"])
def url(request, database_urls):
    return require_backend(database_urls, request.param)


@pytest.fixture
def redis_server():
    with private_redis() as server:
        yield server


async def _log_in(api, email: str, password: str) -> int:
    response = await api.client.post("/api/v1/session", json={"email": email, "password": password})
    return response.status


async def _failures_in_redis(server, email: str) -> int:
    redis = Redis.from_url(server.url, decode_responses=True)
    try:
        return await redis.zcard(f"closer:login:email:{email_key(email)}")
    finally:
        await redis.aclose()


async def test_with_redis_failures_are_counted_in_redis_not_the_database(url, aiohttp_client, redis_server):
    api = await make_api(url, aiohttp_client, settings={"redis_url": redis_server.url})
    email = api.shop.managers[0].email
    for _ in range(2):
        assert await _log_in(api, email, "guess-guess") == 403
    assert await _failures_in_redis(redis_server, email) == 2
    assert await LoginFailure.all().count() == 0


async def test_without_redis_failures_are_counted_in_the_database(url, aiohttp_client):
    api = await make_api(url, aiohttp_client)
    for _ in range(2):
        assert await _log_in(api, api.shop.managers[0].email, "guess-guess") == 403
    assert await LoginFailure.all().count() == 2


async def test_the_right_password_logs_in_while_redis_is_down(url, aiohttp_client, redis_server):
    api = await make_api(url, aiohttp_client, settings={"redis_url": redis_server.url})
    redis_server.stop()
    assert await _log_in(api, api.shop.managers[0].email, PASSWORD) == 200


async def test_the_right_password_logs_in_when_redis_was_never_there(url, aiohttp_client):
    api = await make_api(url, aiohttp_client, settings={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    assert await _log_in(api, api.shop.managers[0].email, PASSWORD) == 200


async def test_wrong_passwords_while_redis_is_down_still_lock_through_the_database(url, aiohttp_client, redis_server):
    api = await make_api(url, aiohttp_client, settings={"redis_url": redis_server.url})
    redis_server.stop()
    email = api.shop.managers[0].email
    assert [await _log_in(api, email, "guess-guess") for _ in range(5)] == [403] * 5
    assert await LoginFailure.all().count() == 5
    assert await _log_in(api, email, PASSWORD) == 429


async def test_a_frozen_redis_holds_a_login_up_about_a_second_not_forever(url, aiohttp_client, redis_server):
    api = await make_api(url, aiohttp_client, settings={"redis_url": redis_server.url})
    assert await _log_in(api, api.shop.admin.email, PASSWORD) == 200  # the pool has a connection to the server
    redis_server.freeze()
    try:
        started = time.monotonic()
        status = await asyncio.wait_for(_log_in(api, api.shop.managers[0].email, PASSWORD), timeout=30)
        took = time.monotonic() - started
    finally:
        redis_server.thaw()
    print(f"log-in with Redis frozen: {took:.2f} s")
    assert status == 200 and took < 5


async def test_counting_goes_back_to_redis_once_it_returns(url, aiohttp_client, redis_server):
    api = await make_api(url, aiohttp_client, settings={"redis_url": redis_server.url})
    app = api.client.server.app
    app[LOGIN_THROTTLE].redis_state.retry_seconds = 0  # try Redis again at once rather than after 5 s
    email = api.shop.managers[0].email
    redis_server.stop()
    assert await _log_in(api, email, "guess-guess") == 403
    redis_server.start()
    deadline = time.monotonic() + 10
    while True:  # the app's pool notices the new server
        try:
            await app[REDIS].ping()
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
    assert await _log_in(api, email, "guess-guess") == 403
    assert (await LoginFailure.all().count(), await _failures_in_redis(redis_server, email)) == (1, 1)
