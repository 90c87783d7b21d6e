import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from sanlun.kernel.types import Money

Tag = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Tags = Annotated[list[Tag], Field(max_length=30), AfterValidator(lambda v: list(dict.fromkeys(v)))]
Kind = Literal["presales_engineer", "solution_consultant", "expert_time"]
Urgency = Literal["low", "normal", "high", "critical"]
Stage = Literal["L1_SUBSISTENCE", "L2_COMFORTABLE", "L3_AFFLUENT"]
_OPPORTUNITY = "2f6c9b1e-8a3d-4c5e-9f70-1b2a3c4d5e6f"
_REQUESTER = "3c9a1f2e-7d4b-4a6c-8e5f-2b1d0c9e8f7a"
_ENGINEER = "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b"
_OTHER_ENGINEER = "a2b3c4d5-e6f7-4a8b-9c0d-1e2f3a4b5c6d"
_CREATE: dict[str, Any] = {
    "opportunity_id": _OPPORTUNITY,
    "kind": "presales_engineer",
    "title": "PoC design and data migration plan for the Hangzhou hub",
    "skills": ["storage", "data migration"],
    "industry": "logistics",
    "urgency": "high",
    "deal_value": {"amount": "380000.00", "currency": "CNY"},
    "hours_needed": "16",
    "due_date": "2027-01-10",
}
_READ: dict[str, Any] = {
    "id": "c9f6e578-a901-4bc2-8d3e-f4a5b6c7d8e9",
    **_CREATE,
    "hours_needed": 16.0,
    "requester_id": _REQUESTER,
    "requester_org_unit_path": "/group/east/team-3",
    "requester_stage": "L1_SUBSISTENCE",
    "won": False,
}
_OPEN: dict[str, Any] = {
    **_READ,
    "status": "open",
    "assignee_id": None,
    "requested_at": "2026-11-27T02:30:00Z",
    "assigned_at": None,
    "fulfilled_at": None,
    "created_at": "2026-11-27T02:30:00Z",
    "updated_at": "2026-11-27T02:30:00Z",
    "version": 1,
}
_QUEUE_ITEM: dict[str, Any] = {
    "rank": 1,
    "priority": 22.8605,
    "stage": "L1_SUBSISTENCE",
    "request": _OPEN,
    "reasons": [
        {"code": "urgency_high", "detail": "urgency high", "factor": 3.0},
        {"code": "deal_value", "detail": "deal value 380000.00", "factor": 3.581},
        {"code": "stage_tilt", "detail": "requester is L1_SUBSISTENCE: weight × 2", "factor": 2.0},
        {"code": "ageing", "detail": "waited 5.5 h: + 1.38", "factor": 1.375},
    ],
}
_MATCH: dict[str, Any] = {
    "employee_id": _ENGINEER,
    "score": 0.9,
    "skill_coverage": 1.0,
    "industry_match": True,
    "free_hours": 24.0,
    "reasons": ["skills 2/2", "industry match", "24 h free this week"],
}

StagesSource = Annotated[
    Literal["live", "cached"],
    Field(description="`cached`: the lifecycle service was unreachable; stages are the last known (see stages_as_of)."),
]


class MoneyRead(BaseModel):
    amount: str
    currency: str


class PoolMemberWrite(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "org_unit_path": "/group/east/presales",
                    "skills": ["storage", "data migration", "vmware"],
                    "industries": ["logistics", "manufacturing"],
                    "weekly_capacity_hours": "24",
                }
            ]
        },
    )

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
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "employee_id": _ENGINEER,
                    "org_unit_path": "/group/east/presales",
                    "skills": ["storage", "data migration", "vmware"],
                    "industries": ["logistics", "manufacturing"],
                    "weekly_capacity_hours": 24.0,
                    "active": True,
                    "created_at": "2026-02-01T01:00:00Z",
                    "updated_at": "2026-10-09T05:20:00Z",
                }
            ]
        },
    )

    employee_id: uuid.UUID
    org_unit_path: str
    skills: list[str]
    industries: list[str]
    weekly_capacity_hours: float
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class SupportRequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_CREATE]})

    opportunity_id: Annotated[uuid.UUID, Field(description="The opportunity (TAS+) the support is for.")]
    kind: Kind
    title: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    skills: Annotated[Tags, Field(min_length=1)]
    industry: Tag | None = None
    urgency: Urgency = "normal"
    deal_value: Money | None = None
    hours_needed: Annotated[Decimal, Field(gt=0, le=200, decimal_places=1)] = Decimal(4)
    due_date: dt.date | None = None


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"assignee_id": _ENGINEER}, {}]})

    assignee_id: Annotated[
        uuid.UUID | None, Field(description="Pool member to assign; omit to take the best match.")
    ] = None


class SupportRequestRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_READ,
                    "status": "fulfilled",
                    "assignee_id": _ENGINEER,
                    "requested_at": "2026-11-02T02:30:00Z",
                    "assigned_at": "2026-11-02T08:00:00Z",
                    "fulfilled_at": "2026-11-20T10:00:00Z",
                    "created_at": "2026-11-02T02:30:00Z",
                    "updated_at": "2026-11-20T10:00:00Z",
                    "version": 3,
                }
            ]
        }
    )

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
    requested_at: Annotated[
        dt.datetime, Field(description="When it was asked, on the business clock; ageing and waits run from here.")
    ]
    status: Literal["open", "assigned", "fulfilled", "cancelled"]
    requester_stage: Stage | None
    assignee_id: uuid.UUID | None
    assigned_at: Annotated[dt.datetime | None, Field(description="When it was assigned, on the business clock.")]
    fulfilled_at: Annotated[dt.datetime | None, Field(description="When it was fulfilled, on the business clock.")]
    won: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class CreatedSupportRequest(SupportRequestRead):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {**_OPEN, "stages_source": "live", "stages_as_of": "2026-11-27T02:30:00Z"},
            ]
        }
    )

    stages_source: StagesSource
    stages_as_of: dt.datetime | None


class ReasonRead(BaseModel):
    code: str
    detail: str
    factor: float


class QueueItem(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_QUEUE_ITEM]})

    rank: int
    priority: float
    reasons: list[ReasonRead]
    stage: Stage | None
    request: SupportRequestRead


class QueuePage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [_QUEUE_ITEM],
                    "next_cursor": None,
                    "as_of": "2026-11-27T08:00:00Z",
                    "stages_source": "live",
                    "stages_as_of": "2026-11-27T08:00:00Z",
                }
            ]
        }
    )

    items: list[QueueItem]
    next_cursor: str | None
    as_of: Annotated[dt.datetime, Field(description="The instant priorities (with ageing) are computed for.")]
    stages_source: StagesSource
    stages_as_of: dt.datetime | None


class MatchRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_MATCH]})

    employee_id: uuid.UUID
    score: float
    skill_coverage: float
    industry_match: bool
    free_hours: float
    reasons: list[str]


class MatchList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        _MATCH,
                        {
                            "employee_id": _OTHER_ENGINEER,
                            "score": 0.375,
                            "skill_coverage": 0.5,
                            "industry_match": False,
                            "free_hours": 32.0,
                            "reasons": ["skills 1/2", "other industry", "32 h free this week"],
                        },
                    ]
                }
            ]
        }
    )

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "since": "2026-10-28",
                    "until": "2026-11-27",
                    "stages": [
                        {
                            "stage": "L1_SUBSISTENCE",
                            "requests": 42,
                            "fulfilled": 35,
                            "fulfilment_rate": 0.8333,
                            "median_wait_hours": 6.5,
                            "p90_wait_hours": 20.0,
                        },
                        {
                            "stage": "L2_COMFORTABLE",
                            "requests": 61,
                            "fulfilled": 49,
                            "fulfilment_rate": 0.8033,
                            "median_wait_hours": 11.0,
                            "p90_wait_hours": 31.5,
                        },
                        {
                            "stage": "L3_AFFLUENT",
                            "requests": 17,
                            "fulfilled": 14,
                            "fulfilment_rate": 0.8235,
                            "median_wait_hours": 12.5,
                            "p90_wait_hours": 36.0,
                        },
                    ],
                }
            ]
        }
    )

    since: dt.date
    until: dt.date
    stages: list[StageFigures]
