import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.key_account.segmentation.schemas import SegmentationRead
from sanlun.kernel.types import Money, OrgUnitPath

__all__ = ["Money", "OrgUnitPath"]

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Industry = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Headquarters = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Headcount = Annotated[int, Field(ge=0, le=100_000_000, description="Number of employees of the customer.")]
Assessment = Annotated[int, Field(ge=0, le=100, description="An account manager's assessment, 0-100.")]


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    industry: Industry | None = None
    annual_revenue: Money | None = None
    employees: Headcount | None = None
    headquarters: Headquarters | None = None
    parent_id: uuid.UUID | None = Field(None, description="Parent account in the subsidiary hierarchy.")
    owner_id: uuid.UUID | None = Field(
        None, description="Employee who owns the account. Omitted: you; `null`: nobody."
    )
    org_unit_path: OrgUnitPath | None = Field(None, description="Owning org unit. Omitted: yours.")
    external_id: ExternalId | None = None
    potential: Assessment | None = None
    strategic_value: Assessment | None = None
    solution_fit: Assessment | None = None


class AccountUpdate(BaseModel):
    """Fields to change; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    industry: Industry | None = None
    annual_revenue: Money | None = None
    employees: Headcount | None = None
    headquarters: Headquarters | None = None
    parent_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    org_unit_path: OrgUnitPath | None = None
    external_id: ExternalId | None = None
    potential: Assessment | None = None
    strategic_value: Assessment | None = None
    solution_fit: Assessment | None = None


class AccountRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    external_id: str | None
    name: str
    industry: str | None
    annual_revenue: Money | None
    employees: int | None
    headquarters: str | None
    parent_id: uuid.UUID | None
    owner_id: uuid.UUID | None
    org_unit_path: str
    potential: int | None
    strategic_value: int | None
    solution_fit: int | None
    tier: str | None = Field(description="Effective tier: the override when there is one, else the policy's.")
    segmentation: SegmentationRead | None = Field(description="Score, reasons and override behind the tier.")
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class BulkUpsert(BaseModel):
    """Rows are checked one by one so a bad value fails its row, not the batch."""

    model_config = ConfigDict(extra="forbid")

    rows: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=1000,
        description=(
            "Accounts keyed by `external_id`: name, industry, annual_revenue, employees, headquarters, "
            "parent_external_id, owner_id, org_unit_path, potential, strategic_value, solution_fit."
        ),
    )
    dry_run: bool = Field(False, description="Check and report without writing.")


class RowProblem(BaseModel):
    loc: list[str | int]
    msg: str
    code: str


class RowReport(BaseModel):
    index: int
    external_id: str | None
    status: str = Field(description="`created`, `updated`, `failed`, or `valid` on a dry run.")
    account_id: uuid.UUID | None = None
    parent_id: uuid.UUID | None = None
    tier: str | None = None
    tier_score: Decimal | None = None
    tier_reasons: list[dict[str, Any]] = []
    errors: list[RowProblem] = []
    warnings: list[RowProblem] = []


class BulkReport(BaseModel):
    created: int
    updated: int
    failed: int
    normalised: int = Field(description="Rows with a value normalised (e.g. a misspelt sector).")
    dry_run: bool
    rows: list[RowReport]
