"""python -m telegram_emulator --port 8081 --bot-token 123:ABC [--user 1001:Anna]"""

from __future__ import annotations

import argparse

from aiohttp import web

from telegram_emulator.app import create_emulator_app
from telegram_emulator.world import World


def main() -> None:
    parser = argparse.ArgumentParser(prog="telegram_emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--bot-token", action="append", default=[])
    parser.add_argument("--user", action="append", default=[], help="ID:FirstName")
    args = parser.parse_args()
    world = World()
    for token in args.bot_token:
        world.add_bot(token)
    for spec in args.user:
        user_id, _, name = spec.partition(":")
        world.add_user(int(user_id), name or "User")
    web.run_app(create_emulator_app(world), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
