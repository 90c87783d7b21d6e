"""The hot reads of opportunities (get by id, list pages) as prebuilt
statements (`sanlun.kernel.reads`): one SELECT each, team included, built once
per query shape and run outside a transaction.

A list's shape is the visibility of the principal's kind, the filters that
are present, the sort and whether a cursor continues it; the values are
bound parameters. `repository.list_statement` states the same filters for
the ORM (the batch and analysis paths); `tests/services/opportunity`
checks both answer the same rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by

from sanlun.kernel.auth import (
    EMPLOYEE_PARAM,
    Principal,
    VisibilityShape,
    path_within,
    shaped_visibility,
    visibility_shape,
)
from sanlun.kernel.reads import PrebuiltCache
from services.opportunity.opportunities.models import Opportunity, TeamMember

OPP = Opportunity.__table__
TEAM = TeamMember.__table__
EMPLOYEE = sa.bindparam(EMPLOYEE_PARAM, type_=sa.Uuid)


def _visible(shape: VisibilityShape, *, one: bool) -> sa.ColumnElement[bool]:
    member = sa.exists().where(TEAM.c.opportunity_id == OPP.c.id, TEAM.c.employee_id == EMPLOYEE)
    if shape.employee and shape.within is None and not shape.everything and not one:
        # A rep's list: `id IN (own UNION member)`, which the planner sizes
        # right (see `sanlun.kernel.auth.sees_only_own`).
        own = sa.union(
            sa.select(OPP.c.id).where(OPP.c.owner_id == EMPLOYEE),
            sa.select(TEAM.c.opportunity_id).where(TEAM.c.employee_id == EMPLOYEE),
        )
        # As an array of ids (an InitPlan run once), so the planner probes the
        # primary key for each rather than hashing a scan of the whole table.
        return OPP.c.id == sa.any_(sa.func.array(own.scalar_subquery()))
    return shaped_visibility(
        shape, employee=EMPLOYEE, owner_column=OPP.c.owner_id, org_unit_column=OPP.c.org_unit_path, member_clause=member
    )


def _with_team(rows: sa.Select[Any], order: Sequence[Any] = ()) -> sa.Select[Any]:
    """The rows of `rows` (a SELECT of opportunities, filtered, ordered and
    limited) with their team: the team is aggregated for those rows only."""
    page = rows.subquery("o")
    team = (
        sa.select(
            sa.func.array_agg(aggregate_order_by(TEAM.c.employee_id, TEAM.c.employee_id)).label("team_ids"),
            sa.func.array_agg(aggregate_order_by(TEAM.c.role, TEAM.c.employee_id)).label("team_roles"),
        )
        .where(TEAM.c.opportunity_id == page.c.id)
        .lateral("team")
    )
    ordering = [page.c[c.element.key].desc() if _is_desc(c) else page.c[c.key] for c in order]
    return (
        sa.select(*page.c, team.c.team_ids, team.c.team_roles)
        .select_from(page.join(team, sa.true(), isouter=True))
        .order_by(*ordering)
    )


def _is_desc(clause: Any) -> bool:
    return getattr(clause, "modifier", None) is sa.sql.operators.desc_op


def _by_id(shape: VisibilityShape) -> sa.Select[Any]:
    return _with_team(sa.select(OPP).where(OPP.c.id == sa.bindparam("id", type_=sa.Uuid), _visible(shape, one=True)))


def _by_ids(shape: VisibilityShape) -> sa.Select[Any]:
    ids = sa.bindparam("ids", type_=ARRAY(sa.Uuid))
    return _with_team(sa.select(OPP).where(OPP.c.id == sa.any_(ids), _visible(shape, one=True)))


BY_ID = PrebuiltCache(_by_id)
BY_IDS = PrebuiltCache(_by_ids)


def _params(principal: Principal) -> dict[str, Any]:
    return {EMPLOYEE_PARAM: principal.employee_id}


async def get_visible(
    conn: asyncpg.Connection, principal: Principal, opportunity_id: uuid.UUID
) -> dict[str, Any] | None:
    row = await BY_ID(visibility_shape(principal)).fetchrow(conn, {**_params(principal), "id": opportunity_id})
    return None if row is None else read_row(row)


async def visible_by_ids(
    conn: asyncpg.Connection, principal: Principal, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """Those of `ids` the principal may see, by id (read rows)."""
    if not ids:
        return {}
    rows = await BY_IDS(visibility_shape(principal)).fetch(conn, {**_params(principal), "ids": list(ids)})
    return {row["id"]: read_row(row) for row in rows}


# name -> (column, operator): the list's filters with a bound parameter each.
FILTERS: dict[str, tuple[sa.ColumnElement[Any], str]] = {
    "owner_id": (OPP.c.owner_id, "eq"),
    "account_id": (OPP.c.account_id, "eq"),
    "close_from": (OPP.c.expected_close_date, "ge"),
    "close_to": (OPP.c.expected_close_date, "le"),
    "closed_from": (OPP.c.closed_on, "ge"),
    "closed_to": (OPP.c.closed_on, "le"),
    "amount_min": (OPP.c.amount, "ge"),
    "amount_max": (OPP.c.amount, "le"),
    "industry": (OPP.c.industry, "eq"),
    "origin_type": (OPP.c.origin_type, "eq"),
    "origin_id": (OPP.c.origin_id, "eq"),
    "assigned_since": (OPP.c.assigned_at, "ge"),
}
SORTS = {
    "created_at": OPP.c.created_at,
    "updated_at": OPP.c.updated_at,
    "name": OPP.c.name,
    "expected_close_date": OPP.c.expected_close_date,
    "amount": OPP.c.amount,
    "assigned_at": OPP.c.assigned_at,
}
NULLABLE_SORTS = frozenset({"expected_close_date", "amount", "assigned_at"})


@dataclass(frozen=True, slots=True)
class ListShape:
    visibility: VisibilityShape
    filters: tuple[str, ...]  # names in FILTERS, plus the special ones below
    unassigned: bool | None
    org_unit: str | None
    sort: str
    descending: bool
    after: bool  # continues from a cursor


def _list(shape: ListShape) -> sa.Select[Any]:
    stmt = sa.select(OPP).where(_visible(shape.visibility, one=False))
    for name in shape.filters:
        if name == "stages":
            stmt = stmt.where(OPP.c.stage == sa.func.any(sa.bindparam("stages", type_=ARRAY(sa.String))))
        elif name == "solution_id":
            stmt = stmt.where(OPP.c.solution_ids.contains(sa.bindparam("solution_id", type_=ARRAY(sa.Uuid))))
        elif name == "team_member_id":
            stmt = stmt.where(
                sa.exists().where(
                    TEAM.c.opportunity_id == OPP.c.id,
                    TEAM.c.employee_id == sa.bindparam("team_member_id", type_=sa.Uuid),
                )
            )
        else:
            column, op = FILTERS[name]
            value = sa.bindparam(name, type_=column.type)
            stmt = stmt.where(column == value if op == "eq" else column >= value if op == "ge" else column <= value)
    if shape.unassigned is not None:
        stmt = stmt.where(OPP.c.owner_id.is_(None) if shape.unassigned else OPP.c.owner_id.is_not(None))
    if shape.org_unit is not None:
        stmt = stmt.where(path_within(OPP.c.org_unit_path, shape.org_unit))
    column = SORTS[shape.sort]
    if shape.sort in NULLABLE_SORTS:
        stmt = stmt.where(column.is_not(None))
    key = sa.tuple_(column, OPP.c.id)
    if shape.after:
        last = sa.tuple_(sa.bindparam("after_key", type_=column.type), sa.bindparam("after_id", type_=sa.Uuid))
        stmt = stmt.where(key < last if shape.descending else key > last)
    order = (column.desc(), OPP.c.id.desc()) if shape.descending else (column, OPP.c.id)
    return _with_team(stmt.order_by(*order).limit(sa.bindparam("limit", type_=sa.Integer)), order)


LIST = PrebuiltCache(_list)


async def list_page(
    conn: asyncpg.Connection,
    principal: Principal,
    *,
    filters: Mapping[str, Any],
    unassigned: bool | None,
    org_unit: str | None,
    sort: str,
    descending: bool,
    after: Sequence[Any] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Up to `limit` rows after the cursor's key `after` (sort value, id).
    `filters` holds the present ones only: FILTERS' names, `stages` (a list
    of stage values), `solution_id`, `team_member_id`."""
    shape = ListShape(
        visibility=visibility_shape(principal),
        filters=tuple(sorted(filters)),
        unassigned=unassigned,
        org_unit=org_unit,
        sort=sort,
        descending=descending,
        after=after is not None,
    )
    params: dict[str, Any] = {**_params(principal), **filters, "limit": limit}
    if "solution_id" in params:
        params["solution_id"] = [params["solution_id"]]
    if after is not None:
        params["after_key"], params["after_id"] = after
    return [read_row(row) for row in await LIST(shape).fetch(conn, params)]


def read_row(row: asyncpg.Record) -> dict[str, Any]:
    """A row as the read model's JSON shape (`OpportunityRead`), ready for
    `sanlun.kernel.reads.json_response`; `tests/services/opportunity` checks
    it serialises exactly as the model does."""
    amount = row["amount"]
    origin_type = row["origin_type"]
    return {
        "id": row["id"],
        "external_id": row["external_id"],
        "account_id": row["account_id"],
        "name": row["name"],
        "amount": None if amount is None else {"amount": amount, "currency": row["currency"]},
        "expected_close_date": row["expected_close_date"],
        "owner_id": row["owner_id"],
        "assigned_at": row["assigned_at"],
        "org_unit_path": row["org_unit_path"],
        "source": row["source"],
        "compelling_event": row["compelling_event"],
        "stage": row["stage"],
        "win_probability": row["win_probability"],
        "industry": row["industry"],
        "size_band": row["size_band"],
        "solution_ids": row["solution_ids"],
        "team": [
            {"employee_id": e, "role": r} for e, r in zip(row["team_ids"] or (), row["team_roles"] or (), strict=True)
        ],
        "closed_on": row["closed_on"],
        "origin": None if origin_type is None else {"type": origin_type, "id": row["origin_id"]},
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "version": row["version"],
    }


def sort_key(item: Mapping[str, Any], sort: str) -> tuple[Any, uuid.UUID]:
    value = item[sort]
    return (value["amount"] if sort == "amount" and value else value), item["id"]
