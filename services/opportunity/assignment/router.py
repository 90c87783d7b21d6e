import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from sanlun.kernel.auth import CurrentPrincipal
from sanlun.kernel.db import DbSession
from sanlun.kernel.errors import (
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    Unprocessable,
    UpstreamTimeout,
    UpstreamUnavailable,
    problem_responses,
)
from sanlun.kernel.etag import set_etag
from sanlun.kernel.pagination import Page, Pagination, paginate
from sanlun.kernel.peers import PeersDep
from sanlun.kernel.routing import TransactionalRoute
from services.opportunity.assignment import repository, service
from services.opportunity.assignment.coverage import CoverageLimitsDep
from services.opportunity.assignment.models import Decision
from services.opportunity.assignment.schemas import (
    DecisionRead,
    OverrideRequest,
    Pool,
    ProposalRead,
    ProposeRequest,
    Suggestions,
)
from services.opportunity.opportunities import service as opportunities
from services.opportunity.opportunities.router import OpportunityId, _one
from services.opportunity.opportunities.schemas import OpportunityRead

router = APIRouter(
    prefix="/api/v1/assignments",
    tags=["assignments"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized),
)
suggestions_router = APIRouter(
    prefix="/api/v1/opportunities/{opportunity_id}",
    tags=["assignments"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized, NotFound),
)
ProposalId = Annotated[uuid.UUID, Path(description="The proposal's id.")]


@router.post(
    "/proposals",
    summary="Propose owners for a batch of unassigned opportunities (optimised over the batch)",
    status_code=status.HTTP_201_CREATED,
    response_model=ProposalRead,
    responses=problem_responses(Forbidden, Unprocessable),
)
async def propose_assignment(
    data: ProposeRequest,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    peers: PeersDep,
    limits: CoverageLimitsDep,
) -> ProposalRead:
    """Each item carries its score components, the runner-up and the reasons.
    Pool members named by id that you may not see (or that do not exist) answer
    422 `unknown_reference`, the same for both.
    `stages_source` says whether stages came from the lifecycle service
    (`live`) or from the last stages seen in its events (`cached`, with
    `stages_as_of`)."""
    proposal = await service.propose(session=session, principal=principal, peers=peers, limits=limits, data=data)
    response.headers["Location"] = f"/api/v1/assignments/proposals/{proposal.id}"
    set_etag(response, proposal.version)
    return ProposalRead.model_validate(service.proposal_body(proposal))


@router.get(
    "/proposals/{proposal_id}",
    summary="Get a proposal",
    response_model=ProposalRead,
    responses=problem_responses(NotFound),
)
async def get_assignment_proposal(
    proposal_id: ProposalId, response: Response, session: DbSession, principal: CurrentPrincipal
) -> ProposalRead:
    proposal = await service.get_proposal(session=session, principal=principal, proposal_id=proposal_id)
    set_etag(response, proposal.version)
    return ProposalRead.model_validate(service.proposal_body(proposal))


@router.post(
    "/proposals/{proposal_id}/commit",
    summary="Apply a proposal (idempotent)",
    response_model=ProposalRead,
    responses=problem_responses(NotFound),
)
async def commit_assignment_proposal(
    proposal_id: ProposalId, response: Response, session: DbSession, principal: CurrentPrincipal
) -> ProposalRead:
    """Assigns every proposed deal that is still unassigned and open, records a
    decision for each and publishes `opportunity.assigned`; `commit_result`
    lists the ones skipped. Committing again answers the same result."""
    proposal = await service.commit(session=session, principal=principal, proposal_id=proposal_id)
    set_etag(response, proposal.version)
    return ProposalRead.model_validate(service.proposal_body(proposal))


@router.get("/decisions", summary="Audit trail of assignment decisions you may see", response_model=Page[DecisionRead])
async def list_assignment_decisions(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    page: Pagination,
    opportunity_id: Annotated[uuid.UUID | None, Query(description="Only this opportunity's decisions.")] = None,
    employee_id: Annotated[uuid.UUID | None, Query(description="Only decisions giving deals to this employee.")] = None,
    proposal_id: Annotated[uuid.UUID | None, Query(description="Only this proposal's decisions.")] = None,
) -> Page[DecisionRead]:
    stmt = repository.decisions_statement(
        principal, opportunity_id=opportunity_id, employee_id=employee_id, proposal_id=proposal_id
    )
    rows, next_cursor = await paginate(session, request, stmt, order_by=(Decision.created_at, Decision.id), params=page)
    return Page[DecisionRead](items=[DecisionRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@suggestions_router.get(
    "/assignment-suggestions",
    summary="Ranked candidate owners for one opportunity, with score components",
    response_model=Suggestions,
    responses=problem_responses(Forbidden, Unprocessable),
)
async def suggest_owners(
    opportunity_id: OpportunityId,
    session: DbSession,
    principal: CurrentPrincipal,
    peers: PeersDep,
    limits: CoverageLimitsDep,
    org_unit: Annotated[
        str | None, Query(max_length=500, description="Pool: this unit and below (default: yours).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=50, description="How many candidates.")] = 5,
) -> Suggestions:
    opportunity = await opportunities.get(session=session, principal=principal, opportunity_id=opportunity_id)
    candidates, ctx = await service.suggest(
        session=session,
        principal=principal,
        peers=peers,
        limits=limits,
        opportunity=opportunity,
        pool=Pool(org_unit=org_unit or principal.org_unit_path),
        limit=limit,
    )
    return Suggestions(
        opportunity_id=opportunity.id,
        stages_source=ctx.stages.source,
        stages_as_of=ctx.stages.as_of,
        notes=ctx.notes,
        candidates=candidates,
    )


@suggestions_router.post(
    "/assignment",
    summary="Manager override: give the opportunity to someone, with a reason",
    response_model=OpportunityRead,
    responses=problem_responses(Forbidden, Conflict, Unprocessable, UpstreamUnavailable, UpstreamTimeout),
)
async def override_assignment(
    opportunity_id: OpportunityId,
    data: OverrideRequest,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    peers: PeersDep,
) -> OpportunityRead:
    """`employee_id` must be someone you may see: one who does not exist and one
    you may not see both answer 422 `unknown_reference` with the same error.
    502/504 when the employee lifecycle service cannot say: nothing changes."""
    opportunity = await opportunities.get(
        session=session, principal=principal, opportunity_id=opportunity_id, for_update=True
    )
    opportunity = await service.override(
        session=session, principal=principal, peers=peers, opportunity=opportunity, data=data
    )
    set_etag(response, opportunity.version)
    return await _one(session, opportunity)
