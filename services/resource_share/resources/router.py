import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from sanlun.kernel.auth import CurrentPrincipal
from sanlun.kernel.clock import ClockDep, request_clock
from sanlun.kernel.db import DbSession
from sanlun.kernel.errors import (
    Forbidden,
    NotFound,
    PreconditionFailed,
    Unauthorized,
    Unprocessable,
    problem_responses,
)
from sanlun.kernel.etag import check_if_match, set_etag
from sanlun.kernel.pagination import Page, Pagination
from sanlun.kernel.routing import TransactionalRoute
from sanlun.kernel.types import OrgUnitPath
from services.resource_share.db import Keyset
from services.resource_share.resources import reads, service
from services.resource_share.resources.models import ResourceType
from services.resource_share.resources.schemas import ResourceCreate, ResourceRead, ResourceUpdate

router = APIRouter(
    prefix="/api/v1/resources",
    tags=["resources"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized),
)

ResourceId = Annotated[uuid.UUID, Path(description="The resource's id.")]


@router.get("", summary="List and search the resources you may see", response_model=Page[ResourceRead])
async def list_resources(
    request: Request,
    principal: CurrentPrincipal,
    page: Pagination,
    type: Annotated[ResourceType | None, Query(description="Only resources of this type.")] = None,
    industry: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Tagged with this industry.")
    ] = None,
    solution: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Tagged with this solution.")
    ] = None,
    organization: Annotated[
        OrgUnitPath | None, Query(description="Owned in this org unit or below, e.g. `/group/east`.")
    ] = None,
    owner_id: Annotated[uuid.UUID | None, Query(description="Owned by this employee.")] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Words to find in the title or summary.")
    ] = None,
) -> Response:
    # One prebuilt statement outside a transaction (`reads`); `repository.list_statement` is its oracle.
    keyset = Keyset(request, page)
    filters = {
        name: value
        for name, value in (
            ("type", type.value if type else None),
            ("industry", industry),
            ("solution", solution),
            ("owner_id", owner_id),
            ("q", q),
        )
        if value
    }
    async with request.app.state.db.read() as conn:
        items = await reads.list_page(
            conn,
            principal,
            today=request_clock(request).today(),
            filters=filters,
            within=organization or None,
            page=keyset.params(),
        )
    return keyset.answer(items)


@router.post(
    "",
    summary="Share a resource",
    status_code=status.HTTP_201_CREATED,
    response_model=ResourceRead,
    responses=problem_responses(Forbidden, Unprocessable),
)
async def create_resource(
    data: ResourceCreate, response: Response, session: DbSession, principal: CurrentPrincipal, clock: ClockDep
) -> ResourceRead:
    resource = await service.create(session=session, principal=principal, data=data)
    response.headers["Location"] = f"/api/v1/resources/{resource.id}"
    set_etag(response, resource.version)
    return service.present(resource, principal, today=clock.today())


@router.get(
    "/{resource_id}",
    summary="Get one resource",
    response_model=ResourceRead,
    responses=problem_responses(NotFound),
)
async def get_resource(
    resource_id: ResourceId, response: Response, session: DbSession, principal: CurrentPrincipal, clock: ClockDep
) -> ResourceRead:
    resource = await service.get(session=session, principal=principal, resource_id=resource_id)
    set_etag(response, resource.version)
    return service.present(resource, principal, today=clock.today())


@router.patch(
    "/{resource_id}",
    summary="Change a resource you own or manage",
    response_model=ResourceRead,
    responses=problem_responses(NotFound, Forbidden, PreconditionFailed, Unprocessable),
)
async def update_resource(
    resource_id: ResourceId,
    data: ResourceUpdate,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    clock: ClockDep,
) -> ResourceRead:
    resource = await service.get(session=session, principal=principal, resource_id=resource_id)
    check_if_match(request, resource.version)
    resource = await service.update(session=session, principal=principal, resource=resource, data=data)
    set_etag(response, resource.version)
    return service.present(resource, principal, today=clock.today())
