"""The rate limiter the edge calls: local allowance first, a lease when it runs out."""

from __future__ import annotations

import asyncio
import time

import structlog

from gateway.ratelimit.bucket import Decision, Limit, LocalAllowance
from gateway.ratelimit.store import BucketStore

log = structlog.get_logger("sanlun.gateway.ratelimit")


class RateLimiter:
    def __init__(self, store: BucketStore, *, lease_seconds: float, lease_max: int, lease_ttl: float) -> None:
        self._store = store
        self._lease_seconds = lease_seconds
        self._lease_max = lease_max
        self._local = LocalAllowance(lease_ttl=lease_ttl)
        # One lease in flight per key: concurrent requests wait for it instead
        # of each asking the database.
        self._leasing: dict[str, asyncio.Future[bool]] = {}
        self.leases = 0  # statements sent, for tests and benchmarks

    async def check(self, key: str, limit: Limit) -> Decision | None:
        """The decision for one request; None when the store failed (fail open)."""
        for _ in range(3):
            decision = self._local.take(key, limit, time.monotonic())
            if decision is not None:
                return decision
            pending = self._leasing.get(key)
            if pending is not None:
                # The lease we waited for failed (the database is away): fail
                # open like its requester, not 429 after three such rounds.
                if not await asyncio.shield(pending):
                    return None
                continue
            if not await self._lease(key, limit):
                return None
        # Others kept spending each fresh lease first; one more round, then refuse for now.
        return self._local.take(key, limit, time.monotonic()) or Decision(False, limit.capacity, 0, 1, retry_after=1)

    async def _lease(self, key: str, limit: Limit) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        leased = False
        self._leasing[key] = future
        refund = self._local.release(key)
        try:
            lease = await self._store.lease(
                key,
                want=limit.lease_size(self._lease_seconds, self._lease_max),
                refund=refund,
                capacity=limit.capacity,
                rate=limit.rate,
            )
            leased = True
        except Exception as exc:  # noqa: BLE001 - the database is down: availability wins over the limit
            log.warning("rate_limit_store_failed", error=type(exc).__name__)
            return False
        finally:
            del self._leasing[key]
            future.set_result(leased)
        self.leases += 1
        self._local.apply(key, limit, granted=lease.granted, shared_left=lease.tokens_left, now=time.monotonic())
        return True
