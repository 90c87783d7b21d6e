import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from sanlun.kernel.types import Money

Title = Annotated[str, StringConstraints(min_length=1, max_length=300, strip_whitespace=True)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=10_000, strip_whitespace=True)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Level = Literal["vendor", "credible_source", "problem_solver", "trusted_advisor"]
ActionStatus = Literal["open", "in_progress", "done", "cancelled"]
CellStatus = Literal["ours", "competitor", "open", "blocked"]
ItemStatus = Literal["idea", "validated", "qualified", "promoted", "dropped"]

_ACCOUNT = "6f1c2a9e-4b7d-4e21-9c3a-1d2e3f4a5b6c"
_PLAN = "0b8e7d6c-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
_OWNER = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
_ARCHITECT = "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b"
_CIO = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
_IT_DIRECTOR = "8b7c6d5e-4f3a-4b2c-9d1e-0f2a3b4c5d6e"
_OBJECTIVE = "ef56ab78-c901-4d2e-8f3a-b4c5d6e7f8a9"
_CONTRACT = "f067bc89-d012-4e3f-9a4b-c5d6e7f8a9b0"
_CELL = "a178cd90-e123-4f4a-8b5c-d6e7f8a9b0c1"
_PLAN_CREATE: dict[str, Any] = {
    "account_id": _ACCOUNT,
    "period": "2027",
    "starts_on": "2027-01-01",
    "ends_on": "2027-12-31",
    "goal": "Become Sunrise Logistics' primary infrastructure partner for its 12 hubs.",
    "value_proposition": "One storage and edge platform for every hub, run by our local service team within 4 hours.",
    "critical_success_factors": ["Win the Hangzhou hub refresh", "CIO sponsorship of the group-wide standard"],
}
_ACTION: dict[str, Any] = {
    "id": "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
    "plan_id": _PLAN,
    "objective_id": _OBJECTIVE,
    "incumbent_contract_id": _CONTRACT,
    "title": "Offer a migration assessment before the OceanStor contract expires",
    "owner_id": _OWNER,
    "due_on": "2027-01-31",
    "status": "in_progress",
    "version": 2,
}
_CONTRACT_READ: dict[str, Any] = {
    "id": _CONTRACT,
    "plan_id": _PLAN,
    "competitor": "Huawei",
    "business_unit": "Warehousing",
    "solution": "Storage",
    "description": "OceanStor arrays with 3-year maintenance at the Hangzhou and Ningbo hubs.",
    "expires_on": "2027-04-30",
    "value": {"amount": "1800000.00", "currency": "CNY"},
    "counter_actions": [_ACTION],
}
_CELL_WRITE: dict[str, Any] = {
    "business_unit": "Warehousing",
    "solution": "Storage",
    "status": "competitor",
    "competitor": "Huawei",
    "competitor_strength": 70,
    "potential": {"amount": "2400000.00", "currency": "CNY"},
    "notes": "Incumbent until April 2027; the IT director is unhappy with support response times.",
}


class _Forbid(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanCreate(_Forbid):
    model_config = ConfigDict(json_schema_extra={"examples": [_PLAN_CREATE]})

    account_id: uuid.UUID
    period: Annotated[str, StringConstraints(pattern=r"^\d{4}(-(H[12]|Q[1-4]))?$")] = Field(
        description="`2026`, `2026-H1` or `2026-Q3`."
    )
    starts_on: dt.date
    ends_on: dt.date
    goal: Text | None = None
    value_proposition: Text | None = None
    critical_success_factors: list[Title] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _ordered(self) -> "PlanCreate":
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        return self


class PlanUpdate(_Forbid):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "critical_success_factors": [
                        "Win the Hangzhou hub refresh",
                        "CIO sponsorship of the group-wide standard",
                        "A reference visit to Ningbo Port",
                    ],
                }
            ]
        }
    )

    goal: Text | None = None
    value_proposition: Text | None = None
    critical_success_factors: list[Title] | None = Field(None, max_length=50)
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None


class GuidingMember(_Forbid):
    employee_id: uuid.UUID
    role: Label = Field(description="e.g. `solution_architect`, `industry_expert`, `customer_sponsor`.")


class GuidingTeamWrite(_Forbid):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "members": [
                        {"employee_id": _ARCHITECT, "role": "solution_architect"},
                        {"employee_id": "d3e4f5a6-b7c8-4d9e-8f0a-1b2c3d4e5f6a", "role": "industry_expert"},
                    ],
                    "target_initiatives": [
                        "Smart warehouse pilot in Hangzhou",
                        "Edge computing for cold-chain monitoring",
                    ],
                }
            ]
        }
    )

    members: list[GuidingMember] = Field(max_length=50)
    target_initiatives: list[Title] = Field(default_factory=list, max_length=50)


class PlanRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": _PLAN,
                    **_PLAN_CREATE,
                    "guiding_team_members": [
                        {"employee_id": _ARCHITECT, "role": "solution_architect"},
                        {"employee_id": "d3e4f5a6-b7c8-4d9e-8f0a-1b2c3d4e5f6a", "role": "industry_expert"},
                    ],
                    "guiding_team_initiatives": [
                        "Smart warehouse pilot in Hangzhou",
                        "Edge computing for cold-chain monitoring",
                    ],
                    "created_at": "2026-11-10T02:00:00Z",
                    "updated_at": "2026-11-24T08:30:00Z",
                    "version": 5,
                }
            ]
        },
    )

    id: uuid.UUID
    account_id: uuid.UUID
    period: str
    starts_on: dt.date
    ends_on: dt.date
    goal: str | None
    value_proposition: str | None
    critical_success_factors: list[str]
    guiding_team_members: list[dict[str, Any]]
    guiding_team_initiatives: list[str]
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class ObjectiveCreate(_Forbid):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "Replace the incumbent storage at the Hangzhou and Ningbo hubs",
                    "description": (
                        "The OceanStor contract expires in April 2027: be the obvious successor before the tender."
                    ),
                }
            ]
        }
    )

    title: Title
    description: Text | None = None


class ObjectiveRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": _OBJECTIVE,
                    "plan_id": _PLAN,
                    "title": "Replace the incumbent storage at the Hangzhou and Ningbo hubs",
                    "description": (
                        "The OceanStor contract expires in April 2027: be the obvious successor before the tender."
                    ),
                    "version": 1,
                }
            ]
        },
    )

    id: uuid.UUID
    plan_id: uuid.UUID
    title: str
    description: str | None
    version: int


class ActionCreate(_Forbid):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "Offer a migration assessment before the OceanStor contract expires",
                    "objective_id": _OBJECTIVE,
                    "incumbent_contract_id": _CONTRACT,
                    "owner_id": _OWNER,
                    "due_on": "2027-01-31",
                }
            ]
        }
    )

    title: Title
    objective_id: uuid.UUID | None = Field(None, description="The objective this action serves.")
    incumbent_contract_id: uuid.UUID | None = Field(None, description="Set for a counter-action to a contract.")
    owner_id: uuid.UUID | None = None
    due_on: dt.date | None = None
    status: ActionStatus = "open"


class ActionUpdate(_Forbid):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"status": "done"},
                {"due_on": "2027-02-28", "owner_id": _ARCHITECT},
            ]
        }
    )

    title: Title | None = None
    owner_id: uuid.UUID | None = None
    due_on: dt.date | None = None
    status: ActionStatus | None = None


class ActionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_ACTION]})

    id: uuid.UUID
    plan_id: uuid.UUID
    objective_id: uuid.UUID | None
    incumbent_contract_id: uuid.UUID | None
    title: str
    owner_id: uuid.UUID | None
    due_on: dt.date | None
    status: ActionStatus
    version: int


class ReviewCreate(_Forbid):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reviewed_on": "2026-11-24",
                    "notes": (
                        "Quarterly review with the regional director: whitespace map still missing the cold-chain unit."
                    ),
                }
            ]
        }
    )

    reviewed_on: dt.date | None = Field(None, description="Omitted: today.")
    notes: Text | None = None


class MissingCheck(BaseModel):
    check: str
    message: str


class Completeness(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "score": 80,
                    "status": "substantial",
                    "missing": [
                        {
                            "check": "relationship_targets",
                            "message": "build our advantage: at least one relationship target",
                        },
                        {"check": "incubation", "message": "incubate: at least one incubation item"},
                    ],
                }
            ]
        }
    )

    score: int = Field(description="0-100: share of the plan checks met.")
    status: Literal["complete", "substantial", "partial", "incomplete"]
    missing: list[MissingCheck]


class ReviewRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "b289de01-f234-4a5b-9c6d-e7f8a9b0c1d2",
                    "plan_id": _PLAN,
                    "reviewed_on": "2026-11-24",
                    "reviewer_id": "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f",
                    "notes": (
                        "Quarterly review with the regional director: whitespace map still missing the cold-chain unit."
                    ),
                    "completeness_score": 80,
                    "completeness_status": "substantial",
                    "missing": [
                        {
                            "check": "relationship_targets",
                            "message": "build our advantage: at least one relationship target",
                        },
                        {"check": "incubation", "message": "incubate: at least one incubation item"},
                    ],
                }
            ]
        },
    )

    id: uuid.UUID
    plan_id: uuid.UUID
    reviewed_on: dt.date
    reviewer_id: uuid.UUID | None
    notes: str | None
    completeness_score: int
    completeness_status: str
    missing: list[MissingCheck]


class TargetWrite(_Forbid):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"contact_id": _CIO, "target_level": "trusted_advisor", "owner_id": _OWNER},
            ]
        }
    )

    contact_id: uuid.UUID
    target_level: Level
    owner_id: uuid.UUID | None = None


class TargetRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "c390ef12-a345-4b6c-8d7e-f8a9b0c1d2e3",
                    "contact_id": _CIO,
                    "contact_name": "Wang Fang",
                    "owner_id": _OWNER,
                    "target_level": "trusted_advisor",
                    "current_level": "problem_solver",
                    "gap_steps": 1,
                    "met": False,
                }
            ]
        }
    )

    id: uuid.UUID
    contact_id: uuid.UUID
    contact_name: str
    owner_id: uuid.UUID | None
    target_level: Level
    current_level: Level | None = Field(description="Best level any of our employees holds with the contact.")
    gap_steps: int = Field(
        description="Steps still to climb on vendor → credible_source → problem_solver → trusted_advisor."
    )
    met: bool


class SessionCreate(_Forbid):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "held_on": "2026-11-18",
                    "topic": "Smart warehouse pilot: scope and success criteria",
                    "attendee_contact_ids": [_CIO, _IT_DIRECTOR],
                    "outcome": (
                        "Pilot agreed for the Hangzhou hub in Q1 2027; the IT director drafts the success criteria."
                    ),
                }
            ]
        }
    )

    held_on: dt.date
    topic: Title
    attendee_contact_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100)
    outcome: Text | None = None


class SessionRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "d4a1f023-b456-4c7d-9e8f-a9b0c1d2e3f4",
                    "plan_id": _PLAN,
                    "held_on": "2026-11-18",
                    "topic": "Smart warehouse pilot: scope and success criteria",
                    "attendee_contact_ids": [_CIO, _IT_DIRECTOR],
                    "outcome": (
                        "Pilot agreed for the Hangzhou hub in Q1 2027; the IT director drafts the success criteria."
                    ),
                }
            ]
        },
    )

    id: uuid.UUID
    plan_id: uuid.UUID
    held_on: dt.date
    topic: str
    attendee_contact_ids: list[uuid.UUID]
    outcome: str | None


class CellWrite(_Forbid):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                _CELL_WRITE,
                {
                    "business_unit": "Cold chain",
                    "solution": "Edge computing",
                    "status": "open",
                    "potential": {"amount": "650000.00", "currency": "CNY"},
                },
            ]
        }
    )

    business_unit: Label
    solution: Label
    status: CellStatus
    competitor: Label | None = Field(None, description="Who holds the cell when status is `competitor`.")
    competitor_strength: Annotated[int, Field(ge=0, le=100)] | None = None
    potential: Money | None = None
    notes: Text | None = None

    @model_validator(mode="after")
    def _competitor_named(self) -> "CellWrite":
        if self.status == "competitor" and not self.competitor:
            raise ValueError("a competitor cell names the competitor")
        return self


class CellRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {"id": _CELL, "plan_id": _PLAN, **_CELL_WRITE, "version": 3},
            ]
        },
    )

    id: uuid.UUID
    plan_id: uuid.UUID
    business_unit: str
    solution: str
    status: CellStatus
    competitor: str | None
    competitor_strength: int | None
    potential: Money | None
    notes: str | None
    version: int


class ContractCreate(_Forbid):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "competitor": "Huawei",
                    "business_unit": "Warehousing",
                    "solution": "Storage",
                    "description": "OceanStor arrays with 3-year maintenance at the Hangzhou and Ningbo hubs.",
                    "expires_on": "2027-04-30",
                    "value": {"amount": "1800000.00", "currency": "CNY"},
                }
            ]
        }
    )

    competitor: Label
    business_unit: Label | None = None
    solution: Label | None = None
    description: Text | None = None
    expires_on: dt.date | None = None
    value: Money | None = None


class ContractRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_CONTRACT_READ]})

    id: uuid.UUID
    plan_id: uuid.UUID
    competitor: str
    business_unit: str | None
    solution: str | None
    description: str | None
    expires_on: dt.date | None
    value: Money | None
    counter_actions: list[ActionRead] = []


class CompetitorFootprint(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "competitor": "Huawei",
                    "cells": [
                        {"id": _CELL, "business_unit": "Warehousing", "solution": "Storage", "competitor_strength": 70}
                    ],
                    "contracts": [_CONTRACT_READ],
                    "next_expiry": "2027-04-30",
                    "counter_actions_open": 1,
                }
            ]
        }
    )

    competitor: str
    cells: list[dict[str, Any]] = Field(description="Whitespace cells the competitor holds.")
    contracts: list[ContractRead]
    next_expiry: dt.date | None
    counter_actions_open: int


class ItemCreate(_Forbid):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "Edge gateways for cold-chain temperature monitoring",
                    "description": (
                        "Temperatures are still logged by hand at 40 cold-chain sites; customs audits are stricter."
                    ),
                    "whitespace_cell_id": _CELL,
                    "amount": {"amount": "650000.00", "currency": "CNY"},
                    "expected_close_date": "2027-06-30",
                    "owner_id": _OWNER,
                }
            ]
        }
    )

    title: Title
    description: Text | None = None
    whitespace_cell_id: uuid.UUID | None = None
    amount: Money | None = None
    expected_close_date: dt.date | None = None
    owner_id: uuid.UUID | None = None


class ItemUpdate(_Forbid):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"status": "validated"},
                {
                    "status": "qualified",
                    "amount": {"amount": "720000.00", "currency": "CNY"},
                    "expected_close_date": "2027-05-31",
                },
            ]
        }
    )

    title: Title | None = None
    description: Text | None = None
    status: Literal["idea", "validated", "qualified", "dropped"] | None = None
    amount: Money | None = None
    expected_close_date: dt.date | None = None
    owner_id: uuid.UUID | None = None


class ItemRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "d2c1b0a9-8f7e-4d6c-9b5a-4f3e2d1c0b9a",
                    "plan_id": _PLAN,
                    "account_id": _ACCOUNT,
                    "whitespace_cell_id": _CELL,
                    "title": "Edge gateways for cold-chain temperature monitoring",
                    "description": (
                        "Temperatures are still logged by hand at 40 cold-chain sites; customs audits are stricter."
                    ),
                    "status": "promoted",
                    "amount": {"amount": "720000.00", "currency": "CNY"},
                    "expected_close_date": "2027-05-31",
                    "owner_id": _OWNER,
                    "created_at": "2026-09-01T02:00:00Z",
                    "validated_at": "2026-09-20T06:00:00Z",
                    "qualified_at": "2026-10-28T03:15:00Z",
                    "promoted_at": "2026-11-02T01:40:00Z",
                    "dropped_at": None,
                    "opportunity_id": "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
                    "opportunity_stage": "solution_design",
                    "version": 6,
                }
            ]
        },
    )

    id: uuid.UUID
    plan_id: uuid.UUID
    account_id: uuid.UUID
    whitespace_cell_id: uuid.UUID | None
    title: str
    description: str | None
    status: ItemStatus
    amount: Money | None = Field(validation_alias="money")
    expected_close_date: dt.date | None
    owner_id: uuid.UUID | None
    created_at: dt.datetime
    validated_at: dt.datetime | None
    qualified_at: dt.datetime | None
    promoted_at: dt.datetime | None
    dropped_at: dt.datetime | None
    opportunity_id: uuid.UUID | None = Field(description="Lineage: the TAS+ opportunity made from this item.")
    opportunity_stage: str | None = Field(description="Last stage seen from the opportunity's events.")
    version: int


class IncubationMetrics(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "scope": "plan",
                    "id": _PLAN,
                    "items": 9,
                    "by_status": {"idea": 3, "validated": 2, "qualified": 1, "promoted": 2, "dropped": 1},
                    "conversion_rate": 0.6667,
                    "pipeline_rate": 0.2222,
                    "incubation_days_median": 58.5,
                    "incubation_days_mean": 61.0,
                    "won": 1,
                    "promoted_amount": "1370000.00",
                }
            ]
        }
    )

    scope: Literal["plan", "account"]
    id: uuid.UUID
    items: int
    by_status: dict[str, int]
    conversion_rate: float | None = Field(description="promoted / (promoted + dropped).")
    pipeline_rate: float | None = Field(description="promoted / all items.")
    incubation_days_median: float | None = Field(description="Days from idea to promotion, median.")
    incubation_days_mean: float | None
    won: int = Field(description="Promoted items whose opportunity was won.")
    promoted_amount: Decimal | None = None
