import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from sanlun.kernel.auth import CurrentPrincipal
from sanlun.kernel.clock import ClockDep
from sanlun.kernel.db import DbSession
from sanlun.kernel.errors import (
    Conflict,
    NotFound,
    PreconditionFailed,
    Unauthorized,
    Unprocessable,
    UpstreamTimeout,
    UpstreamUnavailable,
    problem_responses,
)
from sanlun.kernel.etag import check_if_match, set_etag
from sanlun.kernel.pagination import Page, Pagination, paginate
from sanlun.kernel.peers import PeersDep
from sanlun.kernel.routing import TransactionalRoute
from services.key_account.plans import repository, service
from services.key_account.plans.models import (
    AccountPlan,
    GuidingSession,
    IncumbentContract,
    PlanAction,
    PlanObjective,
    PlanReview,
    WhitespaceCell,
)
from services.key_account.plans.schemas import (
    ActionCreate,
    ActionRead,
    ActionUpdate,
    CellRead,
    CellWrite,
    CompetitorFootprint,
    Completeness,
    ContractCreate,
    ContractRead,
    GuidingTeamWrite,
    ObjectiveCreate,
    ObjectiveRead,
    PlanCreate,
    PlanRead,
    PlanUpdate,
    ReviewCreate,
    ReviewRead,
    SessionCreate,
    SessionRead,
    TargetRead,
    TargetWrite,
)

router = APIRouter(
    prefix="/api/v1/account-plans",
    tags=["account-plans"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized),
)

PlanId = Annotated[uuid.UUID, Path(description="The account plan's id.")]
NOT_FOUND = problem_responses(NotFound)
# Writes naming employees: 422 `unknown_reference` for one you may not see (or that does not exist),
# 502/504 when the employee lifecycle service cannot say.
NAMING_EMPLOYEES = problem_responses(NotFound, Unprocessable, UpstreamUnavailable, UpstreamTimeout)


async def _children(request: Request, session: DbSession, model, plan_id: uuid.UUID, page) -> tuple[list, str | None]:
    stmt = repository.children_statement(model, plan_id)
    return await paginate(session, request, stmt, order_by=(model.created_at, model.id), params=page)


@router.get("", summary="List the account plans you may see", response_model=Page[PlanRead])
async def list_account_plans(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    page: Pagination,
    clock: ClockDep,
    account_id: Annotated[uuid.UUID | None, Query(description="Only this account's plans.")] = None,
) -> Page[PlanRead]:
    stmt = repository.plans_statement(principal, account_id=account_id, day=clock.today())
    rows, next_cursor = await paginate(
        session, request, stmt, order_by=(AccountPlan.created_at, AccountPlan.id), params=page
    )
    return Page[PlanRead](items=[PlanRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "",
    summary="Create an account plan for a period",
    status_code=status.HTTP_201_CREATED,
    response_model=PlanRead,
    responses=problem_responses(Conflict, Unprocessable),
)
async def create_account_plan(
    data: PlanCreate, response: Response, session: DbSession, principal: CurrentPrincipal
) -> PlanRead:
    plan = await service.create(session=session, principal=principal, data=data)
    response.headers["Location"] = f"/api/v1/account-plans/{plan.id}"
    set_etag(response, plan.version)
    return PlanRead.model_validate(plan)


@router.get("/{plan_id}", summary="Get one account plan", response_model=PlanRead, responses=NOT_FOUND)
async def get_account_plan(
    plan_id: PlanId, response: Response, session: DbSession, principal: CurrentPrincipal
) -> PlanRead:
    plan, _ = await service.get(session=session, principal=principal, plan_id=plan_id)
    set_etag(response, plan.version)
    return PlanRead.model_validate(plan)


@router.patch(
    "/{plan_id}",
    summary="Change a plan's goal, value proposition, success factors or period",
    response_model=PlanRead,
    responses=problem_responses(NotFound, PreconditionFailed, Unprocessable),
)
async def update_account_plan(
    plan_id: PlanId,
    data: PlanUpdate,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
) -> PlanRead:
    plan, _ = await service.get(session=session, principal=principal, plan_id=plan_id)
    check_if_match(request, plan.version)
    plan = await service.update(session=session, plan=plan, data=data)
    set_etag(response, plan.version)
    return PlanRead.model_validate(plan)


@router.get(
    "/{plan_id}/completeness", summary="How complete the plan is now", response_model=Completeness, responses=NOT_FOUND
)
async def get_plan_completeness(plan_id: PlanId, session: DbSession, principal: CurrentPrincipal) -> Completeness:
    plan, _ = await service.get(session=session, principal=principal, plan_id=plan_id)
    return Completeness.model_validate(await service.plan_completeness(session=session, plan=plan))


@router.get(
    "/{plan_id}/objectives", summary="List a plan's objectives", response_model=Page[ObjectiveRead], responses=NOT_FOUND
)
async def list_plan_objectives(
    plan_id: PlanId, request: Request, session: DbSession, principal: CurrentPrincipal, page: Pagination
) -> Page[ObjectiveRead]:
    await service.get(session=session, principal=principal, plan_id=plan_id)
    rows, cursor = await _children(request, session, PlanObjective, plan_id, page)
    return Page[ObjectiveRead](items=[ObjectiveRead.model_validate(r) for r in rows], next_cursor=cursor)


@router.post(
    "/{plan_id}/objectives",
    summary="Add an objective",
    status_code=status.HTTP_201_CREATED,
    response_model=ObjectiveRead,
    responses=NOT_FOUND,
)
async def create_plan_objective(
    plan_id: PlanId, data: ObjectiveCreate, response: Response, session: DbSession, principal: CurrentPrincipal
) -> ObjectiveRead:
    plan, _ = await service.get(session=session, principal=principal, plan_id=plan_id)
    objective = await service.add_objective(session=session, plan=plan, title=data.title, description=data.description)
    response.headers["Location"] = f"/api/v1/account-plans/{plan_id}/objectives/{objective.id}"
    set_etag(response, objective.version)
    return ObjectiveRead.model_validate(objective)


@router.get(
    "/{plan_id}/actions",
    summary="List a plan's actions and counter-actions",
    response_model=Page[ActionRead],
    responses=NOT_FOUND,
)
async def list_plan_actions(
    plan_id: PlanId, request: Request, session: DbSession, principal: CurrentPrincipal, page: Pagination
) -> Page[ActionRead]:
    await service.get(session=session, principal=principal, plan_id=plan_id)
    rows, cursor = await _children(request, session, PlanAction, plan_id, page)
    return Page[ActionRead](items=[ActionRead.model_validate(r) for r in rows], next_cursor=cursor)


@router.post(
    "/{plan_id}/actions",
    summary="Add an action (to an objective, or a counter-action to a contract)",
    status_code=status.HTTP_201_CREATED,
    response_model=ActionRead,
    responses=NAMING_EMPLOYEES,
)
async def create_plan_action(
    plan_id: PlanId,
    data: ActionCreate,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    peers: PeersDep,
) -> ActionRead:
    """`owner_id` must be an employee you may see (422 `unknown_reference` otherwise)."""
    plan, _ = await service.get(session=session, principal=principal, plan_id=plan_id)
    action = await service.add_action(session=session, principal=principal, peers=peers, plan=plan, data=data)
    response.headers["Location"] = f"/api/v1/account-plans/{plan_id}/actions/{action.id}"
    set_etag(response, action.version)
    return ActionRead.model_validate(action)


@router.patch(
    "/{plan_id}/actions/{action_id}",
    summary="Change an action (status, owner, due date)",
    response_model=ActionRead,
    responses=problem_responses(NotFound, PreconditionFailed, Unprocessable, UpstreamUnavailable, UpstreamTimeout),
)
async def update_plan_action(
    plan_id: PlanId,
    action_id: Annotated[uuid.UUID, Path(description="The action's id.")],
    data: ActionUpdate,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    peers: PeersDep,
) -> ActionRead:
    """A new `owner_id` must be an employee you may see (422 `unknown_reference` otherwise)."""
    plan, _ = await service.get(session=session, principal=principal, plan_id=plan_id)
    action = await service.get_child(session=session, model=PlanAction, plan=plan, row_id=action_id)
    check_if_match(request, action.version)
    action = await service.update_action(session=session, principal=principal, peers=peers, action=action, data=data)
    set_etag(response, action.version)
    return ActionRead.model_validate(action)


@router.get("/{plan_id}/reviews", summary="List a plan's reviews", response_model=Page[ReviewRead], responses=NOT_FOUND)
async def list_plan_reviews(
    plan_id: PlanId, request: Request, session: DbSession, principal: CurrentPrincipal, page: Pagination
) -> Page[ReviewRead]:
    await service.get(session=session, principal=principal, plan_id=plan_id)
    rows, cursor = await _children(request, session, PlanReview, plan_id, page)
    return Page[ReviewRead](items=[ReviewRead.model_validate(r) for r in rows], next_cursor=cursor)


@router.post(
    "/{plan_id}/reviews",
    summary="Review the plan: records its completeness today",
    status_code=status.HTTP_201_CREATED,
    response_model=ReviewRead,
    responses=NOT_FOUND,
)
async def create_plan_review(
    plan_id: PlanId, data: ReviewCreate, response: Response, session: DbSession, principal: CurrentPrincipal
) -> ReviewRead:
    plan, _ = await service.get(session=session, principal=principal, plan_id=plan_id)
    review = await service.review(session=session, principal=principal, plan=plan, data=data)
    response.headers["Location"] = f"/api/v1/account-plans/{plan_id}/reviews/{review.id}"
    set_etag(response, review.version)
    return ReviewRead.model_validate(review)


@router.get(
    "/{plan_id}/relationship-targets",
    summary="Relationship targets and the gap to each (core task 1)",
    response_model=list[TargetRead],
    responses=NOT_FOUND,
)
async def list_relationship_targets(
    plan_id: PlanId, session: DbSession, principal: CurrentPrincipal
) -> list[TargetRead]:
    """Not paginated: a plan targets its key contacts, a bounded handful."""
    plan, _ = await service.get(session=session, principal=principal, plan_id=plan_id)
    return [TargetRead.model_validate(t) for t in await service.targets(session=session, plan=plan)]


@router.put(
    "/{plan_id}/relationship-targets",
    summary="Set the target relationship level for a contact",
    response_model=list[TargetRead],
    responses=NAMING_EMPLOYEES,
)
async def set_relationship_target(
    plan_id: PlanId, data: TargetWrite, session: DbSession, principal: CurrentPrincipal, peers: PeersDep
) -> list[TargetRead]:
    """`contact_id` must be a contact of the plan's account and `owner_id` an employee you may see
    (422 `unknown_reference` otherwise)."""
    plan, _ = await service.get(session=session, principal=principal, plan_id=plan_id)
    await service.set_target(session=session, principal=principal, peers=peers, plan=plan, data=data)
    return [TargetRead.model_validate(t) for t in await service.targets(session=session, plan=plan)]


@router.put(
    "/{plan_id}/solution-guiding-team",
    summary="Set the solution-guiding team and its target initiatives",
    response_model=PlanRead,
    responses=problem_responses(NotFound, PreconditionFailed, Unprocessable, UpstreamUnavailable, UpstreamTimeout),
)
async def set_solution_guiding_team(
    plan_id: PlanId,
    data: GuidingTeamWrite,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    peers: PeersDep,
) -> PlanRead:
    """Every member must be an employee you may see (422 `unknown_reference` naming each one that is not,
    asked of the employee lifecycle service in one call)."""
    plan, _ = await service.get(session=session, principal=principal, plan_id=plan_id)
    check_if_match(request, plan.version)
    plan = await service.set_guiding_team(session=session, principal=principal, peers=peers, plan=plan, data=data)
    set_etag(response, plan.version)
    return PlanRead.model_validate(plan)


@router.get(
    "/{plan_id}/solution-guiding-team/sessions",
    summary="List the guiding team's sessions and outcomes",
    response_model=Page[SessionRead],
    responses=NOT_FOUND,
)
async def list_guiding_sessions(
    plan_id: PlanId, request: Request, session: DbSession, principal: CurrentPrincipal, page: Pagination
) -> Page[SessionRead]:
    await service.get(session=session, principal=principal, plan_id=plan_id)
    rows, cursor = await _children(request, session, GuidingSession, plan_id, page)
    return Page[SessionRead](items=[SessionRead.model_validate(r) for r in rows], next_cursor=cursor)


@router.post(
    "/{plan_id}/solution-guiding-team/sessions",
    summary="Record a guiding session and its outcome",
    status_code=status.HTTP_201_CREATED,
    response_model=SessionRead,
    responses=problem_responses(NotFound, Unprocessable),
)
async def create_guiding_session(
    plan_id: PlanId, data: SessionCreate, response: Response, session: DbSession, principal: CurrentPrincipal
) -> SessionRead:
    plan, _ = await service.get(session=session, principal=principal, plan_id=plan_id)
    row = await service.add_session(session=session, plan=plan, data=data)
    response.headers["Location"] = f"/api/v1/account-plans/{plan_id}/solution-guiding-team/sessions/{row.id}"
    set_etag(response, row.version)
    return SessionRead.model_validate(row)


@router.get(
    "/{plan_id}/whitespace-cells",
    summary="The whitespace map: business unit × solution cells",
    response_model=Page[CellRead],
    responses=NOT_FOUND,
)
async def list_whitespace_cells(
    plan_id: PlanId, request: Request, session: DbSession, principal: CurrentPrincipal, page: Pagination
) -> Page[CellRead]:
    await service.get(session=session, principal=principal, plan_id=plan_id)
    rows, cursor = await _children(request, session, WhitespaceCell, plan_id, page)
    return Page[CellRead](items=[CellRead.model_validate(r) for r in rows], next_cursor=cursor)


@router.put(
    "/{plan_id}/whitespace-cells",
    summary="Set one whitespace cell (by business unit and solution)",
    response_model=CellRead,
    responses=problem_responses(NotFound, Unprocessable),
)
async def set_whitespace_cell(
    plan_id: PlanId, data: CellWrite, response: Response, session: DbSession, principal: CurrentPrincipal
) -> CellRead:
    plan, _ = await service.get(session=session, principal=principal, plan_id=plan_id)
    cell_id = await service.set_cell(session=session, plan=plan, data=data)
    cell = await service.get_child(session=session, model=WhitespaceCell, plan=plan, row_id=cell_id)
    await session.refresh(cell)
    set_etag(response, cell.version)
    return CellRead.model_validate(cell)


@router.get(
    "/{plan_id}/incumbent-contracts",
    summary="Competitors' incumbent contracts",
    response_model=Page[ContractRead],
    responses=NOT_FOUND,
)
async def list_incumbent_contracts(
    plan_id: PlanId, request: Request, session: DbSession, principal: CurrentPrincipal, page: Pagination
) -> Page[ContractRead]:
    await service.get(session=session, principal=principal, plan_id=plan_id)
    rows, cursor = await _children(request, session, IncumbentContract, plan_id, page)
    return Page[ContractRead](items=[ContractRead.model_validate(r) for r in rows], next_cursor=cursor)


@router.post(
    "/{plan_id}/incumbent-contracts",
    summary="Record a competitor's incumbent contract",
    status_code=status.HTTP_201_CREATED,
    response_model=ContractRead,
    responses=NOT_FOUND,
)
async def create_incumbent_contract(
    plan_id: PlanId, data: ContractCreate, response: Response, session: DbSession, principal: CurrentPrincipal
) -> ContractRead:
    plan, _ = await service.get(session=session, principal=principal, plan_id=plan_id)
    row = await service.add_contract(session=session, plan=plan, data=data)
    response.headers["Location"] = f"/api/v1/account-plans/{plan_id}/incumbent-contracts/{row.id}"
    set_etag(response, row.version)
    return ContractRead.model_validate(row)


@router.get(
    "/{plan_id}/competitor-footprint",
    summary="Per competitor: cells held, contracts and expiry, our counter-actions (core task 2)",
    response_model=list[CompetitorFootprint],
    responses=NOT_FOUND,
)
async def get_competitor_footprint(
    plan_id: PlanId, session: DbSession, principal: CurrentPrincipal
) -> list[CompetitorFootprint]:
    """Not paginated: one entry per competitor present in the plan."""
    plan, _ = await service.get(session=session, principal=principal, plan_id=plan_id)
    return [
        CompetitorFootprint.model_validate(e) for e in await service.competitor_footprint(session=session, plan=plan)
    ]
