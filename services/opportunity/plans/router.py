from fastapi import APIRouter, Request, Response

from sanlun.kernel.auth import CurrentPrincipal
from sanlun.kernel.db import DbSession
from sanlun.kernel.errors import (
    NotFound,
    PreconditionFailed,
    Unauthorized,
    Unprocessable,
    UpstreamTimeout,
    UpstreamUnavailable,
    problem_responses,
)
from sanlun.kernel.etag import check_if_match, set_etag
from sanlun.kernel.peers import PeersDep
from sanlun.kernel.routing import TransactionalRoute
from services.opportunity.domain.plan import PlanSections
from services.opportunity.opportunities import service as opportunities
from services.opportunity.opportunities.router import OpportunityId
from services.opportunity.plans import service
from services.opportunity.plans.schemas import PlanRead, PlanWarning
from services.opportunity.policies.service import policy_for

router = APIRouter(
    prefix="/api/v1/opportunities/{opportunity_id}/plan",
    tags=["plans"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized, NotFound),
)


def _read(assessed: service.Assessed) -> PlanRead:
    plan = assessed.plan
    return PlanRead(
        opportunity_id=plan.opportunity_id,
        sections=assessed.sections,
        completeness=assessed.completeness,
        section_scores=assessed.section_scores,
        warnings=[PlanWarning(code=w.code, message=w.message) for w in assessed.warnings],
        updated_at=plan.updated_at,
        version=plan.version,
    )


@router.get("", summary="The opportunity's TAS plan with completeness and warnings", response_model=PlanRead)
async def get_plan(
    opportunity_id: OpportunityId, response: Response, session: DbSession, principal: CurrentPrincipal
) -> PlanRead:
    opportunity = await opportunities.get(session=session, principal=principal, opportunity_id=opportunity_id)
    plan = await service.get_or_create(session, opportunity.id)
    set_etag(response, plan.version)
    return _read(service.assess(plan, opportunity, await policy_for(session, opportunity.org_unit_path)))


@router.put(
    "",
    summary="Replace the TAS plan's sections (re-scored at once)",
    response_model=PlanRead,
    responses=problem_responses(PreconditionFailed, Unprocessable, UpstreamUnavailable, UpstreamTimeout),
)
async def put_plan(
    opportunity_id: OpportunityId,
    sections: PlanSections,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    peers: PeersDep,
) -> PlanRead:
    """Key players must be contacts of the opportunity's account and action
    owners employees, each one you may see (the key account and employee
    lifecycle services say, with your token): one that does not exist and one
    you may not see both answer 422 `unknown_reference`. Those already in the
    plan are not checked again."""
    opportunity = await opportunities.get(session=session, principal=principal, opportunity_id=opportunity_id)
    plan = await service.get_or_create(session, opportunity.id)
    check_if_match(request, plan.version)
    await service.check_references(
        session=session, principal=principal, peers=peers, opportunity=opportunity, plan=plan, sections=sections
    )
    plan = await service.replace(session=session, plan=plan, sections=sections)
    set_etag(response, plan.version)
    return _read(service.assess(plan, opportunity, await policy_for(session, opportunity.org_unit_path)))
