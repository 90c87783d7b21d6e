"""After a burst of published events the dispatcher refreshes the outbox's
planner statistics: with those of a near-empty table, one claim of 50 rows
over an import's 17,600-row backlog took a minute (a scan per row)."""

from __future__ import annotations

import uuid

import httpx
import sqlalchemy as sa

from sanlun.kernel.db import Database
from sanlun.kernel.events import ANALYZE_AFTER_ROWS, EventsContext, OutboxDispatcher, Subscriptions
from services.employee_lifecycle.db import Base

OUTBOX = Base.metadata.tables["employee_lifecycle.outbox"]


async def reltuples(db: Database) -> float:
    async with db.engine.connect() as conn:
        return float(
            (
                await conn.execute(
                    sa.text("SELECT reltuples FROM pg_class WHERE oid = 'employee_lifecycle.outbox'::regclass")
                )
            ).scalar_one()
        )


async def test_a_burst_of_published_rows_gets_fresh_statistics(committed_database_url):
    db = Database(committed_database_url.replace("postgresql://", "postgresql+asyncpg://"), application_name="t")
    ctx = EventsContext(source="employee_lifecycle", outbox=OUTBOX, subscriptions=Subscriptions({}), channel="c")
    async with httpx.AsyncClient() as http:
        dispatcher = OutboxDispatcher(
            db=db, context=ctx, http=http, resolve_url=lambda _: None, service_token=lambda: "t"
        )
        tag = uuid.uuid4().hex
        try:
            async with db.engine.begin() as conn:
                await conn.execute(
                    sa.text("""
                    INSERT INTO employee_lifecycle.outbox (event_id, type, source, subject, time, data, subscriber,
                        status, attempts, next_attempt_at, created_at)
                    SELECT gen_random_uuid(), 'test.burst', 'employee_lifecycle', :tag || n, now(), '{}', 'nobody',
                           'delivered', 0, now(), now()
                    FROM generate_series(1, 3000) n"""),
                    {"tag": tag},
                )
            ctx.published = ANALYZE_AFTER_ROWS - 1
            before = await reltuples(db)
            await dispatcher._analyze_if_grown()  # below the threshold: nothing
            assert await reltuples(db) == before and ctx.published == ANALYZE_AFTER_ROWS - 1
            ctx.published += 1
            await dispatcher._analyze_if_grown()
            assert ctx.published == 0
            assert await reltuples(db) >= 3000  # the planner now knows the table is not empty
        finally:
            async with db.engine.begin() as conn:
                await conn.execute(
                    sa.text("DELETE FROM employee_lifecycle.outbox WHERE subject LIKE :p"), {"p": tag + "%"}
                )
            await db.dispose()
