import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel, Field

from sanlun.kernel.auth import CurrentPrincipal
from sanlun.kernel.bulk import BulkReport, deprecated_alias
from sanlun.kernel.clock import check_as_of
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
from sanlun.kernel.event_routes import ServicePrincipal
from sanlun.kernel.pagination import CursorCodec, Page, Pagination, fingerprint, paginate
from sanlun.kernel.peers import PeersDep
from sanlun.kernel.reads import json_response
from sanlun.kernel.routing import TransactionalRoute
from services.opportunity.domain.stages import Stage
from services.opportunity.opportunities import reads, repository, service
from services.opportunity.opportunities.models import Opportunity, StageChange
from services.opportunity.opportunities.schemas import (
    OpportunityBulkUpsert,
    OpportunityCreate,
    OpportunityRead,
    OpportunityUpdate,
    StageChangeRead,
    StageChangeRequest,
    read_model,
)

router = APIRouter(
    prefix="/api/v1/opportunities",
    tags=["opportunities"],
    route_class=TransactionalRoute,
    responses=problem_responses(Unauthorized),
)

OpportunityId = Annotated[uuid.UUID, Path(description="The opportunity's id.")]
Sort = Literal[
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "name",
    "-name",
    "expected_close_date",
    "-expected_close_date",
    "amount",
    "-amount",
    "assigned_at",
    "-assigned_at",
]


async def _one(session: DbSession, opportunity: Opportunity) -> OpportunityRead:
    team = await repository.teams(session, [opportunity.id])
    return read_model(opportunity, team[opportunity.id])


@router.get(
    "",
    summary="List the opportunities you may see",
    response_model=Page[OpportunityRead],
    responses=problem_responses(Unprocessable),
)
async def list_opportunities(
    request: Request,
    principal: CurrentPrincipal,
    page: Pagination,
    owner_id: Annotated[uuid.UUID | None, Query(description="Only this owner's opportunities.")] = None,
    team_member_id: Annotated[uuid.UUID | None, Query(description="Only those with this employee on the team.")] = None,
    unassigned: Annotated[bool | None, Query(description="Only unassigned (true) or assigned (false) ones.")] = None,
    stage: Annotated[
        list[Stage] | None, Query(description="Only these stages (repeat the parameter for several).")
    ] = None,
    account_id: Annotated[uuid.UUID | None, Query(description="Only this account's opportunities.")] = None,
    org_unit: Annotated[str | None, Query(max_length=500, description="Only this org unit and below.")] = None,
    close_from: Annotated[
        dt.date | None,
        Query(description="Expected close date (`expected_close_date`) on or after this date; open or closed deals."),
    ] = None,
    close_to: Annotated[
        dt.date | None, Query(description="Expected close date (`expected_close_date`) on or before this date.")
    ] = None,
    closed_from: Annotated[
        dt.date | None,
        Query(
            description=(
                "Closed (won, lost or abandoned) on or after this date (`closed_on`); open deals have no close "
                "date and never match. `closed_from=2017-01-01&closed_to=2017-03-31&stage=won`: won in Q1 2017."
            )
        ),
    ] = None,
    closed_to: Annotated[dt.date | None, Query(description="Closed on or before this date (`closed_on`).")] = None,
    amount_min: Annotated[Decimal | None, Query(ge=0, description="Amount at least this (any currency).")] = None,
    amount_max: Annotated[Decimal | None, Query(ge=0, description="Amount at most this (any currency).")] = None,
    solution_id: Annotated[uuid.UUID | None, Query(description="Only those with this solution.")] = None,
    industry: Annotated[str | None, Query(max_length=100, description="Only this industry.")] = None,
    origin_type: Annotated[
        Literal["incubation_item"] | None, Query(description="Only those promoted from this kind of item.")
    ] = None,
    origin_id: Annotated[str | None, Query(max_length=200, description="Only the one promoted from this item.")] = None,
    assigned_since: Annotated[
        dt.datetime | None, Query(description="Only those whose current owner got them at or after this time.")
    ] = None,
    sort: Annotated[
        Sort,
        Query(
            description=(
                "Order; `-` for descending. Sorting by `expected_close_date`, `amount` or `assigned_at` lists only "
                "opportunities that have one (`-assigned_at`: newly assigned first)."
            )
        ),
    ] = "created_at",
) -> Response:
    for value, name in ((close_from, "close_from"), (close_to, "close_to"), (closed_from, "closed_from")):
        check_as_of(value, name)
    check_as_of(closed_to, "closed_to")
    for low, high, name in (
        (close_from, close_to, "close_to"),
        (closed_from, closed_to, "closed_to"),
        (amount_min, amount_max, "amount_max"),
    ):
        if low is not None and high is not None and low > high:
            raise Unprocessable(
                f"{name} is below its lower bound.",
                errors=[{"loc": ["query", name], "msg": "must not be below the lower bound"}],
            )
    filters = {
        name: value
        for name, value in (
            ("owner_id", owner_id),
            ("team_member_id", team_member_id),
            ("stages", [s.value for s in stage] if stage else None),
            ("account_id", account_id),
            ("close_from", close_from),
            ("close_to", close_to),
            ("closed_from", closed_from),
            ("closed_to", closed_to),
            ("amount_min", amount_min),
            ("amount_max", amount_max),
            ("solution_id", solution_id),
            ("industry", industry or None),
            ("origin_type", origin_type or None),
            ("origin_id", origin_id or None),
            ("assigned_since", assigned_since),
        )
        if value is not None
    }
    key = sort.lstrip("-")
    codec: CursorCodec = request.app.state.cursor_codec
    query = fingerprint(request)
    after = codec.decode(query, page.cursor) if page.cursor else None
    if after is not None and len(after) != 2:
        raise InvalidCursor("The cursor belongs to another query; start again without it.")
    async with request.app.state.db.read() as conn:
        items = await reads.list_page(
            conn,
            principal,
            filters=filters,
            unassigned=unassigned,
            org_unit=org_unit or None,
            sort=key,
            descending=sort.startswith("-"),
            after=after,
            limit=page.limit + 1,
        )
    next_cursor = None
    if len(items) > page.limit:
        items = items[: page.limit]
        next_cursor = codec.encode(query, reads.sort_key(items[-1], key))
    return json_response({"items": items, "next_cursor": next_cursor})


@router.post(
    "",
    summary="Create an opportunity",
    status_code=status.HTTP_201_CREATED,
    response_model=OpportunityRead,
    responses=problem_responses(Forbidden, Conflict, Unprocessable, UpstreamUnavailable, UpstreamTimeout),
)
async def create_opportunity(
    data: OpportunityCreate, response: Response, session: DbSession, principal: CurrentPrincipal, peers: PeersDep
) -> OpportunityRead:
    """Every record the body names (owner, account, team members, solutions) must
    be one you may see: one that does not exist and one you may not see both
    answer 422 `unknown_reference` with the same error. Created beyond `lead`,
    the deal passes the gates of every stage up to `stage` (409
    `stage_gate_unmet`, as `POST .../stage`); a manager may send `force: true`
    with a `reason`. 502/504 when the employee lifecycle or key account service
    cannot check a reference: nothing is stored."""
    opportunity = await service.create(session=session, principal=principal, peers=peers, data=data)
    response.headers["Location"] = f"/api/v1/opportunities/{opportunity.id}"
    set_etag(response, opportunity.version)
    return await _one(session, opportunity)


@router.post(
    ":bulk-upsert",
    summary="Create or update many opportunities by external id, with a report per row",
    response_model=BulkReport,
    responses=problem_responses(Unprocessable, UpstreamUnavailable, UpstreamTimeout),
)
async def bulk_upsert_opportunities(
    data: OpportunityBulkUpsert, session: DbSession, principal: CurrentPrincipal, peers: PeersDep
) -> BulkReport:
    """The kernel's bulk contract (`sanlun.kernel.bulk`); `dry_run` reports
    what would happen and writes nothing. A row naming a record you may not see
    (or none that exists) fails with `code: unknown_reference`, checked once per
    batch. Rows of org admins, group admins and integrators are history (closed
    deals with their close dates) and pass no stage gate; a rep's or a manager's
    rows pass the gates as a create or a move would (`code: stage_gate_unmet`).
    502/504 when a service that checks references cannot answer: nothing is stored."""
    return await service.bulk_upsert(session=session, principal=principal, peers=peers, request=data)


# Until the next release: the URL this endpoint had before the one bulk contract.
deprecated_alias(router, alias="/bulk-upsert", of=":bulk-upsert")


@router.get(
    "/{opportunity_id}",
    summary="Get one opportunity",
    response_model=OpportunityRead,
    responses=problem_responses(NotFound),
)
async def get_opportunity(opportunity_id: OpportunityId, request: Request, principal: CurrentPrincipal) -> Response:
    async with request.app.state.db.read() as conn:
        opportunity = await reads.get_visible(conn, principal, opportunity_id)
    if opportunity is None:
        raise NotFound(f"Opportunity {opportunity_id} was not found.")
    answer = json_response(opportunity)
    set_etag(answer, opportunity["version"])
    return answer


@router.patch(
    "/{opportunity_id}",
    summary="Change an opportunity",
    response_model=OpportunityRead,
    responses=problem_responses(
        NotFound, Forbidden, Conflict, PreconditionFailed, Unprocessable, UpstreamUnavailable, UpstreamTimeout
    ),
)
async def update_opportunity(
    opportunity_id: OpportunityId,
    data: OpportunityUpdate,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    peers: PeersDep,
) -> OpportunityRead:
    """Records the change brings in (a new owner, account, team members,
    solutions) are checked as on create: 422 `unknown_reference`."""
    opportunity = await service.get(
        session=session, principal=principal, opportunity_id=opportunity_id, for_update=True
    )
    check_if_match(request, opportunity.version)
    opportunity = await service.update(
        session=session, principal=principal, peers=peers, opportunity=opportunity, data=data
    )
    set_etag(response, opportunity.version)
    return await _one(session, opportunity)


@router.post(
    "/{opportunity_id}/stage",
    summary="Move the opportunity to another stage through its gates",
    response_model=OpportunityRead,
    responses=problem_responses(NotFound, Forbidden, Conflict, PreconditionFailed, Unprocessable),
)
async def change_opportunity_stage(
    opportunity_id: OpportunityId,
    data: StageChangeRequest,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
) -> OpportunityRead:
    """409 `stage_gate_unmet` lists every unmet requirement in `errors`; a
    manager may send `force: true` with a `reason`. 409
    `illegal_stage_transition` for a move out of a closed stage."""
    opportunity = await service.get(
        session=session, principal=principal, opportunity_id=opportunity_id, for_update=True
    )
    check_if_match(request, opportunity.version)
    opportunity = await service.change_stage(
        session=session, principal=principal, opportunity=opportunity, request=data
    )
    set_etag(response, opportunity.version)
    return await _one(session, opportunity)


@router.get(
    "/{opportunity_id}/stage-history",
    summary="The opportunity's stage changes, oldest first",
    response_model=Page[StageChangeRead],
    responses=problem_responses(NotFound),
)
async def list_stage_history(
    opportunity_id: OpportunityId, request: Request, session: DbSession, principal: CurrentPrincipal, page: Pagination
) -> Page[StageChangeRead]:
    await service.get(session=session, principal=principal, opportunity_id=opportunity_id)
    rows, next_cursor = await paginate(
        session, request, repository.history_statement(opportunity_id), order_by=(StageChange.id,), params=page
    )
    return Page[StageChangeRead](items=[StageChangeRead.model_validate(r) for r in rows], next_cursor=next_cursor)


# -- for other services ---------------------------------------------------------

internal_router = APIRouter(
    prefix="/internal/opportunities", tags=["internal"], route_class=TransactionalRoute, include_in_schema=False
)


class Participant(BaseModel):
    opportunity_id: uuid.UUID
    account_id: uuid.UUID
    owner_id: uuid.UUID | None
    org_unit_path: str
    stage: str
    team_ids: list[uuid.UUID] = Field(description="Team members besides the owner.")
    team: list[dict[str, Any]] = Field(description="The same members with their roles, as in `opportunity.*` events.")
    version: int


class Participants(BaseModel):
    items: list[Participant]
    next_after: uuid.UUID | None = Field(description="Pass as `after` for the next page; null after the last.")


@internal_router.get("/participants", summary="Who takes part in each deal with an account (service tokens only)")
async def list_participants(
    session: DbSession,
    _: ServicePrincipal,
    after: Annotated[uuid.UUID | None, Query(description="Opportunities with an id after this one.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> Participants:
    """The owner and team of every opportunity that has an account, ordered by
    opportunity id: what a consumer of `opportunity.*` events needs to rebuild
    its view from scratch (the key account service's implicit sharing). Page
    with `after=<next_after>` until `next_after` is null."""
    rows = await repository.participants(session, after=after, limit=limit)
    return Participants(
        items=[
            Participant(
                opportunity_id=r.id,
                account_id=r.account_id,
                owner_id=r.owner_id,
                org_unit_path=r.org_unit_path,
                stage=r.stage,
                team_ids=r.team_ids,
                team=r.team,
                version=r.version,
            )
            for r in rows
        ],
        next_after=rows[-1].id if len(rows) == limit else None,
    )
