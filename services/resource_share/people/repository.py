"""All queries of the people view."""

import datetime as dt
import uuid
from collections.abc import Collection
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.resource_share.people.models import Person

PEOPLE = cast(sa.Table, Person.__table__)
EMPLOYEE_COLUMNS = (
    "employee_id",
    "name",
    "org_unit_path",
    "manager_id",
    "capacity",
    "active",
    "source_version",
    "updated_at",
)
STAGE_COLUMNS = ("employee_id", "org_unit_path", "stage", "stage_since", "stage_observed_at", "updated_at")


def _employee_upsert() -> Insert:
    stmt = insert(PEOPLE)
    return stmt.on_conflict_do_update(
        index_elements=[PEOPLE.c.employee_id],
        set_={k: stmt.excluded[k] for k in EMPLOYEE_COLUMNS if k != "employee_id"},
        where=PEOPLE.c.source_version < stmt.excluded.source_version,
    )


def _stage_upsert() -> Insert:
    """A stage; a stage event older than the one already seen loses."""
    stmt = insert(PEOPLE).values(
        {k: sa.bindparam(k, type_=PEOPLE.c[k].type) for k in STAGE_COLUMNS} | {"source_version": 0, "active": True}
    )
    return stmt.on_conflict_do_update(
        index_elements=[PEOPLE.c.employee_id],
        set_={k: stmt.excluded[k] for k in ("stage", "stage_since", "stage_observed_at", "updated_at")},
        where=sa.or_(
            PEOPLE.c.stage_observed_at.is_(None), PEOPLE.c.stage_observed_at <= stmt.excluded.stage_observed_at
        ),
    )


UPSERT_EMPLOYEE = _employee_upsert()
UPSERT_STAGE = _stage_upsert()


async def upsert_employees(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Employee records in order, an older version never over a newer one:
    one prepared statement run for every row (two rows of one employee apply
    one after the other, as their events would)."""
    if rows:
        await session.execute(UPSERT_EMPLOYEE, rows)


async def upsert_stages(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Stages in order, one prepared statement run for every row."""
    if rows:
        await session.execute(UPSERT_STAGE, rows)


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
