"""The gateway (port 8000, schema `gateway`: API keys and rate-limit buckets).

The proxy sits in front of FastAPI's routing as a pure ASGI middleware, so a
proxied request never pays for routing, dependencies or a Request object; the
gateway's own routes (API keys, the workspace, health, metrics, retention, the
merged OpenAPI and its docs) are ordinary FastAPI routes behind it.

Middleware, outermost first: request context (id, security headers, access
log, metrics) → CORS (preflights answered before authentication) → body size
limit → proxy (failed-authentication limit per address, authentication, rate
limit, routing).

`/openapi.json` is the spec `sanlun openapi export` wrote into the package
(never built at run time); `/docs` and `/redoc` load their assets from the
gateway itself (gateway/docs.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from starlette.middleware.cors import CORSMiddleware

from gateway import health
from gateway.api_keys.router import router as api_keys_router
from gateway.auth_failures import AuthFailures, ClientAddress
from gateway.credentials import ApiKeys, EdgeAuth
from gateway.db import SCHEMA, Base
from gateway.docs import install_docs
from gateway.proxy import Proxy, ProxyMiddleware
from gateway.ratelimit.bucket import Limit
from gateway.ratelimit.limiter import RateLimiter
from gateway.ratelimit.store import BUCKET_IDLE_RETENTION, BucketStore, buckets_table
from gateway.resilience import Breakers
from gateway.settings import Settings
from gateway.upstreams import RouteTable
from gateway.workspace.router import router as workspace_router
from sanlun.kernel.app import operation_id
from sanlun.kernel.auth import TokenVerifier
from sanlun.kernel.clock import Clock, clock_router, install_clock
from sanlun.kernel.context import BodyLimitMiddleware, RequestContextMiddleware
from sanlun.kernel.db import Database
from sanlun.kernel.errors import CatchAllMiddleware, install_problem_handlers
from sanlun.kernel.health import health_router
from sanlun.kernel.logging import configure_logging
from sanlun.kernel.migrations import current_revision, head_revision
from sanlun.kernel.pagination import CursorCodec
from sanlun.kernel.retention import Rule, retention_router, retention_task
from sanlun.topology import SERVICES

SERVICE = "gateway"
TITLE = "Sanlun CRM API"
DESCRIPTION = (
    "The public API of Sanlun CRM. Every `/api/v1/...` call needs `Authorization: Bearer <JWT>` "
    "or, for integrators, an API key (`X-API-Key: <key>`). Errors are RFC 9457 problem+json; "
    "every answer carries `RateLimit-*` headers and a 429 comes with `Retry-After`."
)
VERSION = "0.1.0"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
CORS_HEADERS = ["Authorization", "Content-Type", "If-Match", "Idempotency-Key", "X-API-Key", "X-Request-ID"]
# What a browser client may read: everything the OpenAPI declares as a response header.
CORS_EXPOSED = [
    "ETag",
    "Location",
    "X-Request-ID",
    "Idempotent-Replayed",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Retry-After",
    "Deprecation",
    "Link",  # on the deprecated bulk URLs (sanlun.kernel.bulk)
]


def create_app(
    settings: Settings | None = None, database: Database | None = None, clock: Clock | None = None
) -> FastAPI:
    settings = settings or Settings()
    # The engine connects lazily: building the app (e.g. for its OpenAPI) needs no database.
    db = database or Database(
        settings.async_database_url,
        application_name=SERVICE,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        connect_timeout=settings.db_connect_timeout_seconds,
        pre_ping=settings.db_pool_pre_ping,
    )
    breakers = Breakers(
        [s.name for s in SERVICES],
        threshold=settings.breaker_failure_threshold,
        window_seconds=settings.breaker_window_seconds,
        open_seconds=settings.breaker_open_seconds,
    )
    proxy = Proxy(settings, breakers)
    default_limit = Limit(capacity=settings.rate_limit_burst, rate=settings.rate_limit_per_second)
    verifier = TokenVerifier(settings)
    api_keys = ApiKeys(settings, db.engine, default_limit)
    limiter = None
    if settings.rate_limit_enabled:
        limiter = RateLimiter(
            BucketStore(db.engine),
            lease_seconds=settings.rate_limit_lease_seconds,
            lease_max=settings.rate_limit_lease_max,
            lease_ttl=settings.rate_limit_lease_ttl_seconds,
        )
    auth_failures = None
    if settings.auth_failure_limit > 0:
        auth_failures = AuthFailures(
            limit=settings.auth_failure_limit, window_seconds=settings.auth_failure_window_seconds
        )
    head = head_revision(MIGRATIONS_DIR, SCHEMA)

    retention = [
        Rule(
            Base.metadata.tables[f"{SCHEMA}.idempotency_keys"],
            "created_at",
            dt.timedelta(hours=settings.idempotency_retention_hours),
        ),
        Rule(buckets_table, "updated_at", BUCKET_IDLE_RETENTION),
    ]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(SERVICE, settings.log_level)
        await proxy.start()
        try:
            async with AsyncExitStack() as stack:
                if settings.retention_interval_seconds > 0:
                    await stack.enter_async_context(
                        retention_task(SERVICE, retention, settings.retention_interval_seconds)(app)
                    )
                yield
        finally:
            await proxy.close()
            if database is None:
                await db.dispose()

    app = FastAPI(
        title=TITLE,
        description=DESCRIPTION,
        version=VERSION,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        # Native OpenTelemetry costs CPU on every request; we export Prometheus instead.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
        # Replaced by install_docs: the exported spec, docs with local assets.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.service = SERVICE
    app.state.db = db
    app.state.proxy = proxy
    app.state.breakers = breakers
    app.state.token_verifier = verifier
    app.state.api_keys = api_keys
    app.state.rate_limiter = limiter
    app.state.cursor_codec = CursorCodec(settings.jwt_secret.get_secret_value().encode())
    app.state.idempotency_table = Base.metadata.tables[f"{SCHEMA}.idempotency_keys"]
    install_clock(app, clock)  # the workspace's "due within N days" (sanlun.kernel.clock)
    install_problem_handlers(app)
    app.add_middleware(
        ProxyMiddleware,
        proxy=proxy,
        routes=RouteTable.from_settings(settings),
        auth=EdgeAuth(verifier, api_keys, default_limit),
        limiter=limiter,
        auth_failures=auth_failures,
        client_address=ClientAddress(settings.trusted_proxies),
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=CORS_HEADERS,
            expose_headers=CORS_EXPOSED,
            max_age=settings.cors_max_age_seconds,
        )
    # The proxy runs outside the routes: what escapes it (a bug, the database
    # of the API-key store gone) is answered here without dropping the
    # kept-alive connection, inside the request context so it is logged.
    app.add_middleware(CatchAllMiddleware)
    # Outermost, so proxied requests get the request id, access log and metrics too.
    app.add_middleware(RequestContextMiddleware, service=SERVICE, hsts_max_age_seconds=settings.hsts_max_age_seconds)

    async def proxy_ready(request: Request) -> dict[str, Any]:
        return {"ok": proxy.is_open}

    async def database_ready(request: Request) -> dict[str, Any]:
        async with db.engine.connect() as conn:
            current = await current_revision(conn, SCHEMA)
        return {"ok": current == head, "schema": SCHEMA, "revision": current, "head": head}

    async def breakers_ready(request: Request) -> dict[str, Any]:
        # Informational: an open breaker is the services' trouble, not the gateway's.
        return {"ok": True, "states": breakers.states()}

    app.include_router(
        health_router(
            SERVICE,
            {"proxy": proxy_ready, "database": database_ready, "breakers": breakers_ready},
            summary=False,  # gateway.health's /health covers every service
        )
    )
    app.include_router(health.router)
    app.include_router(api_keys_router)
    app.include_router(workspace_router)
    # An operator's route, like the services' /ops: not part of the public API's spec.
    app.include_router(retention_router(SERVICE, retention), include_in_schema=False)
    app.include_router(clock_router(), include_in_schema=False)
    install_docs(app)
    return app
