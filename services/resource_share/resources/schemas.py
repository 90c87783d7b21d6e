import datetime as dt
import uuid
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from services.resource_share.resources.models import Disclosure, ResourceType, Scope

Tag = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]


def _unique(tags: list[str]) -> list[str]:
    # A repeated tag would only bloat the GIN index; keep the first spelling.
    return list(dict.fromkeys(tags))


Tags = Annotated[list[Tag], Field(max_length=30), AfterValidator(_unique)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Summary = Annotated[str, StringConstraints(max_length=4000, strip_whitespace=True)]


SharedValue = Annotated[str, StringConstraints(max_length=500)]
SharedKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Shared = Annotated[
    dict[SharedKey, SharedValue],
    Field(
        max_length=20,
        description=(
            "The contact fields the owner chooses to share (e.g. `title`, `business_unit`); "
            "nothing else is ever exposed."
        ),
    ),
]
Strength = Annotated[int, Field(ge=0, le=100, description="How strong the owner's tie to the contact is (0-100).")]
_CIO = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
_ACCOUNT = "6f1c2a9e-4b7d-4e21-9c3a-1d2e3f4a5b6c"
_OWNER = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
_RELATIONSHIP_CREATE: dict[str, Any] = {
    "contact_id": _CIO,
    "account_id": _ACCOUNT,
    "strength": 85,
    "disclosure": "identity",
    "shared": {"title": "Chief Information Officer", "business_unit": "Information Technology"},
    "consent_given_on": "2026-11-20",
    "consent_expires_on": "2028-11-19",
}
_CASE_CREATE: dict[str, Any] = {
    "type": "reference_case",
    "title": "Ningbo Port Group: GTX Pro storage for 3 container yards",
    "summary": "Two legacy SANs replaced in 8 weeks; order picking 40% faster. The customer takes reference calls.",
    "scope": "group",
    "industries": ["logistics"],
    "solutions": ["GTX Pro storage array"],
}
_RELATIONSHIP_RESOURCE_CREATE: dict[str, Any] = {
    "type": "relationship",
    "title": "CIO of Zhejiang Sunrise Logistics",
    "summary": "Worked with her on three storage projects since 2021; open to talking about warehouse automation.",
    "scope": "group",
    "industries": ["logistics"],
    "relationship": _RELATIONSHIP_CREATE,
}
_READ_FIELDS: dict[str, Any] = {
    "owner_id": _OWNER,
    "org_unit_path": "/group/east/team-1",
    "usage_count": 14,
    "rating_avg": 4.6,
    "rating_count": 9,
    "created_at": "2026-05-12T03:20:00Z",
    "updated_at": "2026-11-21T06:02:33Z",
    "version": 4,
}
EXAMPLE: dict[str, Any] = {"id": "e5b2a134-c567-4d8e-8f9a-b0c1d2e3f4a5", **_CASE_CREATE, **_READ_FIELDS}

RELATIONSHIP_FIELDS = (
    "contact_id",
    "account_id",
    "strength",
    "disclosure",
    "shared",
    "consent_given_on",
    "consent_expires_on",
)


class RelationshipCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_RELATIONSHIP_CREATE]})

    contact_id: Annotated[uuid.UUID, Field(description="The contact's id (key accounts).")]
    account_id: Annotated[uuid.UUID | None, Field(description="The contact's account (key accounts).")] = None
    strength: Strength
    disclosure: Annotated[
        Disclosure, Field(description="How much of you others see: your identity, only your organisation, or nothing.")
    ] = Disclosure.IDENTITY
    shared: Shared = {}
    consent_given_on: Annotated[dt.date, Field(description="When the contact agreed to be introduced.")]
    consent_expires_on: Annotated[
        dt.date, Field(description="After this day the relationship is hidden from everyone but you.")
    ]

    @field_validator("consent_expires_on")
    @classmethod
    def _consent_in_order(cls, value: dt.date, info: ValidationInfo) -> dt.date:
        given = info.data.get("consent_given_on")
        if given is not None and value < given:
            raise ValueError("must not be before consent_given_on")
        # Whether it is already past is judged by the service, on the business clock's day.
        return value


class RelationshipUpdate(BaseModel):
    """Renew or withdraw consent (a past expiry hides the relationship), change what is shared."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"consent_given_on": "2026-11-20", "consent_expires_on": "2028-11-19"},
            ]
        },
    )

    strength: Strength | None = None
    disclosure: Disclosure | None = None
    shared: Shared | None = None
    consent_given_on: dt.date | None = None
    consent_expires_on: dt.date | None = None


class RelationshipRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{**_RELATIONSHIP_CREATE, "consent_expired": False}]})

    contact_id: uuid.UUID
    account_id: uuid.UUID | None
    strength: int
    disclosure: Disclosure
    shared: dict[str, str]
    consent_given_on: dt.date
    consent_expires_on: dt.date
    consent_expired: bool


class ResourceCreate(BaseModel):
    """The owner and their org unit come from the caller's token."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                _CASE_CREATE,
                _RELATIONSHIP_RESOURCE_CREATE,
            ]
        },
    )

    type: ResourceType
    title: Title
    summary: Summary = ""
    scope: Annotated[Scope, Field(description="Who may see the resource besides its owner.")] = Scope.TEAM
    industries: Annotated[Tags, Field(description="Industries the resource applies to.")] = []
    solutions: Annotated[Tags, Field(description="Solutions the resource is about.")] = []
    relationship: Annotated[
        RelationshipCreate | None,
        Field(validate_default=True, description="Required for (and only for) `relationship` resources."),
    ] = None

    @field_validator("relationship")
    @classmethod
    def _relationship_only_for_relationships(
        cls, value: RelationshipCreate | None, info: ValidationInfo
    ) -> RelationshipCreate | None:
        is_relationship = info.data.get("type") == ResourceType.RELATIONSHIP
        if is_relationship and value is None:
            raise ValueError("is required for a relationship resource")
        if not is_relationship and value is not None:
            raise ValueError("is only allowed on a relationship resource")
        return value


class ResourceUpdate(BaseModel):
    """Fields to change; absent fields stay as they are. The type is fixed at creation."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"scope": "public", "solutions": ["GTX Pro storage array", "WMS cloud suite"]},
                {
                    "relationship": {
                        "strength": 90,
                        "consent_given_on": "2026-11-20",
                        "consent_expires_on": "2028-11-19",
                    }
                },
            ]
        },
    )

    title: Title | None = None
    summary: Summary | None = None
    scope: Scope | None = None
    industries: Tags | None = None
    solutions: Tags | None = None
    relationship: RelationshipUpdate | None = None


class ResourceRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                EXAMPLE,
                {
                    "id": "f6c3b245-d678-4e9f-9a0b-c1d2e3f4a5b6",
                    **_RELATIONSHIP_RESOURCE_CREATE,
                    "solutions": [],
                    **_READ_FIELDS,
                    "usage_count": 3,
                    "rating_avg": 5.0,
                    "rating_count": 2,
                    "relationship": {**_RELATIONSHIP_CREATE, "consent_expired": False},
                },
            ]
        },
    )

    id: uuid.UUID
    type: ResourceType
    title: str
    summary: str
    owner_id: Annotated[
        uuid.UUID | None, Field(description="Null when a relationship's owner does not disclose themself to you.")
    ]
    org_unit_path: Annotated[
        str | None, Field(description="The owning unit; only the organisation, or null, when the owner discloses less.")
    ]
    scope: Scope
    industries: list[str]
    solutions: list[str]
    usage_count: Annotated[int, Field(description="How often others have used the resource.")]
    rating_avg: Annotated[float | None, Field(description="Average rating (1-5); null until rated.")]
    rating_count: int
    relationship: RelationshipRead | None = None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
