import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sanlun.kernel.types import OrgUnitPath

Role = Literal["account_owner", "solution_consultant", "delivery", "executive_sponsor", "partner", "overlay"]


class MemberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    employee_id: uuid.UUID
    org_unit_path: OrgUnitPath = Field(description="The member's own org unit (their managers see the account).")
    role: Role
    valid_from: dt.date | None = Field(None, description="Omitted: today.")
    valid_to: dt.date | None = Field(None, description="Last day on the team; null: open-ended.")

    @model_validator(mode="after")
    def _ordered(self) -> "MemberCreate":
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self


class MemberUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None


class MemberRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    employee_id: uuid.UUID
    org_unit_path: str
    role: Role
    valid_from: dt.date
    valid_to: dt.date | None
    version: int


class ViolationRead(BaseModel):
    code: str
    message: str


class CoverageRead(BaseModel):
    account_id: uuid.UUID
    as_of: dt.date
    tier: str | None
    version: int = Field(description="Coverage version, as carried by `account.coverage_changed`.")
    members: list[MemberRead] = Field(description="Members valid on `as_of`.")
    violations: list[ViolationRead] = Field(description="What the team lacks for the account's tier.")


class AccountViolations(BaseModel):
    account_id: uuid.UUID
    name: str
    tier: str
    org_unit_path: str
    owners: int
    solution_members: int
    violations: list[ViolationRead]
