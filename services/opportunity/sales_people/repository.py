"""All queries of the sales-people view."""

from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, path_within, visibility_clause
from services.opportunity.sales_people.models import SalesPerson


def list_statement(principal: Principal, *, org_unit: str | None, active: bool | None) -> sa.Select[Any]:
    stmt = sa.select(SalesPerson).where(
        visibility_clause(principal, owner_column=SalesPerson.employee_id, org_unit_column=SalesPerson.org_unit_path)
    )
    if org_unit:
        stmt = stmt.where(path_within(SalesPerson.org_unit_path, org_unit))
    if active is not None:
        stmt = stmt.where(SalesPerson.active.is_(active))
    return stmt


TABLE = cast(sa.Table, SalesPerson.__table__)
EMPLOYEE_COLUMNS = ("employee_id", "name", "org_unit_path", "capacity", "active", "source_version", "updated_at")


def _employee_upsert() -> Insert:
    stmt = insert(TABLE)
    excluded = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=[TABLE.c.employee_id],
        set_={k: excluded[k] for k in EMPLOYEE_COLUMNS if k != "employee_id"},
        where=TABLE.c.source_version < excluded.source_version,
    )


def _stage_record() -> Insert:
    """A stage seen (and the capacity when the event carries one); a stage
    may arrive before the employee event, and then makes a placeholder row
    that `employee.created` fills in."""
    capacity = sa.bindparam("capacity", type_=sa.Integer)
    stmt = insert(TABLE).values(
        employee_id=sa.bindparam("employee_id"),
        org_unit_path=sa.bindparam("org_unit_path"),
        stage=sa.bindparam("stage"),
        stage_since=sa.bindparam("stage_since"),
        stage_seen_at=sa.bindparam("stage_seen_at"),
        capacity=sa.func.coalesce(capacity, 0),
        name="",
        active=True,
        source_version=0,
        updated_at=sa.bindparam("stage_seen_at"),
    )
    excluded = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=[TABLE.c.employee_id],
        set_={
            **{k: excluded[k] for k in ("org_unit_path", "stage", "stage_since", "stage_seen_at")},
            "capacity": sa.case((capacity.is_(None), TABLE.c.capacity), else_=excluded.capacity),
        },
        where=sa.or_(TABLE.c.stage_seen_at.is_(None), TABLE.c.stage_seen_at <= excluded.stage_seen_at),
    )


UPSERT_EMPLOYEE = _employee_upsert()
RECORD_STAGE = _stage_record()


async def upsert_employees(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Employee records in order, an older version never over a newer one:
    one prepared statement run for every row (so two rows of one employee
    apply one after the other, as their events would)."""
    if rows:
        await session.execute(UPSERT_EMPLOYEE, rows)


async def record_stages(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Keep the last stage seen of each employee (rows in the order seen;
    `capacity` None keeps the known capacity)."""
    if rows:
        await session.execute(RECORD_STAGE, rows)


async def by_ids(session: AsyncSession, employee_ids: list[Any]) -> list[SalesPerson]:
    return list(
        (await session.execute(sa.select(SalesPerson).where(SalesPerson.employee_id.in_(employee_ids)))).scalars()
    )


async def visible_by_ids(session: AsyncSession, principal: Principal, employee_ids: list[Any]) -> list[SalesPerson]:
    """Those of `employee_ids` the view holds and the caller may see."""
    stmt = list_statement(principal, org_unit=None, active=None).where(SalesPerson.employee_id.in_(employee_ids))
    return list((await session.execute(stmt)).scalars())


async def in_unit(session: AsyncSession, principal: Principal, org_unit: str, *, limit: int) -> list[SalesPerson]:
    stmt = list_statement(principal, org_unit=org_unit, active=True).order_by(SalesPerson.employee_id).limit(limit)
    return list((await session.execute(stmt)).scalars())
