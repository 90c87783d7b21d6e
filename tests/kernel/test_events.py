"""The outbox, dispatcher and inbox on a real database with real HTTP delivery."""

import asyncio
import time
import uuid
from contextlib import asynccontextmanager

import httpx
import sqlalchemy as sa

from sanlun.kernel.event_routes import mint_service_token
from tests.support import TEST_SERVICE_SECRET, auth, ensure_org_unit, make_settings
from tests.support_servers import RecordingSubscriber, UvicornThread, free_port

ADMIN = auth(org_unit="/group", roles=("group_admin",))
OPS = auth(org_unit="/group", roles=("ops",))


@asynccontextmanager
async def publisher(committed_database_url: str, subscriber_url: str, **overrides):
    """The employee_lifecycle service, committing for real, with its dispatcher
    delivering employee.* to `subscriber_url`."""
    from services.employee_lifecycle.app import create_app
    from services.employee_lifecycle.settings import Settings

    settings = make_settings(
        Settings,
        database_url=committed_database_url,
        subscriptions={"opportunity": ["employee.*"]},
        opportunity_url=subscriber_url,
        outbox_poll_seconds=0.1,
        outbox_backoff_base_seconds=0.05,
        outbox_backoff_cap_seconds=0.2,
        http_timeout_seconds=0.5,
        **overrides,
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://el") as client,
    ):
        yield client


async def create_employee(client) -> str:
    await ensure_org_unit(client, "/group/ev")  # employees live only in existing units (issue 16)
    r = await client.post(
        "/api/v1/employees",
        json={"name": "Ev", "email": f"ev-{uuid.uuid4().hex[:8]}@example.com", "org_unit_path": "/group/ev"},
        headers=ADMIN,
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_events_wait_for_a_stopped_subscriber_then_arrive_once_in_order(committed_database_url):
    recorder = RecordingSubscriber()
    server = UvicornThread(recorder.app, free_port())  # not started: the subscriber is down
    async with publisher(committed_database_url, server.url) as client:
        first = await create_employee(client)
        for capacity in (5, 6, 7):
            r = await client.patch(f"/api/v1/employees/{first}", json={"capacity": capacity}, headers=ADMIN)
            assert r.status_code == 200
        second = await create_employee(client)
        await asyncio.sleep(0.5)  # deliveries fail meanwhile
        backlog = (await client.get("/ops/outbox", params={"status": "pending", "limit": 200}, headers=OPS)).json()
        pending = [e for e in backlog["items"] if e["subject"] in {first, second}]
        assert len(pending) == 5 and any(e["attempts"] >= 1 for e in pending)
        assert all("ConnectError" in (e["last_error"] or "") for e in pending if e["attempts"])

        await server.start()
        try:

            async def all_arrived() -> bool:
                return len(recorder.for_subjects({first, second})) >= 5

            await wait_for(all_arrived)
            await asyncio.sleep(0.3)  # nothing more may come
        finally:
            await server.stop()
    events = recorder.for_subjects({first, second})
    assert len(events) == len({e["id"] for e in events}) == 5
    first_events = [e for e in events if e["subject"] == first]
    assert [e["type"] for e in first_events] == ["employee.created"] + ["employee.updated"] * 3
    assert [e["data"]["capacity"] for e in first_events] == [20, 5, 6, 7]
    assert all(e["source"] == "employee_lifecycle" and e["specversion"] == "1.0" for e in events)
    assert events[0]["auth"].startswith("Bearer ")


async def test_failing_subscriber_parks_then_replays(committed_database_url):
    recorder = RecordingSubscriber()
    recorder.mode = "fail"
    server = UvicornThread(recorder.app, free_port())
    await server.start()
    try:
        async with publisher(committed_database_url, server.url, outbox_retry_horizon_seconds=1.0) as client:
            subject = await create_employee(client)

            async def parked() -> list[dict]:
                page = (await client.get("/ops/outbox", params={"status": "parked", "limit": 200}, headers=OPS)).json()
                return [e for e in page["items"] if e["subject"] == subject]

            async def is_parked() -> bool:
                return bool(await parked())

            await wait_for(is_parked)
            entry = (await parked())[0]
            assert entry["attempts"] >= 1 and entry["last_error"].startswith("HTTP 500")
            assert entry["first_failed_at"] is not None
            summary = (await client.get("/ops/outbox/summary", headers=OPS)).json()
            assert summary["parked"] >= 1
            # Only operators may look or replay.
            assert (await client.get("/ops/outbox", headers=ADMIN.copy() | auth(roles=("rep",)))).status_code == 403

            recorder.mode = "ok"
            replay = await client.post(f"/ops/outbox/{entry['id']}/replay", headers=OPS)
            assert replay.status_code == 200 and replay.json()["status"] == "pending"
            assert replay.json()["attempts"] == 0 and replay.json()["first_failed_at"] is None

            async def delivered() -> bool:
                return len(recorder.for_subjects({subject})) == 1

            await wait_for(delivered)
            again = await client.post(f"/ops/outbox/{entry['id']}/replay", headers=OPS)
            assert again.status_code == 409
    finally:
        await server.stop()


async def test_hanging_subscriber_times_out_and_is_retried(committed_database_url):
    recorder = RecordingSubscriber()
    recorder.mode = "hang"
    server = UvicornThread(recorder.app, free_port())
    await server.start()
    try:
        async with publisher(committed_database_url, server.url, outbox_retry_horizon_seconds=1.0) as client:
            subject = await create_employee(client)

            async def parked_after_timeouts() -> bool:
                page = (await client.get("/ops/outbox", params={"status": "parked", "limit": 200}, headers=OPS)).json()
                return any(e["subject"] == subject and e["last_error"].startswith("timeout") for e in page["items"])

            await wait_for(parked_after_timeouts)
    finally:
        server.server.force_exit = True
        await server.stop()


async def test_two_dispatchers_deliver_each_event_once(committed_database_url):
    recorder = RecordingSubscriber()
    server = UvicornThread(recorder.app, free_port())
    await server.start()
    try:
        async with (
            publisher(committed_database_url, server.url) as one,
            publisher(committed_database_url, server.url) as two,
        ):
            subjects = set()
            for i in range(20):
                subjects.add(await create_employee(one if i % 2 else two))

            async def all_arrived() -> bool:
                return len(recorder.for_subjects(subjects)) >= 20

            await wait_for(all_arrived)
            await asyncio.sleep(0.5)
    finally:
        await server.stop()
    events = recorder.for_subjects(subjects)
    assert len(events) == 20 and len({e["id"] for e in events}) == 20


async def test_failed_request_publishes_nothing(service_client, connection):
    client = await service_client("employee_lifecycle", subscriptions={"opportunity": ["employee.*"]})
    body = {"name": "A", "email": f"dup-{uuid.uuid4().hex[:6]}@example.com", "org_unit_path": "/group/x"}
    await ensure_org_unit(client, "/group/x")
    ok = await client.post("/api/v1/employees", json=body, headers=ADMIN)
    dup = await client.post("/api/v1/employees", json=body, headers=ADMIN)
    assert ok.status_code == 201 and dup.status_code == 409
    rows = (
        await connection.execute(
            sa.text("SELECT type FROM employee_lifecycle.outbox WHERE subject = :s"), {"s": ok.json()["id"]}
        )
    ).all()
    assert [r.type for r in rows] == ["employee.created"]


def cloud_event(**overrides) -> dict:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "type": "opportunity.won",
        "source": "opportunity",
        "subject": str(uuid.uuid4()),
        "time": "2026-11-26T10:00:00Z",
        "data": {"x": 1},
        **overrides,
    }


async def test_inbox_makes_redelivery_harmless_and_refuses_user_tokens(service_client):
    client = await service_client("employee_lifecycle")
    service = {"Authorization": f"Bearer {mint_service_token(TEST_SERVICE_SECRET, 'opportunity')}"}
    event = cloud_event()
    first = await client.post("/internal/events", json=event, headers=service)
    second = await client.post("/internal/events", json=event, headers=service)
    assert first.status_code == second.status_code == 200
    assert first.json()["results"][0]["status"] in ("processed", "ignored")
    assert second.json()["results"][0]["status"] == "duplicate"
    user = await client.post("/internal/events", json=cloud_event(), headers=ADMIN)
    assert user.status_code == 401
    forged = {"Authorization": f"Bearer {mint_service_token('some-other-secret-0123456789abcdefghij', 'opportunity')}"}
    assert (await client.post("/internal/events", json=cloud_event(), headers=forged)).status_code == 401
    bad = await client.post("/internal/events", json={**cloud_event(), "id": "nope"}, headers=service)
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"][-1] == "id"
    batch = await client.post(
        "/internal/events", json=[cloud_event(), {**cloud_event(), "time": "soon"}], headers=service
    )
    assert batch.status_code == 422 and [1, "time"] in [e["loc"][-2:] for e in batch.json()["errors"]]
    malformed = await client.post(
        "/internal/events", content=b"[{", headers={**service, "content-type": "application/json"}
    )
    assert malformed.status_code == 400 and malformed.json()["code"] == "malformed_json"
    empty = await client.post("/internal/events", content=b"", headers={**service, "content-type": "application/json"})
    assert empty.status_code == 422
    text = await client.post("/internal/events", content=b"{}", headers={**service, "content-type": "text/plain"})
    assert text.status_code == 415
