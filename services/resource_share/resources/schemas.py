import datetime as dt
import uuid
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from services.resource_share.resources.models import ResourceType, Scope

OrgUnitPath = Annotated[
    str,
    StringConstraints(pattern=r"^(/[A-Za-z0-9][A-Za-z0-9_.\-]*)+$", max_length=500),
    Field(description="Materialised org unit path, e.g. `/group/east/team-3`.", examples=["/group/east/team-3"]),
]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]


def _unique(tags: list[str]) -> list[str]:
    # A repeated tag would only bloat the GIN index; keep the first spelling.
    return list(dict.fromkeys(tags))


Tags = Annotated[list[Tag], Field(max_length=30), AfterValidator(_unique)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Summary = Annotated[str, StringConstraints(max_length=4000, strip_whitespace=True)]


class ResourceCreate(BaseModel):
    """The owner and their org unit come from the caller's token."""

    model_config = ConfigDict(extra="forbid")

    type: ResourceType
    title: Title
    summary: Summary = ""
    scope: Annotated[Scope, Field(description="Who may see the resource besides its owner.")] = Scope.TEAM
    industries: Annotated[Tags, Field(description="Industries the resource applies to.")] = []
    solutions: Annotated[Tags, Field(description="Solutions the resource is about.")] = []


class ResourceUpdate(BaseModel):
    """Fields to change; absent fields stay as they are. The type is fixed at creation."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    summary: Summary | None = None
    scope: Scope | None = None
    industries: Tags | None = None
    solutions: Tags | None = None


class ResourceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    type: ResourceType
    title: str
    summary: str
    owner_id: uuid.UUID
    org_unit_path: str
    scope: Scope
    industries: list[str]
    solutions: list[str]
    usage_count: Annotated[int, Field(description="How often others have used the resource.")]
    rating_avg: Annotated[float | None, Field(description="Average rating (1-5); null until rated.")]
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
