import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from sanlun.kernel.auth import CurrentPrincipal
from sanlun.kernel.db import DbSession
from sanlun.kernel.errors import Forbidden, NotFound, Unauthorized, Unprocessable, problem_responses
from sanlun.kernel.pagination import Page, Pagination, paginate
from sanlun.kernel.routing import TransactionalRoute
from services.employee_lifecycle.policies import repository, service
from services.employee_lifecycle.policies.models import StagePolicy
from services.employee_lifecycle.policies.schemas import PolicyRead, PolicyWrite

router = APIRouter(
    prefix="/api/v1/stage-policies",
    tags=["stage-policies"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized),
)


@router.get("", summary="List published policy versions", response_model=Page[PolicyRead])
async def list_stage_policies(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    page: Pagination,
    organization_path: Annotated[str | None, Query(max_length=500, description="Only this organisation's.")] = None,
) -> Page[PolicyRead]:
    stmt = repository.policies_statement(organization_path, visible=service.visible(principal))
    rows, next_cursor = await paginate(
        session, request, stmt, order_by=(StagePolicy.created_at, StagePolicy.id), params=page
    )
    return Page[PolicyRead](items=[service.read(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "",
    summary="Publish a new policy version for an organisation",
    status_code=status.HTTP_201_CREATED,
    response_model=PolicyRead,
    responses=problem_responses(Forbidden, Unprocessable),
)
async def create_stage_policy(
    data: PolicyWrite, response: Response, session: DbSession, principal: CurrentPrincipal
) -> PolicyRead:
    """Refused (422, naming the rule) when a rule tests an unknown signal, has a
    threshold that can never hold, or overlaps another rule."""
    policy = await service.create(session=session, principal=principal, data=data)
    response.headers["Location"] = f"/api/v1/stage-policies/{policy.id}"
    response.headers["ETag"] = f'"{policy.version}"'
    return service.read(policy)


@router.get("/default", summary="The shipped default policy", response_model=PolicyRead)
async def get_default_stage_policy(_: CurrentPrincipal) -> PolicyRead:
    return service.read(None)


@router.get(
    "/effective",
    summary="The policy that applies to an org unit",
    response_model=PolicyRead,
    responses=problem_responses(NotFound),
)
async def get_effective_stage_policy(
    session: DbSession,
    principal: CurrentPrincipal,
    org_unit: Annotated[str, Query(max_length=500, description="Org unit path, e.g. `/group/east/team-3`.")],
) -> PolicyRead:
    """404 for a unit of an organisation whose policies you may not read, as for its policy by id."""
    return service.read(await service.effective(session=session, principal=principal, org_unit_path=org_unit))


@router.get(
    "/{policy_id}", summary="One policy version", response_model=PolicyRead, responses=problem_responses(NotFound)
)
async def get_stage_policy(
    policy_id: Annotated[uuid.UUID, Path(description="The policy version's id.")],
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
) -> PolicyRead:
    policy = await service.get(session=session, principal=principal, policy_id=policy_id)
    response.headers["ETag"] = f'"{policy.version}"'
    return service.read(policy)
