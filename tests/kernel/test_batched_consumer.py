"""The consumer hands a run of consecutive events to a `Batched` handler in
one call, keeps the order across handlers, reports duplicates, and isolates
the one event that fails: the batch is applied again in savepoints, the run
that failed one by one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import sqlalchemy as sa

from sanlun.kernel.app import create_service_app
from sanlun.kernel.db import Database
from sanlun.kernel.event_routes import CloudEvent, mint_service_token
from sanlun.kernel.events import Batched
from services.employee_lifecycle.app import MIGRATIONS
from services.employee_lifecycle.db import Base
from tests.support import TEST_SERVICE_SECRET, service_settings

SERVICE = {"Authorization": f"Bearer {mint_service_token(TEST_SERVICE_SECRET, 'opportunity')}"}


@asynccontextmanager
async def consumer(connection, engine, database_url: str, handlers: dict) -> AsyncIterator[httpx.AsyncClient]:
    """A service app with these event handlers, its sessions in the test's
    rolled-back transaction, and a client to it."""
    settings = service_settings("employee_lifecycle", database_url=database_url, dispatcher_enabled=False)
    db = Database(settings.async_database_url, application_name="t", engine=engine)
    db.bind_to(connection)
    app = create_service_app(
        service="employee_lifecycle",
        title="t",
        description="t",
        settings=settings,
        metadata=Base.metadata,
        migrations_dir=MIGRATIONS,
        routers=[],
        event_handlers=handlers,
        database=db,
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield client


def event(kind: str, n: int, **data: object) -> dict:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "type": f"test.{kind}",
        "source": "opportunity",
        "subject": str(n),
        "time": "2026-11-26T10:00:00Z",
        "data": {"n": n, **data},
    }


async def test_runs_are_batched_in_order_and_a_failure_is_isolated(connection, engine, database_url):
    calls: list[tuple[str, list[int]]] = []

    async def batch(*, session, events: list[CloudEvent]) -> None:
        calls.append(("batch", [e.data["n"] for e in events]))
        if any(e.data.get("fail") for e in events):
            raise ValueError("refused")

    async def single(*, session, event: CloudEvent) -> None:
        calls.append(("single", [event.data["n"]]))

    async with consumer(
        connection, engine, database_url, {"test.a": Batched(batch), "test.b": Batched(batch), "test.s": single}
    ) as client:
        e1, e2, e3, e4, e5 = event("a", 1), event("b", 2), event("s", 3), event("a", 4), event("z", 5)
        r = await client.post("/internal/events", json=[e1, e2, e3, e4, e1, e5], headers=SERVICE)
        assert r.status_code == 200, r.text
        assert [x["status"] for x in r.json()["results"]] == [
            "processed",
            "processed",
            "processed",
            "processed",
            "duplicate",  # e1 again, inside the same run as e4
            "ignored",
        ]
        # one call per run of the same batched handler, the single handler between them, in order
        assert calls == [("batch", [1, 2]), ("single", [3]), ("batch", [4])]

        calls.clear()
        bad = event("a", 7, fail=True)
        r = await client.post("/internal/events", json=[event("a", 6), bad, event("a", 8)], headers=SERVICE)
        assert [x["status"] for x in r.json()["results"]] == ["processed", "failed", "processed"]
        assert calls[0] == ("batch", [6, 7, 8])  # the run failed as a whole, then each alone
        assert calls[1:] == [("batch", [6]), ("batch", [7]), ("batch", [8])]
        # the failed event left no inbox row: its redelivery is processed, not a duplicate
        inbox = Base.metadata.tables["employee_lifecycle.inbox"]
        stored = (await connection.execute(sa.select(inbox.c.event_id).where(inbox.c.event_id == bad["id"]))).all()
        assert stored == []
        again = await client.post("/internal/events", json=[e1], headers=SERVICE)
        assert again.json()["results"][0]["status"] == "duplicate"


async def test_a_failure_after_applied_runs_rolls_back_and_applies_each_run_once(connection, engine, database_url):
    """The batch goes first without savepoints; when a one-by-one handler
    fails after a run was applied, all is rolled back and applied again in
    savepoints: the run before it and the one after go whole, the failing
    event alone, and the inbox holds each event that succeeded once."""
    calls: list[tuple[str, list[int]]] = []

    async def batch(*, session, events: list[CloudEvent]) -> None:
        calls.append(("batch", [e.data["n"] for e in events]))

    async def single(*, session, event: CloudEvent) -> None:
        calls.append(("single", [event.data["n"]]))
        if event.data.get("fail"):
            raise ValueError("refused")

    async with consumer(connection, engine, database_url, {"test.a": Batched(batch), "test.s": single}) as client:
        sent = [event("a", 1), event("a", 2), event("s", 3, fail=True), event("a", 4), event("z", 5)]
        r = await client.post("/internal/events", json=sent, headers=SERVICE)
        assert r.status_code == 200, r.text
        statuses = [x["status"] for x in r.json()["results"]]
        assert statuses == ["processed", "processed", "failed", "processed", "ignored"]
        assert calls == [
            ("batch", [1, 2]),
            ("single", [3]),  # fails: the whole batch is rolled back
            ("batch", [1, 2]),
            ("single", [3]),
            ("batch", [4]),
        ]
        inbox = Base.metadata.tables["employee_lifecycle.inbox"]
        stored = (
            await connection.execute(
                sa.select(inbox.c.event_id).where(inbox.c.event_id.in_([uuid.UUID(e["id"]) for e in sent]))
            )
        ).scalars()
        assert sorted(str(i) for i in stored) == sorted(e["id"] for e in sent if e["data"]["n"] != 3)
