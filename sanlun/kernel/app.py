"""The service application factory: what every domain service is made of."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Request
from fastapi import routing as fastapi_routing
from fastapi._compat import get_definitions, get_flat_models_from_fields, get_model_name_map
from fastapi.openapi.utils import _get_api_route_for_openapi, get_fields_from_routes, get_openapi, get_openapi_path
from fastapi.routing import APIRoute
from pydantic_core import to_jsonable_python

from sanlun.kernel.auth import TokenVerifier
from sanlun.kernel.context import BodyLimitMiddleware, RequestContextMiddleware, outbound_headers
from sanlun.kernel.db import Database
from sanlun.kernel.errors import install_problem_handlers
from sanlun.kernel.health import health_router
from sanlun.kernel.logging import configure_logging
from sanlun.kernel.migrations import current_revision, head_revision
from sanlun.kernel.pagination import CursorCodec
from sanlun.kernel.event_routes import internal_events_router, mint_service_token, ops_router
from sanlun.kernel.retention import retention_router, retention_task
from sanlun.kernel.retention import rules as retention_rules
from sanlun.kernel.events import EVENTS_KEY, EventHandler, EventsContext, OutboxDispatcher, Subscriptions, inbox_table, outbox_table
from sanlun.kernel.routing import idempotency_table
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
    components.setdefault("securitySchemes", {})["bearerAuth"] = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
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
    app.openapi_schema = schema
    return schema


# -- examples keep their nulls ------------------------------------------------
#
# `get_openapi` ends with `jsonable_encoder(OpenAPI(**output), exclude_none=True)`,
# which drops every `null`-valued key of the whole document, examples included:
# a required nullable field whose example value is null vanishes from the
# example, which then no longer validates against its own schema. FastAPI's
# own behaviour is kept for everything else (no `"default": null` appears);
# only the examples are put back as declared.
#
# The values come from a "raw twin" of the document: the same FastAPI helpers
# `get_openapi` calls (same routes, same model name map, same pydantic schema
# generator, so the very same component names, `-Input`/`-Output` suffixes
# and module-qualified names for models that share a class name), minus the
# final encoding. Nothing is matched by class name: a component is its raw
# definition of the same name, a parameter is matched by (in, name), a media
# type by path, method, status and media type. FastAPI is pinned (0.165.x),
# and the tests check the result (tests/test_openapi_examples.py).

_SUBSCHEMA_KEYWORDS = ("items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else",
                       "unevaluatedItems", "unevaluatedProperties", "contentSchema", "itemSchema")
_SUBSCHEMA_LIST_KEYWORDS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMA_MAP_KEYWORDS = ("properties", "patternProperties", "$defs", "dependentSchemas")


def restore_example_nulls(schema: dict[str, Any], routes: Sequence[Any]) -> None:
    """Put back, in place, the examples of `schema` (built by `get_openapi`
    from `routes`) as the models, fields, parameters and bodies declare them,
    `null`s included."""
    raw_definitions, raw_paths = _raw_openapi(routes)
    components = schema.get("components", {}).get("schemas", {})
    for name, raw in raw_definitions.items():
        if name in components:
            _restore_schema(components[name], raw)
    for path, raw_item in raw_paths.items():
        for method, raw_operation in raw_item.items():
            operation = schema.get("paths", {}).get(path, {}).get(method)
            if isinstance(operation, dict):
                _restore_operation(operation, raw_operation)


def _raw_openapi(routes: Sequence[Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Component definitions and paths as `get_openapi` assembles them, before it encodes them."""
    fields = get_fields_from_routes(list(routes))
    model_name_map = get_model_name_map(get_flat_models_from_fields(fields, known_models=set()))
    field_mapping, definitions = get_definitions(fields=fields, model_name_map=model_name_map)
    paths: dict[str, dict[str, Any]] = {}
    operation_ids: set[str] = set()
    for route_context in fastapi_routing.iter_route_contexts(list(routes)):
        route = _get_api_route_for_openapi(route_context)
        if route is None:
            continue
        path, _, path_definitions = get_openapi_path(
            route=route, operation_ids=operation_ids, model_name_map=model_name_map, field_mapping=field_mapping,
        )
        if path:
            paths.setdefault(route.path_format, {}).update(path)
        definitions.update(path_definitions)
    return definitions, paths


def _encode(value: Any) -> Any:
    # As `jsonable_encoder` renders an `Any` field of the OpenAPI model (pydantic's JSON mode), nulls kept.
    return to_jsonable_python(value)


def _restore_schema(schema: Any, raw: Any) -> None:
    if not isinstance(schema, dict) or not isinstance(raw, dict):
        return
    for key in ("examples", "example"):
        if key in raw:
            schema[key] = _encode(raw[key])
    for key in _SUBSCHEMA_KEYWORDS:
        _restore_schema(schema.get(key), raw.get(key))
    for key in _SUBSCHEMA_LIST_KEYWORDS:
        subs, raw_subs = schema.get(key), raw.get(key)
        if isinstance(subs, list) and isinstance(raw_subs, list) and len(subs) == len(raw_subs):
            for sub, raw_sub in zip(subs, raw_subs, strict=True):
                _restore_schema(sub, raw_sub)
    for key in _SUBSCHEMA_MAP_KEYWORDS:
        subs, raw_subs = schema.get(key), raw.get(key)
        if isinstance(subs, dict) and isinstance(raw_subs, dict):
            for name, raw_sub in raw_subs.items():
                _restore_schema(subs.get(name), raw_sub)


def _restore_media(media: Any, raw: Any) -> None:
    """A media type, a parameter or a header: its schema, `example` and each `examples` entry's `value`."""
    if not isinstance(media, dict) or not isinstance(raw, dict):
        return
    _restore_schema(media.get("schema"), raw.get("schema"))
    if "example" in raw:
        media["example"] = _encode(raw["example"])
    examples, raw_examples = media.get("examples"), raw.get("examples")
    if isinstance(examples, dict) and isinstance(raw_examples, dict):
        for name, raw_example in raw_examples.items():
            example = examples.get(name)
            if isinstance(example, dict) and isinstance(raw_example, dict) and "value" in raw_example:
                example["value"] = _encode(raw_example["value"])


def _restore_content(content: Any, raw: Any) -> None:
    if isinstance(content, dict) and isinstance(raw, dict):
        for media_type, raw_media in raw.items():
            _restore_media(content.get(media_type), raw_media)


def _restore_operation(operation: dict[str, Any], raw: dict[str, Any]) -> None:
    raw_parameters = {(p.get("in"), p.get("name")): p for p in raw.get("parameters", []) if isinstance(p, dict)}
    for parameter in operation.get("parameters", []):
        if isinstance(parameter, dict):
            _restore_media(parameter, raw_parameters.get((parameter.get("in"), parameter.get("name"))))
    _restore_content(operation.get("requestBody", {}).get("content"), raw.get("requestBody", {}).get("content"))
    for status, raw_response in raw.get("responses", {}).items():
        response = operation.get("responses", {}).get(status)
        if isinstance(response, dict) and isinstance(raw_response, dict):
            _restore_content(response.get("content"), raw_response.get("content"))
            for name, raw_header in (raw_response.get("headers") or {}).items():
                _restore_media((response.get("headers") or {}).get(name), raw_header)


def create_service_app(
    *,
    service: str,
    title: str,
    description: str,
    settings: ServiceSettings,
    metadata: sa.MetaData,
    migrations_dir: Path,
    routers: Sequence[APIRouter],
    event_handlers: Mapping[str, EventHandler] | None = None,
    background: Sequence[Callable[[FastAPI], AbstractAsyncContextManager[None]]] = (),
    database: Database | None = None,
) -> FastAPI:
    """Build a service: lifespan-owned engine, HTTP client and event
    dispatcher, problem+json errors, request context, health/metrics, the
    event endpoints and the service's routers."""
    schema = metadata.schema
    assert schema
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
        )
        app.state.http = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.http_timeout_seconds),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            event_hooks={"request": [_propagate_request_id]},
        )
        app.state.db.session_info[EVENTS_KEY] = events
        app.state.token_verifier = TokenVerifier(settings, app.state.http)
        dispatcher = None
        if settings.dispatcher_enabled:
            secret = settings.service_secret.get_secret_value()
            dispatcher = OutboxDispatcher(
                db=app.state.db,
                context=events,
                http=app.state.http,
                resolve_url=settings.service_url,
                service_token=_cached_service_token(secret, service),
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

    app.include_router(health_router(service, {"database": database_ready}))
    app.include_router(internal_events_router(metadata.tables[f"{schema}.inbox"], event_handlers or {}))
    app.include_router(ops_router(outbox, service))
    app.include_router(retention_router(service, retention))
    for router in routers:
        app.include_router(router)
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
    state = {"token": "", "expires": 0.0}

    def token() -> str:
        now = time.time()
        if now > state["expires"]:
            state["token"] = mint_service_token(secret, service, ttl_seconds=3600)
            state["expires"] = now + 3000
        return str(state["token"])

    return token
