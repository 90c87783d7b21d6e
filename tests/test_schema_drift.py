"""The hand-written migrations and the models describe the same schema, for
every service: a column, index or constraint added to one and not the other
fails here."""

import importlib
import os

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from sanlun.topology import SERVICES

ONLY = {n for n in os.environ.get("SANLUN_TEST_SERVICES", "").split(",") if n}


def _expression_index(obj: object) -> bool:
    return isinstance(obj, sa.Index) and any(not isinstance(e, sa.Column) for e in obj.expressions)


@pytest.mark.parametrize("spec", [s for s in SERVICES if not ONLY or s.name in ONLY], ids=lambda s: s.name)
async def test_models_match_the_migrated_schema(connection, spec):
    importlib.import_module(f"{spec.package}.app")  # imports every model of the service
    metadata = importlib.import_module(f"{spec.package}.db").Base.metadata

    def diff(sync_conn):
        ctx = MigrationContext.configure(sync_conn, opts={
            "include_schemas": True,
            "include_name": lambda name, type_, parent: (type_ != "schema" or name == spec.schema) and name != "alembic_version",
            # Alembic reads an expression index back as text it cannot compare; those are checked by name below.
            "include_object": lambda obj, name, type_, reflected, compare_to: not _expression_index(obj),
            "compare_type": True,
        })
        return compare_metadata(ctx, metadata)

    assert await connection.run_sync(diff) == []
    expression = {i.name for t in metadata.tables.values() for i in t.indexes if _expression_index(i)}
    stored = set((await connection.execute(
        sa.text("SELECT indexname FROM pg_indexes WHERE schemaname = :s"), {"s": spec.schema})).scalars())
    assert expression <= stored, expression - stored
