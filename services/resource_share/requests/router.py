import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status

from sanlun.kernel.auth import CurrentPrincipal, Principal
from sanlun.kernel.clock import Clock, ClockDep, request_clock
from sanlun.kernel.db import DbSession
from sanlun.kernel.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    Unauthorized,
    Unprocessable,
    UpstreamTimeout,
    UpstreamUnavailable,
    problem_responses,
)
from sanlun.kernel.etag import check_if_match, set_etag
from sanlun.kernel.pagination import Page, Pagination
from sanlun.kernel.peers import PeersDep
from sanlun.kernel.routing import TransactionalRoute
from services.resource_share import lookups
from services.resource_share.db import Keyset
from services.resource_share.requests import reads, service
from services.resource_share.requests.schemas import (
    Decision,
    Fulfilment,
    OutcomeUpdate,
    Rating,
    RequestCreate,
    RequestRead,
    Status,
)

router = APIRouter(
    prefix="/api/v1/resource-requests",
    tags=["resource-requests"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized),
)

RequestId = Annotated[uuid.UUID, Path(description="The resource request's id.")]
ACTION_PROBLEMS = problem_responses(NotFound, Forbidden, Conflict, PreconditionFailed, Unprocessable)


@router.get("", summary="List resource requests you made, received, or manage", response_model=Page[RequestRead])
async def list_resource_requests(
    request: Request,
    principal: CurrentPrincipal,
    page: Pagination,
    role: Annotated[
        Literal["requester", "owner"] | None,
        Query(description="`requester`: ones you made; `owner`: ones waiting on you. Default: all you may see."),
    ] = None,
    status: Annotated[Status | None, Query(description="Only requests in this status.")] = None,
    resource_id: Annotated[uuid.UUID | None, Query(description="Only requests for this resource.")] = None,
    opportunity_id: Annotated[uuid.UUID | None, Query(description="Only requests for this opportunity.")] = None,
) -> Response:
    # One prebuilt statement outside a transaction (`reads`); `repository.list_statement` is its oracle.
    keyset = Keyset(request, page)
    filters = {
        name: value for name, value in (("resource_id", resource_id), ("opportunity_id", opportunity_id)) if value
    }
    async with request.app.state.db.read() as conn:
        items = await reads.list_page(
            conn,
            principal,
            now=request_clock(request).now(),
            role=role,
            status=status or None,
            filters=filters,
            page=keyset.params(),
        )
    return keyset.answer(items)


@router.post(
    "",
    summary="Ask to use a resource",
    status_code=status.HTTP_201_CREATED,
    response_model=RequestRead,
    responses=problem_responses(NotFound, Forbidden, Unprocessable, UpstreamUnavailable, UpstreamTimeout),
)
async def create_resource_request(
    data: RequestCreate,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    peers: PeersDep,
    clock: ClockDep,
) -> RequestRead:
    """An `opportunity_id` must be one you may see (the opportunity service is asked, with your token)."""
    await lookups.check_opportunity(peers, data.opportunity_id, ["body", "opportunity_id"])
    settings = request.app.state.settings
    created = await service.create(
        session=session,
        principal=principal,
        data=data,
        sla_hours=settings.request_sla_hours,
        expiry_days=settings.request_expiry_days,
    )
    response.headers["Location"] = f"/api/v1/resource-requests/{created.id}"
    set_etag(response, created.version)
    return service.present(created, principal, now=clock.now())


@router.get(
    "/{request_id}",
    summary="Get one resource request",
    response_model=RequestRead,
    responses=problem_responses(NotFound),
)
async def get_resource_request(
    request_id: RequestId, response: Response, session: DbSession, principal: CurrentPrincipal, clock: ClockDep
) -> RequestRead:
    found = await service.get(session=session, principal=principal, request_id=request_id)
    set_etag(response, found.version)
    return service.present(found, principal, now=clock.now())


async def _act(
    request: Request,
    response: Response,
    session: DbSession,
    principal: Principal,
    clock: Clock,
    request_id: uuid.UUID,
    action: str,
    **kwargs: object,
) -> RequestRead:
    found = await service.get(session=session, principal=principal, request_id=request_id, lock=True)
    check_if_match(request, found.version)
    found = await service.act(session=session, principal=principal, request=found, action=action, **kwargs)  # type: ignore[arg-type]
    set_etag(response, found.version)
    return service.present(found, principal, now=clock.now())


@router.post(
    "/{request_id}/approve",
    summary="Approve a request (owner or their manager)",
    response_model=RequestRead,
    responses=ACTION_PROBLEMS,
)
async def approve_resource_request(
    request_id: RequestId,
    data: Decision,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    clock: ClockDep,
) -> RequestRead:
    return await _act(request, response, session, principal, clock, request_id, "approve", note=data.note)


@router.post(
    "/{request_id}/decline",
    summary="Decline a request (owner or their manager)",
    response_model=RequestRead,
    responses=ACTION_PROBLEMS,
)
async def decline_resource_request(
    request_id: RequestId,
    data: Decision,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    clock: ClockDep,
) -> RequestRead:
    return await _act(request, response, session, principal, clock, request_id, "decline", note=data.note)


@router.post(
    "/{request_id}/fulfil",
    summary="Mark an approved request fulfilled (publishes resource.used)",
    response_model=RequestRead,
    responses=ACTION_PROBLEMS,
)
async def fulfil_resource_request(
    request_id: RequestId,
    data: Fulfilment,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    clock: ClockDep,
) -> RequestRead:
    return await _act(
        request, response, session, principal, clock, request_id, "fulfil", note=data.note, outcome=data.outcome
    )


@router.post(
    "/{request_id}/rate",
    summary="Rate a fulfilled request (the requester)",
    response_model=RequestRead,
    responses=ACTION_PROBLEMS,
)
async def rate_resource_request(
    request_id: RequestId,
    data: Rating,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    clock: ClockDep,
) -> RequestRead:
    return await _act(
        request, response, session, principal, clock, request_id, "rate", note=data.comment, rating=data.rating
    )


@router.post(
    "/{request_id}/outcome",
    summary="Record what using the resource led to",
    response_model=RequestRead,
    responses=ACTION_PROBLEMS,
)
async def record_resource_request_outcome(
    request_id: RequestId,
    data: OutcomeUpdate,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    peers: PeersDep,
    clock: ClockDep,
) -> RequestRead:
    found = await service.get(session=session, principal=principal, request_id=request_id, lock=True)
    check_if_match(request, found.version)
    await lookups.check_opportunity(peers, data.opportunity_id, ["body", "opportunity_id"])
    found = await service.record_outcome(
        session=session, principal=principal, request=found, outcome=data.outcome, opportunity_id=data.opportunity_id
    )
    set_etag(response, found.version)
    return service.present(found, principal, now=clock.now())
