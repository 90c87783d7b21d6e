import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from services.opportunity.money import Money
from services.opportunity.opportunities.stages import Stage

OrgUnitPath = Annotated[
    str,
    StringConstraints(pattern=r"^(/[A-Za-z0-9][A-Za-z0-9_.\-]*)+$", max_length=500),
    Field(description="Org unit the record sits in for visibility (the owner's), e.g. `/group/east/team-3`."),
]
Name = Annotated[str, StringConstraints(min_length=1, max_length=300, strip_whitespace=True)]
Source = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
CompellingEvent = Annotated[str, StringConstraints(min_length=1, max_length=4000, strip_whitespace=True)]
WinProbability = Annotated[
    Decimal,
    Field(ge=0, le=1, decimal_places=4, description="Chance of winning, 0 to 1 (at most 4 decimal places)."),
    # Same representation on POST as a later GET reads back from Numeric(5, 4).
    AfterValidator(lambda d: d.quantize(Decimal("0.0001"))),
]


class OpportunityCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    account_id: uuid.UUID | None = Field(None, description="The account in the key account service.")
    amount: Money | None = None
    expected_close_date: dt.date | None = None
    owner_id: uuid.UUID | None = Field(
        None, description="Owner. Omitted: you. Explicit null: unassigned (managers and admins only)."
    )
    org_unit_path: OrgUnitPath | None = Field(None, description="Omitted: your own org unit.")
    source: Source | None = None
    compelling_event: CompellingEvent | None = None
    stage: Stage = Stage.LEAD
    win_probability: WinProbability | None = None
    external_id: Annotated[str | None, StringConstraints(min_length=1, max_length=200)] = None


class OpportunityUpdate(BaseModel):
    """Fields to change; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    account_id: uuid.UUID | None = None
    amount: Money | None = None
    expected_close_date: dt.date | None = None
    owner_id: uuid.UUID | None = None
    org_unit_path: OrgUnitPath | None = None
    source: Source | None = None
    compelling_event: CompellingEvent | None = None
    stage: Stage | None = None
    win_probability: WinProbability | None = None


class OpportunityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    external_id: str | None
    account_id: uuid.UUID | None
    name: str
    amount: Money | None
    expected_close_date: dt.date | None
    owner_id: uuid.UUID | None
    org_unit_path: str
    source: str | None
    compelling_event: str | None
    stage: Stage
    win_probability: Decimal | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
