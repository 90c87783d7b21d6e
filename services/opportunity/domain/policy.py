"""The per-organisation policy document: plan checklist, stage gates and
assignment weights, with the shipped defaults (pure: pydantic only).

An organisation without a stored document uses `Policy()`; a stored document
is validated against this model, so unknown keys and bad values are refused
with the field named.
"""

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SectionName = Literal[
    "profile",
    "business_issues",
    "solution_value",
    "assessment",
    "competitors",
    "competitive_strategy",
    "key_players",
    "relationship_strategy",
    "decision_criteria",
    "customer_milestones",
    "action_plan",
    "reviews",
]
Requirement = Literal[
    "account",
    "amount",
    "expected_close_date",
    "closed_on",
    "compelling_event",
    "solution",
    "key_player",
    "decision_maker",
    "competitor",
    "assessment_opportunity",
    "assessment_complete",
    "action_plan",
]
GatedStage = Literal["qualified", "solution_design", "proposal", "negotiation", "won", "lost"]


class ChecklistItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    section: SectionName
    weight: Annotated[float, Field(gt=0, le=100)] = 1.0


class Gate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requires: list[Requirement] = []
    min_plan_completeness: Annotated[float, Field(ge=0, le=1)] = 0.0


class AssignmentPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Win-probability smoothing: prior strength of the org rate for a rep, and
    # of the rep's own rate for one solution / industry / size band.
    prior_strength: Annotated[float, Field(ge=0, le=1000)] = 10.0
    attribute_prior_strength: Annotated[float, Field(ge=0, le=1000)] = 5.0
    continuity_weight: Annotated[float, Field(ge=0, le=10)] = 0.25
    load_weight: Annotated[float, Field(ge=0, le=1)] = 0.3
    l1_starter_share: Annotated[float, Field(ge=0, le=1)] = 0.5
    # A starter is smaller than this amount, or has no amount.
    starter_max_amount: Annotated[Decimal, Field(ge=0)] = Decimal(50000)
    starter_min_win_probability: Annotated[float, Field(ge=0, le=1)] = 0.3
    large_min_amount: Annotated[Decimal, Field(ge=0)] = Decimal(200000)
    # How much an L3 rep's utility shrinks on a deal that is neither large nor strategic.
    l3_small_deal_penalty: Annotated[float, Field(ge=0, le=1)] = 0.5
    candidates_per_opportunity: Annotated[int, Field(ge=1, le=100)] = 10
    # A rep with no closed deal of their own has no record to back a big share:
    # at most this many new deals from one proposal (on top of the capacity cap).
    unproven_max_per_proposal: Annotated[int, Field(ge=0, le=1000)] = 10


DEFAULT_CHECKLIST = [
    ChecklistItem(section="profile"),
    ChecklistItem(section="business_issues"),
    ChecklistItem(section="solution_value"),
    ChecklistItem(section="assessment", weight=2),
    ChecklistItem(section="competitors", weight=1.5),
    ChecklistItem(section="competitive_strategy"),
    ChecklistItem(section="key_players", weight=2),
    ChecklistItem(section="relationship_strategy"),
    ChecklistItem(section="decision_criteria"),
    ChecklistItem(section="customer_milestones"),
    ChecklistItem(section="action_plan", weight=1.5),
    ChecklistItem(section="reviews", weight=0.5),
]
DEFAULT_GATES: dict[GatedStage, Gate] = {
    "qualified": Gate(requires=["account", "amount", "expected_close_date", "assessment_opportunity"]),
    "solution_design": Gate(requires=["compelling_event", "key_player"]),
    "proposal": Gate(requires=["solution", "decision_maker", "competitor", "assessment_complete"]),
    "negotiation": Gate(requires=["action_plan"], min_plan_completeness=0.6),
    "won": Gate(requires=["closed_on", "amount"]),
    "lost": Gate(requires=["closed_on"]),
}


# An organisation that weighs key players and the action plan more, and asks
# for a fuller plan before negotiation; amounts as the API writes them (strings).
_POLICY_EXAMPLE: dict[str, Any] = {
    "plan_checklist": [
        {"section": "profile", "weight": 1.0},
        {"section": "business_issues", "weight": 1.0},
        {"section": "solution_value", "weight": 1.0},
        {"section": "assessment", "weight": 2.0},
        {"section": "competitors", "weight": 1.5},
        {"section": "competitive_strategy", "weight": 1.0},
        {"section": "key_players", "weight": 3.0},
        {"section": "relationship_strategy", "weight": 1.0},
        {"section": "decision_criteria", "weight": 1.0},
        {"section": "customer_milestones", "weight": 1.0},
        {"section": "action_plan", "weight": 2.0},
        {"section": "reviews", "weight": 0.5},
    ],
    "stage_gates": {
        "qualified": {
            "requires": ["account", "amount", "expected_close_date", "assessment_opportunity"],
            "min_plan_completeness": 0.0,
        },
        "solution_design": {"requires": ["compelling_event", "key_player"], "min_plan_completeness": 0.3},
        "proposal": {
            "requires": ["solution", "decision_maker", "competitor", "assessment_complete"],
            "min_plan_completeness": 0.5,
        },
        "negotiation": {"requires": ["action_plan"], "min_plan_completeness": 0.7},
        "won": {"requires": ["closed_on", "amount"], "min_plan_completeness": 0.0},
        "lost": {"requires": ["closed_on"], "min_plan_completeness": 0.0},
    },
    "assignment": {
        "prior_strength": 10.0,
        "attribute_prior_strength": 5.0,
        "continuity_weight": 0.25,
        "load_weight": 0.3,
        "l1_starter_share": 0.5,
        "starter_max_amount": "50000",
        "starter_min_win_probability": 0.3,
        "large_min_amount": "200000",
        "l3_small_deal_penalty": 0.5,
        "candidates_per_opportunity": 10,
        "unproven_max_per_proposal": 10,
    },
}


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_POLICY_EXAMPLE]})

    plan_checklist: Annotated[list[ChecklistItem], Field(min_length=1, max_length=12)] = DEFAULT_CHECKLIST
    stage_gates: dict[GatedStage, Gate] = DEFAULT_GATES
    assignment: AssignmentPolicy = AssignmentPolicy()
