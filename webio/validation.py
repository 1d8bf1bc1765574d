"""Our wording for pydantic's validation errors: short, plain English for the person who typed the value, never
pydantic's developer-speak ("Input should be a valid decimal"). Each text is a template over the error's context
(`At most {max_length} characters`), so the inbox can translate it before filling it in (inbox/errors.py); the
catalogues know them through inbox/texts.py (ERROR_TEXTS).
"""

from __future__ import annotations

import re
import string
import typing
from decimal import Decimal

from pydantic import ValidationError
from pydantic_core.core_schema import ErrorType

from sales.errors import Invalid


def _(text: str) -> str:
    # Marks a text for extraction (pybabel -k _); the inbox translates it for the employee.
    return text


NUMBER = _("Enter a number")
WHOLE_NUMBER = _("Enter a whole number")
TRUE_OR_FALSE = _("Enter true or false")
TIME_WITH_ZONE = _("Enter a date and time in ISO 8601 with a time zone, e.g. 2026-12-01T09:00:00+02:00")
WEB_ADDRESS = _("Enter a web address, e.g. https://example.com")
LIST = _("Enter a list")
OBJECT = _("Send a JSON object")
ONE_OF = _("Must be one of: {expected}")
NOT_EMPTY = _("Cannot be empty")
GENERIC = _("Invalid value")

# pydantic's error type → our template; the placeholders are names from the error's `ctx`.
TEMPLATES: dict[str, str] = {
    "missing": _("Required"),
    "extra_forbidden": _("Unknown field"),
    "string_type": _("Enter text"),
    "string_unicode": _("Enter text"),
    "string_too_short": _("At least {min_length} characters"),
    "string_too_long": _("At most {max_length} characters"),
    "string_pattern_mismatch": _("Not in the expected format"),
    "int_parsing": WHOLE_NUMBER,
    "int_type": WHOLE_NUMBER,
    "int_from_float": WHOLE_NUMBER,
    "int_parsing_size": WHOLE_NUMBER,
    "float_parsing": NUMBER,
    "float_type": NUMBER,
    "finite_number": NUMBER,
    "decimal_parsing": NUMBER,
    "decimal_type": NUMBER,
    "decimal_max_digits": _("At most {max_digits} digits"),
    "decimal_max_places": _("At most {decimal_places} digits after the decimal point"),
    "decimal_whole_digits": _("At most {whole_digits} digits before the decimal point"),
    "greater_than": _("Must be greater than {gt}"),
    "greater_than_equal": _("Must be at least {ge}"),
    "less_than": _("Must be less than {lt}"),
    "less_than_equal": _("Must be at most {le}"),
    "multiple_of": _("Must be a multiple of {multiple_of}"),
    "bool_parsing": TRUE_OR_FALSE,
    "bool_type": TRUE_OR_FALSE,
    "literal_error": ONE_OF,
    "enum": ONE_OF,
    "union_tag_invalid": _("Must be one of: {expected_tags}"),
    "datetime_parsing": TIME_WITH_ZONE,
    "datetime_type": TIME_WITH_ZONE,
    "datetime_from_date_parsing": TIME_WITH_ZONE,
    "datetime_object_invalid": TIME_WITH_ZONE,
    "timezone_aware": TIME_WITH_ZONE,
    "iso_datetime": TIME_WITH_ZONE,  # webio.types.Instant's own check
    "date_parsing": _("Enter a date, e.g. 2026-12-01"),
    "date_type": _("Enter a date, e.g. 2026-12-01"),
    "url_parsing": WEB_ADDRESS,
    "url_type": WEB_ADDRESS,
    "url_syntax_violation": WEB_ADDRESS,
    "url_scheme": WEB_ADDRESS,
    "url_too_long": _("At most {max_length} characters"),
    "json_invalid": _("Not valid JSON"),
    "json_type": _("Not valid JSON"),
    "list_type": LIST,
    "tuple_type": LIST,
    "set_type": LIST,
    "iterable_type": LIST,
    "too_short": _("At least {min_length} items"),
    "too_long": _("At most {max_length} items"),
    "dict_type": OBJECT,
    "mapping_type": OBJECT,
    "model_type": OBJECT,
    "model_attributes_type": OBJECT,
}

# Every text an error answer may carry from here, for the catalogues (inbox/texts.py lists them again, marked).
MESSAGES: tuple[str, ...] = tuple(dict.fromkeys([*TEMPLATES.values(), NOT_EMPTY, GENERIC]))

_BUILT_IN = frozenset(typing.get_args(ErrorType))
_OWN_PREFIXES = ("Value error, ", "Assertion failed, ")
_QUOTED = re.compile(r"'([^']*)'")


def invalid(error: ValidationError, default_field: str) -> Invalid:
    """The first of pydantic's errors as our Invalid: our wording, its field (the error's location, dotted)."""
    first = error.errors(include_url=False)[0]
    field = ".".join(str(p) for p in first["loc"]) or default_field
    template, params = wording(first["type"], first.get("ctx") or {}, first["msg"])
    return Invalid(template, field=field, **params)


def wording(kind: str, ctx: dict, msg: str) -> tuple[str, dict[str, str]]:
    """(template, params) for one pydantic error: its type, its ctx, and its own message."""
    if kind in ("value_error", "assertion_error"):
        # Our validators' own words: kept as they are (and translated if the catalogue knows them).
        text = next((msg.removeprefix(p) for p in _OWN_PREFIXES if msg.startswith(p)), msg)
        return text, {}
    template = TEMPLATES.get(kind)
    if template is None:
        # A type of our own (PydanticCustomError) speaks our words already; one of pydantic's we do not word is
        # still nobody's business in pydantic's words.
        return (msg, {}) if kind not in _BUILT_IN else (GENERIC, {})
    if kind in ("string_too_short", "too_short") and ctx.get("min_length") == 1:
        return NOT_EMPTY, {}
    names = {name for _text, name, _spec, _conv in string.Formatter().parse(template) if name}
    if not names <= ctx.keys():
        return GENERIC, {}
    return template, {name: _shown(name, ctx[name]) for name in names}


def _shown(name: str, value: object) -> str:
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if name in ("expected", "expected_tags") and isinstance(value, str):
        # pydantic's "'admin' or 'manager'" → "admin, manager": the codes to send, without the quotes.
        quoted = _QUOTED.findall(value)
        return ", ".join(quoted) if quoted else value
    return str(value)
