import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from sanlun.kernel.auth import CurrentPrincipal, require_roles
from sanlun.kernel.db import DbSession
from sanlun.kernel.errors import Forbidden, NotFound, PreconditionFailed, Unauthorized, problem_responses
from sanlun.kernel.etag import check_if_match, set_etag
from sanlun.kernel.pagination import Page, Pagination, paginate
from sanlun.kernel.routing import TransactionalRoute
from services.employee_lifecycle.employees import service as employees_service
from services.employee_lifecycle.quotas import repository
from services.employee_lifecycle.quotas.models import Quota
from services.employee_lifecycle.quotas.schemas import Period, QuotaRead, QuotaWrite, period_of, period_start

router = APIRouter(
    prefix="/api/v1/employees",
    tags=["quotas"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized),
)

EmployeeId = Annotated[uuid.UUID, Path(description="The employee's id.")]


def quota_read(q: Quota) -> QuotaRead:
    return QuotaRead(
        id=q.id,
        employee_id=q.employee_id,
        period=period_of(q.period_start),
        amount={"amount": q.amount, "currency": q.currency},
        created_at=q.created_at,
        updated_at=q.updated_at,
        version=q.version,
    )


@router.get(
    "/{employee_id}/quotas",
    summary="An employee's quotas by quarter",
    response_model=Page[QuotaRead],
    responses=problem_responses(NotFound),
)
async def list_quotas(
    employee_id: EmployeeId, request: Request, session: DbSession, principal: CurrentPrincipal, page: Pagination
) -> Page[QuotaRead]:
    await employees_service.get(session=session, principal=principal, employee_id=employee_id)
    rows, next_cursor = await paginate(
        session, request, repository.list_statement(employee_id), order_by=(Quota.period_start, Quota.id), params=page
    )
    return Page[QuotaRead](items=[quota_read(q) for q in rows], next_cursor=next_cursor)


@router.put(
    "/{employee_id}/quotas/{period}",
    summary="Set an employee's quota for a quarter (e.g. 2017-Q3)",
    response_model=QuotaRead,
    responses={
        201: {"model": QuotaRead, "description": "Created: the employee had no quota for this quarter."},
        **problem_responses(NotFound, Forbidden, PreconditionFailed),
    },
)
async def put_quota(
    employee_id: EmployeeId,
    period: Annotated[Period, Path(description="The quarter, `YYYY-Qn`.")],
    data: QuotaWrite,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
) -> QuotaRead:
    # Visibility first (404), then the role (403): a rep may not learn who exists elsewhere.
    employee = await employees_service.get(session=session, principal=principal, employee_id=employee_id)
    require_roles(principal, "manager", "org_admin", "group_admin", "integrator")
    quota = await repository.get(session, employee.id, period_start(period))
    if quota is None:
        quota = Quota(
            employee_id=employee.id,
            period_start=period_start(period),
            amount=data.amount.amount,
            currency=data.amount.currency,
        )
        session.add(quota)
        response.status_code = status.HTTP_201_CREATED
    else:
        check_if_match(request, quota.version)
        quota.amount, quota.currency = data.amount.amount, data.amount.currency
    await session.flush()
    set_etag(response, quota.version)
    return quota_read(quota)
