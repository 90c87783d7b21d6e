"""Value types shared by the key account API's schemas."""

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

OrgUnitPath = Annotated[
    str,
    StringConstraints(pattern=r"^(/[A-Za-z0-9][A-Za-z0-9_.\-]*)+$", max_length=500),
    Field(description="Materialised org unit path, e.g. `/group/east/team-3`.", examples=["/group/east/team-3"]),
]


def _to_cents(value: Decimal) -> Decimal:
    # Always two places, so "1234.5" comes back as "1234.50" even before a reload.
    return value.quantize(Decimal("0.01"))


class Money(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Annotated[
        Decimal,
        Field(ge=0, max_digits=18, decimal_places=2, description="Decimal string.", examples=["1234.50"]),
        AfterValidator(_to_cents),
    ]
    currency: Annotated[
        str, StringConstraints(pattern=r"^[A-Z]{3}$"), Field(description="ISO 4217 code.", examples=["CNY"])
    ]
