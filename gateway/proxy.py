"""The proxy path: a pure ASGI middleware in front of FastAPI's routing.

It is the hottest code in the system, so it stays below the framework: no
Request objects, no BaseHTTPMiddleware, and one pooled aiohttp session per
process (about a fifth of httpx's CPU per proxied request, FIELD-NOTES).

For a path under `/api/v1/` it authenticates first (a bearer JWT or an API
key, 401 without forwarding), then spends one token of the caller's rate-limit
bucket (429 with `Retry-After` when empty; `RateLimit-*` headers on every
answer). A path under a service's prefix is then forwarded with the same
method, raw path, query, headers (minus hop-by-hop ones; an API key is replaced
by the JWT minted for it) and body, and the service's status, headers and body
come back as they were sent. Anything else goes on to the gateway's own routes,
which answer unknown paths (so also `/internal/*`, which is never routed) with
a 404 problem.

Resilience: each upstream has a circuit breaker (`gateway.resilience`); a
request is retried once only when it is safe to send twice (an idempotent
method, or a POST carrying an `Idempotency-Key`) and the connection failed
before the service could have acted on it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import structlog
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from yarl import URL

from gateway.credentials import Caller, EdgeAuth
from gateway.errors import ContentTooLarge, TooManyRequests, UpstreamCircuitOpen
from gateway.ratelimit.limiter import RateLimiter
from gateway.resilience import Breakers
from gateway.settings import Settings
from gateway.upstreams import PUBLIC_BASE, RouteTable, Upstream
from sanlun.kernel.errors import (
    PROBLEM_JSON,
    BadRequest,
    ProblemError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from sanlun.kernel.logging import principal_var, request_id_var

HOP_BY_HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization",
    b"te", b"trailer", b"transfer-encoding", b"upgrade",
})
# The gateway sets these itself for the next hop; `expect` was already answered here.
REQUEST_DROPPED = HOP_BY_HOP | {
    b"host", b"expect", b"x-request-id", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"x-api-key",
}
# The gateway's server and RequestContextMiddleware add their own.
RESPONSE_DROPPED = HOP_BY_HOP | {b"date", b"server", b"x-request-id"}
# Safe to send twice (RFC 9110 idempotent methods); a POST is when it carries
# an Idempotency-Key, since the service then replays instead of acting again.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Failures where the request cannot have reached the service's code: a pooled
# connection the service closed while idle, or a refused connection.
RETRIED_ERRORS = (aiohttp.ServerDisconnectedError, aiohttp.ClientConnectorError)
RETRY_DELAY_SECONDS = 0.05
# Bodies up to this size are relayed in one message; larger ones are streamed.
BUFFERED_BODY_MAX = 64 * 1024
CHUNK_SIZE = 64 * 1024

log = structlog.get_logger("sanlun.gateway.proxy")


class ClientGone(OSError):
    """The caller disconnected while its body was being forwarded."""


class Proxy:
    """The shared client session, opened and closed by the app's lifespan."""

    def __init__(self, settings: Settings, breakers: Breakers) -> None:
        self.settings = settings
        self.breakers = breakers
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        s = self.settings
        connector = aiohttp.TCPConnector(
            limit=s.proxy_max_connections,
            keepalive_timeout=s.proxy_keepalive_seconds,
            ttl_dns_cache=60,
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None,
                connect=s.proxy_pool_timeout_seconds,
                sock_connect=s.proxy_connect_timeout_seconds,
                sock_read=s.proxy_read_timeout_seconds,
            ),
            # Bodies pass through as the service encoded them.
            auto_decompress=False,
            # A shared jar would hand one caller's cookies to the next.
            cookie_jar=aiohttp.DummyCookieJar(),
            # Only what the caller sent: an added Accept-Encoding would get the
            # caller a compressed body it never asked for.
            skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
        )

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    @property
    def is_open(self) -> bool:
        return self.session is not None and not self.session.closed

    async def forward(self, scope: Scope, receive: Receive, send: Send, upstream: Upstream) -> None:
        breaker = self.breakers[upstream.service]
        if not breaker.allow(time.monotonic()):
            await send_problem(scope, send, circuit_open(upstream.service, breaker.retry_after(time.monotonic())))
            return
        started = False
        try:
            # Released by `async with` in this task: a sync `release` handed to a
            # Starlette BackgroundTask would run in a thread (FIELD-NOTES).
            async with await self._open(scope, receive, upstream) as response:
                start = _response_start(response)
                length = response.content_length
                buffered = await response.read() if length is not None and length <= BUFFERED_BODY_MAX else None
                started = True
                await send(start)
                if buffered is not None:
                    await send({"type": "http.response.body", "body": buffered})
                    return
                async for chunk in response.content.iter_chunked(CHUNK_SIZE):
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
        except (TimeoutError, aiohttp.ClientError) as exc:
            breaker.failure(time.monotonic())
            if started:
                # Status and headers are out; returning unfinished makes the
                # server cut the connection, so the caller sees a broken body.
                log.warning("upstream_broke_mid_response", upstream=upstream.service, error=type(exc).__name__)
                return
            await send_problem(scope, send, _upstream_problem(upstream, exc))
        except ProblemError as exc:
            await send_problem(scope, send, exc)
        except StarletteHTTPException as exc:
            # The body outgrew the limit while it was being streamed on.
            if exc.status_code != 413 or started:
                raise
            await send_problem(scope, send, ContentTooLarge("The request body is larger than the gateway accepts."))
        else:
            breaker.success()

    async def _open(self, scope: Scope, receive: Receive, upstream: Upstream) -> aiohttp.ClientResponse:
        assert self.session is not None, "the gateway's lifespan has not started"
        raw_path = scope.get("raw_path") or scope["path"].encode()
        try:
            url = URL.build(
                scheme=upstream.scheme, host=upstream.host, port=upstream.port,
                path=raw_path.decode("latin-1"), query_string=scope["query_string"].decode("latin-1"),
                encoded=True,  # forward the path exactly as sent: no re-quoting, no dot-segment folding
            )
        except ValueError as exc:
            raise BadRequest("The request path or query cannot be forwarded.") from exc
        method = scope["method"]
        message = await receive()
        first = message.get("body", b"")
        data: bytes | AsyncIterator[bytes] | None
        headers = _request_headers(scope)
        if message.get("more_body"):
            data, retries = _body_stream(first, receive), 0  # a streamed body cannot be sent twice
        else:
            data, retries = first or None, 1 if _safe_to_repeat(method, scope) else 0
        while True:
            try:
                return await self.session.request(method, url, headers=headers, data=data, allow_redirects=False)
            except RETRIED_ERRORS:
                if retries == 0:
                    raise
                retries -= 1
                await asyncio.sleep(RETRY_DELAY_SECONDS)


class ProxyMiddleware:
    def __init__(
        self, app: ASGIApp, *, proxy: Proxy, routes: RouteTable, auth: EdgeAuth, limiter: RateLimiter | None
    ) -> None:
        self.app = app
        self.proxy = proxy
        self.routes = routes
        self.auth = auth
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(PUBLIC_BASE):
            await self.app(scope, receive, send)
            return
        upstream = self.routes.match(path)
        if upstream is not None:
            scope["route"] = upstream
        try:
            caller = await self.auth.authenticate(scope["headers"])
        except ProblemError as exc:
            await send_problem(scope, send, exc)
            return
        # Where RequestContextMiddleware (access log), `authenticate` and the
        # header rewriting below look for it.
        state = scope.setdefault("state", {})
        state["principal"] = caller.principal
        state["caller"] = caller
        principal_var.set(caller.principal.subject)
        if self.limiter is not None:
            decision = await self.limiter.check(caller.bucket, caller.limit)
            if decision is not None:
                if not decision.allowed:
                    error = TooManyRequests(
                        f"Too many requests; retry in {decision.retry_after} s.",
                        headers={k.decode(): v.decode() for k, v in decision.headers()},
                    )
                    await send_problem(scope, send, error)
                    return
                send = _with_headers(send, decision.headers())
        if upstream is None or _has_dot_segment(path):
            await self.app(scope, receive, send)
            return
        await self.proxy.forward(scope, receive, send, upstream)


def _with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *extra]
        await send(message)

    return sender


def _safe_to_repeat(method: str, scope: Scope) -> bool:
    if method in IDEMPOTENT_METHODS:
        return True
    return method == "POST" and any(name == b"idempotency-key" for name, _ in scope["headers"])


def circuit_open(service: str, retry_after: int) -> UpstreamCircuitOpen:
    return UpstreamCircuitOpen(
        f"The {service} service is failing; the gateway stops calling it for a few seconds.",
        service=service, headers={"Retry-After": str(retry_after)},
    )


def _request_headers(scope: Scope) -> list[tuple[str, str]]:
    kept: list[tuple[bytes, bytes]] = []
    forwarded_for: list[str] = []
    host = b""
    listed: set[bytes] = set()
    for name, value in scope["headers"]:
        if name in REQUEST_DROPPED:
            if name == b"x-forwarded-for":
                forwarded_for.append(value.decode("latin-1"))
            elif name == b"host":
                host = value
            elif name == b"connection":
                listed.update(t.strip().lower() for t in value.split(b","))
            continue
        kept.append((name, value))
    caller: Caller | None = (scope.get("state") or {}).get("caller")
    if caller is not None and caller.downstream_authorization is not None:
        kept = [(n, v) for n, v in kept if n != b"authorization"]
        kept.append((b"authorization", caller.downstream_authorization))
    headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in kept if n not in listed]
    client = scope.get("client")
    if client:
        forwarded_for.append(client[0])
    if forwarded_for:
        headers.append(("X-Forwarded-For", ", ".join(forwarded_for)))
    headers.append(("X-Forwarded-Proto", scope.get("scheme", "http")))
    if host:
        headers.append(("X-Forwarded-Host", host.decode("latin-1")))
    rid = request_id_var.get()
    if rid:
        headers.append(("X-Request-ID", rid))
    return headers


def _response_start(response: aiohttp.ClientResponse) -> Message:
    headers = []
    for name, value in response.raw_headers:
        name = name.lower()
        if name not in RESPONSE_DROPPED:
            headers.append((name, value))
    return {"type": "http.response.start", "status": response.status, "headers": headers}


async def _body_stream(first: bytes, receive: Receive) -> AsyncIterator[bytes]:
    if first:
        yield first
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            # Aborts the upstream request instead of leaving it waiting for the rest.
            raise ClientGone("the caller disconnected")
        body = message.get("body", b"")
        if body:
            yield body
        if not message.get("more_body"):
            return


def _has_dot_segment(path: str) -> bool:
    # `..` would let a public prefix climb to another service path (e.g. /internal).
    return "/." in path and any(seg in (".", "..") for seg in path.split("/"))


def _upstream_problem(upstream: Upstream, exc: BaseException) -> ProblemError:
    name = upstream.service
    error: ProblemError
    if isinstance(exc, TimeoutError):
        error = UpstreamTimeout(f"The {name} service did not answer in time.", service=name)
    else:
        error = UpstreamUnavailable(f"The {name} service could not be reached.", service=name)
    log.warning("upstream_failed", upstream=name, status=error.status, error=type(exc).__name__)
    return error


async def send_problem(scope: Scope, send: Send, error: ProblemError) -> None:
    response = JSONResponse(
        error.to_problem(scope.get("path")), status_code=error.status, media_type=PROBLEM_JSON, headers=error.headers,
    )
    await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}
