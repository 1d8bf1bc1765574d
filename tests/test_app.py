"""The composition root and the `closer` command: the app starts on the embedded default, tells its readiness."""

from __future__ import annotations

import subprocess
import sys

import pytest

from closer.app import create_app
from core.config import Settings
from tests.conftest import redis_database
from tests.dbtools import fresh_sqlite


@pytest.fixture
async def sqlite_url(tmp_path):
    return await fresh_sqlite(tmp_path / "app.db")


async def test_healthz_is_ok_on_the_embedded_default(aiohttp_client, sqlite_url):
    client = await aiohttp_client(create_app(Settings(database_url=sqlite_url), scheduler=False))
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "checks": {"database": "ok"}}


async def test_healthz_checks_redis_when_configured(aiohttp_client, sqlite_url, redis_url):
    settings = Settings(database_url=sqlite_url, redis_url=redis_database(redis_url, 15))
    client = await aiohttp_client(create_app(settings, scheduler=False))
    body = await (await client.get("/healthz")).json()
    assert body["checks"] == {"database": "ok", "redis": "ok"}


async def test_healthz_says_degraded_but_ready_while_redis_is_unreachable(aiohttp_client, sqlite_url):
    # Port 1 on loopback: nothing listens there, so every connection is refused at once.
    settings = Settings(database_url=sqlite_url, redis_url="redis://127.0.0.1:1/0")
    client = await aiohttp_client(create_app(settings, scheduler=False))
    response = await client.get("/healthz")
    assert response.status == 200  # the process still serves: Redis is a helper (SPEC §7)
    assert await response.json() == {"status": "degraded", "checks": {"database": "ok", "redis": "unavailable"}}


async def test_the_app_runs_its_scheduler_when_asked(aiohttp_client, sqlite_url):
    client = await aiohttp_client(create_app(Settings(database_url=sqlite_url, detach_sweep_seconds=1)))
    assert (await client.get("/healthz")).status == 200


def _closer(tmp_path, *args, env_extra=None):
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite://{tmp_path / 'cli.db'}", **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "closer.cli", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_closer_migrate_then_create_account(tmp_path):
    migrated = _closer(tmp_path, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    created = _closer(
        tmp_path, "create-account", "--name", "Acme", "--owner-email", "Boss@Acme.test", "--owner-password", "long-enough"
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "account 1 created"


def test_create_account_with_a_bad_email_says_which_field(tmp_path):
    result = _closer(
        tmp_path, "create-account", "--name", "Acme", "--owner-email", "not-an-email", "--owner-password", "long-enough"
    )
    assert result.returncode == 2
    assert "email" in result.stderr


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/db")
    monkeypatch.setenv("REDIS_URL", "")
    monkeypatch.setenv("PUBLIC_URL", "https://closer.example/")
    monkeypatch.setenv("BOT_TOKEN", "123:s3cr3t-t0ken")
    settings = Settings()
    assert settings.database_url == "postgres://u@h/db"
    assert settings.redis_url is None
    assert settings.public_url == "https://closer.example"
    assert "s3cr3t-t0ken" not in repr(settings)
    assert settings.bot_token.get_secret_value() == "123:s3cr3t-t0ken"


def test_settings_have_sane_defaults(monkeypatch):
    for name in ("DATABASE_URL", "REDIS_URL", "HTTP_PORT", "WEBHOOK_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.database_url == "sqlite://closer.db"
    assert settings.redis_url is None and settings.webhook_base_url is None
    assert settings.http_port == 8080
