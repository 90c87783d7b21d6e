import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from sanlun.kernel.types import Money

Tag = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Tags = Annotated[list[Tag], Field(max_length=30), AfterValidator(lambda v: list(dict.fromkeys(v)))]
Kind = Literal["presales_engineer", "solution_consultant", "expert_time"]
Urgency = Literal["low", "normal", "high", "critical"]
Stage = Literal["L1_SUBSISTENCE", "L2_COMFORTABLE", "L3_AFFLUENT"]
StagesSource = Annotated[
    Literal["live", "cached"],
    Field(description="`cached`: the lifecycle service was unreachable; stages are the last known (see stages_as_of)."),
]


class MoneyRead(BaseModel):
    amount: str
    currency: str


class PoolMemberWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org_unit_path: Annotated[
        str | None,
        StringConstraints(pattern=r"^(/[A-Za-z0-9][A-Za-z0-9_.\-]*)+$", max_length=500),
        Field(description="The member's unit; defaults to yours when you add yourself."),
    ] = None
    skills: Tags
    industries: Tags = []
    weekly_capacity_hours: Annotated[Decimal, Field(ge=0, le=80, decimal_places=1)]
    active: bool = True


class PoolMemberRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    employee_id: uuid.UUID
    org_unit_path: str
    skills: list[str]
    industries: list[str]
    weekly_capacity_hours: float
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class SupportRequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    opportunity_id: Annotated[uuid.UUID, Field(description="The opportunity (TAS+) the support is for.")]
    kind: Kind
    title: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    skills: Annotated[Tags, Field(min_length=1)]
    industry: Tag | None = None
    urgency: Urgency = "normal"
    deal_value: Money | None = None
    hours_needed: Annotated[Decimal, Field(gt=0, le=200, decimal_places=1)] = Decimal("4")
    due_date: dt.date | None = None


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee_id: Annotated[uuid.UUID | None, Field(description="Pool member to assign; omit to take the best match.")] = None


class SupportRequestRead(BaseModel):
    id: uuid.UUID
    opportunity_id: uuid.UUID
    requester_id: uuid.UUID
    requester_org_unit_path: str
    kind: Kind
    title: str
    skills: list[str]
    industry: str | None
    urgency: Urgency
    deal_value: MoneyRead | None
    hours_needed: float
    due_date: dt.date | None
    status: Literal["open", "assigned", "fulfilled", "cancelled"]
    requester_stage: Stage | None
    assignee_id: uuid.UUID | None
    assigned_at: dt.datetime | None
    fulfilled_at: dt.datetime | None
    won: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class CreatedSupportRequest(SupportRequestRead):
    stages_source: StagesSource
    stages_as_of: dt.datetime | None


class ReasonRead(BaseModel):
    code: str
    detail: str
    factor: float


class QueueItem(BaseModel):
    rank: int
    priority: float
    reasons: list[ReasonRead]
    stage: Stage | None
    request: SupportRequestRead


class QueuePage(BaseModel):
    items: list[QueueItem]
    next_cursor: str | None
    as_of: Annotated[dt.datetime, Field(description="The instant priorities (with ageing) are computed for.")]
    stages_source: StagesSource
    stages_as_of: dt.datetime | None


class MatchRead(BaseModel):
    employee_id: uuid.UUID
    score: float
    skill_coverage: float
    industry_match: bool
    free_hours: float
    reasons: list[str]


class MatchList(BaseModel):
    items: list[MatchRead]
    next_cursor: None = None


class StageFigures(BaseModel):
    stage: str
    requests: int
    fulfilled: int
    fulfilment_rate: float | None
    median_wait_hours: Annotated[float | None, Field(description="From request to assignment.")]
    p90_wait_hours: float | None


class Fairness(BaseModel):
    since: dt.date
    until: dt.date
    stages: list[StageFigures]
