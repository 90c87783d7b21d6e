"""The hot reads of stages as prebuilt statements (`sanlun.kernel.reads`):
an employee's stage (`GET /employees/{id}/stage`, the workspace's first call)
and the batch read of many (`POST /employees/stages:batch-get`, assignment
and the support desk). One SELECT each, built once per visibility shape,
run outside a transaction, answered with bytes serialised once.

The ORM forms of the same reads (`service.get_state` with the router's
`stage_read`, `service.batch_get`) take two statements each in a
transaction; `tests/services/employee_lifecycle/test_fast_reads.py` checks
that both answer the same bytes for every kind of principal. The open load
is a correlated subquery of the batch statement (`signals.repository.
open_load_of`), so it is counted for the rows returned only. The effective
stage (an override in force hides the evaluated one) is decided in Python by
`StageState.effective` at the business clock's `now`, as before.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from sanlun.kernel.auth import EMPLOYEE_PARAM, Principal, VisibilityShape, shaped_visibility, visibility_shape
from sanlun.kernel.errors import NotFound
from sanlun.kernel.reads import PrebuiltCache
from services.employee_lifecycle.domain.lifecycle import DEFAULT_CONFIRM_AFTER_DAYS, StageState
from services.employee_lifecycle.domain.policy import DEFAULT_HYSTERESIS
from services.employee_lifecycle.employees.models import Employee
from services.employee_lifecycle.signals.repository import open_load_of
from services.employee_lifecycle.stages.models import EmployeeStage

EMP = Employee.__table__
STAGE = EmployeeStage.__table__
EMPLOYEE = sa.bindparam(EMPLOYEE_PARAM, type_=sa.Uuid)


def _visible(shape: VisibilityShape) -> sa.ColumnElement[bool]:
    # As `employees.repository.visible`: an employee record is "owned" by the employee it describes.
    return shaped_visibility(shape, employee=EMPLOYEE, owner_column=EMP.c.id, org_unit_column=EMP.c.org_unit_path)


def _with_stage() -> Any:
    return EMP.outerjoin(STAGE, STAGE.c.employee_id == EMP.c.id)


def _one(shape: VisibilityShape) -> sa.Select[Any]:
    # The employee if visible, with their stage row (whose `employee_id` is null before a first evaluation).
    return (
        sa.select(EMP.c.id, *STAGE.c)
        .select_from(_with_stage())
        .where(EMP.c.id == sa.bindparam("id", type_=sa.Uuid), _visible(shape))
    )


ONE = PrebuiltCache(_one)


# `StageState`'s fields and the stage row's columns they come from (`service.state_from_row`).
STATE = {
    "stage": "stage",
    "since": "stage_since",
    "candidate": "candidate_stage",
    "candidate_since": "candidate_since",
    "candidate_days": "candidate_days",
    "last_counted_on": "last_counted_on",
    "provisional": "provisional_stage",
    "provisional_since": "provisional_since",
    "override_stage": "override_stage",
    "override_since": "override_since",
    "override_expires_at": "override_expires_at",
}


def _many(shape: VisibilityShape) -> sa.Select[Any]:
    return (
        sa.select(
            EMP.c.id,
            EMP.c.capacity,
            *[STAGE.c[column] for column in STATE.values()],
            STAGE.c.needs,
            open_load_of(EMP.c.id, sa.bindparam("as_of", type_=sa.Date)).label("open_load"),
        )
        .select_from(_with_stage())
        .where(EMP.c.id == sa.any_(sa.bindparam("ids", type_=ARRAY(sa.Uuid))), _visible(shape))
        .order_by(EMP.c.id)
    )


MANY = PrebuiltCache(_many)


async def stage_of(
    conn: asyncpg.Connection, principal: Principal, employee_id: uuid.UUID, now: dt.datetime
) -> dict[str, Any]:
    """`StageRead`'s JSON shape; 404 `not_found` for an employee that does not
    exist or that the caller may not see, `not_evaluated` before a first evaluation."""
    row = await ONE(visibility_shape(principal)).fetchrow(
        conn, {EMPLOYEE_PARAM: principal.employee_id, "id": employee_id}
    )
    if row is None:
        raise NotFound(f"Employee {employee_id} was not found.")
    if row["employee_id"] is None:
        raise NotFound(f"Employee {employee_id} has not been evaluated yet.", code="not_evaluated")
    return stage_answer(row, now)


async def snapshots(
    conn: asyncpg.Connection, principal: Principal, employee_ids: Sequence[uuid.UUID], now: dt.datetime
) -> tuple[list[dict[str, Any]], list[uuid.UUID]]:
    """`BatchGetResult`'s items (ordered by id) and `not_found` (the ids the
    caller may not see or that do not exist, in the order asked, once each).
    The open load counts as of the clock's today."""
    wanted = list(dict.fromkeys(employee_ids))
    rows = await MANY(visibility_shape(principal)).fetch(
        conn, {EMPLOYEE_PARAM: principal.employee_id, "ids": wanted, "as_of": now.date()}
    )
    items = [snapshot(row, now) for row in rows]
    found = {row["id"] for row in rows}
    return items, [i for i in wanted if i not in found]


def snapshot(row: asyncpg.Record, now: dt.datetime) -> dict[str, Any]:
    """`StageSnapshotRead`'s JSON shape."""
    stage, since = _state(row).effective(now)
    return {
        "employee_id": row["id"],
        "stage": stage,
        "stage_since": since,
        "capacity": row["capacity"],
        "open_load": row["open_load"],
        "needs": row["needs"] or [],
    }


def stage_answer(row: asyncpg.Record, now: dt.datetime) -> dict[str, Any]:
    """`StageRead`'s JSON shape, as the router's `stage_read` builds the model."""
    state = _state(row)
    stage, since = state.effective(now)
    explanation = row["explanation"] or {}
    override = None
    if state.override_active(now):
        override = {
            "stage": row["override_stage"],
            "reason": row["override_reason"] or "",
            "expires_at": row["override_expires_at"],
            "by": row["override_by"] or "",
        }
    return {
        "employee_id": row["id"],
        "stage": stage,
        "stage_since": since,
        "evaluated_stage": row["stage"],
        "evaluated_since": row["stage_since"],
        "provisional": _provisional(state, explanation.get("reasons")),
        "pending": _pending(state, explanation),
        "override": override,
        "needs": row["needs"],
        "policy_version": row["policy_version"],
        "last_as_of": row["last_as_of"],
        "evaluated_at": row["evaluated_at"],
        "last_evaluation": row["explanation"],
    }


def _state(row: asyncpg.Record) -> StageState:
    """The state of a record with the `STATE` columns (all null for an employee never evaluated)."""
    return StageState(**{field: row[column] for field, column in STATE.items()})


def _provisional(state: StageState, reasons: Any) -> dict[str, Any] | None:
    if state.provisional is None or state.provisional_since is None:
        return None
    words = None if reasons is None else {"en": reasons["en"], "zh": reasons["zh"]}
    return {"stage": state.provisional, "since": state.provisional_since, "reasons": words}


def _pending(state: StageState, explanation: dict[str, Any]) -> dict[str, Any] | None:
    if state.candidate is None or state.candidate_since is None:
        return None
    last = state.last_counted_on or state.candidate_since
    confirm_after_days = int(explanation.get("confirm_after_days", DEFAULT_CONFIRM_AFTER_DAYS))
    return {
        "stage": state.candidate,
        "since": state.candidate_since,
        "days_held": (last - state.candidate_since).days,
        "days_counted": state.candidate_days,
        "days_required": int(explanation.get("hysteresis") or DEFAULT_HYSTERESIS),
        "confirm_after_days": confirm_after_days,
        "confirm_on": state.candidate_since + dt.timedelta(days=confirm_after_days),
    }
