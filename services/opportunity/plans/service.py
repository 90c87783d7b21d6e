"""TAS plan use cases."""

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal
from sanlun.kernel.peers import Peers
from services.opportunity.domain import checklist
from services.opportunity.domain.plan import PlanSections
from services.opportunity.domain.policy import Policy
from services.opportunity.domain.stages import Stage
from services.opportunity.opportunities import references
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


async def check_references(
    *,
    session: AsyncSession,
    principal: Principal,
    peers: Peers,
    opportunity: Opportunity,
    plan: TasPlan,
    sections: PlanSections,
) -> None:
    """Key players are contacts of the opportunity's account and action owners
    are employees, both ones the caller may see; those the stored plan already
    names stay unchecked. A contact on a deal without an account is unknown."""
    stored = PlanSections.model_validate(plan.sections)
    known_contacts = {k.contact_id for k in stored.key_players}
    known_owners = {a.owner_id for a in stored.action_plan if a.owner_id}
    refs = references.Refs()
    for i, player in enumerate(sections.key_players):
        if player.contact_id not in known_contacts:
            refs.contact(player.contact_id, opportunity.account_id, ["body", "key_players", i, "contact_id"])
    for i, action in enumerate(sections.action_plan):
        if action.owner_id not in known_owners:
            refs.employee(action.owner_id, ["body", "action_plan", i, "owner_id"])
    await references.check(session=session, principal=principal, peers=peers, refs=refs)


async def replace(*, session: AsyncSession, plan: TasPlan, sections: PlanSections) -> TasPlan:
    plan.sections = sections.model_dump(mode="json", exclude_defaults=True)
    await session.flush()
    return plan
