"""App keys of what the bot side makes: the bots of every account and the dispatcher that handles their updates."""

from __future__ import annotations

from aiogram import Dispatcher
from aiohttp import web

from bot.registry import BotRegistry

BOTS = web.AppKey("bots", BotRegistry)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
