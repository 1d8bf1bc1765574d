"""Value types the inbox's API and the webhooks read alike."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator
from pydantic_core import PydanticCustomError

# A date, a time of day and its zone (RFC 3339, the OpenAPI "date-time"): 2026-03-02T09:00:00+00:00 or …Z.
_ISO_WITH_ZONE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?([Zz]|[+-][0-9]{2}:?[0-9]{2})"
)


def _iso_with_zone(value: object) -> object:
    """pydantic reads numbers, and digits in a string ("0.5", "1700000000"), as Unix times even for AwareDatetime:
    a caller's mistake taken for 1970. Only the ISO 8601 text with its zone passes on to be parsed."""
    if isinstance(value, datetime):
        return value  # made in code, not read from a request; AwareDatetime still wants its zone
    if not isinstance(value, str) or not _ISO_WITH_ZONE.fullmatch(value):
        raise PydanticCustomError(
            "iso_datetime",
            "a time is ISO 8601 with a time zone, like 2026-03-02T09:00:00+00:00 or 2026-03-02T09:00:00Z",
        )
    return value


# Every time the API (and the generic payment webhook) reads, in a body or a query string.
Instant = Annotated[AwareDatetime, BeforeValidator(_iso_with_zone)]
