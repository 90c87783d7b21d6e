"""The hand-written migrations and the models describe the same schema, for
every service: a column, index or constraint added to one and not the other
fails here."""

import importlib
import os

import pytest
import sqlalchemy as sa

from sanlun.topology import SERVICES
from tests.support import expression_indexes, schema_drift

ONLY = {n for n in os.environ.get("SANLUN_TEST_SERVICES", "").split(",") if n}


@pytest.mark.parametrize("spec", [s for s in SERVICES if not ONLY or s.name in ONLY], ids=lambda s: s.name)
async def test_models_match_the_migrated_schema(connection, spec):
    importlib.import_module(f"{spec.package}.app")  # imports every model of the service
    metadata = importlib.import_module(f"{spec.package}.db").Base.metadata
    assert await connection.run_sync(schema_drift, spec.schema, metadata) == []
    stored = set(
        (
            await connection.execute(
                sa.text("SELECT indexname FROM pg_indexes WHERE schemaname = :s"), {"s": spec.schema}
            )
        ).scalars()
    )
    assert expression_indexes(metadata) <= stored, expression_indexes(metadata) - stored
