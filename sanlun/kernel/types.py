"""Value types every service's API shares: money and org unit paths.

Money: a value object for the models and its API shape.

The API carries money as `{"amount": "1234.50", "currency": "CNY"}`. The
amount must be a JSON *string*: a JSON number goes through a binary float and
can silently lose cents on large deals. Amounts are quantized to cents on the
way in so what a POST answers is exactly what a later GET reads back from
`Numeric(18, 2)`.
"""

import dataclasses
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, WithJsonSchema

CENT = Decimal("0.01")


@dataclasses.dataclass(frozen=True, slots=True)
class MoneyValue:
    """What a model holds (a SQLAlchemy composite over an amount and a currency column)."""

    amount: Decimal
    currency: str


def _decimal_string(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError('send the amount as a decimal string, e.g. "1234.50"')
    return value


Amount = Annotated[
    Decimal,
    BeforeValidator(_decimal_string),
    Field(ge=0, max_digits=18, decimal_places=2),
    AfterValidator(lambda d: d.quantize(CENT)),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d{1,16}(\.\d{1,2})?$",
            "description": "Non-negative decimal string, at most 2 decimal places.",
            "examples": ["1234.50"],
        }
    ),
]
Currency = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    Field(description="ISO 4217 code in capitals.", examples=["CNY"]),
]


class Money(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    amount: Amount
    currency: Currency

    def value(self) -> MoneyValue:
        return MoneyValue(self.amount, self.currency)


OrgUnitPath = Annotated[
    str,
    StringConstraints(pattern=r"^(/[A-Za-z0-9][A-Za-z0-9_.\-]*)+$", max_length=500),
    Field(description="Materialised org unit path, e.g. `/group/east/team-3`.", examples=["/group/east/team-3"]),
]
