"""Retention of the kernel's bookkeeping rows, which nothing else ever deletes:

- delivered outbox rows (pending and parked rows are never touched);
- inbox rows, the consumer's de-duplication memory, kept well past any
  redelivery window;
- idempotency keys, kept long past any client retry (a key reused after its
  retention is treated as new).

Each service runs `RetentionTask` in its lifespan; `POST /ops/retention/run`
does one pass on demand. Deletes go in small batches, oldest first, each in
its own transaction, so a pass never holds long locks and replicas running
it at once only share the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

import sqlalchemy as sa
import structlog
from fastapi import APIRouter, FastAPI, Request
from prometheus_client import Counter
from pydantic import BaseModel, Field

from sanlun.kernel.auth import CurrentPrincipal, require_roles
from sanlun.kernel.db import Database, rows_affected, utcnow
from sanlun.kernel.errors import DatabaseUnavailable, Forbidden, Unauthorized, problem_responses
from sanlun.kernel.settings import ServiceSettings

log = structlog.get_logger("sanlun.retention")

DELETED = Counter("sanlun_retention_deleted_total", "Bookkeeping rows deleted by retention", ["service", "table"])
BATCH = 2000


@dataclass(frozen=True, slots=True)
class Rule:
    """Rows of `table` whose `column` is older than `keep` (and match `where`) go."""

    table: sa.Table
    column: str
    keep: dt.timedelta
    where: sa.ColumnElement[bool] | None = None

    def batch(self, now: dt.datetime) -> sa.Delete:
        c = self.table.c
        old = [c[self.column] < now - self.keep, *([self.where] if self.where is not None else [])]
        key = [c[k.name] for k in self.table.primary_key.columns]
        oldest = sa.select(*key).where(*old).order_by(c[self.column]).limit(BATCH)
        if len(key) == 1:
            return sa.delete(self.table).where(key[0].in_(oldest.scalar_subquery()))
        return sa.delete(self.table).where(sa.tuple_(*key).in_(oldest))


def rules(metadata: sa.MetaData, settings: ServiceSettings) -> list[Rule]:
    schema = metadata.schema
    tables = metadata.tables
    outbox = tables[f"{schema}.outbox"]
    return [
        Rule(
            outbox,
            "delivered_at",
            dt.timedelta(days=settings.outbox_retention_days),
            where=outbox.c.status == "delivered",
        ),
        Rule(tables[f"{schema}.inbox"], "received_at", dt.timedelta(days=settings.inbox_retention_days)),
        Rule(
            tables[f"{schema}.idempotency_keys"], "created_at", dt.timedelta(hours=settings.idempotency_retention_hours)
        ),
    ]


async def purge(db: Database, service: str, rules: list[Rule], now: dt.datetime | None = None) -> dict[str, int]:
    """One pass: for each rule, delete batches until a batch comes back short."""
    now = now or utcnow()
    deleted: dict[str, int] = {}
    for rule in rules:
        total = 0
        while True:
            async with db.transaction() as session:
                count = rows_affected(await session.execute(rule.batch(now)))
            total += count
            if count < BATCH:
                break
        deleted[rule.table.name] = total
        if total:
            DELETED.labels(service, rule.table.name).inc(total)
    return deleted


def retention_task(
    service: str, rules_of: list[Rule], interval_seconds: float
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A lifespan context running `purge` every `interval_seconds` (jittered so
    replicas spread out); a failing pass is logged and retried next time."""

    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                await asyncio.sleep(interval_seconds * random.uniform(0.5, 1.0))  # noqa: S311 - jitter
                try:
                    deleted = await purge(app.state.db, service, rules_of)
                    if any(deleted.values()):
                        log.info("retention_pass", deleted=deleted)
                except Exception:  # a bad pass must not end the loop
                    log.exception("retention_pass_failed")

        task = asyncio.create_task(loop(), name=f"{service}-retention")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return run


class RetentionRun(BaseModel):
    service: str
    deleted: dict[str, int] = Field(description="Rows deleted per table in this pass.")


def retention_router(service: str, rules_of: list[Rule]) -> APIRouter:
    router = APIRouter(
        prefix="/ops/retention",
        tags=["operations"],
        responses=problem_responses(Unauthorized, Forbidden, DatabaseUnavailable),
    )

    @router.post(
        "/run", summary="Delete expired bookkeeping rows now (also runs on a schedule)", response_model=RetentionRun
    )
    async def run_retention(request: Request, principal: CurrentPrincipal) -> RetentionRun:
        require_roles(principal, "ops", "group_admin")
        return RetentionRun(service=service, deleted=await purge(request.app.state.db, service, rules_of))

    return router
