"""`Database.read`'s own pool of raw asyncpg connections (`sanlun.kernel.db.ReadPool`).

Real connections to the test server, each pool under an application_name no
other test uses, so its backends can be counted and killed without disturbing
anyone: values decoded as SQLAlchemy's connections decode them, connections
reused and bounded, a connection the server killed or a request broke never
handed out again, and an unreachable database a 503 like on the ORM path.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg
import pytest
import sqlalchemy as sa
from fastapi import APIRouter, Request

from sanlun.kernel.db import Database
from sanlun.kernel.errors import NotFound
from services.employee_lifecycle.app import create_app
from tests.kernel.test_database_outage import (
    ADMIN,
    Relay,
    assert_unavailable,
    serve,
    settings_for,
    terminate_backends,
)
from tests.support_servers import free_port


def async_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


@pytest.fixture
async def db(committed_database_url) -> AsyncIterator[tuple[Database, str]]:
    name = f"readpool-{uuid.uuid4().hex[:8]}"
    database = Database(async_url(committed_database_url), application_name=name, pool_size=2, read_pool_size=2)
    try:
        yield database, name
    finally:
        await database.dispose()


async def backends(admin_url: str, application_name: str) -> int:
    conn = await asyncpg.connect(admin_url)
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1",
            application_name,
        )
    finally:
        await conn.close()


async def pid_of(database: Database) -> int:
    async with database.read() as conn:
        return await conn.fetchval("SELECT pg_backend_pid()")


async def test_values_are_decoded_as_on_sqlalchemy_connections(db):
    database, _ = db
    query = (
        "SELECT '{\"a\": [1, \"二\"]}'::jsonb AS b, '[1, 2]'::json AS j, 12.50::numeric AS n,"
        " '2026-12-03'::date AS d, gen_random_uuid() IS NOT NULL AS ok"
    )
    async with database.read() as conn:
        raw = dict(await conn.fetchrow(query))
    async with database.engine.connect() as sa_conn:
        orm = dict((await sa_conn.execute(sa.text(query))).mappings().one())
    assert raw == orm
    assert raw["b"] == {"a": [1, "二"]} and raw["j"] == [1, 2]


async def test_a_connection_is_reused_and_the_pool_is_bounded(db, committed_database_url):
    database, name = db
    assert await pid_of(database) == await pid_of(database)

    async def slow() -> int:
        async with database.read() as conn:
            await conn.execute("SELECT pg_sleep(0.05)")
            return await conn.fetchval("SELECT pg_backend_pid()")

    pids = await asyncio.gather(*(slow() for _ in range(8)))
    assert len(set(pids)) <= 2  # read_pool_size
    assert await backends(committed_database_url, name) <= 2
    await database.dispose()
    assert await backends(committed_database_url, name) == 0


async def test_a_connection_the_server_killed_is_replaced(db, committed_database_url):
    database, name = db
    before = await pid_of(database)
    assert await terminate_backends(committed_database_url, name) >= 1
    for _ in range(50):  # the loop notices the server's goodbye on its own
        await asyncio.sleep(0.02)
        try:
            after = await pid_of(database)
            break
        except (asyncpg.ConnectionDoesNotExistError, asyncpg.InterfaceError):
            continue  # a read on the dying connection: this request fails, the next is served
    else:
        pytest.fail("no read succeeded after the backend was killed")
    assert after != before


async def pid_then_raise(database: Database, error: BaseException) -> int:
    """The backend of a read that raises `error` after its statement (and the raise checked)."""
    pid = None

    async def read_then_raise() -> None:
        nonlocal pid
        async with database.read() as conn:
            pid = await conn.fetchval("SELECT pg_backend_pid()")
            raise error

    with pytest.raises(type(error)):
        await read_then_raise()
    assert pid is not None
    return pid


async def test_a_connection_whose_request_failed_is_not_reused(db):
    database, _ = db
    failed = await pid_then_raise(database, ZeroDivisionError())
    with pytest.raises(asyncpg.UndefinedTableError):
        async with database.read() as conn:
            await conn.fetchval("SELECT * FROM no_such_table_here")
    assert await pid_of(database) != failed


async def test_an_answer_decided_between_statements_keeps_the_connection(db):
    """A 404 raised inside the block is an answer, not a broken connection: it goes back to the pool."""
    database, _ = db
    kept = await pid_then_raise(database, NotFound("no such thing"))
    assert await pid_of(database) == kept


def read_router() -> APIRouter:
    router = APIRouter()

    @router.get("/test/read")
    async def read(request: Request) -> dict:
        async with request.app.state.db.read() as conn:
            return {"one": await conn.fetchval("SELECT 1")}

    return router


async def test_an_unreachable_database_answers_503_on_the_read_path():
    port = free_port()
    settings = settings_for(f"postgresql://postgres@127.0.0.1:{port}/nowhere", db_connect_timeout_seconds=1.0)
    app = create_app(settings)
    app.include_router(read_router())
    async with serve(app) as client:
        response = await client.get("/test/read", headers=ADMIN)
    assert_unavailable(response)


async def test_reads_come_back_when_the_database_does(committed_database_url):
    """A relay in front of Postgres is shut (every connection dropped, new ones
    refused), then opened again: reads answer 503 meanwhile and 200 after, by themselves."""
    parts = urlsplit(committed_database_url)
    relay = Relay(parts.hostname or "127.0.0.1", parts.port or 5432)
    await relay.open()
    relayed = parts._replace(netloc=f"{parts.username or 'postgres'}@127.0.0.1:{relay.port}").geturl()
    app = create_app(settings_for(relayed, db_connect_timeout_seconds=1.0))
    app.include_router(read_router())
    try:
        async with serve(app) as client:
            assert (await client.get("/test/read", headers=ADMIN)).json() == {"one": 1}
            await relay.shut()
            for _ in range(3):
                assert_unavailable(await client.get("/test/read", headers=ADMIN))
            await relay.open()
            up = [(await client.get("/test/read", headers=ADMIN)).status_code for _ in range(3)]
            assert up == [200, 200, 200]
    finally:
        with contextlib.suppress(Exception):
            await relay.shut()
