import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Note = Annotated[str, StringConstraints(max_length=2000, strip_whitespace=True)]


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
    shared: Annotated[dict[str, Any] | None, Field(description="What the relationship's owner shared about the contact.")] = None


class Step(BaseModel):
    kind: Annotated[
        Literal["ask", "relationship", "colleague"],
        Field(description="`ask`: you ask a colleague; `relationship`: a shared tie; `colleague`: same account as the target."),
    ]
    source: Node
    target: Node
    strength: float
    relationship_id: uuid.UUID | None


class PathRead(BaseModel):
    rank: int
    strength: Annotated[float, Field(description="Combined strength: the product of the steps' strengths (0-1).")]
    hops: int
    connector: Party
    target_contact_id: uuid.UUID
    relationship_ids: Annotated[list[uuid.UUID], Field(description="Send these to ask for this introduction.")]
    steps: list[Step]


class PathPage(BaseModel):
    items: list[PathRead]
    next_cursor: str | None


class IntroductionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_id: Annotated[uuid.UUID | None, Field(description="The contact you want to meet (or give account_id).")] = None
    account_id: Annotated[uuid.UUID | None, Field(description="The account you want a way into.")] = None
    relationship_ids: Annotated[
        list[uuid.UUID], Field(min_length=1, max_length=3, description="A path's `relationship_ids` from the path query.")
    ]
    opportunity_id: uuid.UUID | None = None
    message: Note = ""

    @model_validator(mode="after")
    def _one_target(self) -> "IntroductionCreate":
        if (self.contact_id is None) == (self.account_id is None):
            raise ValueError("give exactly one of contact_id and account_id")
        return self


class IntroductionDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Note = ""


class IntroductionRead(BaseModel):
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
    status: Literal["requested", "accepted", "declined", "introduced", "failed", "expired"]
    allowed_actions: list[str]
    expires_at: dt.datetime
    decided_at: dt.datetime | None
    completed_at: dt.datetime | None
    note: str
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
