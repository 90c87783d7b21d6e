import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Text200 = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
BuyingRole = Literal["approver", "decision_maker", "evaluator", "influencer", "user"]
PoliticalStatus = Literal["outside", "political_structure", "inner_circle"]
Level = Literal["vendor", "credible_source", "problem_solver", "trusted_advisor"]
Score = Annotated[int, Field(ge=0, le=100)]


class ContactCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

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
    name: Text200 | None = None  # type: ignore[assignment]


class ContactRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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
    model_config = ConfigDict(extra="forbid")

    contact_id: uuid.UUID
    employee_id: uuid.UUID = Field(description="Our employee who holds the relationship.")
    level: Level
    strength: Score = Field(description="0-100.")
    last_interaction_on: dt.date | None = None


class RelationshipRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    account_id: uuid.UUID
    contact_id: uuid.UUID
    employee_id: uuid.UUID
    level: Level
    strength: int
    last_interaction_on: dt.date | None
    version: int


class InfluenceWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_contact_id: uuid.UUID = Field(description="The contact who influences.")
    to_contact_id: uuid.UUID = Field(description="The contact influenced.")
    strength: Score = 50
    note: Annotated[str, StringConstraints(max_length=1000)] | None = None


class InfluenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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
    account_id: uuid.UUID
    nodes: list[MapNode]
    edges: list[MapEdge]
    truncated: bool = Field(description="True when the account has more contacts than one map shows.")
