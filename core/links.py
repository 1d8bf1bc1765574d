"""The inbox's addresses, built in one place for every message that points a person into it (Telegram buttons,
e-mails, API fields). Each is a page route of inbox/pages.py; the browser tests open them."""

from __future__ import annotations

from urllib.parse import quote


def chat_url(public_url: str, chat_id: int) -> str:
    return f"{public_url}/inbox/chats/{chat_id}"


def order_url(public_url: str, order_id: int) -> str:
    """The orders page showing this one order with its details open."""
    return f"{public_url}/inbox/orders?order={order_id}"


def offer_url(public_url: str, offer_id: int) -> str:
    return f"{public_url}/inbox/offers/{offer_id}"


def file_url(public_url: str, attachment_id: int) -> str:
    """A chat's file, streamed to staff who may see the chat (SPEC §11.1)."""
    return f"{public_url}/inbox/files/{attachment_id}"


def login_url(next_path: str) -> str:
    """The login page, which sends the employee on to `next_path` (a path of ours, with its query) once logged in."""
    return f"/inbox/login?next={quote(next_path, safe='')}"
