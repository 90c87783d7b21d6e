import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from sanlun.kernel.auth import CurrentPrincipal
from sanlun.kernel.clock import request_clock
from sanlun.kernel.db import DbSession, get_session
from sanlun.kernel.errors import (
    Forbidden,
    NotFound,
    Unauthorized,
    Unprocessable,
    problem_responses,
)
from sanlun.kernel.etag import set_etag
from sanlun.kernel.peers import Peers, PeersDep
from sanlun.kernel.reads import json_response
from sanlun.kernel.routing import TransactionalRoute
from services.resource_share.influence import reads, service
from services.resource_share.influence.schemas import (
    Demand,
    Influence,
    ProfileRead,
    ProfileWrite,
)

router = APIRouter(
    prefix="/api/v1/resources/people",
    tags=["influence"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized),
)

EmployeeId = Annotated[uuid.UUID, Path(description="The employee's id.")]


@router.get(
    "/{employee_id}/influence",
    summary="An employee's influence with its breakdown",
    response_model=Influence,
    responses=problem_responses(NotFound),
)
async def get_influence(employee_id: EmployeeId, request: Request, principal: CurrentPrincipal) -> Response:
    if principal.employee_id == employee_id:  # yourself: one prebuilt statement outside a transaction
        async with request.app.state.db.read() as conn:
            return json_response(await reads.own_influence(conn, employee_id))
    influence = await service.influence_of(
        session=await get_session(request),
        principal=principal,
        peers=Peers.for_request(request),
        employee_id=employee_id,
    )
    return json_response(influence)


@router.get(
    "/{employee_id}/demand",
    summary="What the group asks of an employee: requests, introductions, support",
    response_model=Demand,
    responses=problem_responses(NotFound),
)
async def get_demand(
    employee_id: EmployeeId,
    request: Request,
    principal: CurrentPrincipal,
    window_days: Annotated[
        int, Query(ge=1, le=3650, description="Count what was asked in the last this many days.")
    ] = 90,
) -> Response:
    """For the employee and their line only (not part of a public profile).
    `waiting_decision` counts everything still waiting, however old."""
    if principal.employee_id == employee_id:  # yourself: one prebuilt statement outside a transaction
        now = request_clock(request).now()
        async with request.app.state.db.read() as conn:
            return json_response(await reads.own_demand(conn, employee_id, now=now, window_days=window_days))
    demand = await service.demand_of(
        session=await get_session(request),
        principal=principal,
        peers=Peers.for_request(request),
        employee_id=employee_id,
        window_days=window_days,
    )
    return json_response(demand)


@router.get(
    "/{employee_id}/profile",
    summary="An employee's profile (public once they opt in)",
    response_model=ProfileRead,
    responses=problem_responses(NotFound),
)
async def get_profile(
    employee_id: EmployeeId, response: Response, session: DbSession, principal: CurrentPrincipal, peers: PeersDep
) -> ProfileRead:
    profile = await service.profile_of(session=session, principal=principal, peers=peers, employee_id=employee_id)
    set_etag(response, profile.version)
    return profile


@router.put(
    "/{employee_id}/profile",
    summary="Publish or change your profile (opt in with `public`)",
    response_model=ProfileRead,
    responses=problem_responses(Forbidden, Unprocessable),
)
async def put_profile(
    employee_id: EmployeeId,
    data: ProfileWrite,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    peers: PeersDep,
) -> ProfileRead:
    profile = await service.put_profile(
        session=session, principal=principal, peers=peers, employee_id=employee_id, data=data
    )
    set_etag(response, profile.version)
    return profile
