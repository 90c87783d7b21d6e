import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status

from sanlun.kernel.auth import CurrentPrincipal, Principal
from sanlun.kernel.clock import Clock, ClockDep, request_clock
from sanlun.kernel.db import DbSession
from sanlun.kernel.errors import (
    Conflict,
    Forbidden,
    InvalidCursor,
    NotFound,
    PreconditionFailed,
    Unauthorized,
    Unprocessable,
    UpstreamTimeout,
    UpstreamUnavailable,
    problem_responses,
)
from sanlun.kernel.etag import check_if_match, set_etag
from sanlun.kernel.pagination import (
    CursorCodec,
    Page,
    Pagination,
    fingerprint,
)
from sanlun.kernel.peers import PeersDep
from sanlun.kernel.routing import TransactionalRoute
from services.resource_share import lookups
from services.resource_share.db import Keyset
from services.resource_share.domain.paths import PathConfig
from services.resource_share.introductions import reads, service
from services.resource_share.introductions.schemas import (
    IntroductionCreate,
    IntroductionDecision,
    IntroductionRead,
    PathPage,
)

router = APIRouter(
    prefix="/api/v1/introductions",
    tags=["introductions"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized),
)

IntroductionId = Annotated[uuid.UUID, Path(description="The introduction's id.")]
ACTION_PROBLEMS = problem_responses(NotFound, Forbidden, Conflict, PreconditionFailed, Unprocessable)


def path_config(request: Request) -> PathConfig:
    s = request.app.state.settings
    return PathConfig(max_hops=s.path_max_hops, colleague_factor=s.path_colleague_factor)


@router.get(
    "/paths",
    summary="Who in the group can introduce you: ranked paths to a contact or account",
    response_model=PathPage,
    responses=problem_responses(Forbidden, Unprocessable, InvalidCursor),
)
async def list_introduction_paths(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    page: Pagination,
    contact_id: Annotated[uuid.UUID | None, Query(description="The contact you want to meet.")] = None,
    account_id: Annotated[uuid.UUID | None, Query(description="Or: the account you want a way into.")] = None,
) -> PathPage:
    if (contact_id is None) == (account_id is None):
        raise Unprocessable(
            "Give exactly one of contact_id and account_id.",
            errors=[{"loc": ["query", "contact_id"], "msg": "give exactly one of contact_id and account_id"}],
        )
    # Paths are ranked, not stored: the cursor carries the rank to resume after.
    codec: CursorCodec = request.app.state.cursor_codec
    query_fp = fingerprint(request)
    offset = 0
    if page.cursor:
        decoded = codec.decode(query_fp, page.cursor)
        if len(decoded) != 1 or not isinstance(decoded[0], int):
            raise InvalidCursor("The cursor belongs to another query; start again without it.")
        offset = decoded[0]
    ranked = await service.find_paths(
        session=session,
        principal=principal,
        contact_id=contact_id,
        account_id=account_id,
        config=path_config(request),
        limit=offset + page.limit + 1,
    )
    window = ranked[offset : offset + page.limit]
    more = len(ranked) > offset + page.limit
    if principal.employee_id is None:  # find_paths has already refused a caller who is not an employee
        raise RuntimeError("introduction paths were ranked for a caller without an employee id")
    return PathPage(
        items=[service.present_path(p, offset + i + 1, principal.employee_id) for i, p in enumerate(window)],
        next_cursor=codec.encode(query_fp, [offset + page.limit]) if more else None,
    )


@router.post(
    "",
    summary="Ask the connector of a path for an introduction",
    status_code=status.HTTP_201_CREATED,
    response_model=IntroductionRead,
    responses=problem_responses(Forbidden, Unprocessable, UpstreamUnavailable, UpstreamTimeout),
)
async def create_introduction(
    data: IntroductionCreate,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    peers: PeersDep,
    clock: ClockDep,
) -> IntroductionRead:
    """An `opportunity_id` must be one you may see (the opportunity service is asked, with your token)."""
    await lookups.check_opportunity(peers, data.opportunity_id, ["body", "opportunity_id"])
    created = await service.create(
        session=session,
        principal=principal,
        data=data,
        config=path_config(request),
        expiry_days=request.app.state.settings.introduction_expiry_days,
    )
    response.headers["Location"] = f"/api/v1/introductions/{created.id}"
    set_etag(response, created.version)
    return service.present(created, principal, now=clock.now())


@router.get(
    "", summary="List introductions you asked for, were asked for, or manage", response_model=Page[IntroductionRead]
)
async def list_introductions(
    request: Request,
    principal: CurrentPrincipal,
    page: Pagination,
    role: Annotated[
        Literal["requester", "connector"] | None,
        Query(description="`requester`: ones you asked for; `connector`: ones waiting on you."),
    ] = None,
    status: Annotated[
        Literal["requested", "accepted", "declined", "introduced", "failed", "expired"] | None,
        Query(description="Only this status (`expired`: still undecided after `expires_at`)."),
    ] = None,
) -> Response:
    # One prebuilt statement outside a transaction (`reads`); `repository.list_statement` is its oracle.
    keyset = Keyset(request, page)
    async with request.app.state.db.read() as conn:
        items = await reads.list_page(
            conn, principal, now=request_clock(request).now(), role=role, status=status, page=keyset.params()
        )
    return keyset.answer(items)


@router.get(
    "/{introduction_id}",
    summary="Get one introduction",
    response_model=IntroductionRead,
    responses=problem_responses(NotFound),
)
async def get_introduction(
    introduction_id: IntroductionId,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    clock: ClockDep,
) -> IntroductionRead:
    found = await service.get(session=session, principal=principal, introduction_id=introduction_id)
    set_etag(response, found.version)
    return service.present(found, principal, now=clock.now())


async def _act(
    request: Request,
    response: Response,
    session: DbSession,
    principal: Principal,
    clock: Clock,
    introduction_id: uuid.UUID,
    action: str,
    note: str,
) -> IntroductionRead:
    found = await service.get(session=session, principal=principal, introduction_id=introduction_id, lock=True)
    check_if_match(request, found.version)
    found = await service.act(session=session, principal=principal, introduction=found, action=action, note=note)
    set_etag(response, found.version)
    return service.present(found, principal, now=clock.now())


@router.post(
    "/{introduction_id}/accept",
    summary="Accept to make the introduction (connector)",
    response_model=IntroductionRead,
    responses=ACTION_PROBLEMS,
)
async def accept_introduction(
    introduction_id: IntroductionId,
    data: IntroductionDecision,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    clock: ClockDep,
) -> IntroductionRead:
    return await _act(request, response, session, principal, clock, introduction_id, "accept", data.note)


@router.post(
    "/{introduction_id}/decline",
    summary="Decline the introduction (connector); publishes introduction.completed",
    response_model=IntroductionRead,
    responses=ACTION_PROBLEMS,
)
async def decline_introduction(
    introduction_id: IntroductionId,
    data: IntroductionDecision,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    clock: ClockDep,
) -> IntroductionRead:
    return await _act(request, response, session, principal, clock, introduction_id, "decline", data.note)


@router.post(
    "/{introduction_id}/introduce",
    summary="Record that the introduction was made; publishes introduction.completed",
    response_model=IntroductionRead,
    responses=ACTION_PROBLEMS,
)
async def complete_introduction(
    introduction_id: IntroductionId,
    data: IntroductionDecision,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    clock: ClockDep,
) -> IntroductionRead:
    return await _act(request, response, session, principal, clock, introduction_id, "introduce", data.note)


@router.post(
    "/{introduction_id}/fail",
    summary="Record that the introduction failed; publishes introduction.completed",
    response_model=IntroductionRead,
    responses=ACTION_PROBLEMS,
)
async def fail_introduction(
    introduction_id: IntroductionId,
    data: IntroductionDecision,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    clock: ClockDep,
) -> IntroductionRead:
    return await _act(request, response, session, principal, clock, introduction_id, "fail", data.note)
