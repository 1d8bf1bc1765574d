"""The `closer` command (SPEC §8): demo, run, migrate, create-account."""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import subprocess
import sys
import time

from aiohttp import web
from pydantic import SecretStr

from core.config import Settings
from closer.logs import setup_logging
from sales.errors import DomainError
from storage.db import close_database, migrate, open_database

DEMO_DATABASE_URL = "sqlite://closer-demo.db"


async def _create_account(settings: Settings, name: str, email: str, password: str) -> int:
    from sales.accounts import create_account

    ctx = await open_database(settings.database_url)
    try:
        account = await create_account(name, email, password)
        return account.id
    finally:
        await close_database(ctx)


async def _seed_demo(settings: Settings):
    from closer.demo import seed_demo

    ctx = await open_database(settings.database_url)
    try:
        return await seed_demo()
    finally:
        await close_database(ctx)


def _demo(settings: Settings) -> int:
    from closer.demo import DEMO_BOT_TOKEN, demo_world

    emulator_port = settings.http_port + 1
    base = f"http://{settings.http_host}"
    settings = settings.model_copy(
        update={
            "database_url": DEMO_DATABASE_URL,
            "redis_url": None,
            "webhook_base_url": None,
            "bot_token": SecretStr(DEMO_BOT_TOKEN),
            "telegram_api_url": f"{base}:{emulator_port}",
            "public_url": f"{base}:{settings.http_port}",
            "demo": True,
        }
    )
    asyncio.run(migrate(settings.database_url))
    login = asyncio.run(_seed_demo(settings))
    _serve(
        settings,
        emulator=(demo_world(), emulator_port),
        banner=(
            f"closer demo is running.\n"
            f"  Telegram: {base}:{emulator_port}/  (the emulated Telegram: chat as a customer or a manager)\n"
            f"  health:   {base}:{settings.http_port}/healthz\n"
            f"  login:    {login.email} / {login.password} (for the web inbox at {base}:{settings.http_port}/inbox/)"
        ),
    )
    return 0


def load_settings() -> Settings:
    """The environment's settings. The demo's payment-failure route is switched on by `closer demo` alone, never by
    a DEMO variable on a real run."""
    return Settings().model_copy(update={"demo": False})


async def _freeze_what_is_loaded(_: web.Application) -> None:
    """Once the process has started (the last startup step): what is loaded by now lives as long as the process, and
    the garbage collector's full passes skip it from here on. aiogram's Bot API models alone are 128 MB of objects; a
    full pass over everything took 100-300 ms while webhooks waited. At half of closer's rate, p99 was 202-321 ms, and
    35-37 ms with the collector switched off (issue 14)."""
    gc.collect()
    gc.freeze()


def _serve(settings: Settings, banner: str | None = None, emulator=None, reuse_port: bool = False) -> None:
    # Imported here: the bot side (aiogram) costs seconds of CPU to import, which migrate and create-account skip.
    from closer.app import create_app

    app = create_app(settings, emulator=emulator)
    app.on_startup.append(_freeze_what_is_loaded)

    def announce(_: object) -> None:
        if banner:
            print(banner, flush=True)

    web.run_app(app, host=settings.http_host, port=settings.http_port, print=announce, reuse_port=reuse_port or None)


def _serve_many(workers: int) -> int:
    """N processes on one port (SO_REUSEPORT: the kernel spreads connections); each is a whole closer, and the
    scheduled jobs still run once per tick across them. A worker that dies is started again."""
    command = [sys.executable, "-m", "closer.cli", "run", "--reuse-port"]
    children = [subprocess.Popen(command) for _ in range(workers)]
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        for index, child in enumerate(children):
            if child.poll() is not None and not stopping:
                children[index] = subprocess.Popen(command)
        time.sleep(0.5)
    return max((child.wait() for child in children), default=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="closer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run everything on the embedded default with a seeded demo account")
    run = commands.add_parser("run", help="run in production, configured by the environment")
    run.add_argument("--workers", type=int, default=1, help="serve from this many processes on one port")
    run.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    commands.add_parser("migrate", help="bring the database schema up to date")
    create = commands.add_parser("create-account", help="create an account with its owner")
    create.add_argument("--name", required=True)
    create.add_argument("--owner-email", required=True)
    create.add_argument("--owner-password", required=True)
    args = parser.parse_args(argv)

    settings = load_settings()
    setup_logging(settings.log_level)

    if args.command == "migrate":
        asyncio.run(migrate(settings.database_url))
        print("database is up to date")
        return 0
    if args.command == "create-account":
        asyncio.run(migrate(settings.database_url))
        try:
            account_id = asyncio.run(
                _create_account(settings, args.name, args.owner_email, args.owner_password)
            )
        except DomainError as exc:
            print(f"error: {exc.field}: {exc.message}" if exc.field else f"error: {exc.message}", file=sys.stderr)
            return 2
        print(f"account {account_id} created")
        return 0
    if args.command == "demo":
        return _demo(settings)
    if args.workers > 1:
        if settings.database_url.startswith("sqlite"):
            print("error: several workers need PostgreSQL (DATABASE_URL=postgres://...)", file=sys.stderr)
            return 2
        return _serve_many(args.workers)
    _serve(settings, banner=f"closer serving on http://{settings.http_host}:{settings.http_port}/",
           reuse_port=args.reuse_port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
