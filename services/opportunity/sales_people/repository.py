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
