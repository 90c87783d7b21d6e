import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from sanlun.kernel.auth import CurrentPrincipal
from sanlun.kernel.db import DbSession
from sanlun.kernel.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    Unauthorized,
    Unprocessable,
    problem_responses,
)
from sanlun.kernel.etag import check_if_match, set_etag
from sanlun.kernel.pagination import Page, Pagination, paginate
from sanlun.kernel.routing import TransactionalRoute
from services.opportunity.opportunities import repository, service
from services.opportunity.opportunities.models import Opportunity
from services.opportunity.opportunities.schemas import OpportunityCreate, OpportunityRead, OpportunityUpdate
from services.opportunity.opportunities.stages import Stage

router = APIRouter(
    prefix="/api/v1/opportunities",
    tags=["opportunities"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized),
)

OpportunityId = Annotated[uuid.UUID, Path(description="The opportunity's id.")]


@router.get(
    "",
    summary="List the opportunities you may see",
    response_model=Page[OpportunityRead],
    responses=problem_responses(Unprocessable),
)
async def list_opportunities(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    page: Pagination,
    owner_id: Annotated[uuid.UUID | None, Query(description="Only this owner's opportunities.")] = None,
    unassigned: Annotated[bool | None, Query(description="Only unassigned (true) or assigned (false) ones.")] = None,
    stage: Annotated[list[Stage] | None, Query(description="Only these stages (repeat the parameter for several).")] = None,
    account_id: Annotated[uuid.UUID | None, Query(description="Only this account's opportunities.")] = None,
    org_unit: Annotated[str | None, Query(max_length=500, description="Only this org unit and below.")] = None,
    close_from: Annotated[dt.date | None, Query(description="Expected close on or after this date.")] = None,
    close_to: Annotated[dt.date | None, Query(description="Expected close on or before this date.")] = None,
) -> Page[OpportunityRead]:
    if close_from and close_to and close_from > close_to:
        raise Unprocessable(
            "close_to is before close_from.",
            errors=[{"loc": ["query", "close_to"], "msg": "must be on or after close_from"}],
        )
    stmt = repository.list_statement(
        principal, owner_id=owner_id, unassigned=unassigned, stages=stage or (), account_id=account_id,
        org_unit=org_unit, close_from=close_from, close_to=close_to,
    )
    rows, next_cursor = await paginate(
        session, request, stmt, order_by=(Opportunity.created_at, Opportunity.id), params=page
    )
    return Page[OpportunityRead](items=[OpportunityRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "",
    summary="Create an opportunity",
    status_code=status.HTTP_201_CREATED,
    response_model=OpportunityRead,
    responses=problem_responses(Forbidden, Conflict, Unprocessable),
)
async def create_opportunity(
    data: OpportunityCreate, response: Response, session: DbSession, principal: CurrentPrincipal
) -> OpportunityRead:
    opportunity = await service.create(session=session, principal=principal, data=data)
    response.headers["Location"] = f"/api/v1/opportunities/{opportunity.id}"
    set_etag(response, opportunity.version)
    return OpportunityRead.model_validate(opportunity)


@router.get(
    "/{opportunity_id}",
    summary="Get one opportunity",
    response_model=OpportunityRead,
    responses=problem_responses(NotFound),
)
async def get_opportunity(
    opportunity_id: OpportunityId, response: Response, session: DbSession, principal: CurrentPrincipal
) -> OpportunityRead:
    opportunity = await service.get(session=session, principal=principal, opportunity_id=opportunity_id)
    set_etag(response, opportunity.version)
    return OpportunityRead.model_validate(opportunity)


@router.patch(
    "/{opportunity_id}",
    summary="Change an opportunity",
    response_model=OpportunityRead,
    responses=problem_responses(NotFound, Forbidden, PreconditionFailed, Unprocessable),
)
async def update_opportunity(
    opportunity_id: OpportunityId,
    data: OpportunityUpdate,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
) -> OpportunityRead:
    opportunity = await service.get(session=session, principal=principal, opportunity_id=opportunity_id)
    check_if_match(request, opportunity.version)
    opportunity = await service.update(session=session, principal=principal, opportunity=opportunity, data=data)
    set_etag(response, opportunity.version)
    return OpportunityRead.model_validate(opportunity)
