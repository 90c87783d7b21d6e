import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Note = Annotated[str, StringConstraints(max_length=2000, strip_whitespace=True)]
Outcome = Literal["contributed_to_win", "contributed", "no_impact"]
Status = Literal["requested", "approved", "declined", "fulfilled", "rated", "expired"]


class RequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource_id: Annotated[uuid.UUID, Field(description="A resource you may see and do not own.")]
    opportunity_id: Annotated[uuid.UUID | None, Field(description="The opportunity the resource is for (TAS+).")] = None
    message: Note = ""
    needed_by: Annotated[
        dt.datetime | None, Field(description="Expire the request if undecided by then (default: 14 days).")
    ] = None


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Note = ""


class Fulfilment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Note = ""
    outcome: Outcome | None = None


class Rating(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: Annotated[int, Field(ge=1, le=5, description="1 (useless) to 5 (made the difference).")]
    comment: Note = ""


class OutcomeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    opportunity_id: Annotated[uuid.UUID | None, Field(description="Link (or correct) the opportunity it served.")] = None


class RequestRead(BaseModel):
    id: uuid.UUID
    resource_id: uuid.UUID
    resource_type: str
    owner_id: Annotated[uuid.UUID | None, Field(description="Null when a relationship's owner does not disclose themself to you.")]
    owner_org_unit_path: str | None
    requester_id: uuid.UUID
    requester_org_unit_path: str
    opportunity_id: uuid.UUID | None
    message: str
    status: Annotated[Status, Field(description="`expired` when still undecided after `expires_at`.")]
    allowed_actions: list[str]
    due_at: Annotated[dt.datetime, Field(description="The SLA: the owner should decide by then.")]
    overdue: bool
    expires_at: dt.datetime
    decided_by: uuid.UUID | None
    decided_at: dt.datetime | None
    decision_note: str
    fulfilled_at: dt.datetime | None
    rating: int | None
    rating_comment: str
    rated_at: dt.datetime | None
    outcome: Outcome | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
