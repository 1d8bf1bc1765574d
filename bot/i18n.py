"""aiogram's gettext i18n over `locales/` (compiled .mo files; the set-up scripts compile them)."""

from __future__ import annotations

from pathlib import Path

from aiogram.utils.i18n import I18n

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"


def make_i18n() -> I18n:
    return I18n(path=LOCALES_DIR, default_locale="en", domain=DOMAIN)
