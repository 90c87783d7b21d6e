import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from sanlun.kernel.types import Money
from services.employee_lifecycle.signals.models import KINDS

Ref = Annotated[str, StringConstraints(min_length=1, max_length=200)]


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
    model_config = ConfigDict(extra="forbid")

    facts: Annotated[list[FactWrite], Field(min_length=1, max_length=2000)]


class BackfillResult(BaseModel):
    received: int
    inserted: int
    duplicates: int = Field(description="Facts whose external_id was already known (skipped).")


class SignalsRead(BaseModel):
    employee_id: uuid.UUID
    as_of: dt.date
    currency: str = Field(description="Revenue and pipeline value count deals in this currency (the policy's).")
    signals: dict[str, float | None] = Field(description="null = unknown (e.g. quota attainment without quotas).")
