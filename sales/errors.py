"""Domain errors; each transport maps them to its own answer (HTTP status, a polite bot message)."""

from __future__ import annotations


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    # Also raised for another account's ids, so that ids leak nothing.
    code = "not_found"


class NotAllowed(DomainError):
    code = "forbidden"


class Invalid(DomainError):
    code = "invalid"


class Conflict(DomainError):
    code = "conflict"
