"""All queries of the people view."""

import datetime as dt
import uuid
from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.resource_share.people.models import Person


async def upsert_employee(session: AsyncSession, values: dict[str, Any]) -> None:
    stmt = insert(Person).values(**values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Person.employee_id],
            set_={k: getattr(stmt.excluded, k) for k in values if k != "employee_id"},
            where=Person.source_version < stmt.excluded.source_version,
        )
    )


async def upsert_stage(session: AsyncSession, values: dict[str, Any]) -> None:
    """Record a stage; a stage event older than the one already seen loses."""
    stmt = insert(Person).values(**values, source_version=0, active=True)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Person.employee_id],
            set_={k: getattr(stmt.excluded, k) for k in ("stage", "stage_since", "stage_observed_at", "updated_at")},
            where=sa.or_(
                Person.stage_observed_at.is_(None), Person.stage_observed_at <= stmt.excluded.stage_observed_at
            ),
        )
    )


async def stages_of(
    session: AsyncSession, employee_ids: Collection[uuid.UUID]
) -> tuple[dict[uuid.UUID, str], dt.datetime | None]:
    """Last known stages and the time of the newest of them."""
    if not employee_ids:
        return {}, None
    rows = (
        await session.execute(
            sa.select(Person.employee_id, Person.stage, Person.stage_observed_at).where(
                Person.employee_id.in_(list(employee_ids)), Person.stage.is_not(None)
            )
        )
    ).all()
    as_of = max((r.stage_observed_at for r in rows if r.stage_observed_at), default=None)
    return {r.employee_id: r.stage for r in rows}, as_of


async def get(session: AsyncSession, employee_id: uuid.UUID) -> Person | None:
    return await session.get(Person, employee_id)
