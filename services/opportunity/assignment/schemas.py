import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

OrgUnit = Annotated[str, StringConstraints(pattern=r"^(/[A-Za-z0-9][A-Za-z0-9_.\-]*)+$", max_length=500)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)]

_PROPOSAL = "b7c8d9e0-f1a2-4b3c-8d4e-5f6a7b8c9d0e"
_STARTER_DEAL = "2f6c9b1e-8a3d-4c5e-9f70-1b2a3c4d5e6f"
_LARGE_DEAL = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"
_L1_REP = "3c9a1f2e-7d4b-4a6c-8e5f-2b1d0c9e8f7a"
_L2_REP = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
_L3_REP = "d3e4f5a6-b7c8-4d9e-8f0a-1b2c3d4e5f6a"
_MANAGER = "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f"
_STARTER_COMPONENTS: dict[str, Any] = {
    "win_probability": 0.4615,
    "deal_value": 45000.0,
    "expected_value": 20767.5,
    "continuity": 0.0,
    "load_ratio": 0.35,
    "stage": "L1_SUBSISTENCE",
    "stage_multiplier": 1.0,
    "starter": True,
    "protected_l1_share": True,
    "utility": 0.2077,
}
_RUNNER_UP: dict[str, Any] = {
    "employee_id": _L2_REP,
    "score": 0.1893,
    "components": {
        "win_probability": 0.5208,
        "deal_value": 45000.0,
        "expected_value": 23436.0,
        "continuity": 0.0,
        "load_ratio": 0.6,
        "stage": "L2_COMFORTABLE",
        "stage_multiplier": 1.0,
        "starter": True,
        "protected_l1_share": False,
        "utility": 0.1893,
    },
}
_STARTER_ITEM: dict[str, Any] = {
    "opportunity_id": _STARTER_DEAL,
    "proposed_owner_id": _L1_REP,
    "score": 0.2077,
    "components": _STARTER_COMPONENTS,
    "runner_up": _RUNNER_UP,
    "explanation": [
        "win probability 0.46 from 9 closed deals of their own (smoothed towards the organisation's rate)",
        "expected won value 20,767.50",
        "open load 35% of capacity",
        "L1 protected share: a winnable starter deal reserved for a rep in subsistence",
    ],
}
_LARGE_ITEM: dict[str, Any] = {
    "opportunity_id": _LARGE_DEAL,
    "proposed_owner_id": _L3_REP,
    "score": 3.9141,
    "components": {
        "win_probability": 0.5756,
        "deal_value": 680000.0,
        "expected_value": 391408.0,
        "continuity": 1.0,
        "load_ratio": 0.5,
        "stage": "L3_AFFLUENT",
        "stage_multiplier": 1.0,
        "starter": False,
        "protected_l1_share": False,
        "utility": 3.9141,
    },
    "runner_up": {
        "employee_id": _L2_REP,
        "score": 3.1187,
        "components": {
            "win_probability": 0.4586,
            "deal_value": 680000.0,
            "expected_value": 311848.0,
            "continuity": 0.0,
            "load_ratio": 0.6,
            "stage": "L2_COMFORTABLE",
            "stage_multiplier": 1.0,
            "starter": False,
            "protected_l1_share": False,
            "utility": 3.1187,
        },
    },
    "explanation": [
        "win probability 0.58 from 41 closed deals of their own (smoothed towards the organisation's rate)",
        "expected won value 391,408.00",
        "already on the account's coverage team (continuity)",
        "open load 50% of capacity",
    ],
}


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
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"opportunity_ids": [_STARTER_DEAL, _LARGE_DEAL], "pool": {"org_unit": "/group/east"}},
                {"unassigned_in": "/group/east/team-3", "pool": {"employee_ids": [_L1_REP, _L2_REP, _L3_REP]}},
            ]
        },
    )

    opportunity_ids: Annotated[
        list[uuid.UUID] | None,
        Field(
            min_length=1,
            max_length=10000,
            description=(
                "Unassigned opportunities to place; omitted: every unassigned open one under `unassigned_in`."
            ),
        ),
    ] = None
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
    runner_up: Candidate | None = Field(
        description=(
            "The best other candidate by score before the caps (so possibly someone without room); when they "
            "scored higher, the explanation's last line says why they lost (no room, cap reached, L1 protection)."
        )
    )
    explanation: list[str]


class Unplaced(BaseModel):
    opportunity_id: uuid.UUID
    reason: str


class ProposalRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _PROPOSAL,
                    "status": "committed",
                    "stages_source": "live",
                    "stages_as_of": "2026-11-26T01:30:05Z",
                    "notes": [],
                    "coverage": {"source": "live", "accounts_checked": 2, "accounts_failed": 0, "accounts_skipped": 0},
                    "summary": {
                        "deals": 2,
                        "reps": 6,
                        "excluded_no_capacity": 1,
                        "assigned": 2,
                        "unassigned": 0,
                        "room": 23,
                        "people_receiving": 2,
                        "per_person": {"min": 1, "median": 1.0, "max": 1},
                        "expected_won_value": 412175.5,
                        "starters": 1,
                        "l1_starter_target": 1,
                        "l1_starters_given": 1,
                    },
                    "items": [_STARTER_ITEM, _LARGE_ITEM],
                    "unassigned": [],
                    "created_at": "2026-11-26T01:30:06Z",
                    "committed_at": "2026-11-26T01:42:18Z",
                    "commit_result": {"committed": 2, "skipped": []},
                }
            ]
        }
    )

    id: uuid.UUID
    status: Literal["proposed", "committed"]
    stages_source: Literal["live", "cached"]
    stages_as_of: dt.datetime | None
    notes: list[str]
    coverage: dict[str, Any]
    summary: dict[str, Any] = Field(
        description=(
            "`deals`; `reps`: salespeople in the pool (people with capacity 0, managers for example, are left out "
            "and counted in `excluded_no_capacity`); `room`: how many new deals the pool can take from this "
            "proposal, the sum of each rep's cap (capacity minus open load, at least 0; at most "
            "`unproven_max_per_proposal` of the policy for a rep with no closed deal yet); `assigned`, `unassigned` "
            "(deals beyond the room stay unassigned, with the reason); `people_receiving` and `per_person` "
            "(min, median, max new deals per person who received any); `expected_won_value`; the L1 protected share "
            "(`starters`, `l1_starter_target`, `l1_starters_given`)."
        )
    )
    items: list[ProposalItem]
    unassigned: list[Unplaced]
    created_at: dt.datetime
    committed_at: dt.datetime | None
    commit_result: dict[str, Any] | None


class Suggestions(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "opportunity_id": _STARTER_DEAL,
                    "stages_source": "cached",
                    "stages_as_of": "2026-11-26T01:30:05Z",
                    "notes": [
                        (
                            "employee lifecycle service unavailable (ConnectTimeout): stages and capacity as last seen "
                            "from its events, oldest from 2026-11-26T01:30:05+00:00"
                        )
                    ],
                    "candidates": [
                        {"employee_id": _L1_REP, "score": 0.2077, "components": _STARTER_COMPONENTS},
                        _RUNNER_UP,
                    ],
                }
            ]
        }
    )

    opportunity_id: uuid.UUID
    stages_source: Literal["live", "cached"]
    stages_as_of: dt.datetime | None
    notes: list[str]
    candidates: list[Candidate]


class OverrideRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "employee_id": _L2_REP,
                    "reason": "Zhao Min ran the pilot at this customer last year and the CIO asked for her by name.",
                    "org_unit_path": "/group/east/team-1",
                }
            ]
        },
    )

    employee_id: uuid.UUID
    reason: Reason
    org_unit_path: OrgUnit | None = Field(None, description="The new owner's org unit (default: as the view knows it).")


class DecisionRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "f0e1d2c3-b4a5-4968-8776-5a4b3c2d1e0f",
                    "opportunity_id": _STARTER_DEAL,
                    "proposal_id": _PROPOSAL,
                    "kind": "proposal",
                    "employee_id": _L1_REP,
                    "previous_owner_id": None,
                    "org_unit_path": "/group/east/team-3",
                    "score": {
                        "score": 0.2077,
                        "components": _STARTER_COMPONENTS,
                        "explanation": _STARTER_ITEM["explanation"],
                        "stages_source": "live",
                    },
                    "reason": None,
                    "decided_by": _MANAGER,
                    "created_at": "2026-11-26T01:42:18Z",
                },
                {
                    "id": "0a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d",
                    "opportunity_id": _LARGE_DEAL,
                    "proposal_id": None,
                    "kind": "override",
                    "employee_id": _L2_REP,
                    "previous_owner_id": _L3_REP,
                    "org_unit_path": "/group/east/team-1",
                    "score": None,
                    "reason": "Zhao Min ran the pilot at this customer last year and the CIO asked for her by name.",
                    "decided_by": _MANAGER,
                    "created_at": "2026-11-26T08:10:51Z",
                },
            ]
        },
    )

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
