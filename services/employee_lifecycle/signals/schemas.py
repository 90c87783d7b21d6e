import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from sanlun.kernel.types import Money
from services.employee_lifecycle.signals.models import KINDS

Ref = Annotated[str, StringConstraints(min_length=1, max_length=200)]
_EMPLOYEE = "3c9a1f2e-7d4b-4a6c-8e5f-2b1d0c9e8f7a"
_VETERAN = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"


class FactWrite(BaseModel):
    """A historical fact. `kind`: opportunity_open (owner holds it from
    `occurred_on`), opportunity_released, opportunity_won, opportunity_lost,
    opportunity_closed, coverage (from `occurred_on` to `ends_on`),
    resource_reused (the owner's resource used by someone else),
    introduction_made (the connector introduced someone)."""

    model_config = ConfigDict(extra="forbid")

    external_id: Ref = Field(description="Your id for the fact; sending it again has no second effect.")
    kind: Literal[KINDS]  # type: ignore[valid-type]
    employee_id: uuid.UUID
    occurred_on: dt.date
    ends_on: dt.date | None = None
    opportunity_ref: Ref | None = None
    account_ref: Ref | None = None
    amount: Money | None = None
    solution_refs: Annotated[list[Ref], Field(max_length=50)] = []
    cross_org: bool = False
    outcome: Annotated[str | None, StringConstraints(max_length=40)] = None


class BackfillWrite(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "facts": [
                        {
                            "external_id": "maven-opp-1C1I7A6R-open",
                            "kind": "opportunity_open",
                            "employee_id": _VETERAN,
                            "occurred_on": "2016-10-20",
                            "opportunity_ref": "1C1I7A6R",
                            "account_ref": "Cancity",
                            "amount": {"amount": "1054.00", "currency": "USD"},
                            "solution_refs": ["GTX Plus Basic"],
                        },
                        {
                            "external_id": "maven-opp-1C1I7A6R-won",
                            "kind": "opportunity_won",
                            "employee_id": _VETERAN,
                            "occurred_on": "2017-03-01",
                            "opportunity_ref": "1C1I7A6R",
                            "account_ref": "Cancity",
                            "amount": {"amount": "1054.00", "currency": "USD"},
                            "solution_refs": ["GTX Plus Basic"],
                        },
                        {
                            "external_id": "coverage-cancity-2016",
                            "kind": "coverage",
                            "employee_id": _VETERAN,
                            "occurred_on": "2016-01-01",
                            "ends_on": "2017-12-31",
                            "account_ref": "Cancity",
                        },
                    ]
                }
            ]
        },
    )

    facts: Annotated[list[FactWrite], Field(min_length=1, max_length=2000)]


class BackfillResult(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"received": 3, "inserted": 2, "duplicates": 1}]})

    received: int
    inserted: int
    duplicates: int = Field(description="Facts whose external_id was already known (skipped).")


class SignalsRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "employee_id": _EMPLOYEE,
                    "as_of": "2026-11-26",
                    "currency": "CNY",
                    "signals": {
                        "tenure_months": 7,
                        "wins_12m": 3,
                        "win_rate_12m": 0.375,
                        "revenue_12m": 486000.0,
                        "quota_attainment_4q": 0.62,
                        "quarters_at_quota": 1,
                        "stable_accounts": 1,
                        "open_pipeline_count": 6,
                        "open_pipeline_value": 1320000.0,
                        "solution_breadth": 2,
                        "influence_score": 0.0,
                    },
                }
            ]
        }
    )

    employee_id: uuid.UUID
    as_of: dt.date
    currency: str = Field(description="Revenue and pipeline value count deals in this currency (the policy's).")
    signals: dict[str, float | None] = Field(description="null = unknown (e.g. quota attainment without quotas).")
