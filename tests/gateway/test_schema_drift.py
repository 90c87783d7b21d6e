"""The gateway's migrations and its models describe the same schema."""

from sqlalchemy.ext.asyncio import create_async_engine

import gateway.app  # noqa: F401 - imports every gateway table
from gateway.db import SCHEMA, Base
from sanlun.kernel.settings import asyncpg_url
from tests.support import schema_drift


async def test_gateway_models_match_the_migrated_schema(gateway_database_url):
    engine = create_async_engine(asyncpg_url(gateway_database_url))
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(schema_drift, SCHEMA, Base.metadata) == []
    finally:
        await engine.dispose()
