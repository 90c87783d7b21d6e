import datetime as dt
import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

OrgUnitPath = Annotated[
    str,
    StringConstraints(pattern=r"^(/[A-Za-z0-9][A-Za-z0-9_.\-]*)+$", max_length=500),
    Field(description="Materialised org unit path, e.g. `/group/east/team-3`.", examples=["/group/east/team-3"]),
]
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
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
