"""The headers the API lives by, declared in the OpenAPI from what each route does.

Generated clients only set and read the headers a spec declares, so each
operation gets them where they apply, decided centrally rather than per route:

- `X-Request-ID`: an optional request parameter and a response header of every
  answer of every operation (`RequestContextMiddleware` adds it to everything).
- `Idempotency-Key` (request) and `Idempotent-Replayed` (on the 2xx answers):
  every POST served by `TransactionalRoute`, which claims the key for any POST.
- `If-Match` (request) with its 412: operations whose endpoint calls
  `sanlun.kernel.etag.check_if_match`.
- `ETag` (on the 2xx answers): operations whose endpoint calls `set_etag`.

The last two are found by reading the endpoint's code (the names it calls,
following the module-level helpers it calls by name, of its own module or of
the project, two levels deep): the routers call both directly, so what the spec says is what the code
does (tests/test_openapi_examples.py checks the list against the routers).
"""

from __future__ import annotations

import copy
import inspect
import types
from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import routing as fastapi_routing

from sanlun.kernel.context import _SANE_ID
from sanlun.kernel.routing import TransactionalRoute

PROBLEM_CONTENT = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
PROJECT_PACKAGES = ("sanlun", "services", "gateway")

REQUEST_ID_PARAMETER: dict[str, Any] = {
    "name": "X-Request-ID",
    "in": "header",
    "required": False,
    "description": "Your id for this request, echoed in the answer and written in every log line it causes; "
    "the gateway makes one when it is absent (or not 1-128 of `A-Za-z0-9._:-`).",
    "schema": {"type": "string", "pattern": _SANE_ID.pattern},
}
IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes the POST safe to retry: the same key with the same body replays the stored answer "
    "(with `Idempotent-Replayed: true`) instead of acting twice; the same key with another body answers 422 "
    "`idempotency_key_reused`. Keys are per caller, 1-255 printable characters.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]([ -~]*[!-~])?$"},
}
IF_MATCH_PARAMETER: dict[str, Any] = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": 'The `ETag` of the version you read (e.g. `"3"`): the write goes ahead only if the record '
    "is still at that version, else 412 `precondition_failed`. Without it the last writer wins.",
    "schema": {"type": "string", "minLength": 1},
}
REQUEST_ID_HEADER: dict[str, Any] = {
    "description": "The request's id (yours, or the one the gateway made).",
    "schema": {"type": "string"},
}
ETAG_HEADER: dict[str, Any] = {
    "description": "The record's version, to send back as `If-Match` on a write.",
    "schema": {"type": "string"},
}
REPLAYED_HEADER: dict[str, Any] = {
    "description": "`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`.",
    "schema": {"type": "string", "enum": ["true"]},
}
PRECONDITION_FAILED = "If-Match names another version: GET the record again and retry"
BAD_IDEMPOTENCY_KEY = "Invalid Idempotency-Key (`invalid_idempotency_key`)"
REUSED_IDEMPOTENCY_KEY = "the Idempotency-Key was used with another request (`idempotency_key_reused`)"


def document_headers(schema: dict[str, Any], routes: Sequence[Any]) -> None:
    """Declare, in place, the request and response headers of every operation of `schema`."""
    paths = schema.get("paths", {})
    for route in fastapi_routing.iter_route_contexts(list(routes)):  # included routers too
        original = route.original_route
        if not getattr(route, "include_in_schema", False):
            continue
        endpoint = getattr(original, "endpoint", None)
        transactional = isinstance(original, TransactionalRoute)
        checks_if_match = endpoint is not None and calls(endpoint, "check_if_match")
        sets_etag = endpoint is not None and calls(endpoint, "set_etag")
        for method in getattr(route, "methods", None) or ():
            op = paths.get(route.path_format, {}).get(method.lower())
            if op is None:
                continue
            responses = op.setdefault("responses", {})
            success = [r for status, r in responses.items() if status.startswith("2")]
            if transactional and method == "POST":
                _add_parameter(op, IDEMPOTENCY_KEY_PARAMETER)
                _add_problem(responses, "400", BAD_IDEMPOTENCY_KEY)
                _add_problem(responses, "422", REUSED_IDEMPOTENCY_KEY)
                for response in success:
                    response.setdefault("headers", {})["Idempotent-Replayed"] = copy.deepcopy(REPLAYED_HEADER)
            if checks_if_match:
                _add_parameter(op, IF_MATCH_PARAMETER)
                _add_problem(responses, "412", PRECONDITION_FAILED)
            if sets_etag:
                for response in success:
                    response.setdefault("headers", {})["ETag"] = copy.deepcopy(ETAG_HEADER)
    # Every answer of every operation carries the request id, and any may be sent one.
    for item in paths.values():
        for op in _operations(item):
            _add_parameter(op, REQUEST_ID_PARAMETER)
            for response in op.get("responses", {}).values():
                response.setdefault("headers", {})["X-Request-ID"] = copy.deepcopy(REQUEST_ID_HEADER)


def calls(func: Any, name: str, depth: int = 2) -> bool:
    """Whether `func`'s code names `name` (a call or an attribute), directly or
    through the project's module-level functions it names, `depth` levels deep."""
    func = inspect.unwrap(func)
    code = getattr(func, "__code__", None)
    if code is None:
        return False
    names = set(_names(code))
    if name in names:
        return True
    if depth <= 0:
        return False
    scope = getattr(func, "__globals__", {})
    for other in names:
        helper = scope.get(other)
        if (
            isinstance(helper, types.FunctionType)
            and helper is not func
            and (helper.__module__ == func.__module__ or (helper.__module__ or "").split(".")[0] in PROJECT_PACKAGES)
            and calls(helper, name, depth - 1)
        ):
            return True
    return False


def _names(code: types.CodeType) -> Iterator[str]:
    yield from code.co_names
    for const in code.co_consts:  # nested functions and comprehensions
        if isinstance(const, types.CodeType):
            yield from _names(const)


def _operations(item: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for method in ("get", "put", "post", "delete", "options", "head", "patch", "trace"):
        if isinstance(item.get(method), dict):
            yield item[method]


def _add_parameter(op: dict[str, Any], parameter: dict[str, Any]) -> None:
    parameters = op.setdefault("parameters", [])
    key = (parameter["in"], parameter["name"].lower())
    if not any((p.get("in"), str(p.get("name", "")).lower()) == key for p in parameters):
        parameters.append(copy.deepcopy(parameter))


def _add_problem(responses: dict[str, Any], status: str, description: str) -> None:
    if status not in responses:
        responses[status] = {
            "description": description[0].upper() + description[1:],
            "content": copy.deepcopy(PROBLEM_CONTENT),
        }
        return
    own = responses[status].get("description", "")
    if description.lower() not in own.lower():
        responses[status]["description"] = f"{own.rstrip('. ')}; or: {description}" if own else description
