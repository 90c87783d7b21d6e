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
from services.employee_lifecycle.org_units import repository, service
from services.employee_lifecycle.org_units.models import OrgUnit
from services.employee_lifecycle.org_units.schemas import (
    OrgUnitBulkUpsert,
    OrgUnitCreate,
    OrgUnitRead,
    OrgUnitUpdate,
)

router = APIRouter(
    prefix="/api/v1/org-units",
    tags=["org-units"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized),
)

UnitId = Annotated[uuid.UUID, Path(description="The org unit's id.")]


@router.get("", summary="List the org units you may see", response_model=Page[OrgUnitRead])
async def list_org_units(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    page: Pagination,
    within: Annotated[str | None, Query(max_length=500, description="Only this path and below.")] = None,
    parent_id: Annotated[uuid.UUID | None, Query(description="Only the children of this unit.")] = None,
) -> Page[OrgUnitRead]:
    stmt = repository.list_statement(principal, within=within, parent_id=parent_id)
    rows, next_cursor = await paginate(session, request, stmt, order_by=(OrgUnit.created_at, OrgUnit.id), params=page)
    return Page[OrgUnitRead](items=[OrgUnitRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "",
    summary="Create an org unit",
    status_code=status.HTTP_201_CREATED,
    response_model=OrgUnitRead,
    responses=problem_responses(Forbidden, Conflict, Unprocessable),
)
async def create_org_unit(
    data: OrgUnitCreate, response: Response, session: DbSession, principal: CurrentPrincipal
) -> OrgUnitRead:
    unit = await service.create(session=session, principal=principal, data=data)
    response.headers["Location"] = f"/api/v1/org-units/{unit.id}"
    set_etag(response, unit.version)
    return OrgUnitRead.model_validate(unit)


@router.post(
    ":bulk-upsert",
    summary="Create or rename org units by external id (imports), with a per-row report",
    response_model=BulkReport,
    responses=problem_responses(Forbidden),
)
async def bulk_upsert_org_units(data: OrgUnitBulkUpsert, session: DbSession, principal: CurrentPrincipal) -> BulkReport:
    """The kernel's bulk contract (`sanlun.kernel.bulk`), parents before children."""
    return await service.bulk_upsert(session=session, principal=principal, request=data)


@router.get("/{unit_id}", summary="Get one org unit", response_model=OrgUnitRead, responses=problem_responses(NotFound))
async def get_org_unit(
    unit_id: UnitId, response: Response, session: DbSession, principal: CurrentPrincipal
) -> OrgUnitRead:
    unit = await service.get(session=session, principal=principal, unit_id=unit_id)
    set_etag(response, unit.version)
    return OrgUnitRead.model_validate(unit)


@router.patch(
    "/{unit_id}",
    summary="Rename or move an org unit (paths below follow)",
    response_model=OrgUnitRead,
    responses=problem_responses(NotFound, Forbidden, Conflict, PreconditionFailed, Unprocessable),
)
async def update_org_unit(
    unit_id: UnitId,
    data: OrgUnitUpdate,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
) -> OrgUnitRead:
    unit = await service.get(session=session, principal=principal, unit_id=unit_id)
    check_if_match(request, unit.version)
    unit = await service.update(session=session, principal=principal, unit=unit, data=data)
    set_etag(response, unit.version)
    return OrgUnitRead.model_validate(unit)
