import datetime as dt
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status

from sanlun.kernel.auth import CurrentPrincipal
from sanlun.kernel.clock import ClockDep, check_as_of
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
    paginate,
)
from sanlun.kernel.peers import PeersDep
from sanlun.kernel.routing import TransactionalRoute
from services.resource_share import lookups
from services.resource_share.db import Keyset
from services.resource_share.support import reads, repository, service
from services.resource_share.support.models import SupportPerson
from services.resource_share.support.schemas import (
    Assignment,
    CreatedSupportRequest,
    Fairness,
    MatchList,
    MatchRead,
    PoolMemberRead,
    PoolMemberWrite,
    QueueItem,
    QueuePage,
    ReasonRead,
    SupportRequestCreate,
    SupportRequestRead,
)

router = APIRouter(
    prefix="/api/v1/support-requests",
    tags=["support-requests"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized),
)

SupportRequestId = Annotated[uuid.UUID, Path(description="The support request's id.")]
ACTION_PROBLEMS = problem_responses(NotFound, Forbidden, Conflict, PreconditionFailed, Unprocessable)


@router.get("/pool", summary="List your organisation's support pool", response_model=Page[PoolMemberRead])
async def list_support_pool(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    page: Pagination,
    skill: Annotated[str | None, Query(min_length=1, max_length=100, description="Has this skill.")] = None,
    industry: Annotated[str | None, Query(min_length=1, max_length=100, description="Knows this industry.")] = None,
) -> Page[PoolMemberRead]:
    """Members of your organisation only (group admins: the whole group)."""
    stmt = repository.pool_statement(principal, skill=skill, industry=industry)
    rows, next_cursor = await paginate(
        session, request, stmt, order_by=(SupportPerson.created_at, SupportPerson.employee_id), params=page
    )
    return Page[PoolMemberRead](items=[PoolMemberRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.put(
    "/pool/{employee_id}",
    summary="Add or change a member of the support pool (yourself, or people you manage)",
    response_model=PoolMemberRead,
    responses=problem_responses(NotFound, Forbidden, Unprocessable, UpstreamUnavailable, UpstreamTimeout),
)
async def put_support_pool_member(
    employee_id: Annotated[uuid.UUID, Path(description="The pool member's employee id.")],
    data: PoolMemberWrite,
    session: DbSession,
    principal: CurrentPrincipal,
    peers: PeersDep,
) -> PoolMemberRead:
    """Someone else's unit comes from the employee lifecycle service (as it
    shows the employee to you); `org_unit_path`, when given, must match it."""
    member = await service.set_pool_member(
        session=session, principal=principal, peers=peers, employee_id=employee_id, data=data
    )
    return PoolMemberRead.model_validate(member)


@router.get(
    "/queue",
    summary="Open support requests by priority (urgency × deal value × stage weight + ageing), with reasons",
    response_model=QueuePage,
    responses=problem_responses(InvalidCursor),
)
async def list_support_queue(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    page: Pagination,
    peers: PeersDep,
    clock: ClockDep,
) -> QueuePage:
    # Ageing moves priorities every second (of the business clock); the cursor
    # pins the instant so pages stay consistent.
    codec: CursorCodec = request.app.state.cursor_codec
    query_fp = fingerprint(request)
    now, offset = clock.now(), 0
    if page.cursor:
        decoded = codec.decode(query_fp, page.cursor)
        if len(decoded) != 2 or not isinstance(decoded[0], dt.datetime) or not isinstance(decoded[1], int):
            raise InvalidCursor("The cursor belongs to another query; start again without it.")
        now, offset = decoded
    settings = request.app.state.settings
    ranked, stages = await service.queue(
        session=session,
        principal=principal,
        peers=peers,
        config=service.priority_config(settings),
        now=now,
        window=settings.support_queue_window,
    )
    window = ranked[offset : offset + page.limit]
    more = len(ranked) > offset + page.limit
    return QueuePage(
        items=[
            QueueItem(
                rank=offset + i + 1,
                priority=p.score,
                stage=stage,  # type: ignore[arg-type]
                reasons=[ReasonRead(code=x.code, detail=x.detail, factor=x.factor) for x in p.reasons],
                request=service.present(r),
            )
            for i, (p, stage, r) in enumerate(window)
        ],
        next_cursor=codec.encode(query_fp, [now, offset + page.limit]) if more else None,
        as_of=now,
        stages_source=stages.source,  # type: ignore[arg-type]
        stages_as_of=stages.as_of,
    )


@router.get(
    "/fairness",
    summary="Wait time and fulfilment rate per stage (requests you may see)",
    response_model=Fairness,
    responses=problem_responses(Unprocessable),
)
async def get_support_fairness(
    session: DbSession,
    principal: CurrentPrincipal,
    clock: ClockDep,
    since: Annotated[
        dt.date | None, Query(description="First day, 1900-01-01 to 2199-12-31 (default: 30 days before `until`).")
    ] = None,
    until: Annotated[
        dt.date | None, Query(description="Last day, 1900-01-01 to 2199-12-31 (default: today on the business clock).")
    ] = None,
) -> Fairness:
    check_as_of(since, "since")
    check_as_of(until, "until")
    until = until or clock.today()
    since = since or until - dt.timedelta(days=30)
    if since > until:
        raise Unprocessable("since is after until.", errors=[{"loc": ["query", "since"], "msg": "is after until"}])
    stages = await service.fairness(session=session, principal=principal, since=since, until=until)
    return Fairness(since=since, until=until, stages=stages)


@router.get("", summary="List support requests you made, hold, or manage", response_model=Page[SupportRequestRead])
async def list_support_requests(
    request: Request,
    principal: CurrentPrincipal,
    page: Pagination,
    status: Annotated[
        Literal["open", "assigned", "fulfilled", "cancelled"] | None, Query(description="Only this status.")
    ] = None,
    opportunity_id: Annotated[uuid.UUID | None, Query(description="Only for this opportunity.")] = None,
    mine: Annotated[bool, Query(description="Only ones you made or are assigned.")] = False,
) -> Response:
    # One prebuilt statement outside a transaction (`reads`); `repository.list_statement` is its oracle.
    keyset = Keyset(request, page)
    filters = {name: value for name, value in (("status", status), ("opportunity_id", opportunity_id)) if value}
    async with request.app.state.db.read() as conn:
        items = await reads.list_page(conn, principal, filters=filters, mine=mine, page=keyset.params())
    return keyset.answer(items)


@router.post(
    "",
    summary="Ask the desk for pre-sales or expert support on an opportunity",
    status_code=status.HTTP_201_CREATED,
    response_model=CreatedSupportRequest,
    responses=problem_responses(Forbidden, Unprocessable, UpstreamUnavailable, UpstreamTimeout),
)
async def create_support_request(
    data: SupportRequestCreate,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    peers: PeersDep,
) -> CreatedSupportRequest:
    """The opportunity must be one you may see (the opportunity service is asked, with your token)."""
    await lookups.check_opportunity(peers, data.opportunity_id, ["body", "opportunity_id"])
    created, stages = await service.create(session=session, principal=principal, peers=peers, data=data)
    response.headers["Location"] = f"/api/v1/support-requests/{created.id}"
    set_etag(response, created.version)
    return CreatedSupportRequest(
        **service.present(created).model_dump(),
        stages_source=stages.source,
        stages_as_of=stages.as_of,  # type: ignore[arg-type]
    )


@router.get(
    "/{request_id}",
    summary="Get one support request",
    response_model=SupportRequestRead,
    responses=problem_responses(NotFound),
)
async def get_support_request(
    request_id: SupportRequestId, response: Response, session: DbSession, principal: CurrentPrincipal
) -> SupportRequestRead:
    found = await service.get(session=session, principal=principal, request_id=request_id)
    set_etag(response, found.version)
    return service.present(found)


@router.get(
    "/{request_id}/matches",
    summary="Pool members who fit the request, best first, with reasons",
    response_model=MatchList,
    responses=problem_responses(NotFound),
)
async def list_support_request_matches(
    request_id: SupportRequestId,
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=50, description="How many matches.")] = 10,
) -> MatchList:
    found = await service.get(session=session, principal=principal, request_id=request_id)
    ranked = await service.matches(session=session, support_request=found)
    return MatchList(
        items=[
            MatchRead(
                employee_id=m.employee_id,
                score=m.score,
                skill_coverage=m.skill_coverage,
                industry_match=m.industry_match,
                free_hours=m.free_hours,
                reasons=list(m.reasons),
            )
            for m in ranked[:limit]
        ]
    )


@router.post(
    "/{request_id}/assign",
    summary="Assign the request (yourself, a chosen member, or the best match)",
    response_model=SupportRequestRead,
    responses=ACTION_PROBLEMS,
)
async def assign_support_request(
    request_id: SupportRequestId,
    data: Assignment,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
) -> SupportRequestRead:
    found = await service.get(session=session, principal=principal, request_id=request_id, lock=True)
    check_if_match(request, found.version)
    found = await service.assign(
        session=session, principal=principal, support_request=found, assignee_id=data.assignee_id
    )
    set_etag(response, found.version)
    return service.present(found)


@router.post(
    "/{request_id}/fulfil",
    summary="Mark the request fulfilled (publishes support_request.fulfilled)",
    response_model=SupportRequestRead,
    responses=ACTION_PROBLEMS,
)
async def fulfil_support_request(
    request_id: SupportRequestId, request: Request, response: Response, session: DbSession, principal: CurrentPrincipal
) -> SupportRequestRead:
    found = await service.get(session=session, principal=principal, request_id=request_id, lock=True)
    check_if_match(request, found.version)
    found = await service.fulfil(session=session, principal=principal, support_request=found)
    set_etag(response, found.version)
    return service.present(found)


@router.post(
    "/{request_id}/cancel",
    summary="Cancel the request (requester or their manager)",
    response_model=SupportRequestRead,
    responses=ACTION_PROBLEMS,
)
async def cancel_support_request(
    request_id: SupportRequestId, request: Request, response: Response, session: DbSession, principal: CurrentPrincipal
) -> SupportRequestRead:
    found = await service.get(session=session, principal=principal, request_id=request_id, lock=True)
    check_if_match(request, found.version)
    found = await service.cancel(session=session, principal=principal, support_request=found)
    set_etag(response, found.version)
    return service.present(found)
