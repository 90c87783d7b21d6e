import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Note = Annotated[str, StringConstraints(max_length=2000, strip_whitespace=True)]

_ME = "3c9a1f2e-7d4b-4a6c-8e5f-2b1d0c9e8f7a"
_CONNECTOR = "1f2e3d4c-5b6a-4978-8a6b-5c4d3e2f1a0b"
_CIO = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
_ACCOUNT = "6f1c2a9e-4b7d-4e21-9c3a-1d2e3f4a5b6c"
_RELATIONSHIP = "f6c3b245-d678-4e9f-9a0b-c1d2e3f4a5b6"
_OPPORTUNITY = "2f6c9b1e-8a3d-4c5e-9f70-1b2a3c4d5e6f"
_MESSAGE = "We are in solution design for the Hangzhou hub storage refresh; 20 minutes with their CIO would help a lot."
_CONNECTOR_PARTY: dict[str, Any] = {
    "disclosure": "identity",
    "employee_id": _CONNECTOR,
    "org_unit_path": "/group/south/team-2",
    "organization": "/group/south",
}
# Asking a colleague of another organisation (0.6) who knows the CIO well (85/100).
_PATH: dict[str, Any] = {
    "rank": 1,
    "strength": 0.51,
    "hops": 2,
    "connector": _CONNECTOR_PARTY,
    "target_contact_id": _CIO,
    "relationship_ids": [_RELATIONSHIP],
    "steps": [
        {
            "kind": "ask",
            "strength": 0.6,
            "relationship_id": None,
            "source": {
                "type": "employee",
                "employee": {"disclosure": "you", "employee_id": _ME, "org_unit_path": None, "organization": None},
            },
            "target": {"type": "employee", "employee": _CONNECTOR_PARTY},
        },
        {
            "kind": "relationship",
            "strength": 0.85,
            "relationship_id": _RELATIONSHIP,
            "source": {"type": "employee", "employee": _CONNECTOR_PARTY},
            "target": {"type": "contact", "contact_id": _CIO, "shared": {"title": "Chief Information Officer"}},
        },
    ],
}


class Party(BaseModel):
    """An employee on a path, shown only as far as their sharing allows."""

    disclosure: Literal["identity", "organization", "anonymous", "you"]
    employee_id: uuid.UUID | None
    org_unit_path: str | None
    organization: str | None


class Node(BaseModel):
    type: Literal["employee", "contact"]
    employee: Party | None = None
    contact_id: uuid.UUID | None = None
    shared: Annotated[
        dict[str, Any] | None, Field(description="What the relationship's owner shared about the contact.")
    ] = None


class Step(BaseModel):
    kind: Annotated[
        Literal["ask", "relationship", "colleague"],
        Field(
            description=(
                "`ask`: you ask a colleague; `relationship`: a shared tie; `colleague`: same account as the target."
            )
        ),
    ]
    source: Node
    target: Node
    strength: float
    relationship_id: uuid.UUID | None


class PathRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_PATH]})

    rank: int
    strength: Annotated[float, Field(description="Combined strength: the product of the steps' strengths (0-1).")]
    hops: int
    connector: Party
    target_contact_id: uuid.UUID
    relationship_ids: Annotated[list[uuid.UUID], Field(description="Send these to ask for this introduction.")]
    steps: list[Step]


class PathPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_PATH], "next_cursor": None}]})

    items: list[PathRead]
    next_cursor: str | None


class IntroductionCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "contact_id": _CIO,
                    "relationship_ids": [_RELATIONSHIP],
                    "opportunity_id": _OPPORTUNITY,
                    "message": _MESSAGE,
                }
            ]
        },
    )

    contact_id: Annotated[uuid.UUID | None, Field(description="The contact you want to meet (or give account_id).")] = (
        None
    )
    account_id: Annotated[uuid.UUID | None, Field(description="The account you want a way into.")] = None
    relationship_ids: Annotated[
        list[uuid.UUID],
        Field(min_length=1, max_length=3, description="A path's `relationship_ids` from the path query."),
    ]
    opportunity_id: uuid.UUID | None = None
    message: Note = ""

    @model_validator(mode="after")
    def _one_target(self) -> "IntroductionCreate":
        if (self.contact_id is None) == (self.account_id is None):
            raise ValueError("give exactly one of contact_id and account_id")
        return self


class IntroductionDecision(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"note": "Introduced Li Wei to Wang Fang over WeChat; they meet in Hangzhou on 2 December."},
            ]
        },
    )

    note: Note = ""


class IntroductionRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "b8e5d467-f890-4ab1-9c2d-e3f4a5b6c7d8",
                    "requester_id": _ME,
                    "requester_org_unit_path": "/group/east/team-3",
                    "connector": _CONNECTOR_PARTY,
                    "relationship_ids": [_RELATIONSHIP],
                    "target_contact_id": _CIO,
                    "target_account_id": _ACCOUNT,
                    "strength": 0.51,
                    "hops": 2,
                    "opportunity_id": _OPPORTUNITY,
                    "message": _MESSAGE,
                    "requested_at": "2026-11-24T02:00:00Z",
                    "status": "introduced",
                    "allowed_actions": [],
                    "expires_at": "2026-12-08T02:00:00Z",
                    "decided_at": "2026-11-24T06:30:00Z",
                    "completed_at": "2026-11-26T03:10:00Z",
                    "note": "Introduced Li Wei to Wang Fang over WeChat; they meet in Hangzhou on 2 December.",
                    "created_at": "2026-11-24T02:00:00Z",
                    "updated_at": "2026-11-26T03:10:00Z",
                    "version": 3,
                }
            ]
        }
    )

    id: uuid.UUID
    requester_id: uuid.UUID
    requester_org_unit_path: str
    connector: Party
    relationship_ids: list[uuid.UUID]
    target_contact_id: uuid.UUID
    target_account_id: uuid.UUID | None
    strength: float
    hops: int
    opportunity_id: uuid.UUID | None
    message: str
    requested_at: Annotated[dt.datetime, Field(description="When it was asked, on the business clock.")]
    status: Annotated[
        Literal["requested", "accepted", "declined", "introduced", "failed", "expired"],
        Field(description="`expired` when still undecided after `expires_at` (on the business clock)."),
    ]
    allowed_actions: list[str]
    expires_at: dt.datetime
    decided_at: dt.datetime | None
    completed_at: dt.datetime | None
    note: str
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
