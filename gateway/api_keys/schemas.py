import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from sanlun.kernel.types import OrgUnitPath

KeyRole = Literal["integrator", "manager", "org_admin", "group_admin"]
KeyStatus = Literal["active", "revoked", "expired"]

EXAMPLE_READ = {
    "id": "5f0c8f4e-8d0a-4a59-9d53-6f1f4c8e2b10",
    "name": "ERP sync (east)",
    "prefix": "snl_Q2x9vT0a",
    "roles": ["integrator"],
    "org_unit_path": "/group/east",
    "created_by": "0b7c1d9e-3f3a-4d8e-9a55-1e2f3a4b5c6d",
    "created_at": "2026-11-28T09:30:00Z",
    "expires_at": None,
    "rate_limit_per_second": 20.0,
    "revoked_at": None,
    "revoked_by": None,
    "status": "active",
    "version": 1,
}


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "ERP sync (east)", "roles": ["integrator"], "org_unit_path": "/group/east"}]
        },
    )

    name: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)] = Field(
        description="What the key is for, e.g. the integration's name."
    )
    roles: list[KeyRole] = Field(
        default=["integrator"],
        min_length=1,
        max_length=4,
        description="Roles of the key's service principal; never more than the creator holds (`integrator` excepted).",
    )
    org_unit_path: OrgUnitPath = Field(description="The org unit the key acts for; within the creator's organisation.")
    expires_at: dt.datetime | None = Field(None, description="After this the key stops working; null: until revoked.")
    rate_limit_per_second: float | None = Field(
        None, gt=0, le=10_000, description="This key's refill rate; null: the gateway's default."
    )


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [EXAMPLE_READ]})

    id: uuid.UUID
    name: str
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    roles: list[str]
    org_unit_path: str
    created_by: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    rate_limit_per_second: float | None
    revoked_at: dt.datetime | None
    revoked_by: str | None
    status: KeyStatus
    version: int


class ApiKeyCreated(ApiKeyRead):
    model_config = ConfigDict(json_schema_extra={"examples": [{**EXAMPLE_READ, "key": "snl_Q2x9vT0a…(43 characters)"}]})

    key: str = Field(description="The key itself. Shown only in this answer: store it now; Sanlun keeps only its hash.")
