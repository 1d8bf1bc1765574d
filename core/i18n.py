"""aiogram's gettext i18n over the compiled catalogues (.mo files), which the inbox pages read too.

An installed wheel carries them compiled in core/locales/ (setup.py compiles them at build time); a source checkout
(an editable install, the tests) reads the top-level `locales/`, which the set-up scripts compile beside the .po files.
"""

from __future__ import annotations

from pathlib import Path

from aiogram.utils.i18n import I18n

_PACKAGED = Path(__file__).resolve().parent / "locales"
_SOURCE_TREE = Path(__file__).resolve().parent.parent / "locales"
LOCALES_DIR = _PACKAGED if _PACKAGED.is_dir() else _SOURCE_TREE
DOMAIN = "messages"


def make_i18n() -> I18n:
    return I18n(path=LOCALES_DIR, default_locale="en", domain=DOMAIN)
