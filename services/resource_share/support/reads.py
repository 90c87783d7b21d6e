"""The support request list (the workspace's "my support requests") as
prebuilt statements (`sanlun.kernel.reads`): one SELECT per page, built once
per query shape and run outside a transaction.

The rule is `repository.visible`'s, spelled for a shape: the requester and the
managers (and admins) above them, the assignee, and the active members of the
support pool for the open requests of their own organisation. The ORM
statement stays as the oracle `tests/services/resource_share/test_fast_reads.py`
compares with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import sqlalchemy as sa

from sanlun.kernel.auth import EMPLOYEE_PARAM, Principal, VisibilityShape, path_within, visibility_shape
from sanlun.kernel.reads import PrebuiltCache
from services.resource_share.db import EMPLOYEE, const, equal_to, keyset_page, seen_by
from services.resource_share.support.models import SupportPerson, SupportRequest

SR: sa.Table = SupportRequest.__table__  # type: ignore[assignment]
POOL: sa.Table = SupportPerson.__table__  # type: ignore[assignment]
FILTERS = ("status", "opportunity_id")


@dataclass(frozen=True, slots=True)
class ListShape:
    visibility: VisibilityShape
    employee: bool  # the caller has an employee id
    organization: str | None  # an employee's organisation: the open requests their pool membership opens
    filters: tuple[str, ...]  # names in FILTERS that are present
    mine: bool
    after: bool  # continues from a cursor


def _visible(shape: ListShape) -> sa.ColumnElement[bool]:
    clauses = [seen_by(shape.visibility, owner_column=SR.c.requester_id, org_unit_column=SR.c.requester_org_unit_path)]
    if shape.organization is not None:  # the caller is an employee
        pool_member = sa.exists().where(POOL.c.employee_id == EMPLOYEE, POOL.c.active.is_(True))
        clauses.append(SR.c.assignee_id == EMPLOYEE)
        in_organization = path_within(SR.c.requester_org_unit_path, shape.organization)
        clauses.append(sa.and_(SR.c.status == const("open"), in_organization, pool_member))
    return sa.or_(*clauses)


def _list(shape: ListShape) -> sa.Select[Any]:
    stmt = equal_to(sa.select(SR).where(_visible(shape)), SR, shape.filters)
    if shape.mine:
        # A caller with no employee id (an integrator) has no requests of their
        # own: not the unassigned ones, whose null assignee `IS NULL` would match.
        mine = sa.or_(SR.c.requester_id == EMPLOYEE, SR.c.assignee_id == EMPLOYEE) if shape.employee else sa.false()
        stmt = stmt.where(mine)
    return keyset_page(stmt, SR, after=shape.after)


LIST = PrebuiltCache(_list)


async def list_page(
    conn: asyncpg.Connection, principal: Principal, *, filters: Mapping[str, Any], mine: bool, page: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The rows of one page (`page`: `db.Keyset.params()`) in
    `SupportRequestRead`'s JSON shape; `filters`: the present ones of FILTERS."""
    employee = principal.employee_id is not None
    shape = ListShape(
        visibility=visibility_shape(principal),
        employee=employee,
        organization=principal.organization_path if employee else None,
        filters=tuple(sorted(filters)),
        mine=mine,
        after="after_id" in page,
    )
    params = {EMPLOYEE_PARAM: principal.employee_id, **filters, **page}
    return [read_row(row) for row in await LIST(shape).fetch(conn, params)]


def read_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """`service.present` for a row."""
    amount, currency = row["deal_amount"], row["deal_currency"]
    return {
        "id": row["id"],
        "opportunity_id": row["opportunity_id"],
        "requester_id": row["requester_id"],
        "requester_org_unit_path": row["requester_org_unit_path"],
        "kind": row["kind"],
        "title": row["title"],
        "skills": row["skills"],
        "industry": row["industry"],
        "urgency": row["urgency"],
        "deal_value": {"amount": f"{amount:.2f}", "currency": currency} if amount is not None and currency else None,
        "hours_needed": float(row["hours_needed"]),
        "due_date": row["due_date"],
        "requested_at": row["requested_at"],
        "status": row["status"],
        "requester_stage": row["requester_stage"],
        "assignee_id": row["assignee_id"],
        "assigned_at": row["assigned_at"],
        "fulfilled_at": row["fulfilled_at"],
        "won": row["won"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "version": row["version"],
    }
