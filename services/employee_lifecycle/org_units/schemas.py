import datetime as dt
import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from sanlun.kernel.bulk import BulkUpsertRequest

Slug = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=100)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=200)]

_EAST = "5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f"


class OrgUnitCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "slug": "team-3",
                    "name": "East China - Team 3 (Hangzhou)",
                    "parent_id": _EAST,
                    "external_id": "HR-OU-0307",
                },
            ]
        },
    )

    slug: Slug = Field(description="The unit's path segment, e.g. `team-3`.")
    name: Name
    parent_id: uuid.UUID | None = Field(None, description="null only for the group's root unit.")
    external_id: ExternalId | None = None


class OrgUnitUpdate(BaseModel):
    """Rename, or move under another parent: the paths of every unit and
    employee below follow in the same transaction."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "East China - Team 3 (Hangzhou & Ningbo)"},
                {"slug": "team-hz", "parent_id": _EAST},
            ]
        },
    )

    name: Name | None = None
    slug: Slug | None = None
    parent_id: uuid.UUID | None = None


class OrgUnitRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
                    "external_id": "HR-OU-0307",
                    "parent_id": _EAST,
                    "slug": "team-3",
                    "name": "East China - Team 3 (Hangzhou)",
                    "path": "/group/east/team-3",
                    "depth": 2,
                    "created_at": "2026-01-05T02:00:00Z",
                    "updated_at": "2026-06-18T09:12:44Z",
                    "version": 2,
                }
            ]
        },
    )

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
    """One row of a bulk upsert, matched by `external_id`; the parent by its external id."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "external_id": "HR-OU-0307",
                    "slug": "team-3",
                    "name": "East China - Team 3 (Hangzhou)",
                    "parent_external_id": "HR-OU-0300",
                },
            ]
        },
    )

    external_id: ExternalId
    slug: Slug
    name: Name
    parent_external_id: ExternalId | None = None


class OrgUnitBulkUpsert(BulkUpsertRequest[OrgUnitImport]):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {"external_id": "HR-OU-0001", "slug": "group", "name": "Sanlun Group"},
                        {
                            "external_id": "HR-OU-0300",
                            "slug": "east",
                            "name": "East China",
                            "parent_external_id": "HR-OU-0001",
                        },
                        {
                            "external_id": "HR-OU-0307",
                            "slug": "team-3",
                            "name": "East China - Team 3 (Hangzhou)",
                            "parent_external_id": "HR-OU-0300",
                        },
                    ],
                    "dry_run": False,
                }
            ]
        },
    )
