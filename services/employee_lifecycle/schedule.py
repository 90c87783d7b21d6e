"""The scheduled evaluation: every active employee, as of today, in chunks.

Any number of replicas may run it; a transaction-scoped advisory lock lets
one of them do each round and the others skip it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import sqlalchemy as sa
import structlog
from fastapi import FastAPI

from sanlun.kernel.db import Database, utcnow
from services.employee_lifecycle.stages import repository, service

log = structlog.get_logger("employee_lifecycle.schedule")
CHUNK = 5000


async def run_once(db: Database) -> int:
    """One round; returns how many employees were evaluated (0 if another replica holds the round)."""
    evaluated, after = 0, None
    async with db.transaction() as session:
        locked = (
            await session.execute(sa.text("SELECT pg_try_advisory_xact_lock(hashtext('el:stage-schedule'))"))
        ).scalar()
        if not locked:
            return 0
        await service.lift_expired_overrides(session=session)
    while True:
        async with db.transaction() as session:
            rows = await repository.employees_for_evaluation(session, visible=sa.true(), after=after, limit=CHUNK)
            if not rows:
                return evaluated
            await service.evaluate_rows(session=session, employees=rows, as_of=utcnow().date(), record=True)
            evaluated += len(rows)
            after = rows[-1].id


@contextlib.asynccontextmanager
async def scheduled(app: FastAPI, interval: float) -> AsyncIterator[None]:
    async def loop() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                count = await run_once(app.state.db)
                log.info("stage_schedule_done", evaluated=count)
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
