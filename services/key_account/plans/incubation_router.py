import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from sanlun.kernel.auth import CurrentPrincipal
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
from sanlun.kernel.pagination import Page, Pagination, paginate
from sanlun.kernel.peers import PeersDep
from sanlun.kernel.routing import TransactionalRoute
from services.key_account.accounts import service as accounts
from services.key_account.plans import incubation, repository
from services.key_account.plans import service as plans
from services.key_account.plans.models import IncubationItem
from services.key_account.plans.schemas import IncubationMetrics, ItemCreate, ItemRead, ItemStatus, ItemUpdate

router = APIRouter(tags=["incubation"], route_class=TransactionalRoute, responses=problem_responses(Unauthorized))

PlanId = Annotated[uuid.UUID, Path(description="The account plan's id.")]
ItemId = Annotated[uuid.UUID, Path(description="The incubation item's id.")]
ITEMS = "/api/v1/account-plans/{plan_id}/incubation-items"


@router.get(
    ITEMS,
    summary="List a plan's incubation items",
    response_model=Page[ItemRead],
    responses=problem_responses(NotFound),
)
async def list_incubation_items(
    plan_id: PlanId,
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    page: Pagination,
    status_: Annotated[ItemStatus | None, Query(alias="status", description="Only items in this status.")] = None,
) -> Page[ItemRead]:
    await plans.get(session=session, principal=principal, plan_id=plan_id)
    stmt = repository.incubation_items_statement(plan_id, status=status_)
    rows, cursor = await paginate(
        session, request, stmt, order_by=(IncubationItem.created_at, IncubationItem.id), params=page
    )
    return Page[ItemRead](items=[ItemRead.model_validate(r) for r in rows], next_cursor=cursor)


@router.post(
    ITEMS,
    summary="Add an incubation item (an idea)",
    status_code=status.HTTP_201_CREATED,
    response_model=ItemRead,
    responses=problem_responses(NotFound, Unprocessable, UpstreamUnavailable, UpstreamTimeout),
)
async def create_incubation_item(
    plan_id: PlanId,
    data: ItemCreate,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    peers: PeersDep,
) -> ItemRead:
    """`owner_id` must be an employee you may see (422 `unknown_reference` otherwise)."""
    plan, _ = await plans.get(session=session, principal=principal, plan_id=plan_id)
    item = await incubation.create(session=session, principal=principal, peers=peers, plan=plan, data=data)
    response.headers["Location"] = f"/api/v1/account-plans/{plan_id}/incubation-items/{item.id}"
    set_etag(response, item.version)
    return ItemRead.model_validate(item)


@router.get(
    ITEMS + "/{item_id}",
    summary="Get one incubation item",
    response_model=ItemRead,
    responses=problem_responses(NotFound),
)
async def get_incubation_item(
    plan_id: PlanId, item_id: ItemId, response: Response, session: DbSession, principal: CurrentPrincipal
) -> ItemRead:
    plan, _ = await plans.get(session=session, principal=principal, plan_id=plan_id)
    item = await incubation.get(session=session, plan=plan, item_id=item_id)
    set_etag(response, item.version)
    return ItemRead.model_validate(item)


@router.patch(
    ITEMS + "/{item_id}",
    summary="Change an item or move it idea → validated → qualified (or dropped)",
    response_model=ItemRead,
    responses=problem_responses(
        NotFound, Conflict, PreconditionFailed, Unprocessable, UpstreamUnavailable, UpstreamTimeout
    ),
)
async def update_incubation_item(
    plan_id: PlanId,
    item_id: ItemId,
    data: ItemUpdate,
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    peers: PeersDep,
) -> ItemRead:
    """A new `owner_id` must be an employee you may see (422 `unknown_reference` otherwise)."""
    plan, _ = await plans.get(session=session, principal=principal, plan_id=plan_id)
    item = await incubation.get(session=session, plan=plan, item_id=item_id)
    check_if_match(request, item.version)
    item = await incubation.update(session=session, principal=principal, peers=peers, item=item, data=data)
    set_etag(response, item.version)
    return ItemRead.model_validate(item)


@router.post(
    ITEMS + "/{item_id}/promote",
    summary="Promote a qualified item into a TAS+ opportunity (idempotent)",
    response_model=ItemRead,
    responses={
        200: {"description": "Already promoted: the item with its opportunity."},
        201: {"description": "Promoted now."},
        **problem_responses(NotFound, Forbidden, Conflict, UpstreamUnavailable, UpstreamTimeout),
    },
)
async def promote_incubation_item(
    plan_id: PlanId,
    item_id: ItemId,
    response: Response,
    session: DbSession,
    principal: CurrentPrincipal,
    peers: PeersDep,
) -> ItemRead:
    """Creates the opportunity in the opportunity service with the caller's identity and
    `origin = {type: incubation_item, id}`; the item records the opportunity id. Calling it
    again answers the same promotion; after a 502/504 the item is unchanged and a retry is safe."""
    plan, _ = await plans.get(session=session, principal=principal, plan_id=plan_id)
    item, promoted_now = await incubation.promote(session=session, plan=plan, item_id=item_id, peers=peers)
    response.status_code = status.HTTP_201_CREATED if promoted_now else status.HTTP_200_OK
    if item.opportunity_id:
        response.headers["Location"] = f"/api/v1/opportunities/{item.opportunity_id}"
    set_etag(response, item.version)
    return ItemRead.model_validate(item)


@router.get(
    "/api/v1/account-plans/{plan_id}/incubation-metrics",
    summary="Incubation time and conversion rate of a plan",
    response_model=IncubationMetrics,
    responses=problem_responses(NotFound),
)
async def get_plan_incubation_metrics(
    plan_id: PlanId, session: DbSession, principal: CurrentPrincipal
) -> IncubationMetrics:
    await plans.get(session=session, principal=principal, plan_id=plan_id)
    figures = await incubation.metrics(session=session, where=IncubationItem.plan_id == plan_id)
    return IncubationMetrics(scope="plan", id=plan_id, **figures)


@router.get(
    "/api/v1/accounts/{account_id}/incubation-metrics",
    summary="Incubation time and conversion rate of an account, over all its plans",
    response_model=IncubationMetrics,
    responses=problem_responses(NotFound),
)
async def get_account_incubation_metrics(
    account_id: Annotated[uuid.UUID, Path(description="The account's id.")],
    session: DbSession,
    principal: CurrentPrincipal,
) -> IncubationMetrics:
    await accounts.get(session=session, principal=principal, account_id=account_id)
    figures = await incubation.metrics(session=session, where=IncubationItem.account_id == account_id)
    return IncubationMetrics(scope="account", id=account_id, **figures)
