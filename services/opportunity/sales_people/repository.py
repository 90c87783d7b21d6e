"""All queries of the sales-people view."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
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


async def upsert(session: AsyncSession, values: dict[str, Any]) -> None:
    stmt = insert(SalesPerson).values(**values)
    excluded = stmt.excluded
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[SalesPerson.employee_id],
            set_={k: getattr(excluded, k) for k in values if k != "employee_id"},
            where=SalesPerson.source_version < excluded.source_version,
        )
    )


async def record_stage(session: AsyncSession, values: dict[str, Any]) -> None:
    """Keep the last stage seen; a stage event may arrive before the employee
    event (it then makes a placeholder row that `employee.created` fills in)."""
    stmt = insert(SalesPerson).values(
        {
            "name": "",
            "active": True,
            "source_version": 0,
            "capacity": 0,
            "updated_at": values["stage_seen_at"],
            **values,
        }
    )
    excluded = stmt.excluded
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[SalesPerson.employee_id],
            set_={k: getattr(excluded, k) for k in values if k != "employee_id"},
            where=sa.or_(SalesPerson.stage_seen_at.is_(None), SalesPerson.stage_seen_at <= excluded.stage_seen_at),
        )
    )


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
