import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Slug = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=100)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class OrgUnitCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: Slug = Field(description="The unit's path segment, e.g. `team-3`.")
    name: Name
    parent_id: uuid.UUID | None = Field(None, description="null only for the group's root unit.")
    external_id: ExternalId | None = None


class OrgUnitUpdate(BaseModel):
    """Rename, or move under another parent: the paths of every unit and
    employee below follow in the same transaction."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    slug: Slug | None = None
    parent_id: uuid.UUID | None = None


class OrgUnitRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    external_id: str | None
    parent_id: uuid.UUID | None
    slug: str
    name: str
    path: str
    depth: int
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class OrgUnitImport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: ExternalId
    slug: Slug
    name: Name
    parent_external_id: ExternalId | None = None


class OrgUnitBulk(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: Annotated[list[dict[str, object]], Field(min_length=1, max_length=1000)] = Field(
        description="OrgUnitImport rows; each is checked on its own and reported."
    )


class RowReport(BaseModel):
    index: int
    external_id: str | None
    status: Literal["created", "updated", "unchanged", "rejected"]
    id: uuid.UUID | None = None
    errors: list[dict[str, object]] = []


class BulkReport(BaseModel):
    created: int
    updated: int
    unchanged: int
    rejected: int
    rows: list[RowReport]
