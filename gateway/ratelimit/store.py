"""The shared half of the rate limiter: one row per principal in Postgres.

A replica takes a *lease* of tokens with one atomic statement (insert or
refill-and-take, returning what it got), and hands back the unspent tokens of
its previous lease in the same statement. Tokens leave the shared bucket
before they are spent, so all replicas together never admit more than the
bucket allows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.db import Base

buckets_table = sa.Table(
    "rate_limit_buckets",
    Base.metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("tokens", sa.Float, nullable=False),
    sa.Column("granted", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_rate_limit_buckets_updated_at", "updated_at"),
)
# A bucket idle this long has refilled to capacity long since: deleting it
# changes nothing (the next request recreates it full), so retention may.
BUCKET_IDLE_RETENTION = dt.timedelta(days=1)

# `refilled` is spelled out three times: ON CONFLICT ... DO UPDATE cannot name
# an intermediate value, and Postgres 15 has no OLD in RETURNING. Every
# parameter is cast so asyncpg deduces one type for each use of it.
_REFILLED = (
    "least(CAST(:capacity AS float8), b.tokens + CAST(:refund AS float8)"
    " + CAST(:rate AS float8) * extract(epoch FROM clock_timestamp() - b.updated_at)::float8)"
)
_WANT = "CAST(:want AS float8)"
LEASE_SQL = sa.text(f"""
INSERT INTO gateway.rate_limit_buckets AS b (key, tokens, granted, updated_at)
VALUES (
    CAST(:key AS varchar),
    CAST(:capacity AS float8) - least({_WANT}, CAST(:capacity AS float8)),
    least({_WANT}, CAST(:capacity AS float8))::int,
    clock_timestamp()
)
ON CONFLICT (key) DO UPDATE SET
    granted = least({_WANT}, floor({_REFILLED}))::int,
    tokens = {_REFILLED} - least({_WANT}, floor({_REFILLED})),
    updated_at = clock_timestamp()
RETURNING granted, tokens
""")  # noqa: S608 - put together from the constants above; the values are bound parameters


@dataclass(frozen=True, slots=True)
class Lease:
    granted: int
    tokens_left: float


class BucketStore:
    def __init__(self, engine: AsyncEngine) -> None:
        # One statement is its own transaction: no BEGIN/COMMIT round trips.
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def lease(self, key: str, *, want: int, refund: int, capacity: int, rate: float) -> Lease:
        params = {"key": key, "want": want, "refund": refund, "capacity": capacity, "rate": rate}
        async with self._engine.connect() as conn:
            row = (await conn.execute(LEASE_SQL, params)).one()
        return Lease(granted=int(row.granted), tokens_left=float(row.tokens))
