import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sanlun.kernel.types import OrgUnitPath

Role = Literal["account_owner", "solution_consultant", "delivery", "executive_sponsor", "partner", "overlay"]

_ACCOUNT = "6f1c2a9e-4b7d-4e21-9c3a-1d2e3f4a5b6c"
_OWNER = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
_CONSULTANT = "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b"
_CONSULTANT_MEMBER: dict[str, Any] = {
    "id": "cd34ef56-a789-4b0c-8d1e-f2a3b4c5d6e7",
    "employee_id": _CONSULTANT,
    "org_unit_path": "/group/east/presales",
    "role": "solution_consultant",
    "valid_from": "2026-01-01",
    "valid_to": "2026-12-31",
    "version": 2,
}
_OWNER_MEMBER: dict[str, Any] = {
    "id": "de45fa67-b890-4c1d-9e2f-a3b4c5d6e7f8",
    "employee_id": _OWNER,
    "org_unit_path": "/group/east/team-3",
    "role": "account_owner",
    "valid_from": "2025-07-01",
    "valid_to": "2027-06-30",
    "version": 1,
}


class MemberCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "employee_id": _CONSULTANT,
                    "org_unit_path": "/group/east/presales",
                    "role": "solution_consultant",
                    "valid_from": "2026-01-01",
                    "valid_to": "2026-12-31",
                }
            ]
        },
    )

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
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"valid_to": "2027-06-30"}]})

    role: Role | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None


class MemberRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_CONSULTANT_MEMBER]})

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account_id": _ACCOUNT,
                    "as_of": "2026-11-27",
                    "tier": "strategic",
                    "version": 5,
                    "members": [_OWNER_MEMBER, _CONSULTANT_MEMBER],
                    "violations": [],
                },
                {
                    "account_id": _ACCOUNT,
                    "as_of": "2027-01-15",
                    "tier": "strategic",
                    "version": 5,
                    "members": [_OWNER_MEMBER],
                    "violations": [
                        {
                            "code": "no_solution_role",
                            "message": "a strategic account needs a solution consultant on its team",
                        },
                    ],
                },
            ]
        }
    )

    account_id: uuid.UUID
    as_of: dt.date
    tier: str | None
    version: int = Field(description="Coverage version, as carried by `account.coverage_changed`.")
    members: list[MemberRead] = Field(description="Members valid on `as_of`.")
    violations: list[ViolationRead] = Field(description="What the team lacks for the account's tier.")


class SuggestedMember(BaseModel):
    employee_id: uuid.UUID
    deals: int = Field(description="Deals on the account this employee owns.")
    open_deals: int = Field(description="Of those, the ones known to be open.")


class AccountViolations(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account_id": "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
                    "name": "Ningbo Port Group",
                    "tier": "key",
                    "org_unit_path": "/group/east",
                    "owners": 0,
                    "solution_members": 1,
                    "violations": [
                        {"code": "no_account_owner", "message": "a key account needs one account owner; it has none"}
                    ],
                    "suggested_members": [
                        {"employee_id": "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "deals": 4, "open_deals": 1}
                    ],
                }
            ]
        }
    )

    account_id: uuid.UUID
    name: str
    tier: str
    org_unit_path: str
    owners: int
    solution_members: int
    violations: list[ViolationRead]
    suggested_members: list[SuggestedMember] = Field(
        default_factory=list,
        description="Owners of deals on the account who are not on its team, most deals first: "
        "who could cover it (coverage stays explicit: add them as members).",
    )
