"""A redis-server of a test's own, on a free port: stopping or freezing it disturbs nobody else (never the shared one).

Without `redis-server` on PATH its tests fail, saying so; CLOSER_TESTS_WITHOUT_REDIS=1 (asked for by name, like
CLOSER_TESTS_WITHOUT_POSTGRES) skips them instead.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from harness.processes import free_port

# The one way to skip the tests that need a redis-server: asked for by name, never because it happened to be missing.
WITHOUT_REDIS = os.environ.get("CLOSER_TESTS_WITHOUT_REDIS") == "1"


class PortTaken(RuntimeError):
    """The free port was taken by someone else (another test run) between being found and being bound."""


class PrivateRedis:
    def __init__(self, port: int, directory: str) -> None:
        self.port, self.directory = port, directory
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--dir", self.directory],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                raise PortTaken(f"redis-server exited at start: port {self.port} is taken")
            # Whoever answers on the port must be this server: another run's may have bound it first.
            try:
                if self._answering_pid() == self.process.pid:
                    return
            except OSError:
                pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def _answering_pid(self) -> int | None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
            s.sendall(b"INFO server\r\n")
            reply = b""
            while (found := re.search(rb"process_id:(\d+)\r\n", reply)) is None:
                chunk = s.recv(65536)
                reply += chunk
                if not chunk or reply.startswith(b"-"):  # closed, or an error such as -LOADING
                    return None
            return int(found.group(1))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)  # a frozen server cannot act on SIGTERM
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def freeze(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)


@contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    if WITHOUT_REDIS:
        pytest.skip("redis-server left out (CLOSER_TESTS_WITHOUT_REDIS=1)")
    if shutil.which("redis-server") is None:
        pytest.fail("these tests need redis-server (they start a private one): install it (scripts/services.sh), or "
                    "run a subset with CLOSER_TESTS_WITHOUT_REDIS=1 to leave them out")
    directory = tempfile.mkdtemp(prefix="closer-redis-")
    for _ in range(5):
        server = PrivateRedis(free_port(), directory)
        try:
            server.start()
            break
        except PortTaken:
            continue
    else:
        shutil.rmtree(directory, ignore_errors=True)
        raise RuntimeError("redis-server exited at start 5 times: its ports were taken, or it cannot run here")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
