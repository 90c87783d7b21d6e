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
from services.employee_lifecycle.employees import bulk, repository, service
from services.employee_lifecycle.employees.models import Employee
from services.employee_lifecycle.employees.schemas import (
    EmployeeBulkUpsert,
    EmployeeCreate,
    EmployeeRead,
    EmployeeUpdate,
)

router = APIRouter(
    prefix="/api/v1/employees",
    tags=["employees"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized),
)

EmployeeId = Annotated[uuid.UUID, Path(description="The employee's id.")]


@router.get("", summary="List the employees you may see", response_model=Page[EmployeeRead])
async def list_employees(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    page: Pagination,
    org_unit: Annotated[str | None, Query(max_length=500, description="Only this org unit and below.")] = None,
    active: Annotated[bool | None, Query(description="Only active (true) or inactive (false) people.")] = None,
    email: Annotated[str | None, Query(max_length=320, description="Exact email.")] = None,
) -> Page[EmployeeRead]:
    stmt = repository.list_statement(principal, org_unit=org_unit, active=active, email=email)
    rows, next_cursor = await paginate(session, request, stmt, order_by=(Employee.created_at, Employee.id), params=page)
    return Page[EmployeeRead](items=[EmployeeRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "",
    summary="Create an employee",
    status_code=status.HTTP_201_CREATED,
    response_model=EmployeeRead,
    responses=problem_responses(Forbidden, Conflict, Unprocessable),
)
async def create_employee(
    data: EmployeeCreate, response: Response, session: DbSession, principal: CurrentPrincipal
) -> EmployeeRead:
    employee = await service.create(session=session, principal=principal, data=data)
    response.headers["Location"] = f"/api/v1/employees/{employee.id}"
    set_etag(response, employee.version)
    return EmployeeRead.model_validate(employee)


@router.post(
    ":bulk-upsert",
    summary="Create or update employees by external id (imports), with a per-row report",
    response_model=BulkReport,
    responses=problem_responses(Forbidden),
)
async def bulk_upsert_employees(
    data: EmployeeBulkUpsert, session: DbSession, principal: CurrentPrincipal
) -> BulkReport:
    """The kernel's bulk contract (`sanlun.kernel.bulk`). Idempotent: sending
    the same rows again reports them `unchanged` and publishes nothing.
    Managers are named by their external id (in the batch or already imported)."""
    return await bulk.bulk_upsert(session=session, principal=principal, request=data)


@router.get(
    "/{employee_id}",
    summary="Get one employee",
    response_model=EmployeeRead,
    responses=problem_responses(NotFound),
)
async def get_employee(
    employee_id: EmployeeId, response: Response, session: DbSession, principal: CurrentPrincipal
) -> EmployeeRead:
    employee = await service.get(session=session, principal=principal, employee_id=employee_id)
    set_etag(response, employee.version)
    return EmployeeRead.model_validate(employee)


@router.patch(
    "/{employee_id}",
    summary="Change an employee",
    response_model=EmployeeRead,
    responses=problem_responses(NotFound, Forbidden, Conflict, PreconditionFailed, Unprocessable),
)
async def update_employee(
    employee_id: EmployeeId,
    data: EmployeeUpdate,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
) -> EmployeeRead:
    employee = await service.get(session=session, principal=principal, employee_id=employee_id)
    check_if_match(request, employee.version)
    employee = await service.update(session=session, principal=principal, employee=employee, data=data)
    set_etag(response, employee.version)
    return EmployeeRead.model_validate(employee)
