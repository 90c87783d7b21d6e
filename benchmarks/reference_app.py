"""The floor `benchmarks/perf_reads.py` compares Sanlun's reads with: FastAPI
and plain asyncpg, one primary-key read, the row returned as JSON.

`GET /opportunities/{id}` selects one row of `bench_reference.opportunities`
(a copy of `opportunity.opportunities`, same columns, same rows, made by
perf_reads.py) with a prepared statement and answers it as FastAPI answers a
dict. No authentication, no visibility filter, no middleware: what any
FastAPI service pays for a read, and nothing else.

    BENCH_REFERENCE_DATABASE_URL=postgresql://... uvicorn --factory reference_app:create_app
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI, HTTPException, Request

TABLE = "bench_reference.opportunities"
QUERY = f"SELECT * FROM {TABLE} WHERE id = $1"


def create_app() -> FastAPI:
    dsn = os.environ["BENCH_REFERENCE_DATABASE_URL"]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # As many connections as a Sanlun service pools (SANLUN_DB_POOL_SIZE).
        app.state.pool = await asyncpg.create_pool(dsn, min_size=10, max_size=10)
        yield
        await app.state.pool.close()

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/health/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    @app.get("/opportunities/{opportunity_id}")
    async def get_opportunity(opportunity_id: uuid.UUID, request: Request) -> dict[str, Any]:
        row = await request.app.state.pool.fetchrow(QUERY, opportunity_id)
        if row is None:
            raise HTTPException(404)
        return dict(row)

    return app
