import datetime as dt
import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sanlun.kernel.types import OrgUnitPath

Tag = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Tags = Annotated[list[Tag], Field(max_length=50)]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320, to_lower=True)]


class EmployeeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

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

    model_config = ConfigDict(extra="forbid")

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
    model_config = ConfigDict(from_attributes=True)

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

    model_config = ConfigDict(extra="forbid")

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


class EmployeeBulk(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: Annotated[list[dict[str, object]], Field(min_length=1, max_length=1000)] = Field(
        description="EmployeeImport rows; each is checked on its own and reported."
    )
