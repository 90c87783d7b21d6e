"""`/health`, `/health/live`, `/health/ready` and `/metrics` for every process.

What each tells whom (issue 16, "the edge says too much"):

- `/health/live` and `/health/ready` answer anyone (orchestrators send no
  credential): the status code and `status`, never the checks behind it;
- `/health` says only `{"status": "ok" | "unavailable"}` (200 or 503) to an
  anonymous caller;
- an ops credential (a bearer JWT with the `ops` or `group_admin` role,
  verified like any other) also gets the details: each check, schema
  revisions, and at the gateway each service's URL and breaker;
- `/metrics` needs an ops JWT or the scrape token `SANLUN_METRICS_TOKEN`
  (Prometheus: `authorization: {credentials_file: ...}`); 401 without one.

A credential that is sent must be valid (401 otherwise), as on every route.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from sanlun.kernel.auth import TokenVerifier, parse_bearer
from sanlun.kernel.errors import Forbidden, Unauthorized

ReadinessCheck = Callable[[Request], Awaitable[dict[str, Any]]]
# Who may read the details behind a health status, and the metrics.
OPS_ROLES = ("ops", "group_admin")


class Liveness(BaseModel):
    status: str
    service: str


class Readiness(BaseModel):
    status: str
    service: str
    checks: dict[str, Any]


async def is_operator(request: Request) -> bool:
    """Whether the caller holds an ops credential. No `Authorization`: False
    (an anonymous caller); a credential that is not valid: 401; a valid one
    without an ops role: False."""
    header = request.headers.get("authorization")
    if not header:
        return False
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = await verifier.verify(parse_bearer(header))
    return not principal.is_service and principal.has(*OPS_ROLES)


async def require_metrics_reader(request: Request) -> None:
    """The scrape token (`SANLUN_METRICS_TOKEN`) or an ops JWT; 401 without a
    credential or with a bad one, 403 for a JWT without an ops role."""
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("`/metrics` needs `Authorization: Bearer <token>`: the metrics token or an ops JWT.")
    token = parse_bearer(header)
    settings = getattr(request.app.state, "settings", None)
    expected = getattr(settings, "metrics_token", None)
    if expected is not None and hmac.compare_digest(token.encode(), expected.get_secret_value().encode()):
        return
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = await verifier.verify(token)
    if principal.is_service or not principal.has(*OPS_ROLES):
        raise Forbidden(f"`/metrics` needs one of the roles: {', '.join(OPS_ROLES)}.")


def health_router(service: str, checks: dict[str, ReadinessCheck], *, summary: bool = True) -> APIRouter:
    """The probes and metrics of a process; `summary=False` leaves `/health`
    to the process (the gateway's lists every service)."""
    router = APIRouter(tags=["operations"])

    async def run_checks(request: Request) -> tuple[bool, dict[str, Any]]:
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
        return ok, results

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
        operator = await is_operator(request)
        ok, results = await run_checks(request)
        body = Readiness(status="ready" if ok else "not_ready", service=service, checks=results if operator else {})
        return JSONResponse(body.model_dump(), status_code=200 if ok else 503)

    if summary:
        # An operator's route: the services' specs document the probes only.
        @router.get("/health", include_in_schema=False)
        async def health(request: Request) -> JSONResponse:
            operator = await is_operator(request)
            ok, results = await run_checks(request)
            body: dict[str, Any] = {"status": "ok" if ok else "unavailable"}
            if operator:
                body.update(service=service, checks=results)
            return JSONResponse(body, status_code=200 if ok else 503)

    @router.get("/metrics", summary="Prometheus metrics", operation_id="operations-metrics", response_class=Response)
    async def metrics(request: Request) -> Response:
        await require_metrics_reader(request)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
