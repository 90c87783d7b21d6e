"""RFC 9457 problem details for every error a Sanlun process answers.

The exception tree::

    ProblemError                      any error with an HTTP status and a stable code
     ├── BadRequest            400    malformed JSON, forged or stale cursor, ...
     │    └── InvalidCursor    400
     ├── Unauthorized          401    missing, expired or badly signed credentials
     ├── Forbidden             403    authenticated but not allowed (never for reads
     │                                of another person's record: those are 404)
     ├── NotFound              404
     ├── Conflict              409    unique violations, illegal state transitions
     ├── PreconditionFailed    412    If-Match does not match the current ETag
     ├── UnsupportedMediaType  415
     ├── Unprocessable         422    semantic errors; IdempotencyKeyReused
     ├── UpstreamUnavailable   502    a peer service could not be reached
     ├── DatabaseUnavailable   503    this process's database cannot be reached
     └── UpstreamTimeout       504    a peer service did not answer in time

Routes raise these; `install_problem_handlers` renders them, FastAPI's request
validation errors, Starlette's HTTP errors (404 route, 405, 413) and database
integrity errors as `application/problem+json`. A database that cannot be
reached (refused or dropped connection, server shutting down or starting up,
pool exhausted) answers 503 `database_unavailable` with `Retry-After`, never
500. Anything else is logged with its traceback and answered as a bare 500
problem without internals, by a catch-all that does not re-raise, so the
server keeps the client's connection open.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from sanlun.kernel.context import StartTrackingSend

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://sanlun.dev/problems/"

log = structlog.get_logger("sanlun.errors")


class ProblemError(Exception):
    status: int = 500
    code: str = "internal_error"
    title: str = "Internal Server Error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if code:
            self.code = code
        self.errors = errors
        self.headers = headers
        self.extensions = extensions

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": TYPE_BASE + self.code.replace("_", "-"),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if instance:
            body["instance"] = instance
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extensions)
        return body


class BadRequest(ProblemError):
    status, code, title = 400, "bad_request", "Bad Request"


class InvalidCursor(BadRequest):
    code, title = "invalid_cursor", "Invalid Cursor"


class Unauthorized(ProblemError):
    status, code, title = 401, "unauthorized", "Unauthorized"

    def __init__(self, detail: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="sanlun"'})
        super().__init__(detail, **kw)


class Forbidden(ProblemError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(ProblemError):
    status, code, title = 404, "not_found", "Not Found"


class Conflict(ProblemError):
    status, code, title = 409, "conflict", "Conflict"


class PreconditionFailed(ProblemError):
    status, code, title = 412, "precondition_failed", "Precondition Failed"


class UnsupportedMediaType(ProblemError):
    status, code, title = 415, "unsupported_media_type", "Unsupported Media Type"


class Unprocessable(ProblemError):
    status, code, title = 422, "unprocessable", "Unprocessable Content"


class IdempotencyKeyReused(Unprocessable):
    code, title = "idempotency_key_reused", "Idempotency Key Reused"


class UpstreamUnavailable(ProblemError):
    status, code, title = 502, "upstream_unavailable", "Bad Gateway"


class UpstreamTimeout(ProblemError):
    status, code, title = 504, "upstream_timeout", "Gateway Timeout"


DEFAULT_RETRY_AFTER_SECONDS = 2


class DatabaseUnavailable(ProblemError):
    status, code, title = 503, "database_unavailable", "Database Unavailable"

    def __init__(self, detail: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"Retry-After": str(DEFAULT_RETRY_AFTER_SECONDS)})
        super().__init__(detail, **kw)


# SQLSTATEs of a server that is going away or not yet there: class 08
# (connection exception) is matched by prefix; 57P01 admin_shutdown,
# 57P02 crash_shutdown, 57P03 cannot_connect_now.
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
_DRIVER_MODULES = ("asyncpg", "sqlalchemy")


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database could not be reached, as opposed to
    a bad statement or bad data: the request may succeed when retried."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        return any(_driver_unavailable(e) for e in _chain(exc.orig))
    if isinstance(exc, (sa_exc.DisconnectionError, sa_exc.TimeoutError)):
        return True  # sqlalchemy's TimeoutError is the pool's: no connection came free in time
    if isinstance(exc, OSError):
        # A refused or timed-out connect reaches us raw (asyncpg raises the
        # socket's error, sqlalchemy does not wrap it); a peer call's OSError
        # (httpx wraps its own) must not pass for a database outage.
        return _raised_by_driver(exc.__traceback__)
    return _driver_unavailable(exc)


def _chain(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen and len(seen) < 8:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _driver_unavailable(exc: BaseException) -> bool:
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and (sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_SQLSTATES):
        return True
    if isinstance(exc, asyncpg.InterfaceError):
        return "closed" in str(exc)  # "connection is closed"; other interface errors are bugs
    return isinstance(exc, OSError)


def _raised_by_driver(tb: TracebackType | None) -> bool:
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith(_DRIVER_MODULES):
            return True
        tb = tb.tb_next
    return False


_STATUS_CODES = {
    400: ("bad_request", "Bad Request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not Found"),
    405: ("method_not_allowed", "Method Not Allowed"),
    406: ("not_acceptable", "Not Acceptable"),
    409: ("conflict", "Conflict"),
    413: ("content_too_large", "Content Too Large"),
    415: ("unsupported_media_type", "Unsupported Media Type"),
    422: ("unprocessable", "Unprocessable Content"),
    429: ("too_many_requests", "Too Many Requests"),
    503: ("service_unavailable", "Service Unavailable"),
}


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + code.replace("_", "-"),
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [p for p in err.get("loc", ()) if isinstance(p, (str, int))]
        out.append({"loc": loc, "msg": err.get("msg", "invalid"), "type": err.get("type", "value_error")})
    return out


async def _on_problem(request: Request, exc: ProblemError) -> JSONResponse:
    return JSONResponse(
        exc.to_problem(request.url.path),
        status_code=exc.status,
        media_type=PROBLEM_JSON,
        headers=exc.headers,
    )


async def _on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = _validation_errors(exc)
    if any(e["type"] == "json_invalid" for e in errors):
        return problem_response(
            400,
            "malformed_json",
            "Malformed JSON",
            "The request body is not valid JSON.",
            instance=request.url.path,
            errors=errors,
        )
    fields = ", ".join(".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in errors[:5])
    return problem_response(
        422,
        "validation_error",
        "Validation Error",
        f"The request is invalid: {fields}",
        instance=request.url.path,
        errors=errors,
    )


async def _on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code, title = _STATUS_CODES.get(exc.status_code, ("http_error", "HTTP Error"))
    if exc.status_code == 404:
        detail = f"No route matches {request.url.path}."
    elif exc.status_code == 405:
        detail = f"Method {request.method} is not allowed on {request.url.path}."
    elif exc.status_code == 413:
        detail = "The request body is larger than this service accepts."
    else:
        detail = str(exc.detail) if exc.detail else title
    return problem_response(
        exc.status_code,
        code,
        title,
        detail,
        instance=request.url.path,
        headers=getattr(exc, "headers", None),
    )


async def _on_integrity(request: Request, exc: IntegrityError) -> JSONResponse:
    constraint = getattr(getattr(exc.orig, "__cause__", None), "constraint_name", None)
    detail = "The request conflicts with an existing record"
    detail += f" (constraint {constraint})." if constraint else "."
    return problem_response(409, "conflict", "Conflict", detail, instance=request.url.path)


async def _on_stale(request: Request, exc: StaleDataError) -> JSONResponse:
    # Two writers raced past If-Match on the same version; the loser gets 412.
    return problem_response(
        412,
        "precondition_failed",
        "Precondition Failed",
        "The record was changed by another request; GET it again and retry.",
        instance=request.url.path,
    )


async def _on_dbapi(request: Request, exc: DBAPIError) -> JSONResponse:
    # Data errors (a value Postgres refuses) are the client's; the rest are ours.
    sqlstate = getattr(getattr(exc.orig, "__cause__", None), "sqlstate", "") or ""
    if sqlstate.startswith("22"):
        return problem_response(
            422,
            "invalid_value",
            "Invalid Value",
            "A value in the request is out of the range the database accepts.",
            instance=request.url.path,
        )
    return await _on_unexpected(request, exc)


def retry_after_seconds(request: Request) -> int:
    settings = getattr(request.app.state, "settings", None)
    return int(getattr(settings, "db_unavailable_retry_after_seconds", DEFAULT_RETRY_AFTER_SECONDS))


def database_unavailable_response(request: Request, exc: BaseException) -> JSONResponse:
    # A warning without traceback: an outage makes one per request.
    log.warning("database_unavailable", path=request.url.path, error=type(exc).__name__, reason=str(exc)[:200])
    retry_after = retry_after_seconds(request)
    return problem_response(
        503,
        DatabaseUnavailable.code,
        DatabaseUnavailable.title,
        f"The database cannot be reached right now; retry in {retry_after} seconds.",
        instance=request.url.path,
        headers={"Retry-After": str(retry_after)},
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    if is_database_unavailable(exc):
        return database_unavailable_response(request, exc)
    log.error("unhandled_error", path=request.url.path, error=type(exc).__name__, exc_info=exc)
    return problem_response(
        500,
        "internal_error",
        "Internal Server Error",
        "The server failed to handle the request; it has been logged.",
        instance=request.url.path,
    )


class CatchAllMiddleware:
    """Answer any exception that escapes the routes, and do not re-raise it.

    Starlette's outermost ServerErrorMiddleware sends the 500 and then
    re-raises, and uvicorn, seeing the exception, closes the kept-alive
    connection without a `Connection: close`: the client's next request on
    it fails. Installed innermost (by `install_problem_handlers`, before any
    other middleware is added), this logs and answers instead, so the
    request context middleware still adds the request id and counts the
    status. An exception after the response started is re-raised: only
    closing the connection can tell the client the body is cut short.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracked = StartTrackingSend(send)
        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            if tracked.started:
                raise
            request = Request(scope)
            if isinstance(exc, StarletteHTTPException):
                response = await _on_http(request, exc)
            else:
                response = await _on_unexpected(request, exc)
            await response(scope, receive, send)


def install_problem_handlers(app: FastAPI) -> None:
    """Render every error as problem+json. Call it before adding any other
    middleware: the catch-all it adds must sit innermost."""
    app.add_middleware(CatchAllMiddleware)
    app.add_exception_handler(ProblemError, _on_problem)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _on_http)  # type: ignore[arg-type]
    app.add_exception_handler(IntegrityError, _on_integrity)  # type: ignore[arg-type]
    app.add_exception_handler(DBAPIError, _on_dbapi)  # type: ignore[arg-type]
    app.add_exception_handler(StaleDataError, _on_stale)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _on_unexpected)


def problem_responses(*errors: type[ProblemError]) -> dict[int | str, dict[str, Any]]:
    """`responses=` entry for a route: documents the problems it may answer."""
    out: dict[int | str, dict[str, Any]] = {}
    for err in errors:
        out[err.status] = {
            "description": err.title,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return out
