import datetime as dt
import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from sanlun.kernel.bulk import BulkUpsertRequest
from sanlun.kernel.types import OrgUnitPath

Tag = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Tags = Annotated[list[Tag], Field(max_length=50)]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320, to_lower=True)]

_CREATE = {
    "name": "Li Wei",
    "email": "li.wei@sanlun-demo.cn",
    "org_unit_path": "/group/east/team-3",
    "manager_id": "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f",
    "hire_date": "2026-03-01",
    "entered_sales_on": "2026-04-01",
    "capacity": 20,
    "external_id": "HR-E-10482",
    "skills": ["storage", "warehouse management"],
    "industries": ["logistics", "retail"],
    "regions": ["zhejiang"],
}
EXAMPLE = {
    "id": "3c9a1f2e-7d4b-4a6c-8e5f-2b1d0c9e8f7a",
    **_CREATE,
    "active": True,
    "created_at": "2026-03-01T01:00:00Z",
    "updated_at": "2026-09-14T06:31:10Z",
    "version": 3,
}


class EmployeeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_CREATE]})

    name: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    email: Email
    org_unit_path: OrgUnitPath
    manager_id: uuid.UUID | None = None
    hire_date: dt.date | None = None
    entered_sales_on: dt.date | None = None
    capacity: Annotated[int, Field(ge=0, le=1000, description="Most open opportunities this person can carry.")] = 20
    active: bool = True
    external_id: Annotated[str | None, StringConstraints(min_length=1, max_length=200)] = None
    skills: Tags = []
    industries: Tags = []
    regions: Tags = []


class EmployeeUpdate(BaseModel):
    """Fields to change; absent fields stay as they are."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "org_unit_path": "/group/east/team-1",
                    "capacity": 25,
                    "skills": ["storage", "warehouse management", "edge computing"],
                },
                {"active": False},
            ]
        },
    )

    name: Annotated[str | None, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)] = None
    email: Email | None = None
    org_unit_path: OrgUnitPath | None = None
    manager_id: uuid.UUID | None = None
    hire_date: dt.date | None = None
    entered_sales_on: dt.date | None = None
    capacity: Annotated[int | None, Field(ge=0, le=1000)] = None
    active: bool | None = None
    skills: Tags | None = None
    industries: Tags | None = None
    regions: Tags | None = None


class EmployeeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [EXAMPLE]})

    id: uuid.UUID
    external_id: str | None
    name: str
    email: str
    org_unit_path: str
    manager_id: uuid.UUID | None
    hire_date: dt.date | None
    entered_sales_on: dt.date | None
    capacity: int
    active: bool
    skills: list[str]
    industries: list[str]
    regions: list[str]
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class EmployeeImport(BaseModel):
    """One row of a bulk import, matched by `external_id`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "external_id": "HR-E-10482",
                    "name": "Li Wei",
                    "email": "li.wei@sanlun-demo.cn",
                    "org_unit_path": "/group/east/team-3",
                    "manager_external_id": "HR-E-10001",
                    "hire_date": "2026-03-01",
                    "entered_sales_on": "2026-04-01",
                    "skills": ["storage"],
                    "industries": ["logistics"],
                    "regions": ["zhejiang"],
                }
            ]
        },
    )

    external_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    name: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    email: Email
    org_unit_path: OrgUnitPath
    manager_external_id: Annotated[str | None, StringConstraints(min_length=1, max_length=200)] = None
    hire_date: dt.date | None = None
    entered_sales_on: dt.date | None = None
    capacity: Annotated[int, Field(ge=0, le=1000)] = 20
    active: bool = True
    skills: Tags = []
    industries: Tags = []
    regions: Tags = []


class EmployeeBulkUpsert(BulkUpsertRequest[EmployeeImport]):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "external_id": "HR-E-10001",
                            "name": "Chen Jie",
                            "email": "chen.jie@sanlun-demo.cn",
                            "org_unit_path": "/group/east",
                            "hire_date": "2014-07-01",
                            "entered_sales_on": "2014-07-01",
                            "capacity": 10,
                        },
                        {
                            "external_id": "HR-E-10482",
                            "name": "Li Wei",
                            "email": "li.wei@sanlun-demo.cn",
                            "org_unit_path": "/group/east/team-3",
                            "manager_external_id": "HR-E-10001",
                            "hire_date": "2026-03-01",
                            "entered_sales_on": "2026-04-01",
                            "skills": ["storage"],
                            "industries": ["logistics"],
                            "regions": ["zhejiang"],
                        },
                    ],
                    "dry_run": False,
                }
            ]
        },
    )
