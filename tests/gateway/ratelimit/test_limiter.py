"""The shared token bucket on a real Postgres, and the gateway's 429."""

import asyncio
import time
import uuid

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.ratelimit.bucket import Limit
from gateway.ratelimit.limiter import RateLimiter
from gateway.ratelimit.store import BucketStore
from sanlun.kernel.settings import asyncpg_url
from tests.gateway.conftest import closed_url
from tests.support import auth


@pytest.fixture
async def bucket_engine(gateway_database_url):
    engine = create_async_engine(asyncpg_url(gateway_database_url), pool_size=4)
    yield engine
    await engine.dispose()


def new_limiter(engine, **kw) -> RateLimiter:
    return RateLimiter(BucketStore(engine), **{"lease_seconds": 0.1, "lease_max": 5, "lease_ttl": 1.0, **kw})


async def test_replicas_sharing_a_bucket_never_admit_more_than_it_holds(bucket_engine):
    key = f"test:{uuid.uuid4()}"
    limit = Limit(capacity=40, rate=1.0)
    replicas = [new_limiter(bucket_engine) for _ in range(3)]
    started = time.monotonic()

    async def hammer(limiter: RateLimiter) -> int:
        allowed = 0
        for _ in range(60):
            decision = await limiter.check(key, limit)
            allowed += decision.allowed
        return allowed

    admitted = sum(await asyncio.gather(*(hammer(r) for r in replicas for _ in range(4))))
    elapsed = time.monotonic() - started
    # 720 attempts: the bucket's 40 plus what refilled meanwhile, never more.
    assert admitted <= 40 + int(elapsed * limit.rate) + 1
    # Leases are handed back, so little is lost to replicas holding unspent tokens.
    assert admitted >= 40 - 3 * 5
    leases = sum(r.leases for r in replicas)
    assert leases < 720 / 4, leases  # refusals are remembered locally, not re-asked


async def test_unspent_tokens_come_back_with_the_next_lease(bucket_engine):
    key = f"test:{uuid.uuid4()}"
    limit = Limit(capacity=10, rate=0.001)
    limiter = new_limiter(bucket_engine, lease_ttl=0.05)
    assert (await limiter.check(key, limit)).remaining == 9  # leased 5, spent 1
    await asyncio.sleep(0.06)  # the lease goes stale holding 4
    decision = await limiter.check(key, limit)
    assert decision.allowed and decision.remaining == 8
    assert limiter.leases == 2


async def test_the_gateway_answers_429_with_retry_after_and_ratelimit_headers(start_gateway, echo):
    gw = await start_gateway(key_account=echo.url, rate_limit_burst=3, rate_limit_per_second=0.2)
    caller, other = auth(), auth()
    answers = [await gw.get("/api/v1/accounts", headers=caller) for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r.headers["ratelimit-remaining"] for r in answers] == ["2", "1", "0", "0"]
    assert {r.headers["ratelimit-limit"] for r in answers} == {"3"}
    refused = answers[-1]
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "too_many_requests"
    assert 1 <= int(refused.headers["retry-after"]) <= 5
    assert (await gw.get("/api/v1/accounts", headers=other)).status_code == 200


async def test_the_limit_holds_across_two_gateway_replicas(start_gateway, echo):
    first = await start_gateway(key_account=echo.url, rate_limit_burst=4, rate_limit_per_second=0.1)
    second = await start_gateway(key_account=echo.url, rate_limit_burst=4, rate_limit_per_second=0.1)
    caller = auth()
    statuses = [(await gw.get("/api/v1/accounts", headers=caller)).status_code for gw in (first, second) * 3]
    assert statuses == [200, 200, 200, 200, 429, 429]


async def test_without_its_database_the_gateway_still_serves(start_gateway, echo):
    gw = await start_gateway(key_account=echo.url, database_url=closed_url().replace("http", "postgresql") + "/x")
    response = await gw.get("/api/v1/accounts", headers=auth())
    assert response.status_code == 200
    assert "ratelimit-limit" not in response.headers


class _FailingStore:
    """A bucket store whose database is away: every lease fails after a while."""

    async def lease(self, key: str, **_: object) -> None:
        await asyncio.sleep(0.01)
        raise ConnectionRefusedError("the database is restarting")


async def test_concurrent_callers_fail_open_while_the_store_is_down():
    # Callers that waited for another's failed lease used to go round three
    # times and then get 429, so a database restart refused traffic.
    limiter = RateLimiter(_FailingStore(), lease_seconds=0.1, lease_max=5, lease_ttl=1.0)  # type: ignore[arg-type]
    decisions = await asyncio.gather(*(limiter.check("test:down", Limit(capacity=10, rate=1.0)) for _ in range(20)))
    assert decisions == [None] * 20
