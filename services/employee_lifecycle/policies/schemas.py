import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from sanlun.kernel.types import OrgUnitPath
from services.employee_lifecycle.domain.catalog import StageCode

RuleId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_\-]*$", max_length=60)]

_RULES: list[dict[str, Any]] = [
    {
        "id": "l3_quota_mastery",
        "stage": "L3_AFFLUENT",
        "conditions": [
            {"signal": "quota_attainment_4q", "op": ">=", "value": 1.0},
            {"signal": "quarters_at_quota", "op": ">=", "value": 3},
            {"signal": "stable_accounts", "op": ">=", "value": 5},
        ],
    },
    {
        "id": "l3_group_influence",
        "stage": "L3_AFFLUENT",
        "conditions": [
            {"signal": "stable_accounts", "op": ">=", "value": 8},
            {"signal": "influence_score", "op": ">=", "value": 30},
        ],
    },
    {
        "id": "l2_quota_comfortable",
        "stage": "L2_COMFORTABLE",
        "conditions": [
            {"signal": "quota_attainment_4q", "op": ">=", "value": 0.8},
            {"signal": "stable_accounts", "op": ">=", "value": 2},
        ],
    },
    {
        "id": "l2_repeat_business",
        "stage": "L2_COMFORTABLE",
        "conditions": [
            {"signal": "stable_accounts", "op": ">=", "value": 3},
            {"signal": "wins_12m", "op": ">=", "value": 5},
        ],
    },
]
_WRITE: dict[str, Any] = {
    "organization_path": "/group/east",
    "name": "East China 2027",
    "currency": "CNY",
    "hysteresis": 2,
    "confirm_after_days": 14,
    "rules": _RULES,
    "needs": {
        "few_wins_12m": 4,
        "few_open_opportunities": 3,
        "narrow_solutions": 2,
        "new_in_sales_months": 9,
        "low_win_rate": 0.4,
        "some_influence": 15,
    },
}


class ConditionWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signal: Annotated[str, StringConstraints(min_length=1, max_length=60)] = Field(
        description="One of: tenure_months, wins_12m, win_rate_12m, revenue_12m, quota_attainment_4q, "
        "quarters_at_quota, stable_accounts, open_pipeline_count, open_pipeline_value, "
        "solution_breadth, influence_score."
    )
    op: Literal[">=", ">", "<=", "<"]
    value: float = Field(description="Threshold; rates are fractions (0.6 = 60%).")


class RuleWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: RuleId
    stage: StageCode
    conditions: Annotated[list[ConditionWrite], Field(min_length=1, max_length=10)]


class NeedsWrite(BaseModel):
    """When an evaluation names a need (it selects help, it is not a rating)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "few_wins_12m": 6,
                    "few_open_opportunities": 3,
                    "narrow_solutions": 2,
                    "new_in_sales_months": 12,
                    "low_win_rate": 0.5,
                    "some_influence": 10,
                }
            ]
        },
    )

    few_wins_12m: float = Field(6, ge=0, description="`lacks_deals` below this many wins over 12 months...")
    few_open_opportunities: float = Field(3, ge=0, description="... or below this many open opportunities.")
    narrow_solutions: float = Field(2, ge=0, description="`lacks_solution_knowledge` below this many solutions sold.")
    new_in_sales_months: float = Field(12, ge=0, description="`lacks_support` (L1 only) below this tenure in months...")
    low_win_rate: float = Field(0.5, ge=0, le=1, description="... or below this win rate (a fraction).")
    some_influence: float = Field(10, ge=0, description="`wants_influence` from this influence score (always at L3).")


class PolicyWrite(BaseModel):
    """A new version of an organisation's policy. Rules of a stage: any met
    rule reaches it; a rule is all of its conditions. L3 is tried, then L2;
    everyone else is L1."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_WRITE]})

    organization_path: OrgUnitPath | None = Field(
        None, description="The organisation (`/group/east`) or the whole group (`/group`); default yours."
    )
    name: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(
        "CNY", description="Revenue and pipeline value count deals in this currency."
    )
    hysteresis: int = Field(
        2,
        ge=1,
        le=12,
        description="At least this many scheduled evaluations, on distinct days, must compute a new stage "
        "before it is confirmed.",
    )
    confirm_after_days: int = Field(
        14,
        ge=0,
        le=365,
        description="A new stage is confirmed only after it has held this many days across scheduled "
        "evaluations; until then it is provisional.",
    )
    rules: Annotated[list[RuleWrite], Field(min_length=2, max_length=50)]
    needs: NeedsWrite = Field(default_factory=NeedsWrite, description="Omitted: the shipped thresholds.")


class PolicyRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "6e7f8091-a2b3-4c4d-8e5f-6a7b8c9d0e1f",
                    **_WRITE,
                    "version": 3,
                    "created_by": "0b7c1d9e-3f3a-4d8e-9a55-1e2f3a4b5c6d",
                    "created_at": "2026-11-02T02:00:00Z",
                }
            ]
        }
    )

    id: uuid.UUID | None = Field(description="null for the shipped default.")
    organization_path: str
    version: int
    name: str
    currency: str
    hysteresis: int
    confirm_after_days: int
    rules: list[dict[str, Any]]
    needs: dict[str, float] = Field(description="The thresholds behind the needs an evaluation names.")
    created_by: str | None
    created_at: dt.datetime | None
