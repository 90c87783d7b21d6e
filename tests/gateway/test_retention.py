"""The gateway's retention: idle rate-limit buckets and old idempotency keys go."""

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from sanlun.kernel.settings import asyncpg_url
from tests.support import auth


async def test_idle_buckets_and_old_keys_are_deleted_and_live_ones_kept(start_gateway, gateway_database_url):
    tag = uuid.uuid4().hex[:8]
    engine = create_async_engine(asyncpg_url(gateway_database_url))
    try:
        async with engine.begin() as conn:
            for key, age in ((f"idle-{tag}", "2 days"), (f"busy-{tag}", "1 minute")):
                await conn.execute(
                    sa.text(
                        "INSERT INTO gateway.rate_limit_buckets (key, tokens, granted, updated_at) "
                        f"VALUES (:k, 1, 1, now() - interval '{age}')"
                    ),
                    {"k": key},
                )
            for key, age in ((f"old-{tag}", "3 days"), (f"new-{tag}", "1 hour")):
                await conn.execute(
                    sa.text(
                        "INSERT INTO gateway.idempotency_keys (principal, key, request_hash, created_at) "
                        f"VALUES ('p', :k, 'h', now() - interval '{age}')"
                    ),
                    {"k": key},
                )
        gw = await start_gateway()
        assert (await gw.post("/ops/retention/run", headers=auth(roles=("rep",)))).status_code == 403
        response = await gw.post("/ops/retention/run", headers=auth(org_unit="/group", roles=("ops",)))
        assert response.status_code == 200, response.text
        assert response.json()["service"] == "gateway"
        assert response.json()["deleted"]["rate_limit_buckets"] >= 1
        async with engine.connect() as conn:
            buckets = set(
                (
                    await conn.execute(
                        sa.text("SELECT key FROM gateway.rate_limit_buckets WHERE key LIKE :t"), {"t": f"%-{tag}"}
                    )
                ).scalars()
            )
            keys = set(
                (
                    await conn.execute(
                        sa.text("SELECT key FROM gateway.idempotency_keys WHERE key LIKE :t"), {"t": f"%-{tag}"}
                    )
                ).scalars()
            )
        assert buckets == {f"busy-{tag}"} and keys == {f"new-{tag}"}
    finally:
        await engine.dispose()
