"""The TAS plan's sections as data (pure: pydantic only).

Each section is optional; a section counts as filled by the rule in
`checklist.section_score`. Enumerations follow Target Account Selling.
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
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "profile": (
                        "Regional logistics leader (12 hubs in Zhejiang and "
                        "Jiangsu); storage at the Hangzhou hub is 85% full."
                    ),
                    "business_issues": [
                        "Peak-season throughput at the Hangzhou hub",
                        "Storage contract ends April 2027",
                    ],
                    "solution_value": (
                        "GTX Pro arrays cut order-picking latency by 40% and consolidate three storage systems."
                    ),
                    "assessment": {
                        "is_there_an_opportunity": "yes",
                        "can_we_compete": "yes",
                        "can_we_win": "unknown",
                        "is_it_worth_winning": "yes",
                    },
                    "competitors": [{"name": "Huawei OceanStor", "threat": "high", "status": "incumbent"}],
                    "competitive_strategy": "flanking",
                    "key_players": [
                        {
                            "contact_id": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d",
                            "buying_role": "evaluator",
                            "political_status": "inner_circle",
                            "support": "mentor",
                            "coverage": "strong",
                        },
                        {
                            "contact_id": "8b7c6d5e-4f3a-4b2c-9d1e-0f2a3b4c5d6e",
                            "buying_role": "decision_maker",
                            "political_status": "political_structure",
                            "support": "neutral",
                            "coverage": "weak",
                        },
                    ],
                    "relationship_strategy": (
                        "Win the CIO through the IT director; a reference visit to a Jiangsu hub in December."
                    ),
                    "decision_criteria": ["Total cost over 5 years", "On-site service within 4 hours"],
                    "customer_milestones": [
                        {"name": "Proof of concept at the Hangzhou hub", "due": "2027-01-15"},
                        {"name": "Budget approval", "due": None},
                    ],
                    "action_plan": [
                        {
                            "action": "Run the PoC with the IT director's team",
                            "owner_id": "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b",
                            "due": "2027-01-15",
                            "status": "open",
                        }
                    ],
                    "reviews": [
                        {
                            "held_on": "2026-11-20",
                            "findings": "The incumbent offered a 20% discount on renewal.",
                            "changes": "Lead with the 5-year cost; bring service references.",
                        }
                    ],
                }
            ]
        },
    )

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
