"""`/api/v1/plan-actions`, `/api/v1/incubation-items`, `/api/v1/relationship-gaps`:
the work of every plan the caller may see, filtered and paginated."""

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from sanlun.kernel.auth import CurrentPrincipal
from sanlun.kernel.clock import ClockDep
from sanlun.kernel.db import DbSession
from sanlun.kernel.errors import Unauthorized, problem_responses
from sanlun.kernel.pagination import Page, Pagination, paginate
from sanlun.kernel.routing import TransactionalRoute
from services.key_account.contacts.repository import level_at
from services.key_account.plans.models import IncubationItem
from services.key_account.plans.schemas import ActionStatus, ItemRead, ItemStatus
from services.key_account.worklist import repository
from services.key_account.worklist.schemas import RelationshipGap, WorkAction

router = APIRouter(tags=["work-lists"], route_class=TransactionalRoute, responses=problem_responses(Unauthorized))


async def scope(
    clock: ClockDep,
    owner_ids: Annotated[
        list[uuid.UUID],
        Query(alias="owner_id", max_length=50, description="Owned by one of these employees (repeat the parameter)."),
    ] = [],  # noqa: B006
    unowned: Annotated[bool, Query(description="Also (or, without `owner_id`, only) those nobody owns yet.")] = False,
    account_id: Annotated[uuid.UUID | None, Query(description="Only this account's plans.")] = None,
    current_plans_only: Annotated[
        bool, Query(description="Only plans whose period has not ended (ends on or after today).")
    ] = False,
) -> repository.Scope:
    """The filters the three lists share, as one dependency."""
    today = clock.today()
    return repository.Scope(owner_ids, unowned, account_id, today if current_plans_only else None, today)


WorkScope = Annotated[repository.Scope, Depends(scope)]


@router.get(
    "/api/v1/plan-actions",
    summary="Actions across every plan you may see, earliest due first",
    response_model=Page[WorkAction],
)
async def list_work_actions(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    page: Pagination,
    where: WorkScope,
    clock: ClockDep,
    status: Annotated[
        list[ActionStatus], Query(max_length=4, description="In one of these statuses (repeat the parameter).")
    ] = [],  # noqa: B006
    due_by: Annotated[
        dt.date | None,
        Query(description="Due on or before this date (overdue ones included); undated actions are left out."),
    ] = None,
) -> Page[WorkAction]:
    """Actions without a due date come after every dated one. `overdue` is
    judged against today, for open and in-progress actions."""
    today = clock.today()
    stmt, order = repository.actions(principal, where, statuses=status, due_by=due_by)
    rows, cursor = await paginate(session, request, stmt, order_by=order, params=page, scalars=False)
    items = [
        WorkAction.model_validate(
            {
                **row._mapping,
                "overdue": row.due_on is not None and row.due_on < today and row.status in ("open", "in_progress"),
            }
        )
        for row in rows
    ]
    return Page[WorkAction](items=items, next_cursor=cursor)


@router.get(
    "/api/v1/incubation-items",
    summary="Incubation items across every plan you may see, oldest first",
    response_model=Page[ItemRead],
)
async def list_work_incubation_items(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    page: Pagination,
    where: WorkScope,
    status: Annotated[
        list[ItemStatus], Query(max_length=5, description="In one of these statuses (repeat the parameter).")
    ] = [],  # noqa: B006
) -> Page[ItemRead]:
    stmt = repository.incubation_items(principal, where, statuses=status)
    rows, cursor = await paginate(
        session, request, stmt, order_by=(IncubationItem.created_at, IncubationItem.id), params=page
    )
    return Page[ItemRead](items=[ItemRead.model_validate(r) for r in rows], next_cursor=cursor)


@router.get(
    "/api/v1/relationship-gaps",
    summary="Unmet relationship targets across every plan you may see, largest gap first",
    response_model=Page[RelationshipGap],
)
async def list_relationship_gaps(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    page: Pagination,
    where: WorkScope,
) -> Page[RelationshipGap]:
    """A target is unmet while nobody of ours holds the target level with the
    contact; `owner_id` filters on who should build the relationship."""
    stmt, order = repository.relationship_gaps(principal, where)
    rows, cursor = await paginate(session, request, stmt, order_by=order, params=page, descending=True, scalars=False)
    items = [RelationshipGap.model_validate({**row._mapping, "current_level": level_at(row.best_rank)}) for row in rows]
    return Page[RelationshipGap](items=items, next_cursor=cursor)
