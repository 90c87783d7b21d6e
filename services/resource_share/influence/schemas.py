import datetime as dt
import uuid
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

Area = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]


class InfluenceBreakdown(BaseModel):
    reuse_other_teams: Annotated[int, Field(description="Uses of your resources by other teams of your organisation.")]
    reuse_other_organizations: Annotated[int, Field(description="Uses by people in other organisations of the group.")]
    introductions_completed: int
    wins_contributed: Annotated[int, Field(description="Won opportunities your resources or support contributed to.")]
    organizations_reached: Annotated[int, Field(description="Other organisations whose people you helped.")]


class Influence(BaseModel):
    employee_id: uuid.UUID
    score: float
    breakdown: InfluenceBreakdown
    points: Annotated[dict[str, float], Field(description="How much each part of the breakdown adds to the score.")]
    rating_avg: float | None


class ProfileWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    public: Annotated[bool, Field(description="Opt in: let everyone in the group see this profile and your figures.")]
    headline: Annotated[str, StringConstraints(max_length=200, strip_whitespace=True)] = ""
    expertise_areas: Annotated[list[Area], Field(max_length=20), AfterValidator(lambda v: list(dict.fromkeys(v)))] = []


class SharedAsset(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    type: str
    title: str
    usage_count: int
    rating_avg: float | None


class ProfileRead(BaseModel):
    employee_id: uuid.UUID
    org_unit_path: str
    public: bool
    headline: str
    expertise_areas: list[str]
    shared_assets: list[SharedAsset]
    influence: Influence
    published_at: dt.datetime | None
    version: int


class RequestDemand(BaseModel):
    total: Annotated[int, Field(description="Requests for your resources made in the window.")]
    by_status: dict[str, int]
    waiting_decision: Annotated[int, Field(description="Still waiting for your decision, whenever they were made.")]
    requesting_organizations: Annotated[int, Field(description="Organisations of the group the requests came from.")]
    from_other_organizations: Annotated[int, Field(description="Requests from people outside your organisation.")]


class IntroductionDemand(BaseModel):
    total: Annotated[int, Field(description="Introductions asked of you as the connector in the window.")]
    by_status: dict[str, int]
    waiting_decision: int


class SupportDemand(BaseModel):
    assigned_open: Annotated[int, Field(description="Support requests assigned to you and not yet fulfilled.")]
    fulfilled: Annotated[int, Field(description="Support requests you fulfilled in the window.")]


class Demand(BaseModel):
    """How much the group asks of one person's resources, relationships and time."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "employee_id": "3c9a1f2e-7d4b-4a6c-8e5f-2b1d0c9e8f7a", "since": "2026-08-29T00:00:00Z", "window_days": 90,
        "resource_requests": {"total": 14, "by_status": {"requested": 3, "fulfilled": 6, "rated": 4, "declined": 1},
                              "waiting_decision": 3, "requesting_organizations": 3, "from_other_organizations": 5},
        "introductions": {"total": 4, "by_status": {"requested": 1, "introduced": 3}, "waiting_decision": 1},
        "support_requests": {"assigned_open": 2, "fulfilled": 7},
    }]})

    employee_id: uuid.UUID
    since: dt.datetime
    window_days: int
    resource_requests: RequestDemand
    introductions: IntroductionDemand
    support_requests: SupportDemand
