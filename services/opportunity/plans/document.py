"""The TAS plan's sections as data (pure: pydantic only).

Each section is optional; a section counts as filled by the rule in
`checklist.section_filled`. Enumerations follow Target Account Selling.
"""

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Text = Annotated[str, StringConstraints(min_length=1, max_length=4000, strip_whitespace=True)]
Short = Annotated[str, StringConstraints(min_length=1, max_length=300, strip_whitespace=True)]
Answer = Literal["yes", "no", "unknown"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Assessment(Strict):
    is_there_an_opportunity: Answer = "unknown"
    can_we_compete: Answer = "unknown"
    can_we_win: Answer = "unknown"
    is_it_worth_winning: Answer = "unknown"


class Competitor(Strict):
    name: Short
    threat: Literal["low", "medium", "high"] = "medium"
    status: Literal["incumbent", "active", "inactive", "unknown"] = "unknown"


class KeyPlayer(Strict):
    contact_id: uuid.UUID = Field(description="The contact in the key account service.")
    buying_role: Literal["approver", "decision_maker", "evaluator", "influencer", "user"]
    political_status: Literal["outside", "political_structure", "inner_circle"] = "outside"
    support: Literal["mentor", "supporter", "neutral", "non_supporter", "enemy"] = "neutral"
    coverage: Literal["none", "weak", "good", "strong"] = Field("none", description="Our coverage of this person.")


class Milestone(Strict):
    name: Short
    due: dt.date | None = None


class Action(Strict):
    action: Short
    owner_id: uuid.UUID | None = None
    due: dt.date | None = None
    status: Literal["open", "done", "cancelled"] = "open"


class Review(Strict):
    held_on: dt.date
    findings: Text
    changes: Text | None = None


class PlanSections(Strict):
    profile: Text | None = None
    business_issues: Annotated[list[Short], Field(max_length=50)] = []
    solution_value: Text | None = None
    assessment: Assessment = Assessment()
    competitors: Annotated[list[Competitor], Field(max_length=50)] = []
    competitive_strategy: Literal["frontal", "flanking", "fragmentation", "defensive", "development"] | None = None
    key_players: Annotated[list[KeyPlayer], Field(max_length=100)] = []
    relationship_strategy: Text | None = None
    decision_criteria: Annotated[list[Short], Field(max_length=50)] = []
    customer_milestones: Annotated[list[Milestone], Field(max_length=50)] = []
    action_plan: Annotated[list[Action], Field(max_length=200)] = []
    reviews: Annotated[list[Review], Field(max_length=100)] = []
