"""SPEC §4.3, §7: outbound pacing within Telegram's limits (about 30 messages/s per bot, 1 message/s per chat), kept
in memory on one process and shared through Redis by several."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from redis.asyncio import Redis

from bot.pacing import Pace, RateLimiter, RedisRateLimiter
from tests.private_redis import private_redis


class FrozenClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _slots(limiter, bot_id: int, chats) -> list[float]:
    """The delays of reservations that took a slot, in order."""
    delays = []
    for chat in chats:
        reserved, delay = await limiter.reserve(bot_id, chat)
        assert reserved
        delays.append(delay)
    return delays


async def test_a_bots_sends_are_spaced_evenly_at_thirty_a_second():
    limiter = RateLimiter(per_bot=30, clock=FrozenClock())
    delays = await _slots(limiter, 1, range(61))
    assert delays[0] == 0.0
    assert delays[1] == pytest.approx(1 / 30) and delays[30] == pytest.approx(1.0) and delays[60] == pytest.approx(2.0)


async def test_any_one_second_window_holds_at_most_thirty_sends():
    limiter = RateLimiter(per_bot=30, clock=FrozenClock())
    times = sorted(await _slots(limiter, 1, range(200)))
    for i in range(len(times) - 30):
        assert times[i + 30] - times[i] >= 1.0 - 1e-9


async def test_the_margin_spaces_sends_further_apart():
    limiter = RateLimiter(per_bot=30, margin=0.05, clock=FrozenClock())
    delays = await _slots(limiter, 1, range(31))
    assert delays[30] == pytest.approx(1.05)


async def test_a_busy_chat_is_told_to_come_back_without_taking_the_bots_slot():
    limiter = RateLimiter(per_bot=30, clock=FrozenClock())
    assert await limiter.reserve(1, 42) == (True, 0.0)
    assert await limiter.reserve(1, 42) == (False, 1.0)
    # The refused reservation kept nothing: another chat gets the bot's next slot.
    assert await limiter.reserve(1, 7) == (True, pytest.approx(1 / 30))


async def test_one_chat_gets_one_message_a_second():
    clock = FrozenClock()
    limiter = RateLimiter(clock=clock)
    granted = []
    for _ in range(4):
        while True:
            reserved, delay = await limiter.reserve(1, 42)
            clock.now += delay
            if reserved:
                granted.append(clock.now)
                break
    assert granted == [1000.0, 1001.0, 1002.0, 1003.0]


async def test_a_chat_burst_lets_that_many_go_at_once():
    limiter = RateLimiter(per_bot=1000, per_chat_burst=2, clock=FrozenClock())
    assert [(await limiter.reserve(1, 42))[0] for _ in range(3)] == [True, True, False]


async def test_bots_are_paced_separately():
    limiter = RateLimiter(per_bot=1, clock=FrozenClock())
    assert [await limiter.reserve(1, 1), await limiter.reserve(2, 1)] == [(True, 0.0), (True, 0.0)]


async def test_time_passing_frees_the_slots():
    clock = FrozenClock()
    limiter = RateLimiter(clock=clock)
    assert await limiter.reserve(1, 42) == (True, 0.0)
    clock.now += 5
    assert await limiter.reserve(1, 42) == (True, 0.0)


class CountingLimiter(RateLimiter):
    """The process's pace on the real clock, counting the slots taken."""

    def __init__(self) -> None:
        super().__init__(per_bot=30)
        self.taken = 0

    async def reserve(self, bot_id: int, chat_id: int) -> tuple[bool, float]:
        reserved, delay = await super().reserve(bot_id, chat_id)
        self.taken += reserved
        return reserved, delay


async def _wait_turn_while_the_loop_is_held(limiter: CountingLimiter, held: float) -> None:
    await limiter.reserve(1, 1)  # the slot now: the waiter's is 1/30 s away
    waiter = asyncio.create_task(limiter.wait_turn(1, 2))
    await asyncio.sleep(0)  # it has reserved and sleeps toward its slot
    time.sleep(held)  # nothing else runs meanwhile, as while a model is built on its first use
    await waiter


async def test_a_send_woken_long_after_its_slot_takes_a_new_one():
    limiter = CountingLimiter()
    await _wait_turn_while_the_loop_is_held(limiter, 0.3)
    # Leaving 270 ms late, it would have gone out with the sends of the eight slots after its own.
    assert limiter.taken == 1 + 2


async def test_a_send_woken_on_time_keeps_its_slot():
    limiter = CountingLimiter()
    await _wait_turn_while_the_loop_is_held(limiter, 0.0)
    assert limiter.taken == 1 + 1


class AlwaysLate(Pace):
    """Every slot 1 ms away, and the event loop held 100 ms right after each reservation."""

    def __init__(self) -> None:
        super().__init__(per_bot=30)
        self.taken = 0

    async def reserve(self, bot_id: int, chat_id: int) -> tuple[bool, float]:
        self.taken += 1
        asyncio.get_running_loop().call_soon(time.sleep, 0.1)
        return True, 0.001


async def test_a_send_that_keeps_waking_late_still_goes_after_a_few_new_slots():
    limiter = AlwaysLate()
    await limiter.wait_turn(1, 2)
    assert limiter.taken == 1 + Pace.LOST_SLOTS


@pytest.fixture
def redis_server():
    with private_redis() as server:
        yield server


async def test_two_limiters_on_one_redis_share_the_bots_pace(redis_server):
    """Two processes' limiters: the second one's reservations queue behind the first one's."""
    first, second = Redis.from_url(redis_server.url), Redis.from_url(redis_server.url)
    try:
        a, b = RedisRateLimiter(first, per_bot=30), RedisRateLimiter(second, per_bot=30)
        started = time.monotonic()
        delays, slots = [], []
        for i in range(60):
            before = time.monotonic()
            delay = (await (a if i % 2 else b).reserve(9, i))[1]
            delays.append(delay)
            # The slot, on this process's clock: somewhere within the reservation's round trip, plus its delay.
            slots.append((before + delay, time.monotonic() + delay))
        took = time.monotonic() - started
        # 33 ms of pace each: they queue up across both limiters. Each delay counts from the moment of its own
        # reservation, the last one's up to `took` after the first's (60 round trips: tens of ms on a loaded machine).
        assert 59 / 30 - took - 0.05 <= delays[59] <= 59 / 30 + 0.05, (delays[59], took)
        # Each slot is one pace after the one before, whichever limiter took it. (Not "each delay longer than the
        # one before": a reservation that comes late on a loaded machine waits less for a later slot.)
        for (earliest, latest), (next_earliest, next_latest) in itertools.pairwise(slots):
            assert next_earliest - latest - 0.002 <= 1 / 30 <= next_latest - earliest + 0.002
    finally:
        await first.aclose()
        await second.aclose()


async def test_a_chat_is_paced_across_limiters_sharing_redis(redis_server):
    first, second = Redis.from_url(redis_server.url), Redis.from_url(redis_server.url)
    try:
        a, b = RedisRateLimiter(first), RedisRateLimiter(second)
        assert (await a.reserve(9, 42))[0] is True
        reserved, delay = await b.reserve(9, 42)
        assert reserved is False and delay == pytest.approx(1.0, abs=0.05)
    finally:
        await first.aclose()
        await second.aclose()


async def test_without_redis_pacing_goes_on_in_the_process(redis_server):
    redis = Redis.from_url(redis_server.url)
    try:
        limiter = RedisRateLimiter(redis, per_bot=30)
        redis_server.stop()
        started = time.monotonic()
        delays = [(await limiter.reserve(9, chat))[1] for chat in range(31)]
        assert time.monotonic() - started < 3  # one failed try, then no waiting on the dead server
        assert delays[30] == pytest.approx(1.0, abs=0.05)
    finally:
        await redis.aclose()


async def test_a_frozen_redis_holds_a_send_up_about_a_second_not_forever(redis_server):
    redis = Redis.from_url(redis_server.url)
    try:
        limiter = RedisRateLimiter(redis)
        await limiter.reserve(9, 1)
        redis_server.freeze()
        try:
            async with asyncio.timeout(5):
                reserved, _ = await limiter.reserve(9, 2)
        finally:
            redis_server.thaw()
        assert reserved is True
    finally:
        await redis.aclose()
