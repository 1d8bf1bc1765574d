"""Domain errors; each transport maps them to its own answer (HTTP status, a polite bot message)."""

from __future__ import annotations

from collections.abc import Callable


class DomainError(Exception):
    """`message` is English. Given `params`, it is a template filled in with them
    (`Invalid("a note is limited to {limit} characters", field="text", limit=MAX_NOTE)`), so that a transport can
    translate the template first and fill it in after (`in_language`); without them it is taken as it is."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None, **params: object) -> None:
        self.template = message
        self.params = params
        self.message = message.format(**params) if params else message
        super().__init__(self.message)
        self.field = field

    def in_language(self, gettext: Callable[[str], str]) -> str:
        """The message through a catalogue's `gettext` (which answers an unknown text with itself); a translation
        that does not fit the params gives the English message rather than none."""
        translated = gettext(self.template)
        if not self.params:
            return translated
        try:
            return translated.format(**self.params)
        except (KeyError, IndexError, ValueError):
            return self.message


class NotFound(DomainError):
    # Also raised for another account's ids, so that ids leak nothing.
    code = "not_found"


class NotAllowed(DomainError):
    code = "forbidden"


class Invalid(DomainError):
    code = "invalid"


class Conflict(DomainError):
    code = "conflict"
