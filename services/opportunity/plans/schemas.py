import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.opportunity.domain.plan import PlanSections

_SECTIONS: dict[str, Any] = {
    "profile": "Regional logistics leader (12 hubs in Zhejiang and Jiangsu); storage at the Hangzhou hub is 85% full.",
    "business_issues": ["Peak-season throughput at the Hangzhou hub", "Storage contract ends April 2027"],
    "solution_value": "GTX Pro arrays cut order-picking latency by 40% and consolidate three storage systems into one.",
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
            "buying_role": "user",
            "political_status": "political_structure",
            "support": "supporter",
            "coverage": "good",
        },
    ],
    "decision_criteria": ["Total cost over 5 years", "On-site service within 4 hours"],
    "customer_milestones": [{"name": "Proof of concept at the Hangzhou hub", "due": "2027-01-15"}],
    "action_plan": [
        {
            "action": "Run the PoC with the IT director's team",
            "owner_id": "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b",
            "due": "2027-01-15",
            "status": "open",
        }
    ],
}


class PlanWarning(BaseModel):
    code: str = Field(description="`no_decision_maker`, `single_threaded`, `no_known_opponent`, `no_compelling_event`.")
    message: str


class PlanRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "opportunity_id": "2f6c9b1e-8a3d-4c5e-9f70-1b2a3c4d5e6f",
                    "sections": _SECTIONS,
                    "completeness": 0.8621,
                    "section_scores": {
                        "profile": 1.0,
                        "business_issues": 1.0,
                        "solution_value": 1.0,
                        "assessment": 0.75,
                        "competitors": 1.0,
                        "competitive_strategy": 1.0,
                        "key_players": 1.0,
                        "relationship_strategy": 0.0,
                        "decision_criteria": 1.0,
                        "customer_milestones": 1.0,
                        "action_plan": 1.0,
                        "reviews": 0.0,
                    },
                    "warnings": [
                        {"code": "no_decision_maker", "message": "No key player is marked as the decision maker."}
                    ],
                    "updated_at": "2026-11-25T07:12:40Z",
                    "version": 6,
                }
            ]
        }
    )

    opportunity_id: uuid.UUID
    sections: PlanSections
    completeness: float = Field(description="0..1, weighted by the organisation's checklist.")
    section_scores: dict[str, float]
    warnings: list[PlanWarning]
    updated_at: dt.datetime
    version: int
