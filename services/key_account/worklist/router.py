"""`/api/v1/plan-actions`, `/api/v1/incubation-items`, `/api/v1/relationship-gaps`:
the work of every plan the caller may see, filtered and paginated.

The workspace reads all three for every L2 caller: each page is one prebuilt
statement (`reads`) on a pooled connection outside a transaction, answered
with bytes serialised once (`sanlun.kernel.reads.json_response`)."""

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from sanlun.kernel.auth import CurrentPrincipal
from sanlun.kernel.clock import ClockDep
from sanlun.kernel.errors import InvalidCursor, Unauthorized, problem_responses
from sanlun.kernel.pagination import CursorCodec, Page, PageParams, Pagination, fingerprint
from sanlun.kernel.reads import json_response
from sanlun.kernel.routing import TransactionalRoute
from services.key_account.plans.schemas import ActionStatus, ItemRead, ItemStatus
from services.key_account.worklist import reads, repository
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


class _Cursor:
    """A page's keyset cursor, as `sanlun.kernel.pagination.paginate` makes
    it: signed, bound to the query, holding the last row's sort key."""

    def __init__(self, request: Request, page: PageParams) -> None:
        self.codec: CursorCodec = request.app.state.cursor_codec
        self.query = fingerprint(request)
        self.after = self.codec.decode(self.query, page.cursor) if page.cursor else None
        if self.after is not None and len(self.after) != 2:
            raise InvalidCursor("The cursor belongs to another query; start again without it.")

    def page(self, items: list[dict[str, Any]], last: tuple[Any, ...] | None) -> Response:
        next_cursor = None if last is None else self.codec.encode(self.query, last)
        return json_response({"items": items, "next_cursor": next_cursor})


@router.get(
    "/api/v1/plan-actions",
    summary="Actions across every plan you may see, earliest due first",
    response_model=Page[WorkAction],
)
async def list_work_actions(
    request: Request,
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
) -> Response:
    """Actions without a due date come after every dated one. `overdue` is
    judged against today, for open and in-progress actions."""
    cursor = _Cursor(request, page)
    async with request.app.state.db.read() as conn:
        items, last = await reads.actions(
            conn,
            principal,
            where,
            statuses=status,
            due_by=due_by,
            today=clock.today(),
            after=cursor.after,
            limit=page.limit,
        )
    return cursor.page(items, last)


@router.get(
    "/api/v1/incubation-items",
    summary="Incubation items across every plan you may see, oldest first",
    response_model=Page[ItemRead],
)
async def list_work_incubation_items(
    request: Request,
    principal: CurrentPrincipal,
    page: Pagination,
    where: WorkScope,
    status: Annotated[
        list[ItemStatus], Query(max_length=5, description="In one of these statuses (repeat the parameter).")
    ] = [],  # noqa: B006
) -> Response:
    cursor = _Cursor(request, page)
    async with request.app.state.db.read() as conn:
        items, last = await reads.incubation_items(
            conn, principal, where, statuses=status, after=cursor.after, limit=page.limit
        )
    return cursor.page(items, last)


@router.get(
    "/api/v1/relationship-gaps",
    summary="Unmet relationship targets across every plan you may see, largest gap first",
    response_model=Page[RelationshipGap],
)
async def list_relationship_gaps(
    request: Request, principal: CurrentPrincipal, page: Pagination, where: WorkScope
) -> Response:
    """A target is unmet while nobody of ours holds the target level with the
    contact; `owner_id` filters on who should build the relationship."""
    cursor = _Cursor(request, page)
    async with request.app.state.db.read() as conn:
        items, last = await reads.relationship_gaps(conn, principal, where, after=cursor.after, limit=page.limit)
    return cursor.page(items, last)
