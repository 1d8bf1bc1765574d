"""Two test runs on one machine never collide: each has a PostgreSQL database and a redis-server of its own (see
tests/conftest.py). Checked by doing it: two pytest runs at once, on a small selection that uses both databases and
Redis (keys, and a FLUSHDB that on a shared server would wipe the other run's), must both pass. The live-event tests
of two app processes (Redis pub/sub) are left out of the selection: they would double its cost."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHILD = "CLOSER_SIDE_BY_SIDE_CHILD"  # set in the two runs: they never start runs of their own
SELECTION = [
    # SQLite and PostgreSQL (the `db` fixture), and Redis keys.
    "tests/test_auto_detach.py::test_two_schedulers_claim_each_tick_once_with_the_database_guard",
    "tests/test_auto_detach.py::test_two_schedulers_claim_each_tick_once_with_the_redis_guard",
    # Two bots' chat locks and state in Redis, wiped by FLUSHDB first: on a shared server, the other run's too.
    "tests/test_bot_multibot.py::test_the_email_question_is_open_per_bot",
]


@pytest.mark.skipif(os.environ.get(CHILD) == "1", reason="a side-by-side run does not start runs of its own")
def test_two_test_runs_side_by_side_both_pass(tmp_path):
    env = os.environ | {CHILD: "1"}
    runs = []
    started = time.monotonic()
    for name in ("a", "b"):
        log = (tmp_path / f"{name}.log").open("w+")
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp",
                   str(tmp_path / name), *SELECTION]
        runs.append((name, subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT),
                     log))
    deadline = started + 300
    try:
        for _, process, _ in runs:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()  # its output so far says where it hung
                process.wait()
    finally:
        for _, process, _ in runs:
            if process.poll() is None:
                process.kill()
                process.wait()
    print(f"two runs side by side: {time.monotonic() - started:.1f} s")
    failed = []
    for name, process, log in runs:
        log.seek(0)
        output = log.read()
        log.close()
        if process.returncode != 0 or " passed" not in output:
            failed.append(f"run {name} exited {process.returncode}:\n{output[-4000:]}")
    assert not failed, "\n\n".join(failed)
