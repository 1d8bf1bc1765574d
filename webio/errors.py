"""Every error answer in one shape (SPEC §8): {"error": {"code", "message", "field"}}."""

from __future__ import annotations

from aiohttp import web


def json_error(status: int, code: str, message: str, field: str | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, "field": field}}, status=status)
