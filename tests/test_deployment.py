"""Deployment (SPEC §9): the compose file is valid, and `closer run --workers N` serves from N processes on one port."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import aiohttp

from storage.db import migrate
from tests.conftest import require_backend
from tests.processes import free_port

ROOT = Path(__file__).resolve().parent.parent


def test_docker_compose_accepts_the_file_with_two_app_replicas_and_health_checks():
    compose = shutil.which("docker-compose")
    assert compose, "scripts/services.sh installs docker-compose"
    checked = subprocess.run([compose, "-f", "docker-compose.yml", "config"], cwd=ROOT, capture_output=True,
                             text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    config = checked.stdout
    assert "replicas: 2" in config
    for service in ("postgres", "redis", "app"):
        assert f"\n  {service}:" in config
    assert config.count("healthcheck:") == 3


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in found.stdout.split()]


async def test_closer_run_with_two_workers_serves_from_two_processes_and_restarts_a_dead_one(database_urls):
    url = require_backend(database_urls, "postgres")
    await migrate(url)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN", "WEBHOOK_BASE_URL")}
    env |= {"DATABASE_URL": url, "REDIS_URL": "redis://127.0.0.1:6379/12", "HTTP_PORT": str(port),
            "TELEGRAM_API_URL": "http://127.0.0.1:1", "LOG_LEVEL": "WARNING"}
    parent = subprocess.Popen([sys.executable, "-m", "closer.cli", "run", "--workers", "2"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        async with aiohttp.ClientSession() as http:
            async def healthy() -> bool:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return False

            for _ in range(100):
                if await healthy() and len(_children(parent.pid)) == 2:
                    break
                await asyncio.sleep(0.2)
            first = _children(parent.pid)
            assert len(first) == 2
            os.kill(first[0], 9)
            for _ in range(100):
                now = _children(parent.pid)
                if len(now) == 2 and first[0] not in now:
                    break
                await asyncio.sleep(0.2)
            assert len(now) == 2 and first[0] not in now and first[1] in now
            assert await healthy()
    finally:
        parent.terminate()
        parent.wait(timeout=30)
    assert _children(parent.pid) == []


def test_several_workers_on_sqlite_are_refused():
    env = dict(os.environ) | {"DATABASE_URL": "sqlite://:memory:"}
    run = subprocess.run([sys.executable, "-m", "closer.cli", "run", "--workers", "2"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 2 and "PostgreSQL" in run.stderr

