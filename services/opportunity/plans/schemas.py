import datetime as dt
import uuid

from pydantic import BaseModel, Field

from services.opportunity.plans.document import PlanSections


class PlanWarning(BaseModel):
    code: str = Field(description="`no_decision_maker`, `single_threaded`, `no_known_opponent`, `no_compelling_event`.")
    message: str


class PlanRead(BaseModel):
    opportunity_id: uuid.UUID
    sections: PlanSections
    completeness: float = Field(description="0..1, weighted by the organisation's checklist.")
    section_scores: dict[str, float]
    warnings: list[PlanWarning]
    updated_at: dt.datetime
    version: int
