"""Webhook signatures: Stripe's scheme (also the generic webhook's) and LiqPay's. Pure functions, constant-time."""

from __future__ import annotations

import base64
import hashlib
import hmac

TOLERANCE_SECONDS = 300


class BadSignature(Exception):
    """The request is not provably from the provider: refused, and nothing of it is stored."""


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign_timestamped(secret: str, body: bytes, timestamp: int) -> str:
    """The header value `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` (Stripe's scheme)."""
    return f"t={timestamp},v1={_digest(secret, body, timestamp)}"


def verify_timestamped(secret: str, header: str | None, body: bytes, now: float,
                       tolerance: int = TOLERANCE_SECONDS) -> int:
    """Check a `t=…,v1=…` header; returns the signed timestamp. Several v1 entries may be given (secret rotation)."""
    if not header:
        raise BadSignature("missing signature header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise BadSignature("malformed signature header")
    # Outside the window the signature may be a replay of an old (or a pre-made future) request.
    if abs(now - timestamp) > tolerance:
        raise BadSignature("timestamp outside the tolerance")
    expected = _digest(secret, body, timestamp)
    if not any(hmac.compare_digest(expected.encode(), c.encode()) for c in candidates if c.isascii()):
        raise BadSignature("signature does not match")
    return timestamp


def liqpay_signature(private_key: str, data: str) -> str:
    """LiqPay's formula: base64(sha1(private_key + data + private_key))."""
    return base64.b64encode(hashlib.sha1((private_key + data + private_key).encode()).digest()).decode()


def verify_liqpay(private_key: str, data: str | None, signature: str | None) -> None:
    if not data or not signature:
        raise BadSignature("missing data or signature")
    expected = liqpay_signature(private_key, data)
    if not signature.isascii() or not hmac.compare_digest(expected.encode(), signature.encode()):
        raise BadSignature("signature does not match")
