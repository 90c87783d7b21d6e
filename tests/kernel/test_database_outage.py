"""A database that cannot be reached answers 503 database_unavailable, never 500,
and the pool recovers by itself when the database is back.

The outages are real: a port where nothing listens, backends killed with
`pg_terminate_backend`, and a TCP relay in front of Postgres that is shut and
reopened (a Postgres restart as the service sees it, without disturbing the
server the other tests share).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter, FastAPI
from sqlalchemy import exc as sa_exc

from sanlun.kernel.db import Database, DbSession
from sanlun.kernel.errors import is_database_unavailable
from sanlun.kernel.routing import TransactionalRoute
from services.employee_lifecycle.app import create_app
from services.employee_lifecycle.settings import Settings
from tests.support import auth, ensure_org_unit, make_settings
from tests.support_servers import free_port

ADMIN = auth(org_unit="/group", roles=("group_admin",))
PROBLEM = "application/problem+json"


def settings_for(url: str, **overrides: object) -> Settings:
    return make_settings(
        Settings,
        database_url=url,
        dispatcher_enabled=False,
        retention_interval_seconds=0,
        stage_schedule_seconds=0,
        **overrides,
    )


def assert_unavailable(response: httpx.Response, retry_after: str = "2") -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["retry-after"] == retry_after
    body = response.json()
    assert body["code"] == "database_unavailable"
    assert body["type"] == "https://sanlun.dev/problems/database-unavailable"
    assert body["status"] == 503 and "database" in body["detail"]
    assert "Traceback" not in response.text


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://el") as client:
        yield client


def new_employee() -> dict:
    return {"name": "Outage", "email": f"outage-{uuid.uuid4().hex[:8]}@example.com", "org_unit_path": "/group/outage"}


# --- nothing listens -------------------------------------------------------------


async def test_unreachable_database_answers_503_everywhere():
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    app = create_app(settings_for(url, db_unavailable_retry_after_seconds=7))
    async with serve(app) as client:
        responses = [
            await client.get("/api/v1/employees", headers=ADMIN),
            await client.post("/api/v1/employees", json=new_employee(), headers=ADMIN),
            await client.post(
                "/api/v1/employees", json=new_employee(), headers={**ADMIN, "Idempotency-Key": uuid.uuid4().hex}
            ),
            await client.get(f"/api/v1/employees/{uuid.uuid4()}", headers=ADMIN),
        ]
        for response in responses:
            assert_unavailable(response, retry_after="7")
        ready = await client.get("/health/ready", headers=ADMIN)
        assert ready.status_code == 503 and ready.json()["checks"]["database"]["ok"] is False
        assert (await client.get("/health/live")).status_code == 200
        # What does not need the database still answers as before.
        assert (await client.get("/api/v1/employees")).status_code == 401


# --- the classification ----------------------------------------------------------


def _dbapi(orig: BaseException, *, invalidated: bool = False) -> sa_exc.DBAPIError:
    return sa_exc.DBAPIError("SELECT 1", {}, orig, connection_invalidated=invalidated)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.exceptions.CrashShutdownError("crash"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.PostgresConnectionError("connection failure"),
        asyncpg.InterfaceError("connection is closed"),
        sa_exc.DisconnectionError("gone"),
        sa_exc.TimeoutError("QueuePool limit of size 10 overflow 10 reached"),
        _dbapi(RuntimeError("whatever"), invalidated=True),
        _dbapi(asyncpg.exceptions.AdminShutdownError("terminating")),
        _dbapi(ConnectionResetError(104, "Connection reset by peer")),
    ],
    ids=lambda e: type(e).__name__,
)
def test_outage_errors_are_recognised(exc):
    assert is_database_unavailable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        RuntimeError("a bug"),
        ConnectionRefusedError(111, "raised outside the driver, e.g. a file or a peer"),
        httpx.ConnectError("peer service down"),
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        asyncpg.exceptions.UndefinedTableError("relation does not exist"),
        _dbapi(asyncpg.exceptions.NumericValueOutOfRangeError("out of range")),
        sa_exc.IntegrityError("INSERT", {}, asyncpg.UniqueViolationError("duplicate")),  # type: ignore[arg-type]
    ],
    ids=lambda e: type(e).__name__,
)
def test_other_errors_are_not_outages(exc):
    assert not is_database_unavailable(exc)


# --- the server kills our connections ----------------------------------------------


def slow_router() -> APIRouter:
    router = APIRouter(route_class=TransactionalRoute)

    @router.get("/test/sleep")
    async def sleep(session: DbSession, seconds: float = 0.0) -> dict:
        await session.execute(sa.text("SELECT pg_sleep(:s)"), {"s": seconds})
        return {"slept": seconds}

    return router


async def terminate_backends(admin_url: str, application_name: str) -> int:
    conn = await asyncpg.connect(admin_url)
    try:
        return len(
            await conn.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1",
                application_name,
            )
        )
    finally:
        await conn.close()


@pytest.fixture
async def own_pool_app(committed_database_url):
    """The service on its own pool, with an application_name no one else uses,
    so terminating its backends disturbs no other test."""
    name = f"outage-{uuid.uuid4().hex[:8]}"
    settings = settings_for(committed_database_url)
    db = Database(settings.async_database_url, application_name=name, pool_size=5, max_overflow=0)
    app = create_app(settings, database=db)
    app.include_router(slow_router())
    try:
        async with serve(app) as client:
            yield client, name
    finally:
        await db.dispose()


async def test_pool_recovers_after_backends_are_terminated(own_pool_app, committed_database_url):
    client, name = own_pool_app
    # Fill the pool: five requests at once hold five connections.
    warm = await asyncio.gather(*(client.get("/test/sleep", params={"seconds": 0.2}) for _ in range(5)))
    assert {r.status_code for r in warm} == {200}
    assert await terminate_backends(committed_database_url, name) == 5
    await asyncio.sleep(0.1)  # the FATAL and the EOF reach the pooled sockets

    # Every next request succeeds: each dead pooled connection is replaced at checkout.
    statuses = [(await client.get("/api/v1/employees", headers=ADMIN)).status_code for _ in range(10)]
    assert statuses == [200] * 10
    await ensure_org_unit(client, "/group/outage")  # employees live only in existing units (issue 16)
    created = await client.post("/api/v1/employees", json=new_employee(), headers=ADMIN)
    assert created.status_code == 201, created.text


async def test_request_in_flight_when_the_backend_dies_answers_503(own_pool_app, committed_database_url):
    client, name = own_pool_app
    in_flight = asyncio.create_task(client.get("/test/sleep", params={"seconds": 5}))
    await asyncio.sleep(0.3)
    assert await terminate_backends(committed_database_url, name) >= 1
    assert_unavailable(await asyncio.wait_for(in_flight, 5))
    # The next request gets a fresh connection.
    assert (await client.get("/test/sleep")).status_code == 200


# --- a restart, as the service sees it -------------------------------------------


class Relay:
    """A TCP relay to Postgres that can be shut (connections reset, port
    refused) and reopened on the same port, like a database restart."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.pipes: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def shut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.pipes):
            writer.transport.abort()
        self.pipes.clear()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.pipes |= {writer, up_writer}

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self.pipes -= {writer, up_writer}


async def test_service_rides_out_a_database_restart(committed_database_url):
    from urllib.parse import urlsplit

    parts = urlsplit(committed_database_url)
    relay = Relay(parts.hostname or "127.0.0.1", parts.port or 5432)
    await relay.open()
    relayed = parts._replace(netloc=f"{parts.username or 'postgres'}@127.0.0.1:{relay.port}").geturl()
    app = create_app(settings_for(relayed))
    try:
        async with serve(app) as client:
            assert (await client.get("/api/v1/employees", headers=ADMIN)).status_code == 200
            await ensure_org_unit(client, "/group/outage")  # employees live only in existing units (issue 16)

            await relay.shut()  # the database goes away: pooled connections die, new ones are refused
            during = [
                await client.get("/api/v1/employees", headers=ADMIN),
                await client.post("/api/v1/employees", json=new_employee(), headers=ADMIN),
                await client.get("/api/v1/employees", headers=ADMIN),
            ]
            for response in during:
                assert_unavailable(response)
            assert (await client.get("/health/ready")).status_code == 503

            await relay.open()  # back on the same address; the process was never restarted
            assert (await client.get("/health/ready")).status_code == 200
            after = [(await client.get("/api/v1/employees", headers=ADMIN)).status_code for _ in range(5)]
            assert after == [200] * 5
            assert (await client.post("/api/v1/employees", json=new_employee(), headers=ADMIN)).status_code == 201
    finally:
        with contextlib.suppress(Exception):
            await relay.shut()


# --- documented ------------------------------------------------------------------


def test_openapi_documents_503_on_database_routes():
    spec = create_app(settings_for("postgresql://postgres@127.0.0.1:1/x")).openapi()
    listed = spec["paths"]["/api/v1/employees"]["get"]["responses"]["503"]
    assert listed["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "Retry-After" in listed["headers"]
    assert "503" not in spec["paths"]["/health/live"]["get"]["responses"]
