"""The public OpenAPI of the whole system, as the gateway serves it.

Built by `sanlun openapi export` (never by the running gateway, which serves
the exported file: gateway/docs.py). Each service's spec is built in-process
from its app (no database needed);
only its public `/api/v1/...` paths are kept, together with the schemas they
reach. Schemas are de-duplicated by name and content; when two services use
one name for different shapes, the later one is prefixed with its service
(`KeyAccountMoney`) and its references rewritten. Two services claiming one
path or one operation id is a wiring error and raises.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Iterator, Sequence
from typing import Any

import structlog

from sanlun.kernel.app import openapi_with_problems
from sanlun.kernel.openapi_headers import REQUEST_ID_HEADER
from sanlun.topology import SERVICES, ServiceSpec

PUBLIC_BASE = "/api/v1/"
SCHEMA_REF = "#/components/schemas/"
BEARER_SCHEME = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
API_KEY_SCHEME = {
    "type": "apiKey",
    "in": "header",
    "name": "X-API-Key",
    "description": "An integrator's key (also accepted as `Authorization: ApiKey <key>`).",
}
SECURITY = [{"bearerAuth": []}, {"apiKeyAuth": []}]
PROBLEM_REF = {"$ref": SCHEMA_REF + "Problem"}
RATE_HEADERS = {
    "RateLimit-Limit": {"description": "Requests the bucket holds.", "schema": {"type": "integer"}},
    "RateLimit-Remaining": {"description": "Requests left now.", "schema": {"type": "integer"}},
    "RateLimit-Reset": {"description": "Seconds until the bucket is full again.", "schema": {"type": "integer"}},
}
RETRY_AFTER = {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}
# What the gateway itself may answer on any public operation, whatever the service documents.
EDGE_RESPONSES: dict[str, dict[str, Any]] = {
    "401": {"description": "Missing, expired or invalid credentials"},
    "429": {
        "description": "Too many requests: wait `Retry-After` seconds",
        "headers": {**RATE_HEADERS, "Retry-After": RETRY_AFTER},
    },
    "502": {"description": "The owning service could not be reached (names it in `service`)"},
    "503": {
        "description": "The owning service is failing (`upstream_circuit_open`) or has too many requests in flight "
        "(`upstream_busy`): retry after `Retry-After` seconds",
        "headers": {"Retry-After": RETRY_AFTER},
    },
    "504": {"description": "The owning service did not answer in time (names it in `service`)"},
}
PROBLEM_EXAMPLE = {
    "type": "https://sanlun.dev/problems/not-found",
    "title": "Not Found",
    "status": 404,
    "detail": "No opportunity with this id.",
    "code": "not_found",
    "instance": "/api/v1/opportunities/3c1e…",
}
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

log = structlog.get_logger("sanlun.gateway.openapi")


def merged_openapi() -> dict[str, Any]:
    """The merged spec: what `openapi/gateway.json` and `gateway/openapi.json` (served at `/openapi.json`) hold."""
    gateway = _gateway_spec()
    services = [(spec.name, s) for spec in SERVICES if (s := _service_spec(spec)) is not None]
    return merge_specs(gateway, services)


def merge_specs(gateway: dict[str, Any], services: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Merge the gateway's own spec (all its paths) with the services' public paths."""
    merged: dict[str, Any] = {
        "openapi": gateway["openapi"],
        "info": copy.deepcopy(gateway["info"]),
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": {"bearerAuth": BEARER_SCHEME, "apiKeyAuth": API_KEY_SCHEME}},
    }
    operation_owners: dict[str, str] = {}
    path_owners: dict[str, str] = {}
    sources = [("gateway", gateway, False), *((name, spec, True) for name, spec in services)]
    for owner, spec, public_only in sources:
        paths = {p: item for p, item in spec.get("paths", {}).items() if not public_only or p.startswith(PUBLIC_BASE)}
        schemas = spec.get("components", {}).get("schemas", {})
        renames = _add_schemas(merged["components"]["schemas"], schemas, _reachable(paths, schemas), owner)
        for path, item in paths.items():
            if path in path_owners:
                raise ValueError(f"{path} is served by both {path_owners[path]} and {owner}")
            path_owners[path] = owner
            rewritten = _rewrite_refs(item, renames)
            for method, operation in rewritten.items():
                if method not in HTTP_METHODS:
                    continue
                op_id = operation.get("operationId")
                if op_id in operation_owners:
                    raise ValueError(f"operationId {op_id} is used by both {operation_owners[op_id]} and {owner}")
                operation_owners[op_id] = owner
                if path.startswith(PUBLIC_BASE):
                    _add_edge_contract(operation)
            merged["paths"][path] = rewritten
    # Client generators name classes after `title`: a prefixed schema (and
    # pydantic's `Policy-Input`/`Policy-Output` pair) must not keep a shared one.
    for name, schema in merged["components"]["schemas"].items():
        if "title" in schema:
            schema["title"] = name.replace("-", "")
    problem = merged["components"]["schemas"].get("Problem")
    if problem is not None:
        merged["components"]["schemas"]["Problem"] = {**problem, "examples": [PROBLEM_EXAMPLE]}
    return merged


def _add_edge_contract(operation: dict[str, Any]) -> None:
    operation["security"] = SECURITY
    responses = operation.setdefault("responses", {})
    for status, response in EDGE_RESPONSES.items():
        if status not in responses:
            responses[status] = {
                **copy.deepcopy(response),
                "content": {"application/problem+json": {"schema": PROBLEM_REF}},
            }
            continue
        if response["description"] not in responses[status].get("description", ""):
            # The service documents the same status for its own reason (503:
            # its database is unavailable); the client may get either.
            own = responses[status].get("description", "").rstrip(". ")
            responses[status]["description"] = (
                f"{own}; or: {response['description']}" if own else response["description"]
            )
        for name, header in response.get("headers", {}).items():
            responses[status].setdefault("headers", {}).setdefault(name, copy.deepcopy(header))
    for status, response in responses.items():
        headers = response.setdefault("headers", {})
        headers.setdefault("X-Request-ID", copy.deepcopy(REQUEST_ID_HEADER))
        # The rate limit is checked right after authentication: every answer but a 401 carries its state.
        if status != "401":
            for name, header in RATE_HEADERS.items():
                headers.setdefault(name, copy.deepcopy(header))


def _reachable(paths: dict[str, Any], schemas: dict[str, Any]) -> list[str]:
    """Schema names the paths reference, directly or through other schemas."""
    seen: list[str] = []
    pending = list(_refs(paths))
    while pending:
        name = pending.pop()
        if name in seen or name not in schemas:
            continue
        seen.append(name)
        pending.extend(_refs(schemas[name]))
    return sorted(seen)


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(SCHEMA_REF):
            yield ref[len(SCHEMA_REF) :]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _add_schemas(target: dict[str, Any], schemas: dict[str, Any], names: list[str], owner: str) -> dict[str, str]:
    """Copy `names` into `target`; returns the renames needed to avoid clashes."""
    prefix = "".join(part.capitalize() for part in owner.split("_"))
    renames: dict[str, str] = {}
    # Renaming one schema changes the content of those that reference it, which
    # may make them clash in turn: repeat until nothing new clashes.
    changed = True
    while changed:
        changed = False
        for name in names:
            if name in renames or name not in target:
                continue
            if target[name] != _rewrite_refs(schemas[name], renames):
                renames[name] = prefix + name
                changed = True
    for name in names:
        final = renames.get(name, name)
        content = _rewrite_refs(schemas[name], renames)
        if final in target and target[final] != content:
            raise ValueError(f"schema {final} of {owner} clashes even after prefixing")
        target[final] = content
    return renames


def _rewrite_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {k: _rewrite_refs(v, renames) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith(SCHEMA_REF) and ref[len(SCHEMA_REF) :] in renames:
            out["$ref"] = SCHEMA_REF + renames[ref[len(SCHEMA_REF) :]]
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, renames) for v in node]
    return node


def _gateway_spec() -> dict[str, Any]:
    from gateway.app import create_app
    from gateway.settings import Settings

    # Fixed settings: the spec must not depend on the caller's environment.
    return copy.deepcopy(openapi_with_problems(create_app(Settings(environment="development"))))


def _service_spec(spec: ServiceSpec) -> dict[str, Any] | None:
    try:
        settings_cls = importlib.import_module(f"{spec.package}.settings").Settings
    except ModuleNotFoundError as exc:
        # A service that is not in this tree yet is left out; any other import error is a bug.
        if exc.name and (spec.package == exc.name or spec.package.startswith(exc.name + ".")):
            log.warning("openapi_service_missing", upstream=spec.name)
            return None
        raise
    app = spec.create_app(settings_cls(environment="development"))
    return copy.deepcopy(app.openapi())
