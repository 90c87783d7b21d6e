import datetime as dt
import uuid
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

Area = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]


class InfluenceBreakdown(BaseModel):
    reuse_other_teams: Annotated[int, Field(description="Uses of your resources by other teams of your organisation.")]
    reuse_other_organizations: Annotated[int, Field(description="Uses by people in other organisations of the group.")]
    introductions_completed: int
    wins_contributed: Annotated[int, Field(description="Won opportunities your resources or support contributed to.")]
    organizations_reached: Annotated[int, Field(description="Other organisations whose people you helped.")]


class Influence(BaseModel):
    employee_id: uuid.UUID
    score: float
    breakdown: InfluenceBreakdown
    points: Annotated[dict[str, float], Field(description="How much each part of the breakdown adds to the score.")]
    rating_avg: float | None


class ProfileWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    public: Annotated[bool, Field(description="Opt in: let everyone in the group see this profile and your figures.")]
    headline: Annotated[str, StringConstraints(max_length=200, strip_whitespace=True)] = ""
    expertise_areas: Annotated[list[Area], Field(max_length=20), AfterValidator(lambda v: list(dict.fromkeys(v)))] = []


class SharedAsset(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    type: str
    title: str
    usage_count: int
    rating_avg: float | None


class ProfileRead(BaseModel):
    employee_id: uuid.UUID
    org_unit_path: str
    public: bool
    headline: str
    expertise_areas: list[str]
    shared_assets: list[SharedAsset]
    influence: Influence
    published_at: dt.datetime | None
    version: int
