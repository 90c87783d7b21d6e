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

import datetime as dt
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
        async with self.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            yield cast(asyncpg.Connection, raw.driver_connection)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A unit of work outside a request (dispatchers, CLI): commit on success."""
        async with self.session() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


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
