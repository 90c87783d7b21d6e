import datetime as dt
import uuid
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

Area = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]


class InfluenceBreakdown(BaseModel):
    reuse_other_teams: Annotated[int, Field(description="Uses of your resources by other teams of your organisation.")]
    reuse_other_organizations: Annotated[int, Field(description="Uses by people in other organisations of the group.")]
    introductions_completed: int
    wins_contributed: Annotated[int, Field(description="Won opportunities your resources or support contributed to.")]
    organizations_reached: Annotated[int, Field(description="Other organisations whose people you helped.")]


# Six reuses in other teams (1 point each), four in other organisations (2),
# two introductions (3), one win (5), three organisations reached (2).
_INFLUENCE: dict[str, Any] = {
    "employee_id": "3c9a1f2e-7d4b-4a6c-8e5f-2b1d0c9e8f7a",
    "score": 31.0,
    "breakdown": {
        "reuse_other_teams": 6,
        "reuse_other_organizations": 4,
        "introductions_completed": 2,
        "wins_contributed": 1,
        "organizations_reached": 3,
    },
    "points": {
        "reuse_other_teams": 6.0,
        "reuse_other_organizations": 8.0,
        "introductions_completed": 6.0,
        "wins_contributed": 5.0,
        "organizations_reached": 6.0,
    },
    "rating_avg": 4.5,
}


class Influence(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                _INFLUENCE,
                # Someone who has shared nothing yet: no ratings either.
                {
                    "employee_id": "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a",
                    "score": 0.0,
                    "breakdown": {
                        "reuse_other_teams": 0,
                        "reuse_other_organizations": 0,
                        "introductions_completed": 0,
                        "wins_contributed": 0,
                        "organizations_reached": 0,
                    },
                    "points": {
                        "reuse_other_teams": 0.0,
                        "reuse_other_organizations": 0.0,
                        "introductions_completed": 0.0,
                        "wins_contributed": 0.0,
                        "organizations_reached": 0.0,
                    },
                    "rating_avg": None,
                },
            ]
        }
    )

    employee_id: uuid.UUID
    score: float
    breakdown: InfluenceBreakdown
    points: Annotated[dict[str, float], Field(description="How much each part of the breakdown adds to the score.")]
    rating_avg: float | None


class ProfileWrite(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "public": True,
                    "headline": "Storage solutions for logistics, East China",
                    "expertise_areas": ["logistics", "storage arrays", "proof of concept"],
                },
            ]
        },
    )

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "employee_id": _INFLUENCE["employee_id"],
                    "org_unit_path": "/group/east/team-3",
                    "public": True,
                    "headline": "Storage solutions for logistics, East China",
                    "expertise_areas": ["logistics", "storage arrays", "proof of concept"],
                    "shared_assets": [
                        {
                            "id": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
                            "type": "reference_case",
                            "title": "Hangzhou hub PoC: 40% faster order picking",
                            "usage_count": 9,
                            "rating_avg": 4.5,
                        }
                    ],
                    "influence": _INFLUENCE,
                    "published_at": "2026-10-12T03:30:00Z",
                    "version": 3,
                },
                # Never published: only the employee and their line see it.
                {
                    "employee_id": "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a",
                    "org_unit_path": "/group/east/team-1",
                    "public": False,
                    "headline": "",
                    "expertise_areas": [],
                    "shared_assets": [],
                    "influence": {
                        "employee_id": "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a",
                        "score": 0.0,
                        "breakdown": {
                            "reuse_other_teams": 0,
                            "reuse_other_organizations": 0,
                            "introductions_completed": 0,
                            "wins_contributed": 0,
                            "organizations_reached": 0,
                        },
                        "points": {
                            "reuse_other_teams": 0.0,
                            "reuse_other_organizations": 0.0,
                            "introductions_completed": 0.0,
                            "wins_contributed": 0.0,
                            "organizations_reached": 0.0,
                        },
                        "rating_avg": None,
                    },
                    "published_at": None,
                    "version": 1,
                },
            ]
        }
    )

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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "employee_id": "3c9a1f2e-7d4b-4a6c-8e5f-2b1d0c9e8f7a",
                    "since": "2026-08-29T00:00:00Z",
                    "window_days": 90,
                    "resource_requests": {
                        "total": 14,
                        "by_status": {"requested": 3, "fulfilled": 6, "rated": 4, "declined": 1},
                        "waiting_decision": 3,
                        "requesting_organizations": 3,
                        "from_other_organizations": 5,
                    },
                    "introductions": {
                        "total": 4,
                        "by_status": {"requested": 1, "introduced": 3},
                        "waiting_decision": 1,
                    },
                    "support_requests": {"assigned_open": 2, "fulfilled": 7},
                }
            ]
        }
    )

    employee_id: uuid.UUID
    since: dt.datetime
    window_days: int
    resource_requests: RequestDemand
    introductions: IntroductionDemand
    support_requests: SupportDemand
