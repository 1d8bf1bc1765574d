"""SPEC §4.3: outbound pacing within Telegram's limits (about 30 messages/s per bot, 1 message/s per chat)."""

from __future__ import annotations

from bot.sender import RateLimiter


class FrozenClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_sends_to_different_chats_go_at_once_up_to_thirty_a_second():
    limiter = RateLimiter(per_bot=30, clock=FrozenClock())
    delays = [await limiter.reserve(1, chat) for chat in range(30)]
    assert delays == [0.0] * 30


async def test_the_thirty_first_send_in_a_second_waits_for_the_next_second():
    limiter = RateLimiter(per_bot=30, clock=FrozenClock())
    delays = [await limiter.reserve(1, chat) for chat in range(61)]
    assert delays[30] == 1.0 and delays[59] == 1.0 and delays[60] == 2.0


async def test_any_one_second_window_holds_at_most_thirty_sends():
    limiter = RateLimiter(per_bot=30, clock=FrozenClock())
    times = sorted([1000.0 + await limiter.reserve(1, chat) for chat in range(200)])
    for i in range(len(times) - 30):
        assert times[i + 30] - times[i] >= 1.0


async def test_one_chat_gets_one_message_a_second():
    limiter = RateLimiter(clock=FrozenClock())
    delays = [await limiter.reserve(1, 42) for _ in range(4)]
    assert delays == [0.0, 1.0, 2.0, 3.0]


async def test_bots_are_paced_separately():
    limiter = RateLimiter(per_bot=1, clock=FrozenClock())
    assert [await limiter.reserve(1, 1), await limiter.reserve(2, 1)] == [0.0, 0.0]


async def test_time_passing_frees_the_slots():
    clock = FrozenClock()
    limiter = RateLimiter(clock=clock)
    assert await limiter.reserve(1, 42) == 0.0
    clock.now += 5
    assert await limiter.reserve(1, 42) == 0.0
