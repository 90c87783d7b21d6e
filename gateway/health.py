"""`GET /health`: every service's readiness as the gateway sees it.

The services are probed concurrently, each within `health_timeout_seconds`,
so one hanging service costs the caller that long at most, not the sum.

An anonymous caller learns only up or down: `{"status": "ok"}` (200) or
`{"status": "unavailable"}` (503). An ops credential (`ops` or `group_admin`)
also gets each service with its internal URL, status, latency and the state
of the gateway's circuit breaker for it (`sanlun.kernel.health`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

import aiohttp
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from sanlun.kernel.context import outbound_headers
from sanlun.kernel.health import is_operator
from sanlun.topology import SERVICES


class ServiceHealth(BaseModel):
    name: str
    url: str
    status: Literal["ready", "not_ready", "unreachable"] = Field(
        description="`ready` answered 200, `not_ready` answered otherwise, `unreachable` did not answer in time."
    )
    latency_ms: float
    breaker: Literal["closed", "open", "half_open"] = Field(
        description="The gateway's circuit breaker for this service: `open` while the gateway refuses to call it "
        "(503 `upstream_circuit_open`), `half_open` while one trial request may pass."
    )


class SystemHealth(BaseModel):
    status: Literal["ok", "unavailable"] = Field(description="`ok` only when every service is ready.")
    services: list[ServiceHealth] | None = Field(
        default=None, description="Each service behind the gateway: only for an ops credential (`ops`, `group_admin`)."
    )


router = APIRouter(tags=["operations"])


@router.get(
    "/health",
    summary="Readiness of every service behind the gateway (the details for an ops credential)",
    response_model=SystemHealth,
    response_model_exclude_none=True,
    responses={503: {"description": "At least one service is not ready", "model": SystemHealth}},
)
async def system_health(request: Request) -> JSONResponse:
    operator = await is_operator(request)
    settings = request.app.state.settings
    session: aiohttp.ClientSession = request.app.state.proxy.session
    timeout = aiohttp.ClientTimeout(total=settings.health_timeout_seconds)
    states = request.app.state.breakers.states(time.monotonic())
    services = await asyncio.gather(
        *(
            probe(
                session,
                name=s.name,
                url=settings.service_url(s.name).rstrip("/"),
                timeout=timeout,
                breaker=states[s.name],
            )
            for s in SERVICES
        )
    )
    ready = all(s.status == "ready" for s in services)
    body = SystemHealth(status="ok" if ready else "unavailable", services=list(services) if operator else None)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=200 if ready else 503)


async def probe(
    session: aiohttp.ClientSession,
    *,
    name: str,
    url: str,
    timeout: aiohttp.ClientTimeout,
    breaker: Literal["closed", "open", "half_open"],
) -> ServiceHealth:
    started = time.perf_counter()
    status: Literal["ready", "not_ready", "unreachable"]
    try:
        async with session.get(f"{url}/health/ready", timeout=timeout, headers=outbound_headers()) as response:
            await response.read()
            status = "ready" if response.status == 200 else "not_ready"
    except (TimeoutError, aiohttp.ClientError):
        status = "unreachable"
    latency_ms = round((time.perf_counter() - started) * 1000, 2)
    return ServiceHealth(name=name, url=url, status=status, latency_ms=latency_ms, breaker=breaker)
