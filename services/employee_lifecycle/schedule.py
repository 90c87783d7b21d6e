"""The scheduled round: every active employee, as of the clock's today, in chunks.

It is the only evaluation that confirms a stage change: each person's day
counts once toward the dwell of a candidate stage (`domain/lifecycle.py`), so
running the round again on the same business day refreshes explanations and
changes nothing in any dwell. It runs by itself (the loop below, at most once
per business day) and on `POST /ops/stages/round`, which a simulation calls
once per simulated day after moving the clock.

Any number of replicas may run it; a transaction-scoped advisory lock lets
one of them start each round and the others skip it (a second round on the
same day would be harmless anyway: rows are locked while evaluated and each
day counts once)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator

import sqlalchemy as sa
import structlog
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field

from sanlun.kernel.auth import CurrentPrincipal, require_roles
from sanlun.kernel.clock import Clock, session_clock
from sanlun.kernel.db import Database
from sanlun.kernel.errors import DatabaseUnavailable, Forbidden, Unauthorized, problem_responses
from services.employee_lifecycle.stages import repository, service

log = structlog.get_logger("employee_lifecycle.schedule")
CHUNK = 5000


class RoundResult(BaseModel):
    """What one scheduled round did."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ran": True,
                    "as_of": "2026-12-01",
                    "evaluated": 35,
                    "counted": 35,
                    "confirmed": 2,
                    "changed": 2,
                    "provisional": 3,
                    "overrides_lifted": 0,
                }
            ]
        }
    )

    ran: bool = Field(description="false when another replica was running the round (nothing was done).")
    as_of: dt.date | None = Field(description="The business day evaluated (the clock's today).")
    evaluated: int = Field(0, description="Active employees evaluated.")
    counted: int = Field(
        0, description="Employees whose day counted toward a dwell (0 on a second round the same day)."
    )
    confirmed: int = Field(0, description="Confirmed stage changes (first evaluations included).")
    changed: int = Field(0, description="Effective stage changes published as `employee.stage_changed`.")
    provisional: int = Field(0, description="Provisional stage changes (recorded in the history, not published).")
    overrides_lifted: int = Field(0, description="Expired overrides lifted before the round.")


async def run_once(db: Database) -> RoundResult:
    """One round as of the clock's today; `ran` is false if another replica holds the round."""
    async with db.transaction() as session:
        locked = (
            await session.execute(sa.text("SELECT pg_try_advisory_xact_lock(hashtext('el:stage-schedule'))"))
        ).scalar()
        if not locked:
            return RoundResult(ran=False, as_of=None)
        as_of = session_clock(session).today()
        lifted = await service.lift_expired_overrides(session=session)
    result = RoundResult(ran=True, as_of=as_of, overrides_lifted=lifted)
    after = None
    while True:
        async with db.transaction() as session:
            rows = await repository.employees_for_evaluation(session, visible=sa.true(), after=after, limit=CHUNK)
            if not rows:
                return result
            outcomes = await service.evaluate_rows(
                session=session, employees=rows, as_of=as_of, record=True, scheduled=True
            )
            steps = [o.step for o in outcomes if o.step is not None]
            result.evaluated += len(rows)
            result.counted += sum(s.counted for s in steps)
            result.confirmed += sum(s.confirmed is not None for s in steps)
            result.changed += sum(s.change is not None for s in steps)
            result.provisional += sum(s.provisional is not None for s in steps)
            after = rows[-1].id


router = APIRouter(
    prefix="/ops/stages", tags=["operations"], responses=problem_responses(Unauthorized, Forbidden, DatabaseUnavailable)
)


@router.post(
    "/round",
    summary="Run the scheduled stage round now (as of this process's clock)",
    response_model=RoundResult,
)
async def run_round(request: Request, principal: CurrentPrincipal) -> RoundResult:
    """Evaluates every active employee as of the clock's today and counts that day toward each
    pending dwell, confirming changes that have held long enough. Calling it again on the same
    business day refreshes the explanations and confirms nothing more."""
    require_roles(principal, "ops", "group_admin")
    result = await run_once(request.app.state.db)
    log.info("stage_round_done", **result.model_dump(mode="json"))
    return result


@contextlib.asynccontextmanager
async def scheduled(app: FastAPI, interval: float) -> AsyncIterator[None]:
    """Every `interval` seconds, run the round if this process has not yet run it on the clock's
    today (a restart runs it again; that counts nothing twice)."""

    async def loop() -> None:
        clock: Clock = app.state.clock
        done_on: dt.date | None = None
        while True:
            await asyncio.sleep(interval)
            if clock.today() == done_on:
                continue
            try:
                result = await run_once(app.state.db)
                log.info("stage_schedule_done", **result.model_dump(mode="json"))
                if result.ran:
                    done_on = result.as_of
            except Exception:  # the next round retries; one failure must not stop the loop
                log.exception("stage_schedule_failed")

    task = asyncio.create_task(loop()) if interval > 0 else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
