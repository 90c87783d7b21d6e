import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

OrgUnit = Annotated[str, StringConstraints(pattern=r"^(/[A-Za-z0-9][A-Za-z0-9_.\-]*)+$", max_length=500)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)]


class Pool(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org_unit: OrgUnit | None = Field(None, description="Active sales people in this unit and below.")
    employee_ids: Annotated[list[uuid.UUID] | None, Field(min_length=1, max_length=5000)] = None

    @model_validator(mode="after")
    def _one_of(self) -> "Pool":
        if (self.org_unit is None) == (self.employee_ids is None):
            raise ValueError("give exactly one of org_unit or employee_ids")
        return self


class ProposeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    opportunity_ids: Annotated[list[uuid.UUID] | None, Field(min_length=1, max_length=10000, description=(
        "Unassigned opportunities to place; omitted: every unassigned open one under `unassigned_in`."
    ))] = None
    unassigned_in: OrgUnit | None = None
    pool: Pool

    @model_validator(mode="after")
    def _deals(self) -> "ProposeRequest":
        if (self.opportunity_ids is None) == (self.unassigned_in is None):
            raise ValueError("give exactly one of opportunity_ids or unassigned_in")
        return self


class Components(BaseModel):
    win_probability: float
    deal_value: float
    expected_value: float
    continuity: float
    load_ratio: float
    stage: str | None
    stage_multiplier: float
    starter: bool
    protected_l1_share: bool
    utility: float


class Candidate(BaseModel):
    employee_id: uuid.UUID
    score: float
    components: Components


class ProposalItem(BaseModel):
    opportunity_id: uuid.UUID
    proposed_owner_id: uuid.UUID
    score: float
    components: Components
    runner_up: Candidate | None
    explanation: list[str]


class Unplaced(BaseModel):
    opportunity_id: uuid.UUID
    reason: str


class ProposalRead(BaseModel):
    id: uuid.UUID
    status: Literal["proposed", "committed"]
    stages_source: Literal["live", "cached"]
    stages_as_of: dt.datetime | None
    notes: list[str]
    coverage: dict[str, Any]
    summary: dict[str, Any]
    items: list[ProposalItem]
    unassigned: list[Unplaced]
    created_at: dt.datetime
    committed_at: dt.datetime | None
    commit_result: dict[str, Any] | None


class Suggestions(BaseModel):
    opportunity_id: uuid.UUID
    stages_source: Literal["live", "cached"]
    stages_as_of: dt.datetime | None
    notes: list[str]
    candidates: list[Candidate]


class OverrideRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    employee_id: uuid.UUID
    reason: Reason
    org_unit_path: OrgUnit | None = Field(None, description="The new owner's org unit (default: as the view knows it).")


class DecisionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    opportunity_id: uuid.UUID
    proposal_id: uuid.UUID | None
    kind: Literal["proposal", "override"]
    employee_id: uuid.UUID
    previous_owner_id: uuid.UUID | None
    org_unit_path: str
    score: dict[str, Any] | None
    reason: str | None
    decided_by: str
    created_at: dt.datetime
