"""Request context: `X-Request-ID`, security headers, one access log line and
Prometheus metrics.

A pure ASGI middleware (no BaseHTTPMiddleware): it is on every request's path,
so it stays cheap. The request id is taken from the caller when it is sane,
made otherwise, echoed in the response and kept in a context var for logs and
for outbound calls (`outbound_headers`).

Outermost in every process, it puts the security headers (`SECURITY_HEADERS`,
precomputed) on every answer, errors included: `nosniff`, no referrer, no
framing, `Cache-Control: no-store` unless the route set its own, and
`Strict-Transport-Security` when the process is given a max age (the gateway,
`SANLUN_GATEWAY_HSTS_MAX_AGE_SECONDS`). The gateway drops a service's copies
of them from a proxied answer and sets its own (`gateway.proxy`).
"""

from __future__ import annotations

import os
import re
import time

import structlog
from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sanlun.kernel.logging import principal_var, request_id_var

REQUEST_ID_HEADER = "x-request-id"
# On every answer of every process (RequestContextMiddleware).
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
HSTS_HEADER = b"strict-transport-security"
# Answers carry callers' data: no cache keeps them, unless the route says otherwise.
CACHE_CONTROL = b"cache-control"
NO_STORE = (CACHE_CONTROL, b"no-store")
# What a proxy in front of a process replaces with its own copy.
SECURITY_HEADER_NAMES = frozenset({name for name, _ in SECURITY_HEADERS} | {HSTS_HEADER})


def security_headers(hsts_max_age_seconds: int = 0) -> tuple[tuple[bytes, bytes], ...]:
    """The fixed security headers, with HSTS when a max age is given."""
    if hsts_max_age_seconds > 0:
        return (*SECURITY_HEADERS, (HSTS_HEADER, f"max-age={hsts_max_age_seconds}".encode()))
    return SECURITY_HEADERS


_SANE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

REQUESTS = Counter("sanlun_http_requests_total", "HTTP requests handled", ["service", "method", "route", "status"])
LATENCY = Histogram(
    "sanlun_http_request_duration_seconds",
    "HTTP request duration",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

access_log = structlog.get_logger("sanlun.access")


def current_request_id() -> str | None:
    return request_id_var.get()


def outbound_headers() -> dict[str, str]:
    """Headers to put on every downstream call made while serving a request."""
    rid = request_id_var.get()
    return {"X-Request-ID": rid} if rid else {}


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path or "unmatched"


class RequestContextMiddleware:
    def __init__(
        self, app: ASGIApp, *, service: str, access_log_enabled: bool = True, hsts_max_age_seconds: int = 0
    ) -> None:
        self.app = app
        self.service = service
        self.access_log_enabled = access_log_enabled
        self.headers = security_headers(hsts_max_age_seconds)
        # The labelled children, found once per route (`labels()` takes a lock and hashes every call);
        # routes are templates and statuses few, so these stay small.
        self._counters: dict[tuple[str, str, int], Counter] = {}
        self._histograms: dict[tuple[str, str], Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if _SANE_ID.match(candidate):
                    rid = candidate
                break
        if rid is None:
            rid = os.urandom(16).hex()  # as random as uuid4().hex, without building a UUID
        rid_token = request_id_var.set(rid)
        principal_token = principal_var.set(None)
        status = 500
        started = time.perf_counter()
        rid_bytes = rid.encode()
        fixed = self.headers

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), *fixed, (b"x-request-id", rid_bytes)]
                for name, _ in headers:
                    if name == CACHE_CONTROL:
                        break
                else:
                    headers.append(NO_STORE)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            if route.startswith(("/metrics", "/health")):
                pass
            else:
                method = scope["method"]
                counter = self._counters.get((method, route, status))
                if counter is None:
                    counter = self._counters[(method, route, status)] = REQUESTS.labels(
                        self.service, method, route, str(status)
                    )
                histogram = self._histograms.get((method, route))
                if histogram is None:
                    histogram = self._histograms[(method, route)] = LATENCY.labels(self.service, method, route)
                counter.inc()
                histogram.observe(elapsed)
                if self.access_log_enabled:
                    state = scope.get("state") or {}
                    principal = state.get("principal")
                    access_log.info(
                        "request",
                        method=scope["method"],
                        path=scope["path"],
                        status=status,
                        duration_ms=round(elapsed * 1000, 2),
                        principal=getattr(principal, "subject", None),
                    )
            request_id_var.reset(rid_token)
            principal_var.reset(principal_token)


class BodyTooLarge(StarletteHTTPException):
    def __init__(self) -> None:
        super().__init__(413)


class StartTrackingSend:
    """An ASGI `send` that remembers whether the response head went out: a
    middleware that turns an exception into an answer may only do so before."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


class BodyLimitMiddleware:
    """Refuse request bodies over `max_bytes` with a 413 problem: at once when
    Content-Length says so, or as soon as a streamed (chunked) body passes the
    limit. The streamed case raises `BodyTooLarge` (an HTTP 413) from
    `receive`: a route renders it as a problem; if whatever read the body let
    it escape (a middleware outside the routes), it is answered here. Either
    way uvicorn discards the rest of the body and keeps the connection.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if value.isdigit():
                    if int(value) > self.max_bytes:
                        await _too_large(scope, send, self.max_bytes)
                        return
                    # The server delivers no more than Content-Length: nothing to count.
                    await self.app(scope, receive, send)
                    return
                break
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge()
            return message

        tracked = StartTrackingSend(send)
        try:
            await self.app(scope, limited_receive, tracked)
        except BodyTooLarge:
            if tracked.started:
                raise
            await _too_large(scope, send, self.max_bytes)


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    from sanlun.kernel.errors import problem_response

    response = problem_response(
        413,
        "content_too_large",
        "Content Too Large",
        f"The request body is larger than the {limit} bytes this service accepts.",
        instance=scope.get("path"),
    )
    await response(scope, _drain_receive, send)


async def _drain_receive() -> Message:  # the app reads no more; the server discards the rest
    return {"type": "http.disconnect"}
