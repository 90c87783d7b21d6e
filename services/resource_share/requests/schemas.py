import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Note = Annotated[str, StringConstraints(max_length=2000, strip_whitespace=True)]
Outcome = Literal["contributed_to_win", "contributed", "no_impact"]
Status = Literal["requested", "approved", "declined", "fulfilled", "rated", "expired"]

_RESOURCE = "e5b2a134-c567-4d8e-8f9a-b0c1d2e3f4a5"
_OPPORTUNITY = "2f6c9b1e-8a3d-4c5e-9f70-1b2a3c4d5e6f"
_OWNER = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
_REQUESTER = "3c9a1f2e-7d4b-4a6c-8e5f-2b1d0c9e8f7a"
_MESSAGE = "Sunrise Logistics wants to hear from a port customer before the PoC; could I use your Ningbo case?"
_APPROVAL = "Happy to help: I'll set up a reference call with their IT director."
_FULFILMENT = "Reference call held on 10 Nov; Ningbo Port's IT director joined."
_RATING_COMMENT = "The reference call convinced their CIO to go ahead with the PoC."


class RequestCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "resource_id": _RESOURCE,
                    "opportunity_id": _OPPORTUNITY,
                    "message": _MESSAGE,
                    "needed_by": "2027-01-15T18:00:00+08:00",
                }
            ]
        },
    )

    resource_id: Annotated[uuid.UUID, Field(description="A resource you may see and do not own.")]
    opportunity_id: Annotated[uuid.UUID | None, Field(description="The opportunity the resource is for (TAS+).")] = None
    message: Note = ""
    needed_by: Annotated[
        dt.datetime | None, Field(description="Expire the request if undecided by then (default: 14 days).")
    ] = None


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": _APPROVAL}]})

    note: Note = ""


class Fulfilment(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"note": _FULFILMENT, "outcome": "contributed"},
            ]
        },
    )

    note: Note = ""
    outcome: Outcome | None = None


class Rating(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"rating": 5, "comment": _RATING_COMMENT},
            ]
        },
    )

    rating: Annotated[int, Field(ge=1, le=5, description="1 (useless) to 5 (made the difference).")]
    comment: Note = ""


class OutcomeUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"outcome": "contributed_to_win", "opportunity_id": _OPPORTUNITY},
            ]
        },
    )

    outcome: Outcome
    opportunity_id: Annotated[uuid.UUID | None, Field(description="Link (or correct) the opportunity it served.")] = (
        None
    )


class RequestRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "a7d4c356-e789-4fa0-8b1c-d2e3f4a5b6c7",
                    "resource_id": _RESOURCE,
                    "resource_type": "reference_case",
                    "owner_id": _OWNER,
                    "owner_org_unit_path": "/group/east/team-1",
                    "requester_id": _REQUESTER,
                    "requester_org_unit_path": "/group/east/team-3",
                    "opportunity_id": _OPPORTUNITY,
                    "message": _MESSAGE,
                    "requested_at": "2026-11-02T02:00:00Z",
                    "status": "rated",
                    "allowed_actions": [],
                    "due_at": "2026-11-04T02:00:00Z",
                    "overdue": False,
                    "expires_at": "2026-11-16T02:00:00Z",
                    "decided_by": _OWNER,
                    "decided_at": "2026-11-03T01:15:00Z",
                    "decision_note": _APPROVAL,
                    "fulfilled_at": "2026-11-10T09:30:00Z",
                    "rating": 5,
                    "rating_comment": _RATING_COMMENT,
                    "rated_at": "2026-11-11T02:00:00Z",
                    "outcome": "contributed_to_win",
                    "created_at": "2026-11-02T02:00:00Z",
                    "updated_at": "2026-11-20T03:00:00Z",
                    "version": 5,
                }
            ]
        }
    )

    id: uuid.UUID
    resource_id: uuid.UUID
    resource_type: str
    owner_id: Annotated[
        uuid.UUID | None, Field(description="Null when a relationship's owner does not disclose themself to you.")
    ]
    owner_org_unit_path: str | None
    requester_id: uuid.UUID
    requester_org_unit_path: str
    opportunity_id: uuid.UUID | None
    message: str
    requested_at: Annotated[dt.datetime, Field(description="When it was asked, on the business clock.")]
    status: Annotated[
        Status, Field(description="`expired` when still undecided after `expires_at` (on the business clock).")
    ]
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
