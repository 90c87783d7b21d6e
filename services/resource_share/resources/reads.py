"""The resource list (the workspace's suggested reference cases and experts)
as prebuilt statements (`sanlun.kernel.reads`): one SELECT per page, built
once per query shape and run outside a transaction.

The rule is `repository.visible`'s, spelled for a shape: what the caller may
edit (owner, managers above, admins), widened by each resource's sharing
scope (the caller's team, their organisation, the group), relationships with
a lapsed consent hidden from all but their owner; a filter by owner or unit
never reveals who holds an undisclosed relationship. The ORM statement stays
as the oracle `tests/services/resource_share/test_fast_reads.py` compares with.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from sanlun.kernel.auth import EMPLOYEE_PARAM, Principal, VisibilityShape, can_see, path_within, visibility_shape
from sanlun.kernel.reads import PrebuiltCache
from services.resource_share.db import EMPLOYEE, const, keyset_page, one_of, seen_by
from services.resource_share.domain.paths import organization_of
from services.resource_share.resources.models import Resource, Scope

RES: sa.Table = Resource.__table__  # type: ignore[assignment]
# Every column but the search vector (never loaded, as the model defers it).
COLUMNS = [c for c in RES.c if c.key != "search"]
TODAY = sa.bindparam("today", type_=sa.Date)
RELATIONSHIP = const("relationship")
# Team scope opens the resources of exactly the caller's unit.
ORG_UNIT = sa.bindparam("principal_org_unit_path", type_=sa.String)
# `?type=`, `?industry=`, `?solution=`, `?owner_id=`, `?q=`, each with a bound value.
FILTERS = ("type", "industry", "solution", "owner_id", "q")


@dataclass(frozen=True, slots=True)
class ListShape:
    visibility: VisibilityShape
    employee: bool  # the caller has an employee id: their own lapsed relationships stay in view
    organization: str | None  # the caller's organisation, when organisation scope opens it
    filters: tuple[str, ...]  # names in FILTERS that are present
    within: str | None  # `?organization=`: owned in this unit or below
    after: bool  # continues from a cursor


def list_shape(principal: Principal, *, filters: Mapping[str, Any], within: str | None, after: bool) -> ListShape:
    organization = principal.organization_path
    return ListShape(
        visibility=visibility_shape(principal),
        employee=principal.employee_id is not None,
        # Someone placed above every organisation (e.g. at `/group`) belongs to none.
        organization=organization if organization.count("/") >= 2 else None,
        filters=tuple(sorted(filters)),
        within=within,
        after=after,
    )


def _editable(shape: ListShape) -> sa.ColumnElement[bool]:
    return seen_by(shape.visibility, owner_column=RES.c.owner_id, org_unit_column=RES.c.org_unit_path)


def _in_scope(shape: ListShape) -> sa.ColumnElement[bool]:
    """What the caller may edit, widened by each resource's sharing scope."""
    clauses = [
        _editable(shape),
        one_of(RES.c.scope, (Scope.GROUP, Scope.PUBLIC)),
        sa.and_(RES.c.scope == const(Scope.TEAM), RES.c.org_unit_path == ORG_UNIT),
    ]
    if shape.organization is not None:
        clauses.append(
            sa.and_(RES.c.scope == const(Scope.ORGANIZATION), path_within(RES.c.org_unit_path, shape.organization))
        )
    return sa.or_(*clauses)


def _live(shape: ListShape) -> sa.ColumnElement[bool]:
    """A relationship whose consent lapsed before `today` is hidden from all but its owner."""
    live = sa.or_(RES.c.type != RELATIONSHIP, RES.c.consent_expires_on >= TODAY)
    return sa.or_(live, RES.c.owner_id == EMPLOYEE) if shape.employee else live


def _discloses(shape: ListShape, levels: tuple[str, ...]) -> sa.ColumnElement[bool]:
    return sa.or_(RES.c.type != RELATIONSHIP, one_of(RES.c.disclosure, levels), _editable(shape))


def _list(shape: ListShape) -> sa.Select[Any]:
    stmt = sa.select(*COLUMNS).where(_in_scope(shape), _live(shape))
    for name in shape.filters:
        if name == "type":
            stmt = stmt.where(RES.c.type == sa.bindparam("type", type_=sa.String))
        elif name == "industry":
            stmt = stmt.where(RES.c.industries.contains(sa.bindparam("industry", type_=ARRAY(sa.String))))
        elif name == "solution":
            stmt = stmt.where(RES.c.solutions.contains(sa.bindparam("solution", type_=ARRAY(sa.String))))
        elif name == "owner_id":
            stmt = stmt.where(
                RES.c.owner_id == sa.bindparam("owner_id", type_=sa.Uuid), _discloses(shape, ("identity",))
            )
        elif name == "q":
            query = sa.func.websearch_to_tsquery("simple", sa.bindparam("q", type_=sa.String))
            stmt = stmt.where(RES.c.search.bool_op("@@")(query))
    if shape.within is not None:
        disclosed = _discloses(shape, ("identity", "organization"))
        stmt = stmt.where(path_within(RES.c.org_unit_path, shape.within), disclosed)
    return keyset_page(stmt, RES, after=shape.after)


LIST = PrebuiltCache(_list)


async def list_page(
    conn: asyncpg.Connection,
    principal: Principal,
    *,
    today: dt.date,
    filters: Mapping[str, Any],
    within: str | None,
    page: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """The rows of one page (`page`: `db.Keyset.params()`), as `ResourceRead`'s
    JSON shape for this caller on `today` (the business clock's day).
    `filters` holds the present ones of FILTERS, by name, with their values."""
    shape = list_shape(principal, filters=filters, within=within, after="after_id" in page)
    params: dict[str, Any] = {
        EMPLOYEE_PARAM: principal.employee_id,
        "principal_org_unit_path": principal.org_unit_path,
        "today": today,
        **filters,
        **page,
    }
    for tag in ("industry", "solution"):
        if tag in params:
            params[tag] = [params[tag]]
    return [read_row(row, principal, today) for row in await LIST(shape).fetch(conn, params)]


def read_row(row: Mapping[str, Any], principal: Principal, today: dt.date) -> dict[str, Any]:
    """`service.present` for a row: a relationship's owner shown only as far
    as they disclose themself (fully to themself, their managers and admins)."""
    rating_avg = row["rating_avg"]
    item: dict[str, Any] = {
        "id": row["id"],
        "type": row["type"],
        "title": row["title"],
        "summary": row["summary"],
        "owner_id": row["owner_id"],
        "org_unit_path": row["org_unit_path"],
        "scope": row["scope"],
        "industries": row["industries"],
        "solutions": row["solutions"],
        "usage_count": row["usage_count"],
        "rating_avg": None if rating_avg is None else float(rating_avg),
        "rating_count": row["rating_count"],
        "relationship": None,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "version": row["version"],
    }
    if row["type"] != "relationship":
        return item
    expires_on = row["consent_expires_on"]
    disclosure = row["disclosure"]
    item["relationship"] = {
        "contact_id": row["contact_id"],
        "account_id": row["account_id"],
        "strength": row["strength"],
        "disclosure": disclosure,
        "shared": row["shared"] or {},
        "consent_given_on": row["consent_given_on"],
        "consent_expires_on": expires_on,
        "consent_expired": expires_on < today,
    }
    if disclosure != "identity" and not can_see(
        principal, owner_id=row["owner_id"], org_unit_path=row["org_unit_path"]
    ):
        item["owner_id"] = None
        item["org_unit_path"] = organization_of(row["org_unit_path"]) if disclosure == "organization" else None
    return item
