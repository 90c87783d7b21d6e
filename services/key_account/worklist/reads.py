"""The work lists as prebuilt statements (`sanlun.kernel.reads`): one SELECT
a page, built once per query shape and run outside a transaction.

A list's shape is the caller's access shape (`accounts.reads.AccessShape`),
the filters that are present and whether a cursor continues it; the values
(employee, business today, statuses, owners, account, cursor key, limit) are
bound parameters. `repository` states the same lists for the ORM;
`tests/services/key_account/test_fast_work_lists.py` checks both answer the
same rows, page by page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from sanlun.kernel.auth import EMPLOYEE_PARAM, Principal
from sanlun.kernel.reads import PrebuiltCache
from services.key_account.accounts.models import Account
from services.key_account.accounts.reads import TODAY_PARAM, AccessShape, access_shape, visible
from services.key_account.contacts.models import Contact, Relationship
from services.key_account.contacts.repository import level_at
from services.key_account.plans.models import AccountPlan, IncubationItem, PlanAction, RelationshipTarget
from services.key_account.segmentation.repository import level_rank
from services.key_account.worklist.repository import Scope

ACCOUNT = Account.__table__
PLAN = AccountPlan.__table__
ACTION = PlanAction.__table__
ITEM = IncubationItem.__table__
TARGET = RelationshipTarget.__table__
CONTACT = Contact.__table__
RELATIONSHIP = Relationship.__table__
OPEN_STATUSES = ("open", "in_progress")  # an action in one of these, due before today, is overdue


@dataclass(frozen=True, slots=True)
class ListShape:
    access: AccessShape
    statuses: bool = False
    due_by: bool = False
    owner_ids: bool = False
    unowned: bool = False
    account: bool = False
    current: bool = False  # plans not ended by business today
    after: bool = False  # continues from a cursor


def _shape(principal: Principal, scope: Scope, after: Sequence[Any] | None, **filters: bool) -> ListShape:
    return ListShape(
        access=access_shape(principal),
        owner_ids=bool(scope.owner_ids),
        unowned=scope.unowned,
        account=scope.account_id is not None,
        current=scope.current_on is not None,
        after=after is not None,
        **filters,
    )


def _params(principal: Principal, scope: Scope, after: Sequence[Any] | None, limit: int) -> dict[str, Any]:
    params: dict[str, Any] = {
        EMPLOYEE_PARAM: principal.employee_id,
        TODAY_PARAM: scope.today,
        "owner_ids": list(scope.owner_ids),
        "account_id": scope.account_id,
        "current_on": scope.current_on,
        "limit": limit + 1,  # one more than the page: is there a next one?
    }
    if after is not None:
        params["after_key"], params["after_id"] = after
    return params


def _page(
    rows: list[asyncpg.Record], limit: int, item: Callable[[asyncpg.Record], dict[str, Any]], *key: str
) -> tuple[list[dict[str, Any]], tuple[Any, ...] | None]:
    """The page's items and, when there is more, the sort key of its last row."""
    more = len(rows) > limit
    rows = rows[:limit]
    return [item(row) for row in rows], (tuple(rows[-1][k] for k in key) if more else None)


def _plans(stmt: sa.Select[Any], shape: ListShape) -> sa.Select[Any]:
    """The plans of `stmt` (joined to PLAN and ACCOUNT) the caller may see, narrowed."""
    stmt = stmt.where(visible(shape.access))
    if shape.account:
        stmt = stmt.where(PLAN.c.account_id == sa.bindparam("account_id", type_=sa.Uuid))
    if shape.current:
        stmt = stmt.where(PLAN.c.ends_on >= sa.bindparam("current_on", type_=sa.Date))
    return stmt


def _owners(stmt: sa.Select[Any], shape: ListShape, column: sa.ColumnElement[Any]) -> sa.Select[Any]:
    parts = []
    if shape.owner_ids:
        parts.append(column == sa.any_(sa.bindparam("owner_ids", type_=ARRAY(sa.Uuid))))
    if shape.unowned:
        parts.append(column.is_(None))
    return stmt.where(sa.or_(*parts)) if parts else stmt


def _statuses(stmt: sa.Select[Any], shape: ListShape, column: sa.ColumnElement[Any]) -> sa.Select[Any]:
    if not shape.statuses:
        return stmt
    return stmt.where(column == sa.any_(sa.bindparam("statuses", type_=ARRAY(sa.String))))


def _after(key: Sequence[sa.ColumnElement[Any]], key_type: Any, *, descending: bool) -> sa.ColumnElement[bool]:
    last = sa.tuple_(sa.bindparam("after_key", type_=key_type), sa.bindparam("after_id", type_=sa.Uuid))
    return sa.tuple_(*key) < last if descending else sa.tuple_(*key) > last


# -- GET /api/v1/plan-actions: earliest due first, undated last ----------------------

# As `repository.DUE_KEY`, spelled as ix_plan_actions_due_key_id indexes it.
DUE_KEY = sa.func.coalesce(ACTION.c.due_on, sa.literal_column("DATE 'infinity'", sa.Date))


def _actions(shape: ListShape) -> sa.Select[Any]:
    stmt: sa.Select[Any] = (
        sa.select(
            ACTION.c.id,
            ACTION.c.plan_id,
            PLAN.c.period.label("plan_period"),
            PLAN.c.ends_on.label("plan_ends_on"),
            PLAN.c.account_id,
            ACCOUNT.c.name.label("account_name"),
            ACTION.c.objective_id,
            ACTION.c.incumbent_contract_id,
            ACTION.c.title,
            ACTION.c.owner_id,
            ACTION.c.due_on,
            ACTION.c.status,
            ACTION.c.version,
            DUE_KEY.label("due_key"),
        )
        .select_from(ACTION.join(PLAN, PLAN.c.id == ACTION.c.plan_id).join(ACCOUNT, ACCOUNT.c.id == PLAN.c.account_id))
        .order_by(DUE_KEY, ACTION.c.id)
        .limit(sa.bindparam("limit", type_=sa.Integer))
    )
    stmt = _statuses(_plans(stmt, shape), shape, ACTION.c.status)
    if shape.due_by:
        due_by, due_key = sa.bindparam("due_by", type_=sa.Date), DUE_KEY
        # The second bound is implied by the first; it stops a walk of the index in due order at `due_by`.
        stmt = stmt.where(ACTION.c.due_on <= due_by, due_key <= due_by)
    stmt = _owners(stmt, shape, ACTION.c.owner_id)
    if shape.after:
        stmt = stmt.where(_after((DUE_KEY, ACTION.c.id), sa.Date, descending=False))
    return stmt


ACTIONS = PrebuiltCache(_actions)


async def actions(
    conn: asyncpg.Connection,
    principal: Principal,
    scope: Scope,
    *,
    statuses: Sequence[str],
    due_by: dt.date | None,
    today: dt.date,
    after: Sequence[Any] | None,
    limit: int,
) -> tuple[list[dict[str, Any]], tuple[Any, ...] | None]:
    """A page of `limit` actions after the cursor's key `after` (due key, id)
    in `WorkAction`'s JSON shape, and the key of its last when there is more.
    `overdue` is judged against `today`."""
    shape = _shape(principal, scope, after, statuses=bool(statuses), due_by=due_by is not None)
    params = _params(principal, scope, after, limit)
    params["statuses"] = list(statuses)
    params["due_by"] = due_by
    rows = await ACTIONS(shape).fetch(conn, params)

    def item(row: asyncpg.Record) -> dict[str, Any]:
        return {
            "id": row["id"],
            "plan_id": row["plan_id"],
            "plan_period": row["plan_period"],
            "plan_ends_on": row["plan_ends_on"],
            "account_id": row["account_id"],
            "account_name": row["account_name"],
            "objective_id": row["objective_id"],
            "incumbent_contract_id": row["incumbent_contract_id"],
            "title": row["title"],
            "owner_id": row["owner_id"],
            "due_on": row["due_on"],
            "status": row["status"],
            "overdue": row["due_on"] is not None and row["due_on"] < today and row["status"] in OPEN_STATUSES,
            "version": row["version"],
        }

    return _page(rows, limit, item, "due_key", "id")


# -- GET /api/v1/incubation-items: oldest first ---------------------------------------


def _incubation_items(shape: ListShape) -> sa.Select[Any]:
    stmt = (
        sa.select(ITEM)
        .select_from(ITEM.join(PLAN, PLAN.c.id == ITEM.c.plan_id).join(ACCOUNT, ACCOUNT.c.id == PLAN.c.account_id))
        .order_by(ITEM.c.created_at, ITEM.c.id)
        .limit(sa.bindparam("limit", type_=sa.Integer))
    )
    stmt = _owners(_statuses(_plans(stmt, shape), shape, ITEM.c.status), shape, ITEM.c.owner_id)
    if shape.after:
        stmt = stmt.where(_after((ITEM.c.created_at, ITEM.c.id), sa.DateTime(timezone=True), descending=False))
    return stmt


INCUBATION_ITEMS = PrebuiltCache(_incubation_items)


async def incubation_items(
    conn: asyncpg.Connection,
    principal: Principal,
    scope: Scope,
    *,
    statuses: Sequence[str],
    after: Sequence[Any] | None,
    limit: int,
) -> tuple[list[dict[str, Any]], tuple[Any, ...] | None]:
    """A page of `limit` items after the cursor's key `after` (created at, id)
    in `ItemRead`'s JSON shape, and the key of its last when there is more."""
    shape = _shape(principal, scope, after, statuses=bool(statuses))
    params = _params(principal, scope, after, limit)
    params["statuses"] = list(statuses)
    return _page(await INCUBATION_ITEMS(shape).fetch(conn, params), limit, _item, "created_at", "id")


def _item(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "plan_id": row["plan_id"],
        "account_id": row["account_id"],
        "whitespace_cell_id": row["whitespace_cell_id"],
        "title": row["title"],
        "description": row["description"],
        "status": row["status"],
        "amount": None if row["amount"] is None else {"amount": row["amount"], "currency": row["currency"]},
        "expected_close_date": row["expected_close_date"],
        "owner_id": row["owner_id"],
        "created_at": row["created_at"],
        "validated_at": row["validated_at"],
        "qualified_at": row["qualified_at"],
        "promoted_at": row["promoted_at"],
        "dropped_at": row["dropped_at"],
        "opportunity_id": row["opportunity_id"],
        "opportunity_stage": row["opportunity_stage"],
        "version": row["version"],
    }


# -- GET /api/v1/relationship-gaps: largest gap first -----------------------------------


def _relationship_gaps(shape: ListShape) -> sa.Select[Any]:
    """The page's targets are chosen first (the best level held with each
    contact looked up once per target, on relationships' (contact_id,
    employee_id) key); names are joined to the page's rows only."""
    best = (
        sa.select(sa.func.max(level_rank(RELATIONSHIP.c.level)).label("rank"))
        .where(RELATIONSHIP.c.contact_id == TARGET.c.contact_id)
        .lateral("best")
    )
    gap_steps = level_rank(TARGET.c.target_level) - sa.func.coalesce(best.c.rank, -1)
    chosen = (
        sa.select(
            TARGET.c.id,
            TARGET.c.plan_id,
            PLAN.c.period.label("plan_period"),
            PLAN.c.account_id,
            ACCOUNT.c.name.label("account_name"),
            TARGET.c.contact_id,
            TARGET.c.owner_id,
            TARGET.c.target_level,
            best.c.rank.label("best_rank"),
            gap_steps.label("gap_steps"),
        )
        .select_from(
            TARGET.join(PLAN, PLAN.c.id == TARGET.c.plan_id)
            .join(ACCOUNT, ACCOUNT.c.id == PLAN.c.account_id)
            .join(best, sa.true())
        )
        .where(gap_steps > 0)
        .order_by(gap_steps.desc(), TARGET.c.id.desc())
        .limit(sa.bindparam("limit", type_=sa.Integer))
    )
    chosen = _owners(_plans(chosen, shape), shape, TARGET.c.owner_id)
    if shape.after:
        chosen = chosen.where(_after((gap_steps, TARGET.c.id), sa.Integer, descending=True))
    page = chosen.subquery("page")
    return (
        sa.select(page, CONTACT.c.name.label("contact_name"))
        .select_from(page.join(CONTACT, CONTACT.c.id == page.c.contact_id))
        .order_by(page.c.gap_steps.desc(), page.c.id.desc())
    )


RELATIONSHIP_GAPS = PrebuiltCache(_relationship_gaps)


async def relationship_gaps(
    conn: asyncpg.Connection, principal: Principal, scope: Scope, *, after: Sequence[Any] | None, limit: int
) -> tuple[list[dict[str, Any]], tuple[Any, ...] | None]:
    """A page of `limit` unmet targets after the cursor's key `after` (gap
    steps, id; descending) in `RelationshipGap`'s JSON shape, and the key of
    its last when there is more."""
    rows = await RELATIONSHIP_GAPS(_shape(principal, scope, after)).fetch(conn, _params(principal, scope, after, limit))
    return _page(rows, limit, _gap, "gap_steps", "id")


def _gap(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "plan_id": row["plan_id"],
        "plan_period": row["plan_period"],
        "account_id": row["account_id"],
        "account_name": row["account_name"],
        "contact_id": row["contact_id"],
        "contact_name": row["contact_name"],
        "owner_id": row["owner_id"],
        "target_level": row["target_level"],
        "current_level": level_at(row["best_rank"]),
        "gap_steps": row["gap_steps"],
    }
