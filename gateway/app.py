"""The gateway (port 8000, schema `gateway`, no tables yet).

The proxy sits in front of FastAPI's routing as a pure ASGI middleware, so a
proxied request never pays for routing, dependencies or a Request object; the
gateway's own routes (health, metrics, the merged OpenAPI and its docs) are
ordinary FastAPI routes behind it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request

from gateway import health
from gateway.proxy import Proxy, ProxyMiddleware
from gateway.settings import Settings
from gateway.upstreams import RouteTable
from sanlun.kernel.app import operation_id
from sanlun.kernel.auth import TokenVerifier
from sanlun.kernel.context import RequestContextMiddleware
from sanlun.kernel.errors import install_problem_handlers
from sanlun.kernel.health import health_router
from sanlun.kernel.logging import configure_logging

SERVICE = "gateway"
TITLE = "Sanlun CRM API"
DESCRIPTION = (
    "The public API of Sanlun CRM. Every `/api/v1/...` call needs "
    "`Authorization: Bearer <JWT>`; errors are RFC 9457 problem+json."
)
VERSION = "0.1.0"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    proxy = Proxy(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(SERVICE, settings.log_level)
        await proxy.start()
        try:
            yield
        finally:
            await proxy.close()

    app = FastAPI(
        title=TITLE,
        description=DESCRIPTION,
        version=VERSION,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        # Native OpenTelemetry costs CPU on every request; we export Prometheus instead.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.settings = settings
    app.state.service = SERVICE
    app.state.proxy = proxy
    app.state.token_verifier = TokenVerifier(settings)
    install_problem_handlers(app)
    app.add_middleware(
        ProxyMiddleware, proxy=proxy, routes=RouteTable.from_settings(settings), verifier=app.state.token_verifier
    )
    # Outermost, so proxied requests get the request id, access log and metrics too.
    app.add_middleware(RequestContextMiddleware, service=SERVICE)

    async def proxy_ready(request: Request) -> dict[str, Any]:
        return {"ok": proxy.is_open}

    app.include_router(health_router(SERVICE, {"proxy": proxy_ready}))
    app.include_router(health.router)
    app.openapi = lambda: _merged_openapi(app)  # type: ignore[method-assign]
    return app


def _merged_openapi(app: FastAPI) -> dict[str, Any]:
    # Built on first use (it imports every service), then kept.
    if app.openapi_schema is None:
        from gateway.openapi_merge import merged_openapi

        app.openapi_schema = merged_openapi()
    return app.openapi_schema
