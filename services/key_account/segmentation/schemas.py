import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from sanlun.kernel.types import OrgUnitPath

Factor = Literal["revenue", "potential", "strategic_value", "relationship", "solution_fit"]
Tier = Literal["strategic", "key", "growth", "transactional"]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Amount = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)]


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
    org_path: OrgUnitPath | None = Field(
        None, description="Organisation the policy applies to (`/` for the whole group). Omitted: yours."
    )


class PolicyRead(PolicyBody):
    org_path: str | None = Field(description="Where the policy is stored; null for the shipped default.")
    version: int


class TierOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")

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
    tier: Tier
    computed_tier: Tier | None
    score: Decimal | None
    reasons: list[Reason]
    policy_version: int | None
    evaluated_at: dt.datetime | None
    override: OverrideRead | None
