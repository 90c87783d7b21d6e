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


class _Forbid(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanCreate(_Forbid):
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
    goal: Text | None = None
    value_proposition: Text | None = None
    critical_success_factors: list[Title] | None = Field(None, max_length=50)
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None


class GuidingMember(_Forbid):
    employee_id: uuid.UUID
    role: Label = Field(description="e.g. `solution_architect`, `industry_expert`, `customer_sponsor`.")


class GuidingTeamWrite(_Forbid):
    members: list[GuidingMember] = Field(max_length=50)
    target_initiatives: list[Title] = Field(default_factory=list, max_length=50)


class PlanRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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
    title: Title
    description: Text | None = None


class ObjectiveRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    plan_id: uuid.UUID
    title: str
    description: str | None
    version: int


class ActionCreate(_Forbid):
    title: Title
    objective_id: uuid.UUID | None = Field(None, description="The objective this action serves.")
    incumbent_contract_id: uuid.UUID | None = Field(None, description="Set for a counter-action to a contract.")
    owner_id: uuid.UUID | None = None
    due_on: dt.date | None = None
    status: ActionStatus = "open"


class ActionUpdate(_Forbid):
    title: Title | None = None
    owner_id: uuid.UUID | None = None
    due_on: dt.date | None = None
    status: ActionStatus | None = None


class ActionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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
    reviewed_on: dt.date | None = Field(None, description="Omitted: today.")
    notes: Text | None = None


class MissingCheck(BaseModel):
    check: str
    message: str


class Completeness(BaseModel):
    score: int = Field(description="0-100: share of the plan checks met.")
    status: Literal["complete", "substantial", "partial", "incomplete"]
    missing: list[MissingCheck]


class ReviewRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    plan_id: uuid.UUID
    reviewed_on: dt.date
    reviewer_id: uuid.UUID | None
    notes: str | None
    completeness_score: int
    completeness_status: str
    missing: list[MissingCheck]


class TargetWrite(_Forbid):
    contact_id: uuid.UUID
    target_level: Level
    owner_id: uuid.UUID | None = None


class TargetRead(BaseModel):
    id: uuid.UUID
    contact_id: uuid.UUID
    contact_name: str
    owner_id: uuid.UUID | None
    target_level: Level
    current_level: Level | None = Field(description="Best level any of our employees holds with the contact.")
    gap_steps: int = Field(description="Steps still to climb on vendor → credible_source → problem_solver → trusted_advisor.")
    met: bool


class SessionCreate(_Forbid):
    held_on: dt.date
    topic: Title
    attendee_contact_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100)
    outcome: Text | None = None


class SessionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    plan_id: uuid.UUID
    held_on: dt.date
    topic: str
    attendee_contact_ids: list[uuid.UUID]
    outcome: str | None


class CellWrite(_Forbid):
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
    model_config = ConfigDict(from_attributes=True)

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
    competitor: Label
    business_unit: Label | None = None
    solution: Label | None = None
    description: Text | None = None
    expires_on: dt.date | None = None
    value: Money | None = None


class ContractRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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
    competitor: str
    cells: list[dict[str, Any]] = Field(description="Whitespace cells the competitor holds.")
    contracts: list[ContractRead]
    next_expiry: dt.date | None
    counter_actions_open: int


class ItemCreate(_Forbid):
    title: Title
    description: Text | None = None
    whitespace_cell_id: uuid.UUID | None = None
    amount: Money | None = None
    expected_close_date: dt.date | None = None
    owner_id: uuid.UUID | None = None


class ItemUpdate(_Forbid):
    title: Title | None = None
    description: Text | None = None
    status: Literal["idea", "validated", "qualified", "dropped"] | None = None
    amount: Money | None = None
    expected_close_date: dt.date | None = None
    owner_id: uuid.UUID | None = None


class ItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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
