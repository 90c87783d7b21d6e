"""The outbox through outages: retries over a horizon instead of an attempt
count, one probe per backoff step while a subscriber fails, the backlog
released at once when it answers again, parking only past the horizon, bulk
replay, backlog gauges, and the LISTEN connection coming back after it is
killed. Real Postgres, real HTTP on free ports."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.requests import Request
from starlette.responses import JSONResponse

from sanlun.kernel.db import Database, make_metadata, utcnow
from sanlun.kernel.events import (
    EVENTS_KEY,
    PARKED,
    PENDING,
    Event,
    EventsContext,
    OutboxDispatcher,
    Subscriptions,
    backoff_seconds,
    outbox_table,
    publish_many,
)
from sanlun.kernel.settings import asyncpg_url
from tests.kernel.test_events import ADMIN, OPS, create_employee, wait_for
from tests.support import auth, make_settings
from tests.support_servers import RecordingSubscriber, UvicornThread, closed_url, free_port


class CountingSubscriber(RecordingSubscriber):
    """Records events and counts every request, also the refused ones."""

    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    async def receive(self, request: Request) -> JSONResponse:
        self.requests += 1
        return await super().receive(request)


@asynccontextmanager
async def service(committed_database_url: str, subscriber_url: str, **overrides):
    """employee_lifecycle committing for real; its dispatcher delivers
    employee.* to `subscriber_url`. Yields the app and a client."""
    from services.employee_lifecycle.app import create_app
    from services.employee_lifecycle.settings import Settings

    settings = make_settings(
        Settings,
        **{
            "database_url": committed_database_url,
            "subscriptions": {"opportunity": ["employee.*"]},
            "opportunity_url": subscriber_url,
            "outbox_poll_seconds": 0.1,
            "outbox_backoff_base_seconds": 0.05,
            "outbox_backoff_cap_seconds": 0.5,
            "http_timeout_seconds": 0.5,
            "retention_interval_seconds": 0,
            **overrides,
        },
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://el") as client,
    ):
        yield app, client


@asynccontextmanager
async def closing(dispatcher: OutboxDispatcher) -> AsyncIterator[OutboxDispatcher]:
    """A dispatcher driven by hand (`dispatch_once`), its connections closed after."""
    try:
        yield dispatcher
    finally:
        await dispatcher.close()


async def outbox_rows(committed_database_url: str, subjects: set[str]) -> list[sa.Row]:
    engine = create_async_engine(asyncpg_url(committed_database_url))
    try:
        async with engine.connect() as conn:
            return list(
                (
                    await conn.execute(
                        sa.text(
                            "SELECT id, subject, type, status, attempts, first_failed_at "
                            "FROM employee_lifecycle.outbox WHERE subject = ANY(:s) ORDER BY id"
                        ),
                        {"s": list(subjects)},
                    )
                ).all()
            )
    finally:
        await engine.dispose()


def test_backoff_is_capped_and_never_zero():
    waits = [backoff_seconds(n, base=0.5, cap=10.0) for n in range(1, 40) for _ in range(20)]
    assert max(waits) <= 10.0
    assert min(backoff_seconds(30, base=0.5, cap=10.0) for _ in range(200)) >= 5.0
    assert 0.25 <= backoff_seconds(1, base=0.5, cap=10.0) <= 0.5


async def test_outage_parks_nothing_probes_gently_and_drains_at_once(committed_database_url):
    """A subscriber refusing everything for 4 s (the old dispatcher parked
    after 8 attempts): nothing is parked, it sees one probe per backoff step,
    and once it answers the whole backlog arrives within about one cap."""
    recorder = CountingSubscriber()
    recorder.mode = "fail"
    server = UvicornThread(recorder.app, free_port())
    await server.start()
    try:
        async with service(committed_database_url, server.url, outbox_backoff_cap_seconds=1.0) as (_, client):
            subjects = [await create_employee(client) for _ in range(20)]
            for capacity in (1, 2, 3):  # several events of one subject: order must hold
                r = await client.patch(f"/api/v1/employees/{subjects[0]}", json={"capacity": capacity}, headers=ADMIN)
                assert r.status_code == 200
            await asyncio.sleep(4.0)
            rows = await outbox_rows(committed_database_url, set(subjects))
            assert len(rows) == 23 and {r.status for r in rows} == {PENDING}
            # Probes, not a storm: one request per backoff step (0.05 s doubling to 1 s).
            assert 3 <= recorder.requests <= 15, recorder.requests
            assert all(r.first_failed_at is not None for r in rows)  # the horizon's clock runs for all

            recorder.mode = "ok"
            back = time.monotonic()

            async def drained() -> bool:
                return len(recorder.for_subjects(set(subjects))) >= 23

            await wait_for(drained, timeout=10)
            drain_seconds = time.monotonic() - back
            await asyncio.sleep(0.3)  # nothing more may come
    finally:
        await server.stop()
    print(f"backlog of 23 drained {drain_seconds:.2f} s after the subscriber returned")
    assert drain_seconds < 1.0 + 0.5, drain_seconds  # one cap (the next probe) plus delivery
    events = recorder.for_subjects(set(subjects))
    assert len(events) == len({e["id"] for e in events}) == 23
    first = [e for e in events if e["subject"] == subjects[0]]
    assert [e["data"]["capacity"] for e in first] == [20, 1, 2, 3]
    assert {r.status for r in await outbox_rows(committed_database_url, set(subjects))} == {"delivered"}


async def test_unreachable_subscriber_gets_everything_once_when_it_starts(committed_database_url):
    """The drill's shape: 100 events while the subscriber is not even
    listening, for longer than the old dispatcher's whole retry budget."""
    recorder = RecordingSubscriber()
    server = UvicornThread(recorder.app, free_port())  # not started
    async with service(committed_database_url, server.url, outbox_backoff_cap_seconds=1.0) as (_, client):
        subjects = set()
        for _ in range(100):
            subjects.add(await create_employee(client))
        await asyncio.sleep(3.0)
        await server.start()
        back = time.monotonic()
        try:

            async def drained() -> bool:
                return len(recorder.for_subjects(subjects)) >= 100

            await wait_for(drained, timeout=10)
            drain_seconds = time.monotonic() - back
            await asyncio.sleep(0.3)
        finally:
            await server.stop()
    print(f"backlog of 100 drained {drain_seconds:.2f} s after the subscriber started")
    assert drain_seconds < 2.0, drain_seconds
    events = recorder.for_subjects(subjects)
    assert len(events) == len({e["id"] for e in events}) == 100
    assert {r.status for r in await outbox_rows(committed_database_url, subjects)} == {"delivered"}


async def test_events_park_only_once_they_have_failed_for_the_horizon(committed_database_url):
    recorder = RecordingSubscriber()
    recorder.mode = "fail"
    server = UvicornThread(recorder.app, free_port())
    await server.start()
    try:
        async with service(
            committed_database_url, server.url, outbox_retry_horizon_seconds=2.0, outbox_backoff_cap_seconds=0.2
        ) as (_, client):
            early = await create_employee(client)
            await asyncio.sleep(1.2)
            late = await create_employee(client)
            assert {r.status for r in await outbox_rows(committed_database_url, {early, late})} == {PENDING}

            async def early_parked() -> bool:
                rows = await outbox_rows(committed_database_url, {early})
                return rows[0].status == PARKED

            await wait_for(early_parked, timeout=5)
            # The later event has not failed for 2 s yet: still retried.
            late_row = (await outbox_rows(committed_database_url, {late}))[0]
            assert late_row.status == PENDING, late_row

            async def late_parked() -> bool:
                return (await outbox_rows(committed_database_url, {late}))[0].status == PARKED

            await wait_for(late_parked, timeout=5)
    finally:
        await server.stop()


@pytest.fixture
async def isolated_outbox(committed_database_url):
    """An outbox table of its own (a fresh schema) for driving a dispatcher
    by hand, unaffected by other tests' rows."""
    schema = f"evtest_{uuid.uuid4().hex[:8]}"
    metadata = make_metadata(schema)
    table = outbox_table(metadata)
    db = Database(asyncpg_url(committed_database_url), application_name="evtest", pool_size=2)
    async with db.engine.begin() as conn:
        await conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        await conn.run_sync(metadata.create_all)
    db.session_info[EVENTS_KEY] = EventsContext(
        source="evtest", outbox=table, subscriptions=Subscriptions({"sink": ["thing.*"]}), channel=f"ch_{schema}"
    )
    try:
        yield db, table
    finally:
        async with db.engine.begin() as conn:
            await conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        await db.dispose()


async def test_horizon_on_an_injected_clock(isolated_outbox):
    """A day-long outage in no time: the dispatcher's clock is moved, the
    subscriber is a closed port. Nothing parks before 24 h of failure, then
    every waiting event does, also those never tried."""
    db, table = isolated_outbox
    clock: dict[str, dt.datetime] = {}
    closed = closed_url()
    async with closing(
        OutboxDispatcher(
            db=db,
            context=db.session_info[EVENTS_KEY],
            batch_size=5,
            resolve_url=lambda _: closed,
            service_token=lambda: "t",
            backoff_base=1.0,
            backoff_cap=60.0,
            timeout_seconds=1.0,
            now=lambda: clock["now"],
        )
    ) as dispatcher:
        async with db.transaction() as session:
            await publish_many(session, [Event(type="thing.happened", subject=f"s{i}", data={}) for i in range(12)])
        t0 = clock["now"] = utcnow()

        async def statuses() -> dict[str, int]:
            async with db.transaction() as session:
                return dict(
                    (await session.execute(sa.select(table.c.status, sa.func.count()).group_by(table.c.status))).all()
                )

        assert await dispatcher.dispatch_once() == 5  # the probe batch fails
        assert await dispatcher.dispatch_once() == 0  # nothing more before the next probe
        assert dispatcher.health["sink"].probe_at is not None
        for hours in (1, 6, 12, 23.9):
            clock["now"] = t0 + dt.timedelta(hours=hours)
            assert await dispatcher.dispatch_once() == 5  # one probe, still the same batch
            assert await statuses() == {PENDING: 12}, hours
        clock["now"] = t0 + dt.timedelta(hours=24, seconds=1)
        await dispatcher.dispatch_once()
        assert await statuses() == {PARKED: 12}
        async with db.transaction() as session:
            rows = (await session.execute(sa.select(table.c.attempts, table.c.last_error))).all()
        assert all("ConnectError" in r.last_error for r in rows)
        assert sorted(r.attempts for r in rows) == [0] * 7 + [6] * 5  # only the probe batch was ever sent


async def test_backlog_gauges_per_subscriber(isolated_outbox):
    db, table = isolated_outbox
    clock = {"now": utcnow()}
    dispatcher = OutboxDispatcher(
        db=db,
        context=db.session_info[EVENTS_KEY],
        resolve_url=lambda _: None,
        service_token=lambda: "t",
        now=lambda: clock["now"],
    )
    async with db.transaction() as session:
        await publish_many(session, [Event(type="thing.happened", subject=f"s{i}", data={}) for i in range(7)])
        await session.execute(sa.update(table).where(table.c.subject.in_(["s0", "s1"])).values(status=PARKED))
    clock["now"] += dt.timedelta(seconds=90)
    await dispatcher.update_backlog_gauge()
    labels = {"service": "evtest", "subscriber": "sink"}
    assert REGISTRY.get_sample_value("sanlun_outbox_pending_events", labels) == 5
    assert REGISTRY.get_sample_value("sanlun_outbox_parked_events", labels) == 2
    assert 89 <= REGISTRY.get_sample_value("sanlun_outbox_oldest_pending_age_seconds", labels) <= 92
    async with db.engine.connect() as conn:
        await conn.execute(sa.text("SET enable_seqscan = off"))  # a tiny table: would the index serve?
        plan = "\n".join(
            (
                await conn.execute(
                    sa.text(
                        f"EXPLAIN SELECT subscriber, status, count(*), min(created_at) FROM {table.schema}.outbox "
                        "WHERE status IN ('pending', 'parked') GROUP BY subscriber, status"
                    )
                )
            ).scalars()
        )
    assert "ix_outbox_waiting" in plan, plan


async def test_listen_comes_back_after_its_connection_is_killed(committed_database_url):
    """With a 30 s poll, only NOTIFY can deliver within a second: after the
    LISTEN backend is terminated (twice), and after every connection of the
    service is (as in a database restart), events still arrive at notify speed."""
    from services.employee_lifecycle.db import Base

    recorder = RecordingSubscriber()
    server = UvicornThread(recorder.app, free_port())
    await server.start()
    # Publishing from outside the service, so its own pool's state does not matter.
    writer = Database(asyncpg_url(committed_database_url), application_name="evtest-writer", pool_size=2)
    writer.session_info[EVENTS_KEY] = EventsContext(
        source="employee_lifecycle",
        outbox=Base.metadata.tables["employee_lifecycle.outbox"],
        subscriptions=Subscriptions({"opportunity": ["employee.*"]}),
        channel="sanlun_outbox_employee_lifecycle",
    )

    async def publish_and_time() -> float:
        subject = str(uuid.uuid4())
        started = time.monotonic()
        async with writer.transaction() as session:
            await publish_many(session, [Event(type="employee.noted", subject=subject, data={})])

        async def arrived() -> bool:
            return len(recorder.for_subjects({subject})) == 1

        await wait_for(arrived, timeout=1.0)
        return time.monotonic() - started

    async def terminate(where: str, **params) -> int:
        async with writer.engine.connect() as conn:
            return len(
                (
                    await conn.execute(
                        sa.text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {where}"), params
                    )
                ).all()
            )

    try:
        async with service(committed_database_url, server.url, outbox_poll_seconds=30.0) as (app, _):
            dispatcher = app.state.dispatcher
            await publish_and_time()
            for round_ in ("listen", "listen again", "every connection of the service"):
                pid = dispatcher._listen_driver.get_server_pid()
                if round_.startswith("listen"):
                    assert await terminate("pid = :p", p=pid) == 1
                else:
                    assert (
                        await terminate("application_name = 'employee_lifecycle' AND datname = current_database()") >= 1
                    )

                async def relistening(old_pid: int = pid) -> bool:
                    driver = dispatcher._listen_driver
                    return dispatcher.listening and driver.get_server_pid() != old_pid

                await wait_for(relistening, timeout=2.0)
                await asyncio.sleep(0.3)  # the dispatcher waits again: 30 s unless woken
                print(f"after killing {round_}: delivered {await publish_and_time():.3f} s after publish")
            assert REGISTRY.get_sample_value("sanlun_outbox_listening", {"service": "employee_lifecycle"}) == 1
    finally:
        await writer.dispose()
        await server.stop()


async def test_bulk_replay_with_filters(committed_database_url):
    recorder = RecordingSubscriber()
    recorder.mode = "fail"
    server = UvicornThread(recorder.app, free_port())
    await server.start()
    since = utcnow()
    try:
        async with service(
            committed_database_url, server.url, outbox_retry_horizon_seconds=0.5, outbox_backoff_cap_seconds=0.2
        ) as (_, client):
            subjects = [await create_employee(client) for _ in range(3)]
            r = await client.patch(f"/api/v1/employees/{subjects[0]}", json={"capacity": 4}, headers=ADMIN)
            assert r.status_code == 200

            async def all_parked() -> bool:
                rows = await outbox_rows(committed_database_url, set(subjects))
                return len(rows) == 4 and {r.status for r in rows} == {PARKED}

            await wait_for(all_parked, timeout=5)
            recorder.mode = "ok"
            mine = {"subscriber": "opportunity", "since": since.isoformat()}

            async def replay(body: dict, headers=OPS) -> httpx.Response:
                return await client.post("/ops/outbox/replay", json=body, headers=headers)

            # Nobody but operators; validation errors name the field.
            assert (await replay({}, headers=auth(roles=("rep",)))).status_code == 403
            for body, field in (
                ({"until": "2020-01-01T00:00:00Z", "since": "2021-01-01T00:00:00Z"}, "until"),
                ({"type": "employee.%"}, "type"),
                ({"status": "delivered"}, "status"),
                ({"since": "2026-01-01T00:00:00"}, "since"),
                ({"color": "red"}, "color"),
            ):
                bad = await replay(body)
                assert bad.status_code == 422, (body, bad.text)
                assert bad.headers["content-type"].startswith("application/problem+json")
                assert bad.json()["errors"][0]["loc"][-1] == field, bad.json()

            # Nothing in the future; a pattern, then an exact type, then the rest.
            assert (await replay({**mine, "since": (utcnow() + dt.timedelta(hours=1)).isoformat()})).json() == {
                "queued": 0
            }
            assert (await replay({**mine, "type": "employee.upd*"})).json() == {"queued": 1}

            async def updated_arrived() -> bool:
                return [e["type"] for e in recorder.for_subjects(set(subjects))] == ["employee.updated"]

            await wait_for(updated_arrived, timeout=3)
            assert (await replay({**mine, "type": "employee.created", "until": utcnow().isoformat()})).json() == {
                "queued": 3
            }

            async def all_arrived() -> bool:
                return len(recorder.for_subjects(set(subjects))) == 4

            await wait_for(all_arrived, timeout=3)
            assert (await replay({**mine, "type": "employee.created"})).json() == {"queued": 0}  # delivered now
            await asyncio.sleep(0.3)
    finally:
        await server.stop()
    events = recorder.for_subjects(set(subjects))
    assert len(events) == len({e["id"] for e in events}) == 4
    assert {r.status for r in await outbox_rows(committed_database_url, set(subjects))} == {"delivered"}


async def test_first_success_releases_what_an_earlier_process_left_backing_off(isolated_outbox):
    """Rows another (or an earlier) dispatcher pushed to a later probe go as
    soon as this one delivers anything to the subscriber, not after their
    own backoff."""
    db, _ = isolated_outbox
    recorder = RecordingSubscriber()
    server = UvicornThread(recorder.app, free_port())  # down at first
    clock: dict[str, dt.datetime] = {}

    def dispatcher() -> OutboxDispatcher:
        return OutboxDispatcher(
            db=db,
            context=db.session_info[EVENTS_KEY],
            resolve_url=lambda _: server.url,
            service_token=lambda: "t",
            backoff_base=600.0,
            backoff_cap=600.0,
            now=lambda: clock["now"],
        )

    async with db.transaction() as session:
        await publish_many(session, [Event(type="thing.happened", subject=f"s{i}", data={}) for i in range(4)])
    clock["now"] = utcnow()
    async with closing(dispatcher()) as first:
        assert await first.dispatch_once() == 4  # fails: next probe in 5 to 10 minutes
    await server.start()
    try:
        async with db.transaction() as session:
            await publish_many(session, [Event(type="thing.happened", subject="new", data={})])
        clock["now"] = utcnow()
        async with closing(dispatcher()) as restarted:
            assert await restarted.dispatch_once() == 1  # only the new event is due; it succeeds
            assert await restarted.dispatch_once() == 4  # ...and released the others
            assert await restarted.dispatch_once() == 0
    finally:
        await server.stop()
    assert len(recorder.received) == len({e["id"] for e in recorder.received}) == 5


class RefusingSubscriber(RecordingSubscriber):
    """Answers 200 but reports events whose data says `poison` as failed, as
    a consumer whose handler raises does."""

    async def receive(self, request: Request) -> JSONResponse:
        events = await request.json()
        results = []
        for e in events:
            if e["data"].get("poison"):
                results.append({"id": e["id"], "status": "failed", "error": "ValueError: cannot handle"})
            else:
                self.received.append(e)
                results.append({"id": e["id"], "status": "processed"})
        return JSONResponse({"results": results})


@asynccontextmanager
async def sink(db: Database, subscriber: RecordingSubscriber, **options: Any) -> AsyncIterator[OutboxDispatcher]:
    """`subscriber` on a free port, and a dispatcher of the isolated outbox
    delivering to it (`options` as OutboxDispatcher takes them)."""
    server = UvicornThread(subscriber.app, free_port())
    await server.start()
    try:
        async with closing(
            OutboxDispatcher(
                db=db,
                context=db.session_info[EVENTS_KEY],
                resolve_url=lambda _: server.url,
                service_token=lambda: "t",
                **options,
            )
        ) as dispatcher:
            yield dispatcher
    finally:
        await server.stop()


async def test_an_event_the_subscriber_refuses_parks_after_max_attempts_and_frees_its_subject(isolated_outbox):
    """A refused event is not an outage: it parks after `max_attempts`
    refusals (not after the day-long horizon), and the later events of its
    subject then go."""
    db, table = isolated_outbox
    subscriber = RefusingSubscriber()
    options = {"max_attempts": 3, "backoff_base": 0.01, "backoff_cap": 0.05, "timeout_seconds": 2.0}
    async with sink(db, subscriber, **options) as dispatcher:
        async with db.transaction() as session:
            await publish_many(
                session,
                [
                    Event(type="thing.happened", subject="s", data={"n": 1, "poison": True}),
                    Event(type="thing.happened", subject="s", data={"n": 2}),
                ],
            )
        for _ in range(50):
            await dispatcher.dispatch_once()
            if [e["data"]["n"] for e in subscriber.received] == [2]:
                break
            await asyncio.sleep(0.03)
    async with db.transaction() as session:
        rows = (await session.execute(sa.select(table.c.status, table.c.attempts).order_by(table.c.id))).all()
    assert [(r.status, r.attempts) for r in rows] == [(PARKED, 3), ("delivered", 0)]
    assert [e["data"]["n"] for e in subscriber.received] == [2]


async def test_batches_grow_while_a_backlog_drains_and_shrink_after(isolated_outbox):
    """A quiet outbox goes in small batches; a backlog in batches that double
    after each whole one, up to the maximum; a failing subscriber is probed
    with the small batch again."""
    db, _ = isolated_outbox
    recorder = CountingSubscriber()
    options = {"batch_size": 5, "max_batch_size": 20, "backoff_base": 0.2, "backoff_cap": 0.2}
    async with sink(db, recorder, **options) as dispatcher:
        async with db.transaction() as session:
            await publish_many(session, [Event(type="thing.happened", subject=f"s{i}", data={}) for i in range(70)])
        assert [await dispatcher.dispatch_once() for _ in range(6)] == [5, 10, 20, 20, 15, 0]
        assert recorder.requests == 5 and len(recorder.received) == 70

        recorder.mode = "fail"
        async with db.transaction() as session:
            await publish_many(session, [Event(type="thing.happened", subject=f"t{i}", data={}) for i in range(30)])
        assert await dispatcher.dispatch_once() == 5  # the first batch is small
        assert await dispatcher.dispatch_once() == 0  # probed later
        await asyncio.sleep(0.25)
        assert await dispatcher.dispatch_once() == 5  # the probe: a small batch, not a doubled one
        recorder.mode = "ok"
        await asyncio.sleep(0.25)
        # The next probe succeeds and releases the rest, which goes in growing batches.
        assert [await dispatcher.dispatch_once() for _ in range(4)] == [5, 10, 15, 0]


async def test_lanes_keep_each_subject_in_order_and_a_long_run_does_not_hold_back_the_others(isolated_outbox):
    """A backlog of 1,200 events: one subject with 300 in a row first, then
    100 subjects interleaved with 9 events each. The dispatcher runs its own
    loop (two lanes, batches growing to 100): every event arrives once, each
    subject's in order, and the interleaved subjects do not wait for the long
    run to drain (a claim skips the subjects whose rows must wait)."""
    db, table = isolated_outbox
    recorder = RecordingSubscriber()
    events = [Event(type="thing.happened", subject="long", data={"n": n}) for n in range(300)]
    events += [Event(type="thing.happened", subject=f"s{i}", data={"n": n}) for n in range(9) for i in range(100)]
    options = {"batch_size": 10, "max_batch_size": 100, "lanes": 2, "poll_seconds": 30.0}
    async with sink(db, recorder, **options) as dispatcher:
        async with db.transaction() as session:
            await publish_many(session, events)
        started = time.monotonic()
        await dispatcher.start()
        try:

            async def drained() -> bool:
                return len(recorder.received) >= len(events)

            await wait_for(drained, timeout=20)  # the poll is 30 s: no round may wait for it
            took = time.monotonic() - started
            await asyncio.sleep(0.3)  # nothing more may come
        finally:
            await dispatcher.stop()
    print(f"1,200 events (300 of one subject) delivered in {took:.2f} s")
    received = recorder.received
    assert len(received) == len({e["id"] for e in received}) == len(events)
    by_subject: dict[str, list[int]] = {}
    for e in received:
        by_subject.setdefault(e["subject"], []).append(e["data"]["n"])
    assert by_subject["long"] == list(range(300))
    assert all(by_subject[f"s{i}"] == list(range(9)) for i in range(100))
    # The other subjects were all through while the long run was still going.
    last_other = max(i for i, e in enumerate(received) if e["subject"] != "long")
    last_long = max(i for i, e in enumerate(received) if e["subject"] == "long")
    assert last_other < last_long, (last_other, last_long)
    async with db.transaction() as session:
        statuses = (await session.execute(sa.select(table.c.status, sa.func.count()).group_by(table.c.status))).all()
    assert dict(statuses) == {"delivered": len(events)}
