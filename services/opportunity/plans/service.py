"""TAS plan use cases."""

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.opportunity.domain import checklist
from services.opportunity.domain.plan import PlanSections
from services.opportunity.domain.policy import Policy
from services.opportunity.domain.stages import Stage
from services.opportunity.opportunities.models import Opportunity
from services.opportunity.plans.models import TasPlan


@dataclass(frozen=True, slots=True)
class Assessed:
    plan: TasPlan
    sections: PlanSections
    completeness: float
    section_scores: dict[str, float]
    warnings: list[checklist.Warning]


async def get_or_create(session: AsyncSession, opportunity_id: uuid.UUID) -> TasPlan:
    plan = await session.get(TasPlan, opportunity_id)
    if plan is None:
        plan = TasPlan(opportunity_id=opportunity_id, sections={})
        session.add(plan)
        await session.flush()
    return plan


def assess(plan: TasPlan, opportunity: Opportunity, policy: Policy) -> Assessed:
    sections = PlanSections.model_validate(plan.sections)
    score, scores = checklist.completeness(sections, policy.plan_checklist)
    warns = checklist.warnings(sections, stage=Stage(opportunity.stage), compelling_event=opportunity.compelling_event)
    return Assessed(plan, sections, score, scores, warns)


async def replace(*, session: AsyncSession, plan: TasPlan, sections: PlanSections) -> TasPlan:
    plan.sections = sections.model_dump(mode="json", exclude_defaults=True)
    await session.flush()
    return plan
