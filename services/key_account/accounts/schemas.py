import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

OrgUnitPath = Annotated[
    str,
    StringConstraints(pattern=r"^(/[A-Za-z0-9][A-Za-z0-9_.\-]*)+$", max_length=500),
    Field(description="Materialised org unit path, e.g. `/group/east/team-3`.", examples=["/group/east/team-3"]),
]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Industry = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Headquarters = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Headcount = Annotated[int, Field(ge=0, le=100_000_000, description="Number of employees of the customer.")]


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


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    industry: Industry | None = None
    annual_revenue: Money | None = None
    employees: Headcount | None = None
    headquarters: Headquarters | None = None
    parent_id: uuid.UUID | None = Field(None, description="Parent account in the subsidiary hierarchy.")
    owner_id: uuid.UUID | None = Field(
        None, description="Employee who owns the account. Omitted: you; `null`: nobody."
    )
    org_unit_path: OrgUnitPath | None = Field(None, description="Owning org unit. Omitted: yours.")
    external_id: ExternalId | None = None


class AccountUpdate(BaseModel):
    """Fields to change; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    industry: Industry | None = None
    annual_revenue: Money | None = None
    employees: Headcount | None = None
    headquarters: Headquarters | None = None
    parent_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    org_unit_path: OrgUnitPath | None = None
    external_id: ExternalId | None = None


class AccountRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    external_id: str | None
    name: str
    industry: str | None
    annual_revenue: Money | None
    employees: int | None
    headquarters: str | None
    parent_id: uuid.UUID | None
    owner_id: uuid.UUID | None
    org_unit_path: str
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
