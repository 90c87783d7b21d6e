"""`/health/live`, `/health/ready` and `/metrics` for every process."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

ReadinessCheck = Callable[[Request], Awaitable[dict[str, Any]]]


class Liveness(BaseModel):
    status: str
    service: str


class Readiness(BaseModel):
    status: str
    service: str
    checks: dict[str, Any]


def health_router(service: str, checks: dict[str, ReadinessCheck]) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health/live", summary="Process is alive", operation_id="operations-live", response_model=Liveness)
    async def live() -> Liveness:
        return Liveness(status="ok", service=service)

    @router.get(
        "/health/ready",
        summary="Process can serve traffic (database reachable, schema at head)",
        operation_id="operations-ready",
        response_model=Readiness,
        responses={503: {"description": "Not ready", "model": Readiness}},
    )
    async def ready(request: Request) -> JSONResponse:
        results: dict[str, Any] = {}
        ok = True
        for name, check in checks.items():
            started = time.perf_counter()
            try:
                result = await check(request)
            except Exception as exc:  # noqa: BLE001 - a failing dependency is a status, not a crash
                result = {"ok": False, "error": type(exc).__name__}
            result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
            results[name] = result
            ok = ok and bool(result.get("ok"))
        body = Readiness(status="ready" if ok else "not_ready", service=service, checks=results)
        return JSONResponse(body.model_dump(), status_code=200 if ok else 503)

    @router.get("/metrics", summary="Prometheus metrics", operation_id="operations-metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
