import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

StageCode = Literal["L1_SUBSISTENCE", "L2_COMFORTABLE", "L3_AFFLUENT"]


class StageView(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["ok", "not_evaluated", "unavailable"] = Field(
        description="`not_evaluated`: no evaluation yet; `unavailable`: the lifecycle service did not answer."
    )
    service: str
    stage: StageCode | None = None
    since: dt.date | None = None
    needs: list[str] | None = None
    reasons: dict[str, Any] | None = Field(None, description="Why, in plain words (`en`, `zh`).")
    gap: dict[str, Any] | None = Field(None, description="What separates the stage from the next; null at L3.")


class Section(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["ok", "partial", "unavailable"] = Field(
        description="`partial`: some of the calls behind the section failed (see `missing`); "
        "`unavailable`: the service is down, slow or its circuit is open (see `reason`)."
    )
    service: str
    reason: str | None = None
    items: list[dict[str, Any]] = []
    summary: dict[str, Any] | None = None


EXAMPLE = {
    "employee_id": "0b7c1d9e-3f3a-4d8e-9a55-1e2f3a4b5c6d",
    "generated_at": "2026-11-28T09:30:00Z",
    "stage": {
        "status": "ok",
        "service": "employee_lifecycle",
        "stage": "L1_SUBSISTENCE",
        "since": "2026-10-01",
        "needs": ["lacks_deals"],
        "reasons": {"en": "2 wins in 12 months (L2 needs 6)", "zh": "…"},
        "gap": {"target_stage": "L2_COMFORTABLE", "en": "4 more wins", "zh": "…", "items": []},
    },
    "stage_used": "L1_SUBSISTENCE",
    "sections": {
        "new_opportunities": {
            "status": "ok",
            "service": "opportunity",
            "items": [
                {
                    "opportunity": {"id": "3c1e…", "name": "Harbour data centre", "stage": "lead"},
                    "recommended_solutions": {"status": "ok", "items": [{"name": "GTX Pro", "score": 0.82}]},
                },
            ],
        },
        "support_requests": {"status": "unavailable", "service": "resource_share", "reason": "timeout", "items": []},
        "suggested_resources": {
            "status": "unavailable",
            "service": "resource_share",
            "reason": "circuit_open",
            "items": [],
        },
    },
}


class Workspace(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    employee_id: uuid.UUID
    generated_at: dt.datetime
    stage: StageView
    stage_used: StageCode = Field(description="Whose help the sections are: the stage, or L1's when it is unknown.")
    sections: dict[str, Section] = Field(
        description="L1: new_opportunities, support_requests, suggested_resources; "
        "L2: accounts_with_actions_due, incubation_items, relationship_gaps; "
        "L3: decisions_waiting, influence, expertise_demand."
    )
