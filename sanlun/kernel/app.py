"""The service application factory: what every domain service is made of."""

from __future__ import annotations

import copy
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Request
from fastapi import routing as fastapi_routing
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from sanlun.kernel.auth import TokenVerifier
from sanlun.kernel.clock import CLOCK_KEY, Clock, clock_router, install_clock
from sanlun.kernel.context import BodyLimitMiddleware, RequestContextMiddleware, outbound_headers
from sanlun.kernel.db import Database
from sanlun.kernel.errors import install_problem_handlers
from sanlun.kernel.event_routes import internal_events_router, mint_service_token, ops_router
from sanlun.kernel.events import (
    EVENTS_KEY,
    Batched,
    EventHandler,
    EventsContext,
    OutboxDispatcher,
    Subscriptions,
    inbox_table,
    outbox_table,
)
from sanlun.kernel.health import health_router
from sanlun.kernel.logging import configure_logging
from sanlun.kernel.migrations import current_revision, head_revision
from sanlun.kernel.openapi_examples import restore_example_nulls
from sanlun.kernel.openapi_headers import document_headers
from sanlun.kernel.pagination import CursorCodec
from sanlun.kernel.retention import retention_router, retention_task
from sanlun.kernel.retention import rules as retention_rules
from sanlun.kernel.routing import TransactionalRoute, idempotency_table
from sanlun.kernel.settings import ServiceSettings
from sanlun.topology import SUBSCRIPTIONS

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Stable machine-readable error code."},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}


def operation_id(route: APIRoute) -> str:
    """Stable `{tag}-{name}` operation ids for generated clients."""
    tag = str(route.tags[0]) if route.tags else "default"
    return f"{tag}-{route.name}".replace("_", "-")


def openapi_with_problems(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    restore_example_nulls(schema, app.routes)
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    components.setdefault("securitySchemes", {})["bearerAuth"] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    # FastAPI's default 422 points at HTTPValidationError; ours is a Problem.
    for path_item in schema.get("paths", {}).values():
        for op in path_item.values():
            responses = op.get("responses", {})
            if "422" in responses:
                responses["422"] = {
                    "description": "Validation Error",
                    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
                }
    for name in ("HTTPValidationError", "ValidationError"):
        components["schemas"].pop(name, None)
    document_database_unavailable(schema, app.routes)
    document_headers(schema, app.routes)
    app.openapi_schema = schema
    return schema


DATABASE_UNAVAILABLE_RESPONSE: dict[str, Any] = {
    "description": "Database Unavailable: the service's database cannot be reached (`database_unavailable`); "
    "retry after `Retry-After` seconds",
    "headers": {
        "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}},
    },
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def document_database_unavailable(schema: dict[str, Any], routes: Sequence[Any]) -> None:
    """Every operation that opens a transaction may answer 503 database_unavailable."""
    paths = schema.get("paths", {})
    for route in fastapi_routing.iter_route_contexts(list(routes)):  # included routers too
        if not isinstance(route.original_route, TransactionalRoute) or not getattr(route, "include_in_schema", False):
            continue
        for method in getattr(route, "methods", None) or ():
            op = paths.get(route.path_format, {}).get(method.lower())
            if op is not None:
                op.setdefault("responses", {}).setdefault("503", copy.deepcopy(DATABASE_UNAVAILABLE_RESPONSE))


def create_service_app(
    *,
    service: str,
    title: str,
    description: str,
    settings: ServiceSettings,
    metadata: sa.MetaData,
    migrations_dir: Path,
    routers: Sequence[APIRouter],
    event_handlers: Mapping[str, EventHandler | Batched] | None = None,
    background: Sequence[Callable[[FastAPI], AbstractAsyncContextManager[None]]] = (),
    database: Database | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """Build a service: lifespan-owned engine, HTTP client and event
    dispatcher, problem+json errors, request context, health/metrics, the
    event endpoints and the service's routers."""
    schema = metadata.schema
    if not schema:
        raise ValueError("service metadata must name its schema")
    head = head_revision(migrations_dir, schema)
    outbox = metadata.tables[f"{schema}.outbox"]
    retention = retention_rules(metadata, settings)
    if settings.retention_interval_seconds > 0:
        background = (*background, retention_task(service, retention, settings.retention_interval_seconds))
    events = EventsContext(
        source=service,
        outbox=outbox,
        subscriptions=Subscriptions(settings.subscriptions or SUBSCRIPTIONS),
        channel=f"sanlun_outbox_{schema}",
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Logging is process-wide: set when the process starts serving, not when
        # an app object is built (the gateway builds every app for its OpenAPI).
        configure_logging(service, settings.log_level)
        owns_db = database is None
        app.state.db = database or Database(
            settings.async_database_url,
            application_name=service,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            read_pool_size=settings.db_read_pool_size,
            connect_timeout=settings.db_connect_timeout_seconds,
            pre_ping=settings.db_pool_pre_ping,
        )
        app.state.http = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.http_timeout_seconds),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            event_hooks={"request": [_propagate_request_id]},
        )
        app.state.db.session_info[EVENTS_KEY] = events
        app.state.db.session_info[CLOCK_KEY] = app.state.clock
        app.state.token_verifier = TokenVerifier(settings, app.state.http)
        dispatcher = None
        if settings.dispatcher_enabled:
            dispatcher = OutboxDispatcher(
                db=app.state.db,
                context=events,
                resolve_url=settings.service_url,
                service_token=app.state.service_token,
                retry_horizon_seconds=settings.outbox_retry_horizon_seconds,
                max_attempts=settings.outbox_max_attempts,
                batch_size=settings.outbox_batch_size,
                poll_seconds=settings.outbox_poll_seconds,
                backoff_base=settings.outbox_backoff_base_seconds,
                backoff_cap=settings.outbox_backoff_cap_seconds,
                timeout_seconds=settings.http_timeout_seconds,
            )
            await dispatcher.start()
        app.state.dispatcher = dispatcher
        try:
            # Service-specific background work (schedules), started after the
            # database and stopped before it closes.
            async with AsyncExitStack() as stack:
                for task in background:
                    await stack.enter_async_context(task(app))
                yield
        finally:
            if dispatcher is not None:
                await dispatcher.stop()
            await app.state.http.aclose()
            if owns_db:
                await app.state.db.dispose()

    app = FastAPI(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        # Native OpenTelemetry costs CPU on every request; we export Prometheus instead.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.settings = settings
    app.state.service = service
    install_clock(app, clock)
    # Bearer of this service's /internal calls (events, sanlun.kernel.peers).
    app.state.service_token = _cached_service_token(settings.service_secret.get_secret_value(), service)
    app.state.cursor_codec = CursorCodec(settings.jwt_secret.get_secret_value().encode())
    app.state.idempotency_table = metadata.tables[f"{schema}.idempotency_keys"]
    install_problem_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, service=service)

    async def database_ready(request: Request) -> dict[str, Any]:
        db: Database = request.app.state.db
        async with db.engine.connect() as conn:
            current = await current_revision(conn, schema)
        return {"ok": current == head, "schema": schema, "revision": current, "head": head}

    # The service's own routes first: FastAPI tries routes in order, each router a
    # nested scan, and the API is what is called most (the kernel's ops routes
    # first cost a primary-key read about 5% of its CPU).
    for router in routers:
        app.include_router(router)
    app.include_router(health_router(service, {"database": database_ready}))
    app.include_router(internal_events_router(metadata.tables[f"{schema}.inbox"], event_handlers or {}))
    app.include_router(ops_router(outbox, service))
    app.include_router(retention_router(service, retention))
    app.include_router(clock_router())
    app.openapi = lambda: openapi_with_problems(app)  # type: ignore[method-assign]
    return app


async def _propagate_request_id(request: httpx.Request) -> None:
    for name, value in outbound_headers().items():
        request.headers.setdefault(name, value)


def ensure_kernel_tables(metadata: sa.MetaData) -> None:
    """Add the kernel's tables (idempotency keys, outbox, inbox) to a service's
    metadata; `create_kernel_tables` in its first migration creates them."""
    if f"{metadata.schema}.idempotency_keys" not in metadata.tables:
        idempotency_table(metadata)
        outbox_table(metadata)
        inbox_table(metadata)


def _cached_service_token(secret: str, service: str) -> Callable[[], str]:
    """Mint the service token once an hour instead of on every delivery."""
    cached = ""
    expires = 0.0

    def token() -> str:
        nonlocal cached, expires
        now = time.time()
        if now > expires:
            cached = mint_service_token(secret, service, ttl_seconds=3600)
            expires = now + 3000
        return cached

    return token
