"""All queries of the stages area: stage state, history."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.employee_lifecycle.employees.models import Employee
from services.employee_lifecycle.stages.models import EmployeeStage, StageHistory

STATE_COLUMNS = (
    "stage",
    "stage_since",
    "candidate_stage",
    "candidate_since",
    "candidate_days",
    "last_counted_on",
    "provisional_stage",
    "provisional_since",
    "override_stage",
    "override_since",
    "override_expires_at",
    "override_reason",
    "override_by",
    "needs",
    "policy_version",
    "last_as_of",
    "evaluated_at",
    "explanation",
)


async def employees_for_evaluation(
    session: AsyncSession,
    *,
    visible: sa.ColumnElement[bool],
    ids: Sequence[uuid.UUID] | None = None,
    within: sa.ColumnElement[bool] | None = None,
    after: uuid.UUID | None = None,
    limit: int | None = None,
) -> list[Any]:
    stmt = sa.select(Employee.id, Employee.org_unit_path, Employee.capacity).where(visible, Employee.active.is_(True))
    if ids is not None:
        stmt = stmt.where(Employee.id.in_(list(set(ids))))
    if within is not None:
        stmt = stmt.where(within)
    if after is not None:
        stmt = stmt.where(Employee.id > after)
    return list((await session.execute(stmt.order_by(Employee.id).limit(limit))).all())


async def states_for_update(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    t = EmployeeStage.__table__
    stmt = sa.select(t).where(t.c.employee_id.in_(list(ids))).order_by(t.c.employee_id).with_for_update()
    return {r.employee_id: r for r in (await session.execute(stmt)).all()}


async def state_of(session: AsyncSession, employee_id: uuid.UUID, *, lock: bool = False) -> Any | None:
    t = EmployeeStage.__table__
    stmt = sa.select(t).where(t.c.employee_id == employee_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).first()


async def save_states(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    # executemany of one cached statement (batched by insertmanyvalues), not a
    # 1000-row VALUES that SQLAlchemy would compile afresh each time.
    if not rows:
        return
    stmt = insert(EmployeeStage)
    stmt = stmt.on_conflict_do_update(
        index_elements=[EmployeeStage.employee_id], set_={c: getattr(stmt.excluded, c) for c in STATE_COLUMNS}
    )
    await session.execute(stmt, list(rows))


async def update_state(session: AsyncSession, employee_id: uuid.UUID, values: dict[str, Any]) -> None:
    await session.execute(sa.update(EmployeeStage).where(EmployeeStage.employee_id == employee_id).values(**values))


async def add_history(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(sa.insert(StageHistory), list(rows))


def history_statement(employee_id: uuid.UUID, kinds: Sequence[str] | None = None) -> sa.Select[Any]:
    stmt = sa.select(StageHistory).where(StageHistory.employee_id == employee_id)
    if kinds:
        stmt = stmt.where(StageHistory.kind.in_(list(kinds)))
    return stmt


async def expired_overrides(session: AsyncSession, *, now: Any, limit: int = 5000) -> list[Any]:
    t = EmployeeStage.__table__
    stmt = (
        sa.select(t, Employee.org_unit_path, Employee.capacity)
        .join(Employee, Employee.id == t.c.employee_id)
        .where(t.c.override_stage.is_not(None), t.c.override_expires_at <= now)
        .limit(limit)
        .with_for_update(of=t, skip_locked=True)
    )
    return list((await session.execute(stmt)).all())


async def batch_read(session: AsyncSession, ids: Sequence[uuid.UUID], visible: sa.ColumnElement[bool]) -> list[Any]:
    s = EmployeeStage.__table__
    stmt = (
        sa.select(
            Employee.id,
            Employee.capacity,
            s.c.stage,
            s.c.stage_since,
            s.c.override_stage,
            s.c.override_since,
            s.c.override_expires_at,
            s.c.needs,
        )
        .outerjoin(s, s.c.employee_id == Employee.id)
        .where(Employee.id.in_(list(set(ids))), visible)
    )
    return list((await session.execute(stmt)).all())


async def clear_overrides(session: AsyncSession, ids: Sequence[uuid.UUID]) -> None:
    await session.execute(
        sa.update(EmployeeStage)
        .where(EmployeeStage.employee_id.in_(list(ids)))
        .values(
            override_stage=None, override_since=None, override_expires_at=None, override_reason=None, override_by=None
        )
    )
