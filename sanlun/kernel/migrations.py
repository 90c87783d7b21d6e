"""Per-service Alembic: one history per service, in that service's schema.

Each service keeps `migrations/` beside its code with an `env.py` that calls
`run_env(metadata)`. Versions live in `<schema>.alembic_version`, and the
`include_object` filter keeps every history to its own schema, so four
histories share one database without seeing each other.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from sanlun.kernel.settings import asyncpg_url

VERSION_TABLE = "alembic_version"


def alembic_config(migrations_dir: Path, schema: str, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option(
        "file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d-%%(rev)s_%%(slug)s"
    )
    cfg.attributes["schema"] = schema
    if url:
        cfg.set_main_option("sqlalchemy.url", asyncpg_url(url).replace("%", "%%"))
    return cfg


def head_revision(migrations_dir: Path, schema: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(migrations_dir, schema)).get_current_head()


def upgrade(migrations_dir: Path, schema: str, url: str, revision: str = "head") -> None:
    """Bring `schema` to `revision` (blocking: call from a thread or the CLI)."""
    command.upgrade(alembic_config(migrations_dir, schema, url), revision)


async def current_revision(conn: AsyncConnection, schema: str) -> str | None:
    def _read(sync_conn: sa.Connection) -> str | None:
        ctx = MigrationContext.configure(
            sync_conn, opts={"version_table_schema": schema, "version_table": VERSION_TABLE}
        )
        return ctx.get_current_revision()

    return await conn.run_sync(_read)


def run_env(metadata: sa.MetaData) -> None:
    """Body of every service's `migrations/env.py`."""
    schema = metadata.schema
    if not schema:
        raise RuntimeError("service metadata must name its schema")
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("the alembic config names no sqlalchemy.url")

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table":
            return getattr(obj, "schema", None) == schema
        return True

    def do_run(sync_conn: sa.Connection) -> None:
        # Not CREATE SCHEMA IF NOT EXISTS: Postgres refuses it to a role without
        # CREATE on the database even when the schema exists and the role owns
        # it, and compose gives each service a role that may touch only its own.
        exists = sync_conn.execute(sa.text("SELECT to_regnamespace(:s) IS NOT NULL"), {"s": schema}).scalar()
        if not exists:
            sync_conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        context.configure(
            connection=sync_conn,
            target_metadata=metadata,
            version_table_schema=schema,
            version_table=VERSION_TABLE,
            include_schemas=True,
            include_object=include_object,
            compare_type=True,
        )
        with context.begin_transaction():
            # Two processes migrating at once (two replicas starting) serialise here.
            sync_conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": f"alembic:{schema}"})
            context.run_migrations()

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, version_table_schema=schema, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    async def run_async() -> None:
        engine = create_async_engine(url, poolclass=sa.pool.NullPool)
        try:
            async with engine.connect() as conn:
                await conn.run_sync(do_run)
                await conn.commit()
        finally:
            await engine.dispose()

    asyncio.run(run_async())


def create_kernel_tables(op: Any, schema: str) -> None:
    """The kernel's tables, created by each service's first migration."""
    from sqlalchemy.dialects.postgresql import JSONB

    op.create_table(
        "idempotency_keys",
        sa.Column("principal", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("headers", JSONB, nullable=True),
        sa.Column("body", sa.LargeBinary, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("principal", "key", name="pk_idempotency_keys"),
        schema=schema,
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"], schema=schema)
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", JSONB, nullable=False),
        sa.Column("subscriber", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("event_id", "subscriber", name="uq_outbox_event_id_subscriber"),
        schema=schema,
    )
    # The dispatcher's claim: pending rows in id order (not a scan past every
    # delivered row), and "no earlier pending row for this (subscriber,
    # subject)"; both served by partial indexes.
    op.create_index(
        "ix_outbox_pending_id", "outbox", ["id"], schema=schema, postgresql_where=sa.text("status = 'pending'")
    )
    op.create_index(
        "ix_outbox_pending_subject",
        "outbox",
        ["subscriber", "subject", "id"],
        schema=schema,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_outbox_status_id", "outbox", ["status", "id"], schema=schema)
    op.create_table(
        "inbox",
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_inbox"),
        schema=schema,
    )


def create_retention_indexes(op: Any, schema: str) -> None:
    """What sanlun.kernel.retention deletes by, oldest first: delivered outbox
    rows by delivery time, inbox rows by arrival (a service's second kernel
    migration; idempotency keys already have their created_at index)."""
    op.create_index(
        "ix_outbox_delivered_at",
        "outbox",
        ["delivered_at"],
        schema=schema,
        postgresql_where=sa.text("status = 'delivered'"),
    )
    op.create_index("ix_inbox_received_at", "inbox", ["received_at"], schema=schema)


def drop_retention_indexes(op: Any, schema: str) -> None:
    op.drop_index("ix_inbox_received_at", "inbox", schema=schema)
    op.drop_index("ix_outbox_delivered_at", "outbox", schema=schema)


def add_outbox_retry_horizon(op: Any, schema: str) -> None:
    """Outbox retries over a horizon instead of an attempt count: when a row
    first failed (the horizon runs from there), and the index behind the
    per-subscriber backlog gauges, parking past the horizon and bulk replay
    (a service's third kernel migration)."""
    op.add_column("outbox", sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=True), schema=schema)
    op.create_index(
        "ix_outbox_waiting",
        "outbox",
        ["subscriber", "status", "created_at"],
        schema=schema,
        postgresql_where=sa.text("status IN ('pending', 'parked')"),
    )


def drop_outbox_retry_horizon(op: Any, schema: str) -> None:
    op.drop_index("ix_outbox_waiting", "outbox", schema=schema)
    op.drop_column("outbox", "first_failed_at", schema=schema)


def drop_kernel_tables(op: Any, schema: str) -> None:
    """Undo `create_kernel_tables` (a service's first downgrade)."""
    for name in ("inbox", "outbox", "idempotency_keys"):
        op.drop_table(name, schema=schema)
