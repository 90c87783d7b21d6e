import datetime as dt
import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from sanlun.kernel.bulk import BulkUpsertRequest
from sanlun.kernel.types import Money, OrgUnitPath

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Family = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Industry = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
SizeBand = Annotated[str, StringConstraints(min_length=1, max_length=50, strip_whitespace=True)]
Industries = Annotated[list[Industry], Field(max_length=50, description="Industries this solution fits.")]
SizeBands = Annotated[list[SizeBand], Field(max_length=20, description="Customer size bands it fits, e.g. `smb`.")]
PresalesSupportUsual = Annotated[bool, Field(description="Whether deals with it usually need pre-sales support.")]

_CREATE = {
    "name": "GTX Pro storage array",
    "family": "storage",
    "industries": ["logistics", "retail", "manufacturing"],
    "size_bands": ["mid", "large"],
    "list_price": {"amount": "250000.00", "currency": "CNY"},
    "presales_support_usual": True,
}


Organisation = Annotated[
    OrgUnitPath | None,
    Field(
        description=(
            "Whose catalogue: an organisation (`/group/east`; a deeper path means its organisation) or the group "
            "root (`/group`) for the group-wide entries. Omitted: yours. Only a group admin names another."
        ),
    ),
]


class SolutionFields(BaseModel):
    """What a solution says, whether added one by one or imported."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    family: Family | None = None
    industries: Industries = []
    size_bands: SizeBands = []
    list_price: Money | None = None
    presales_support_usual: PresalesSupportUsual = False
    active: bool = True


class SolutionCreate(SolutionFields):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_CREATE]})

    organization_path: Organisation = None


class SolutionUpdate(BaseModel):
    """Fields to change; absent fields stay as they are."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "list_price": {"amount": "268000.00", "currency": "CNY"},
                    "industries": ["logistics", "retail", "manufacturing", "healthcare"],
                },
                {"active": False},
            ]
        },
    )

    name: Name | None = None
    family: Family | None = None
    industries: Industries | None = None
    size_bands: SizeBands | None = None
    list_price: Money | None = None
    presales_support_usual: PresalesSupportUsual | None = None
    active: bool | None = None


class SolutionRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "8e7d6c5b-4a39-4281-9f0e-1d2c3b4a5968",
                    "organization_path": "/group/east",
                    "external_id": "GTX Pro storage array",
                    **_CREATE,
                    "active": True,
                    "created_at": "2026-03-02T01:20:00Z",
                    "updated_at": "2026-10-15T08:45:31Z",
                    "version": 3,
                }
            ]
        },
    )

    id: uuid.UUID
    organization_path: str = Field(description="Whose catalogue it is: an organisation, or the group root.")
    external_id: str | None = Field(description="Its import key in that catalogue (bulk upserts).")
    name: str
    family: str | None
    industries: list[str]
    size_bands: list[str]
    list_price: Money | None
    presales_support_usual: bool
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class SolutionImport(SolutionFields):
    """One row of a bulk upsert, keyed by `external_id` within the organisation's
    catalogue: the solution's name, or a key of the source's own."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"external_id": "GTX Pro storage array", **_CREATE}]}
    )

    external_id: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]


class SolutionBulkUpsert(BulkUpsertRequest[SolutionImport]):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "items": [{"external_id": "GTX Pro storage array", **_CREATE}],
                    "organization_path": "/group/east",
                    "dry_run": False,
                    "source": "maven-crm",
                }
            ]
        },
    )

    organization_path: Organisation = None
