import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from sanlun.kernel.auth import CurrentPrincipal
from sanlun.kernel.bulk import BulkReport
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
from services.opportunity.solutions import repository, service
from services.opportunity.solutions.models import Solution
from services.opportunity.solutions.schemas import SolutionBulkUpsert, SolutionCreate, SolutionRead, SolutionUpdate

router = APIRouter(
    prefix="/api/v1/solutions",
    tags=["solutions"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized),
)

SolutionId = Annotated[uuid.UUID, Path(description="The solution's id.")]


@router.get(
    "",
    summary="List your organisation's solution catalogue and the group's",
    response_model=Page[SolutionRead],
)
async def list_solutions(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    page: Pagination,
    active: Annotated[bool | None, Query(description="Only active (true) or retired (false) solutions.")] = None,
    family: Annotated[str | None, Query(max_length=100, description="Exact solution family.")] = None,
    industry: Annotated[
        str | None, Query(max_length=100, description="Only solutions tagged with this industry.")
    ] = None,
    size_band: Annotated[
        str | None, Query(max_length=50, description="Only solutions tagged with this size band.")
    ] = None,
) -> Page[SolutionRead]:
    stmt = repository.list_statement(principal, active=active, family=family, industry=industry, size_band=size_band)
    rows, next_cursor = await paginate(session, request, stmt, order_by=(Solution.created_at, Solution.id), params=page)
    return Page[SolutionRead](items=[SolutionRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "",
    summary="Add a solution to the catalogue",
    status_code=status.HTTP_201_CREATED,
    response_model=SolutionRead,
    responses=problem_responses(Forbidden, Conflict, Unprocessable),
)
async def create_solution(
    data: SolutionCreate, response: Response, session: DbSession, principal: CurrentPrincipal
) -> SolutionRead:
    solution = await service.create(session=session, principal=principal, data=data)
    response.headers["Location"] = f"/api/v1/solutions/{solution.id}"
    set_etag(response, solution.version)
    return SolutionRead.model_validate(solution)


@router.post(
    ":bulk-upsert",
    summary="Create or update many of an organisation's solutions by external id, with a report per row",
    response_model=BulkReport,
    responses=problem_responses(Forbidden, Unprocessable),
)
async def bulk_upsert_solutions(
    data: SolutionBulkUpsert, session: DbSession, principal: CurrentPrincipal
) -> BulkReport:
    """The kernel's bulk contract (`sanlun.kernel.bulk`) on one organisation's
    catalogue (yours, or the one a group admin names in `organization_path`):
    each row matched by `external_id` in that catalogue (the solution's name,
    or a key of the source's own), else by name; no other organisation's
    solution or price is read or changed. Org and group admins."""
    return await service.bulk_upsert(session=session, principal=principal, request=data)


@router.get(
    "/{solution_id}",
    summary="Get one solution of your organisation's catalogue or the group's",
    response_model=SolutionRead,
    responses=problem_responses(NotFound),
)
async def get_solution(
    solution_id: SolutionId, response: Response, session: DbSession, principal: CurrentPrincipal
) -> SolutionRead:
    solution = await service.get(session=session, principal=principal, solution_id=solution_id)
    set_etag(response, solution.version)
    return SolutionRead.model_validate(solution)


@router.patch(
    "/{solution_id}",
    summary="Change a solution",
    response_model=SolutionRead,
    responses=problem_responses(NotFound, Forbidden, Conflict, PreconditionFailed, Unprocessable),
)
async def update_solution(
    solution_id: SolutionId,
    data: SolutionUpdate,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
) -> SolutionRead:
    solution = await service.get(session=session, principal=principal, solution_id=solution_id)
    check_if_match(request, solution.version)
    solution = await service.update(session=session, principal=principal, solution=solution, data=data)
    set_etag(response, solution.version)
    return SolutionRead.model_validate(solution)
