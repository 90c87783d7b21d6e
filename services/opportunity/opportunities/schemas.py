import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from sanlun.kernel.types import Money
from services.opportunity.opportunities.stages import Stage
from sanlun.kernel.types import OrgUnitPath

Name = Annotated[str, StringConstraints(min_length=1, max_length=300, strip_whitespace=True)]
Source = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
CompellingEvent = Annotated[str, StringConstraints(min_length=1, max_length=4000, strip_whitespace=True)]
WinProbability = Annotated[
    Decimal,
    Field(ge=0, le=1, decimal_places=4, description="Chance of winning, 0 to 1 (at most 4 decimal places)."),
    # Same representation on POST as a later GET reads back from Numeric(5, 4).
    AfterValidator(lambda d: d.quantize(Decimal("0.0001"))),
]


Industry = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
SizeBand = Annotated[str, StringConstraints(min_length=1, max_length=50, strip_whitespace=True)]
TeamRole = Literal[
    "solution_consultant", "presales", "executive_sponsor", "delivery", "partner", "overlay", "specialist",
]


class TeamMemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    employee_id: uuid.UUID
    role: TeamRole


Team = Annotated[list[TeamMemberIn], Field(max_length=50, description="Team members besides the owner, with roles.")]
SolutionIds = Annotated[list[uuid.UUID], Field(max_length=50, description="Solutions from the catalogue.")]


class Origin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["incubation_item"] = Field(description="What the opportunity was promoted from.")
    id: Annotated[str, StringConstraints(min_length=1, max_length=200)]


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
    industry: Industry | None = Field(None, description="The account's industry, for scoring and recommendation.")
    size_band: SizeBand | None = Field(None, description="The account's size band, e.g. `smb`, `mid`, `large`.")
    solution_ids: SolutionIds = []
    team: Team = []
    origin: Origin | None = None
    closed_on: dt.date | None = Field(None, description="Close date; required when created won or lost.")


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
    stage: Stage | None = Field(None, description="Moves through the stage gates (as `POST .../stage`, without force).")
    win_probability: WinProbability | None = None
    industry: Industry | None = None
    size_band: SizeBand | None = None
    solution_ids: SolutionIds | None = None
    team: Team | None = None


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
    industry: str | None
    size_band: str | None
    solution_ids: list[uuid.UUID]
    team: list[TeamMemberIn]
    closed_on: dt.date | None
    origin: Origin | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class StageChangeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: Stage
    closed_on: dt.date | None = Field(None, description="Close date, needed to close as won or lost.")
    force: bool = Field(False, description="Managers: move despite unmet gate requirements (needs a reason).")
    reason: Annotated[str | None, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)] = None


class StageChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    from_stage: Stage | None
    to_stage: Stage
    changed_at: dt.datetime
    changed_by: str
    forced: bool
    reason: str | None
    unmet: list[dict] | None


class BulkUpsertRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: Annotated[list[dict], Field(min_length=1, max_length=1000, description=(
        "Opportunities as for create, each with an `external_id`; each row is validated on its own."
    ))]


class BulkRowResult(BaseModel):
    index: int
    external_id: str | None
    status: Literal["created", "updated", "failed"]
    id: uuid.UUID | None = None
    errors: list[dict] = []

    assigned_at: dt.datetime | None = Field(None, description="When the current owner got it; null while unassigned.")

class BulkUpsertReport(BaseModel):
    created: int
    updated: int
    failed: int
    results: list[BulkRowResult]


def read_model(opportunity: object, team: list[object]) -> OpportunityRead:
    o = opportunity
    origin = {"type": o.origin_type, "id": o.origin_id} if o.origin_type else None  # type: ignore[attr-defined]
    fields = {name: getattr(o, name) for name in OpportunityRead.model_fields if name not in ("team", "origin")}
    return OpportunityRead.model_validate({**fields, "team": team, "origin": origin})
