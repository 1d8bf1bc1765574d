"""The one state machine every Redis user shares while Redis is away (SPEC §7: never required for correctness)."""

from __future__ import annotations

import logging

from storage.redis import RedisFallback


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_after_a_failure_redis_is_left_alone_for_the_retry_window_then_tried_again():
    clock = Clock()
    state = RedisFallback("pacing", "each process paces itself", retry_seconds=5, clock=clock)
    assert state.worth_trying()
    state.failed(ConnectionError("refused"))
    clock.now += 4.9
    assert not state.worth_trying()
    clock.now += 0.1
    assert state.worth_trying()


def test_an_outage_is_logged_once_and_its_end_once(caplog):
    clock = Clock()
    state = RedisFallback("chat locks", "each process locks its own", retry_seconds=5, clock=clock)
    with caplog.at_level(logging.INFO, logger="storage.redis"):
        for _ in range(3):
            state.failed(TimeoutError())
            clock.now += 5
        assert state.down
        state.answered()
        state.answered()
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "chat locks: redis unavailable, each process locks its own"),
        ("INFO", "chat locks: redis answers again"),
    ]
    assert not state.down
