import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Text200 = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
BuyingRole = Literal["approver", "decision_maker", "evaluator", "influencer", "user"]
PoliticalStatus = Literal["outside", "political_structure", "inner_circle"]
Level = Literal["vendor", "credible_source", "problem_solver", "trusted_advisor"]
Score = Annotated[int, Field(ge=0, le=100)]

_ACCOUNT = "6f1c2a9e-4b7d-4e21-9c3a-1d2e3f4a5b6c"
_CIO = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
_IT_DIRECTOR = "8b7c6d5e-4f3a-4b2c-9d1e-0f2a3b4c5d6e"
_EMPLOYEE = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
_RELATIONSHIP = "ab12cd34-ef56-4a78-9b0c-d1e2f3a4b5c6"
_INFLUENCE = "bc23de45-f678-4a9b-8c0d-e1f2a3b4c5d7"
_CREATE: dict[str, Any] = {
    "name": "Liu Yang",
    "title": "IT Director",
    "business_unit": "Information Technology",
    "email": "liu.yang@sunrise-logistics.cn",
    "reports_to_id": _CIO,
    "buying_role": "evaluator",
    "political_status": "political_structure",
    "decision_orientation": "technical",
}


class ContactCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_CREATE]})

    name: Text200
    title: Text200 | None = None
    business_unit: Text200 | None = None
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)] | None = None
    reports_to_id: uuid.UUID | None = Field(None, description="Another contact of the same account.")
    buying_role: BuyingRole | None = None
    political_status: PoliticalStatus | None = None
    decision_orientation: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = Field(
        None, description="How the contact decides, e.g. `technical`, `financial`, `business`, `relationship`."
    )


class ContactUpdate(ContactCreate):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"title": "Deputy CIO", "buying_role": "decision_maker", "political_status": "inner_circle"},
            ]
        }
    )

    name: Text200 | None = None  # type: ignore[assignment]


class ContactRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": _IT_DIRECTOR,
                    "account_id": _ACCOUNT,
                    **_CREATE,
                    "created_at": "2026-04-08T02:30:00Z",
                    "updated_at": "2026-10-21T07:45:12Z",
                    "version": 3,
                }
            ]
        },
    )

    id: uuid.UUID
    account_id: uuid.UUID
    name: str
    title: str | None
    business_unit: str | None
    email: str | None
    reports_to_id: uuid.UUID | None
    buying_role: BuyingRole | None
    political_status: PoliticalStatus | None
    decision_orientation: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class RelationshipWrite(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "contact_id": _CIO,
                    "employee_id": _EMPLOYEE,
                    "level": "problem_solver",
                    "strength": 72,
                    "last_interaction_on": "2026-11-19",
                }
            ]
        },
    )

    contact_id: uuid.UUID
    employee_id: uuid.UUID = Field(description="Our employee who holds the relationship.")
    level: Level
    strength: Score = Field(description="0-100.")
    last_interaction_on: dt.date | None = None


class RelationshipRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": _RELATIONSHIP,
                    "account_id": _ACCOUNT,
                    "contact_id": _CIO,
                    "employee_id": _EMPLOYEE,
                    "level": "problem_solver",
                    "strength": 72,
                    "last_interaction_on": "2026-11-19",
                    "version": 4,
                }
            ]
        },
    )

    id: uuid.UUID
    account_id: uuid.UUID
    contact_id: uuid.UUID
    employee_id: uuid.UUID
    level: Level
    strength: int
    last_interaction_on: dt.date | None
    version: int


class InfluenceWrite(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "from_contact_id": _CIO,
                    "to_contact_id": _IT_DIRECTOR,
                    "strength": 80,
                    "note": "The IT director's shortlist needs the CIO's sign-off.",
                }
            ]
        },
    )

    from_contact_id: uuid.UUID = Field(description="The contact who influences.")
    to_contact_id: uuid.UUID = Field(description="The contact influenced.")
    strength: Score = 50
    note: Annotated[str, StringConstraints(max_length=1000)] | None = None


class InfluenceRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": _INFLUENCE,
                    "account_id": _ACCOUNT,
                    "from_contact_id": _CIO,
                    "to_contact_id": _IT_DIRECTOR,
                    "strength": 80,
                    "note": "The IT director's shortlist needs the CIO's sign-off.",
                }
            ]
        },
    )

    id: uuid.UUID
    account_id: uuid.UUID
    from_contact_id: uuid.UUID
    to_contact_id: uuid.UUID
    strength: int
    note: str | None


class MapNode(BaseModel):
    id: str = Field(description="`account:<id>`, `contact:<id>` or `employee:<id>`.")
    kind: Literal["account", "contact", "employee"]
    label: str
    data: dict[str, Any]


class MapEdge(BaseModel):
    id: str
    kind: Literal["works_at", "reports_to", "relationship", "influence"]
    source: str
    target: str
    data: dict[str, Any]


class RelationshipMap(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account_id": _ACCOUNT,
                    "nodes": [
                        {
                            "id": f"account:{_ACCOUNT}",
                            "kind": "account",
                            "label": "Zhejiang Sunrise Logistics",
                            "data": {},
                        },
                        {
                            "id": f"contact:{_CIO}",
                            "kind": "contact",
                            "label": "Wang Fang",
                            "data": {
                                "title": "Chief Information Officer",
                                "business_unit": "Information Technology",
                                "buying_role": "decision_maker",
                                "political_status": "inner_circle",
                                "decision_orientation": "business",
                            },
                        },
                        {
                            "id": f"contact:{_IT_DIRECTOR}",
                            "kind": "contact",
                            "label": "Liu Yang",
                            "data": {
                                "title": "IT Director",
                                "business_unit": "Information Technology",
                                "buying_role": "evaluator",
                                "political_status": "political_structure",
                                "decision_orientation": "technical",
                            },
                        },
                        {"id": f"employee:{_EMPLOYEE}", "kind": "employee", "label": _EMPLOYEE, "data": {}},
                    ],
                    "edges": [
                        {
                            "id": f"works_at:{_CIO}",
                            "kind": "works_at",
                            "source": f"contact:{_CIO}",
                            "target": f"account:{_ACCOUNT}",
                            "data": {},
                        },
                        {
                            "id": f"reports_to:{_IT_DIRECTOR}",
                            "kind": "reports_to",
                            "source": f"contact:{_IT_DIRECTOR}",
                            "target": f"contact:{_CIO}",
                            "data": {},
                        },
                        {
                            "id": f"relationship:{_RELATIONSHIP}",
                            "kind": "relationship",
                            "source": f"employee:{_EMPLOYEE}",
                            "target": f"contact:{_CIO}",
                            "data": {"level": "problem_solver", "strength": 72, "last_interaction_on": "2026-11-19"},
                        },
                        {
                            "id": f"influence:{_INFLUENCE}",
                            "kind": "influence",
                            "source": f"contact:{_CIO}",
                            "target": f"contact:{_IT_DIRECTOR}",
                            "data": {"strength": 80, "note": "The IT director's shortlist needs the CIO's sign-off."},
                        },
                    ],
                    "truncated": False,
                }
            ]
        }
    )

    account_id: uuid.UUID
    nodes: list[MapNode]
    edges: list[MapEdge]
    truncated: bool = Field(description="True when the account has more contacts than one map shows.")
