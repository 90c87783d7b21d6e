"""The hand-written migrations and the models describe the same schema."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from services.resource_share.db import SCHEMA, Base
from services.resource_share.app import create_app  # noqa: F401 - imports every model


async def test_models_match_the_migrated_schema(connection):
    def diff(sync_conn):
        ctx = MigrationContext.configure(sync_conn, opts={
            "include_schemas": True,
            "include_name": lambda name, type_, parent: (type_ != "schema" or name == SCHEMA) and name != "alembic_version",
            "compare_type": True,
        })
        return compare_metadata(ctx, Base.metadata)

    assert await connection.run_sync(diff) == []
