"""Database: the async engine, naming conventions, and the request's session.

One engine per process, made in the lifespan and disposed on shutdown, with
`application_name` set to the service so `pg_stat_activity` tells who is who.

The pool survives a database restart without restarting the process: a
pooled connection the server has closed (restart, `pg_terminate_backend`,
failover) is noticed at checkout, without a round trip, and replaced; a
connection that breaks mid-statement invalidates the whole pool, so the
next requests reconnect. The request that hit the break answers 503
`database_unavailable` (see `sanlun.kernel.errors`). `pre_ping` adds a
round trip per checkout for networks that drop connections silently.
The request's session is opened and committed by `TransactionalRoute` (the
edge), never by services or repositories, which only `flush`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, cast

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import CursorResult, DateTime, Integer, MetaData, Result, Uuid, event, func
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Mapped, mapped_column
from starlette.exceptions import HTTPException

from sanlun.kernel.errors import ProblemError

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def make_metadata(schema: str) -> MetaData:
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class RecordMixin:
    """Columns every aggregate root has: UUID id, timestamps, and an optimistic
    `version` that backs the ETag (SQLAlchemy bumps it on every UPDATE and
    refuses a stale write)."""

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow, server_default=func.now()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow, server_default=func.now()
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - mapper args are per-class


class Database:
    def __init__(
        self,
        url: str,
        *,
        application_name: str,
        pool_size: int = 10,
        max_overflow: int = 10,
        connect_timeout: float = 5.0,
        pre_ping: bool = False,
        read_pool_size: int = 4,
        engine: AsyncEngine | None = None,
    ) -> None:
        if engine is None:
            engine = create_async_engine(
                url,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_pre_ping=pre_ping,
                connect_args={
                    "server_settings": {"application_name": application_name},
                    # asyncpg waits 60 s by default; an unreachable host should answer 503 sooner.
                    "timeout": connect_timeout,
                },
            )
            event.listen(engine.sync_engine, "checkout", _replace_closed_connection)
        self.engine = engine
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._reads = ReadPool(engine, application_name, read_pool_size, connect_timeout, pre_ping)
        self._bound: AsyncConnection | None = None
        # Set by the app factory: lets `sanlun.kernel.events.publish` find the outbox.
        self.session_info: dict[str, object] = {}

    def bind_to(self, connection: AsyncConnection) -> None:
        """Tests: run every session inside `connection`'s outer transaction,
        so a test's writes roll back when it ends."""
        self._bound = connection
        self._sessions = async_sessionmaker(
            connection, expire_on_commit=False, autoflush=False, join_transaction_mode="create_savepoint"
        )

    def session(self) -> AsyncSession:
        session = self._sessions()
        session.info.update(self.session_info)
        return session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection for a read-only request, outside any transaction
        (no BEGIN or COMMIT round trips): run `sanlun.kernel.reads.Prebuilt`
        statements on it. Tests that `bind_to` a connection read through it,
        and see their own uncommitted rows."""
        if self._bound is not None:
            raw = await self._bound.get_raw_connection()
            yield cast(asyncpg.Connection, raw.driver_connection)
            return
        conn = await self._reads.acquire()
        try:
            yield conn
        except (ProblemError, HTTPException):
            # An answer decided between statements (a 404, a 422): the connection is idle and fine.
            self._reads.release(conn, broken=False)
            raise
        except BaseException:
            self._reads.release(conn, broken=True)
            raise
        self._reads.release(conn, broken=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A unit of work outside a request (dispatchers, CLI): commit on success."""
        async with self.session() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self._reads.close()
        await self.engine.dispose()


class ReadPool:
    """Raw asyncpg connections for `Database.read`: read-only statements run
    outside any transaction, so a connection needs no reset between requests,
    and borrowing one is a list pop (SQLAlchemy's pool costs a greenlet switch
    and two wrapper objects each way, about 5% of a primary-key read).

    At most `size` connections, opened on demand with the engine's own connect
    arguments (the same URL conversion, `application_name`, connect timeout).
    A connection the server closed is dropped at checkout (no round trip,
    unless `pre_ping`), and one whose request failed is closed rather than
    reused: after an error its state is unknown, and after a database restart
    the next checkout connects afresh."""

    def __init__(
        self, engine: AsyncEngine, application_name: str, size: int, connect_timeout: float, pre_ping: bool
    ) -> None:
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        for adapter_only in ("async_creator_fn", "prepared_statement_cache_size", "prepared_statement_name_func"):
            kwargs.pop(adapter_only, None)
        self._args = args
        self._kwargs = {
            **kwargs,
            "server_settings": {"application_name": application_name},
            "timeout": connect_timeout,
        }
        self._idle: list[asyncpg.Connection] = []
        self._slots = asyncio.Semaphore(max(1, size))
        self._pre_ping = pre_ping

    async def acquire(self) -> asyncpg.Connection:
        await self._slots.acquire()
        try:
            while self._idle:
                conn = self._idle.pop()
                if conn.is_closed():
                    continue
                if self._pre_ping:
                    try:
                        await conn.execute("SELECT 1")
                    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                        conn.terminate()
                        continue
                return conn
            return await self._connect()
        except BaseException:
            self._slots.release()
            raise

    async def _connect(self) -> asyncpg.Connection:
        conn = cast(asyncpg.Connection, await asyncpg.connect(*self._args, **self._kwargs))
        try:
            # What SQLAlchemy's asyncpg dialect sets on its connections: json and jsonb as Python values.
            await conn.set_type_codec(
                "json", encoder=str.encode, decoder=_json_decoder, schema="pg_catalog", format="binary"
            )
            await conn.set_type_codec(
                "jsonb", encoder=_jsonb_encoder, decoder=_jsonb_decoder, schema="pg_catalog", format="binary"
            )
        except BaseException:
            conn.terminate()
            raise
        return conn

    def release(self, conn: asyncpg.Connection, *, broken: bool) -> None:
        if broken or conn.is_closed() or conn.is_in_transaction():
            conn.terminate()
        else:
            self._idle.append(conn)
        self._slots.release()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            try:
                await asyncio.wait_for(conn.close(), timeout=2)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                conn.terminate()


def _json_decoder(value: bytes) -> Any:
    return json.loads(value)


def _jsonb_encoder(value: str) -> bytes:
    return b"\x01" + value.encode()  # jsonb's binary format: a version byte, then the text


def _jsonb_decoder(value: bytes) -> Any:
    return json.loads(value[1:])


def _replace_closed_connection(dbapi_connection: object, record: object, proxy: object) -> None:
    """Pool checkout: a connection the server closed while it sat in the pool
    (asyncpg saw the FATAL and the EOF) is replaced; raising DisconnectionError
    makes the pool discard it and connect afresh. No round trip."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    is_closed = getattr(driver, "is_closed", None)
    if is_closed is not None and is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def rows_affected(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE touched. `execute` is typed as returning a
    `Result`; for those statements it is a `CursorResult`, which has the count."""
    return cast("CursorResult[Any]", result).rowcount


async def get_session(request: Request) -> AsyncSession:
    """The request's session, opened on first use; `TransactionalRoute`
    commits it (or rolls it back) and closes it after the handler."""
    # async: FastAPI runs a plain `def` dependency in a worker thread, a hop per request.
    session = getattr(request.state, "db_session", None)
    if session is None:
        if not getattr(request.state, "transactional", False):  # pragma: no cover - a programming error
            raise RuntimeError("route is not a TransactionalRoute: nothing would commit or close its session")
        db: Database = request.app.state.db
        session = db.session()
        request.state.db_session = session
    return cast(AsyncSession, session)


DbSession = Annotated[AsyncSession, Depends(get_session)]
