"""After a burst of published events the dispatcher refreshes the outbox's
planner statistics: with those of a near-empty table, one claim of 50 rows
over an import's 17,600-row backlog took a minute (a scan per row)."""

from __future__ import annotations

import time
import uuid

import sqlalchemy as sa

from sanlun.kernel.db import Database, make_metadata, utcnow
from sanlun.kernel.events import (
    ANALYZE_AFTER_ROWS,
    EVENTS_KEY,
    Event,
    EventsContext,
    OutboxDispatcher,
    Subscriptions,
    outbox_table,
    publish_many,
)
from sanlun.kernel.settings import asyncpg_url
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
    dispatcher = OutboxDispatcher(db=db, context=ctx, resolve_url=lambda _: None, service_token=lambda: "t")
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
        analyzed = await reltuples(db)
        assert analyzed >= 3000  # the planner now knows the table is not empty
        # The next time when the table has grown by half: not after every 2,000 rows of a large import.
        assert dispatcher._analyze_after == max(ANALYZE_AFTER_ROWS, int(analyzed) // 2)
    finally:
        async with db.engine.begin() as conn:
            await conn.execute(sa.text("DELETE FROM employee_lifecycle.outbox WHERE subject LIKE :p"), {"p": tag + "%"})
        await db.dispose()


async def test_a_claim_over_a_burst_is_quick_on_the_statistics_of_an_empty_table(committed_database_url):
    """The claim does not depend on fresh statistics: on those of an empty
    outbox (analyzed, then 5,000 rows published by another process, which
    the dispatcher's counter never sees) it takes milliseconds. The per-row
    anti-join it replaced took 23 s for its first 50 rows here."""
    schema = f"evstat_{uuid.uuid4().hex[:8]}"
    metadata = make_metadata(schema)
    table = outbox_table(metadata)
    db = Database(asyncpg_url(committed_database_url), application_name="t", pool_size=2)
    ctx = EventsContext(source="t", outbox=table, subscriptions=Subscriptions({"sink": ["thing.*"]}), channel="c")
    try:
        async with db.engine.begin() as conn:
            await conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
            await conn.run_sync(metadata.create_all)
            await conn.execute(sa.text(f"ANALYZE {schema}.outbox"))
        db.session_info[EVENTS_KEY] = ctx
        async with db.transaction() as session:
            # 4,000 subjects with one event, 200 with five: some rows wait behind their subject's first.
            events = [Event(type="thing.happened", subject=f"s{n % 4200}", data={"n": n}) for n in range(5000)]
            await publish_many(session, events)
        ctx.published = 0  # as if published elsewhere: no ANALYZE
        dispatcher = OutboxDispatcher(db=db, context=ctx, resolve_url=lambda _: None, service_token=lambda: "t")
        async with dispatcher._transaction() as conn:
            started = time.monotonic()
            rows, _ = await dispatcher._claim(conn, utcnow(), [], 500)
            took = time.monotonic() - started
        print(f"claim of 500 over 5,000 rows on an empty table's statistics: {took * 1000:.0f} ms")
        assert len(rows) == 500 and took < 2.0
        assert len({r["subject"] for r in rows}) == 500
    finally:
        async with db.engine.begin() as conn:
            await conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        await db.dispose()
