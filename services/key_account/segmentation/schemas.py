import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from sanlun.kernel.types import OrgUnitPath

Factor = Literal["revenue", "potential", "strategic_value", "relationship", "solution_fit"]
Tier = Literal["strategic", "key", "growth", "transactional"]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Amount = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)]

_POLICY: dict[str, Any] = {
    "weights": {"revenue": 30, "potential": 25, "strategic_value": 20, "relationship": 15, "solution_fit": 10},
    "thresholds": {"strategic": 75, "key": 55, "growth": 35},
    "currency": "CNY",
    "revenue_floor": "10000000.00",
    "revenue_ceiling": "100000000000.00",
    "fx_rates": {"USD": "7.20", "EUR": "7.80", "HKD": "0.92"},
}
_OVERRIDE_REASON = "Group-wide framework agreement signed in November: strategic for 2027 planning."
# The account of the examples: a key account by score, strategic by override.
SEGMENTATION_EXAMPLE: dict[str, Any] = {
    "tier": "strategic",
    "computed_tier": "key",
    "score": "69.69",
    "reasons": [
        {
            "factor": "revenue",
            "known": True,
            "score": 62.6,
            "weight": 0.3,
            "contribution": 18.79,
            "note": "revenue 3,200,000,000 CNY on a log scale 10,000,000-100,000,000,000",
        },
        {
            "factor": "potential",
            "known": True,
            "score": 80.0,
            "weight": 0.25,
            "contribution": 20.0,
            "note": "potential assessed at 80",
        },
        {
            "factor": "strategic_value",
            "known": True,
            "score": 70.0,
            "weight": 0.2,
            "contribution": 14.0,
            "note": "strategic value assessed at 70",
        },
        {
            "factor": "relationship",
            "known": True,
            "score": 69.3,
            "weight": 0.15,
            "contribution": 10.4,
            "note": "best level problem_solver, strength 72",
        },
        {
            "factor": "solution_fit",
            "known": True,
            "score": 65.0,
            "weight": 0.1,
            "contribution": 6.5,
            "note": "solution fit assessed at 65",
        },
    ],
    "policy_version": 2,
    "evaluated_at": "2026-11-24T03:10:00Z",
    "override": {
        "tier": "strategic",
        "reason": _OVERRIDE_REASON,
        "by": "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f",
        "at": "2026-11-25T02:00:00Z",
    },
}


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strategic: float = Field(ge=0, le=100, description="Lowest score of a strategic account.")
    key: float = Field(ge=0, le=100)
    growth: float = Field(ge=0, le=100)


class PolicyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weights: dict[Factor, Annotated[float, Field(ge=0, le=100)]] = Field(
        description="Relative weight per factor; unknown inputs are left out and the rest renormalised."
    )
    thresholds: Thresholds
    currency: Currency = Field(description="Currency the revenue scale is in.")
    revenue_floor: Amount = Field(description="Revenue scoring 0.")
    revenue_ceiling: Amount = Field(description="Revenue scoring 100 (log scale between).")
    fx_rates: dict[Currency, Amount] = Field(
        default_factory=dict, description="Value of 1 unit of each other currency in `currency`."
    )


class PolicyWrite(PolicyBody):
    model_config = ConfigDict(json_schema_extra={"examples": [{**_POLICY, "org_path": "/group/east"}]})

    org_path: OrgUnitPath | None = Field(
        None, description="Organisation the policy applies to (`/` for the whole group). Omitted: yours."
    )


class PolicyRead(PolicyBody):
    model_config = ConfigDict(json_schema_extra={"examples": [{**_POLICY, "org_path": "/group/east", "version": 2}]})

    org_path: str | None = Field(description="Where the policy is stored; null for the shipped default.")
    version: int


class PolicySaved(PolicyRead):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {**_POLICY, "org_path": "/group/east", "version": 3, "accounts_rescored": 1284},
            ]
        }
    )

    accounts_rescored: int = Field(
        description="Accounts under the organisation re-scored with the policy now in force."
    )


class TierOverride(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"tier": "strategic", "reason": _OVERRIDE_REASON},
            ]
        },
    )

    tier: Tier
    reason: Annotated[str, StringConstraints(min_length=3, max_length=2000, strip_whitespace=True)]


class OverrideRead(BaseModel):
    tier: Tier
    reason: str | None
    by: uuid.UUID | None
    at: dt.datetime | None


class Reason(BaseModel):
    factor: Factor
    known: bool
    score: float | None
    weight: float = Field(description="Weight after renormalising over the known factors.")
    contribution: float
    note: str


class SegmentationRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [SEGMENTATION_EXAMPLE]})

    tier: Tier
    computed_tier: Tier | None
    score: Decimal | None
    reasons: list[Reason]
    policy_version: int | None
    evaluated_at: dt.datetime | None
    override: OverrideRead | None
