"""The framework's ceiling for benchmark 1: a bare aiogram webhook app whose only handler does nothing.

`python -m bench.bare_aiogram --port P --token T --secret S` serves `POST /webhook` the way closer serves its
Telegram webhook (secret token checked, the update handled before the answer), with nothing else in the way.
"""

from __future__ import annotations

import argparse

from aiogram import Bot, Dispatcher, Router
from aiogram.types import Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web


async def empty_handler(message: Message) -> None:
    return None


def build_app(token: str, secret: str) -> web.Application:
    router = Router()
    router.message.register(empty_handler)
    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    app = web.Application()
    # Answer after handling, as closer does: the figure compares the same unit of work.
    SimpleRequestHandler(dispatcher, Bot(token), secret_token=secret, handle_in_background=False).register(
        app, path="/webhook"
    )
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--secret", required=True)
    args = parser.parse_args()
    web.run_app(build_app(args.token, args.secret), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
