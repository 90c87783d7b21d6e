"""The gateway's migrations and its models describe the same schema."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

import gateway.app  # noqa: F401 - imports every gateway table
from gateway.db import SCHEMA, Base
from sanlun.kernel.settings import asyncpg_url


async def test_gateway_models_match_the_migrated_schema(gateway_database_url):
    def diff(sync_conn):
        ctx = MigrationContext.configure(sync_conn, opts={
            "include_schemas": True,
            "include_name": lambda name, type_, parent: (type_ != "schema" or name == SCHEMA) and name != "alembic_version",
            "compare_type": True,
        })
        return compare_metadata(ctx, Base.metadata)

    engine = create_async_engine(asyncpg_url(gateway_database_url))
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()
