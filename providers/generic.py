"""The generic signed webhook (SPEC §8) for any other provider: a documented JSON body, strictly validated."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, field_validator

from webio.types import Instant
from webio.validation import invalid
from sales.payments import PaymentNotice
from storage.models import PaymentResult

PROVIDER = "generic"


class GenericEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_id: Annotated[StrictStr, Field(min_length=1, max_length=255)]
    order_id: Annotated[str, Field(min_length=1, max_length=255)]
    status: Literal["paid", "failed", "refunded"]
    amount: Annotated[float, Field(ge=0, lt=10**10, allow_inf_nan=False)] | None = None
    currency: Annotated[StrictStr, Field(pattern=r"^[A-Za-z]{3}$")] | None = None
    occurred_at: Instant
    reason: Annotated[StrictStr, Field(max_length=200)] | None = None

    @field_validator("order_id", mode="before")
    @classmethod
    def _order_id(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise ValueError("order_id is a string or an integer")
        return value

    @field_validator("amount", mode="before")
    @classmethod
    def _amount_is_a_number(cls, value: object) -> object:
        # A JSON number, never a string: "10.00" in quotes is a mistake of the sender, not an amount.
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError("amount is a JSON number")
        return value


def notice_from_generic(body: object) -> PaymentNotice:
    try:
        event = GenericEvent.model_validate(body)
    except ValidationError as error:
        raise invalid(error, "body") from None
    return PaymentNotice(
        provider=PROVIDER, event_id=event.event_id, order_ref=event.order_id, result=PaymentResult(event.status),
        occurred_at=event.occurred_at, amount=None if event.amount is None else Decimal(str(event.amount)),
        currency=event.currency, reason=event.reason, payload={"status": event.status},
    )
