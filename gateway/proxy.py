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

Resilience (`gateway.resilience`): each service has its own connection pool
and bulkhead (a bounded number of requests in flight and waiting: 503
`upstream_busy` beyond it), so a hung service cannot slow the calls to the
others, and its own circuit breaker (503 `upstream_circuit_open` while open).
Only upstream faults count against a breaker: refused or reset connections,
timeouts, a 5xx the service produced; never anything the caller caused.

The request body is read into memory before anything is forwarded (it is at
most `max_body_bytes`): a chunked body over the limit is answered 413 without
reaching the service, and a body can be sent twice. A request is retried once,
on a fresh connection, when it is safe to send twice (an idempotent method, or
a POST carrying an `Idempotency-Key`) and the connection failed before any
answer arrived (e.g. a kept-alive connection the service had closed).
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import structlog
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from yarl import URL

from gateway.auth_failures import AuthFailures, ClientAddress
from gateway.credentials import Caller, EdgeAuth
from gateway.errors import (
    ContentTooLarge,
    TooManyRequests,
    UpstreamBusy,
    UpstreamCircuitOpen,
)
from gateway.ratelimit.limiter import RateLimiter
from gateway.resilience import (
    NOT_UPSTREAM_FAULTS,
    Breakers,
    Bulkhead,
    Busy,
    CircuitBreaker,
)
from gateway.settings import Settings
from gateway.upstreams import PUBLIC_BASE, RouteTable, Upstream
from sanlun.kernel.context import SECURITY_HEADER_NAMES
from sanlun.kernel.errors import (
    PROBLEM_JSON,
    BadRequest,
    ProblemError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from sanlun.kernel.logging import principal_var, request_id_var

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# The gateway sets these itself for the next hop; `expect` was already answered here.
REQUEST_DROPPED = HOP_BY_HOP | {
    b"host",
    b"expect",
    b"x-request-id",
    b"x-forwarded-for",
    b"x-forwarded-proto",
    b"x-forwarded-host",
    b"x-api-key",
}
# The gateway's server and RequestContextMiddleware add their own (the
# security headers too: the edge's policy, e.g. HSTS, is the gateway's).
RESPONSE_DROPPED = HOP_BY_HOP | {b"date", b"server", b"x-request-id"} | SECURITY_HEADER_NAMES
# Safe to send twice (RFC 9110 idempotent methods); a POST is when it carries
# an Idempotency-Key, since the service then replays instead of acting again.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
READ_METHODS = frozenset({"GET", "HEAD"})
# Failures before any answer arrived: a pooled connection the service had
# closed or reset, or a refused connection.
RETRIED_ERRORS = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, aiohttp.ClientConnectionResetError)
# A refused connection is retried after this pause (a restarting service).
RETRY_DELAY_SECONDS = 0.05
# Answered 503 `upstream_busy` with this `Retry-After`.
BUSY_RETRY_AFTER = "1"
# Bodies up to this size are relayed in one message; larger ones are streamed.
BUFFERED_BODY_MAX = 64 * 1024
CHUNK_SIZE = 64 * 1024

log = structlog.get_logger("sanlun.gateway.proxy")


class ClientGone(OSError):
    """The caller disconnected before its body was read."""


class ServicePool:
    """What the proxy keeps per service: its breaker, its bulkhead and its own
    connection pools (`session` keeps connections alive, `fresh` never reuses one)."""

    __slots__ = ("breaker", "bulkhead", "fresh", "name", "session")

    def __init__(self, name: str, breaker: CircuitBreaker, bulkhead: Bulkhead) -> None:
        self.name = name
        self.breaker = breaker
        self.bulkhead = bulkhead
        self.session: aiohttp.ClientSession = None  # type: ignore[assignment]  # set by Proxy.start
        self.fresh: aiohttp.ClientSession = None  # type: ignore[assignment]


class Proxy:
    """The client sessions, opened and closed by the app's lifespan: one pair
    per service for the proxy path, and `session`, shared by the gateway's own
    calls (`/health`, the workspace) and bounded per service too."""

    def __init__(self, settings: Settings, breakers: Breakers) -> None:
        s = settings
        self.settings = settings
        self.breakers = breakers
        self.session: aiohttp.ClientSession | None = None
        self.pools = {
            name: ServicePool(
                name,
                breakers[name],
                Bulkhead(limit=s.proxy_max_connections_per_service, queue_max=s.proxy_max_queue_per_service),
            )
            for name in breakers.names()
        }
        self.max_body_bytes = s.max_body_bytes
        self.queue_timeout = s.proxy_pool_timeout_seconds
        self.bulk_markers = tuple(s.proxy_bulk_path_markers)

        def timeout(read: float) -> aiohttp.ClientTimeout:
            # Connecting is bounded twice: the socket connect, and the whole
            # connection setup (name resolution included).
            return aiohttp.ClientTimeout(
                total=None,
                connect=s.proxy_pool_timeout_seconds,
                sock_connect=s.proxy_connect_timeout_seconds,
                sock_read=read,
            )

        self.read_timeout = timeout(s.proxy_read_timeout_get_seconds)
        self.write_timeout = timeout(s.proxy_read_timeout_seconds)
        self.bulk_timeout = timeout(s.proxy_read_timeout_bulk_seconds)

    async def start(self) -> None:
        s = self.settings
        per_service = s.proxy_max_connections_per_service
        for pool in self.pools.values():
            pool.session = self._session(
                aiohttp.TCPConnector(
                    limit=per_service,
                    keepalive_timeout=s.proxy_keepalive_seconds,
                    ttl_dns_cache=60,
                )
            )
            pool.fresh = self._session(aiohttp.TCPConnector(limit=per_service, force_close=True, ttl_dns_cache=60))
            for session in (pool.session, pool.fresh):
                # aiohttp would retry an idempotent request itself, on another
                # pooled connection (dead too, after a service dropped them);
                # the proxy's own single retry on a fresh one replaces it.
                # (As aiohttp's own test client does.)
                session._retry_connection = False
        self.session = self._session(
            aiohttp.TCPConnector(
                limit=per_service * max(1, len(self.pools)),
                limit_per_host=per_service,
                keepalive_timeout=s.proxy_keepalive_seconds,
                ttl_dns_cache=60,
            )
        )

    def _session(self, connector: aiohttp.TCPConnector) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=connector,
            timeout=self.write_timeout,
            # Bodies pass through as the service encoded them.
            auto_decompress=False,
            # A shared jar would hand one caller's cookies to the next.
            cookie_jar=aiohttp.DummyCookieJar(),
            # Only what the caller sent: an added Accept-Encoding would get the
            # caller a compressed body it never asked for.
            skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
        )

    async def close(self) -> None:
        sessions = [self.session] + [p.session for p in self.pools.values()] + [p.fresh for p in self.pools.values()]
        for session in sessions:
            if session is not None:
                await session.close()
        self.session = None
        for pool in self.pools.values():
            pool.session = pool.fresh = None  # type: ignore[assignment]

    @property
    def is_open(self) -> bool:
        return self.session is not None and not self.session.closed

    async def forward(self, scope: Scope, receive: Receive, send: Send, upstream: Upstream) -> None:
        pool = self.pools[upstream.service]
        breaker = pool.breaker
        if not breaker.allow(time.monotonic()):
            await send_problem(scope, send, circuit_open(upstream.service, breaker.retry_after(time.monotonic())))
            return
        # What the call told about the service: True a fault, False it answered,
        # None nothing (the caller's doing, or the gateway's own refusal).
        fault: bool | None = None
        started = False
        try:
            body = await _read_body(receive, self.max_body_bytes)
            url = _url(scope, upstream)
            method = scope["method"]
            bulkhead = pool.bulkhead
            if not bulkhead.try_acquire():
                try:
                    await bulkhead.acquire(self.queue_timeout)
                except Busy:
                    raise upstream_busy(upstream.service, bulkhead) from None
            try:
                response = await self._send(pool, method, url, _request_headers(scope), body, scope)
                # Released by `async with` in this task: a sync `release` handed to a
                # Starlette BackgroundTask would run in a thread (FIELD-NOTES).
                async with response:
                    status = response.status
                    fault = status >= 500 and status not in NOT_UPSTREAM_FAULTS
                    start = _response_start(response)
                    length = response.content_length
                    if length is not None and length <= BUFFERED_BODY_MAX:
                        buffered = await response.read()
                        started = True
                        await send(start)
                        await send({"type": "http.response.body", "body": buffered})
                    else:
                        started = True
                        await send(start)
                        async for chunk in response.content.iter_chunked(CHUNK_SIZE):
                            await send({"type": "http.response.body", "body": chunk, "more_body": True})
                        await send({"type": "http.response.body", "body": b""})
            finally:
                bulkhead.release()
        except (TimeoutError, aiohttp.ClientError) as exc:
            fault = True
            if started:
                # Status and headers are out; returning unfinished makes the
                # server cut the connection, so the caller sees a broken body.
                log.warning("upstream_broke_mid_response", upstream=upstream.service, error=type(exc).__name__)
                return
            await send_problem(scope, send, _upstream_problem(upstream, exc))
        except ClientGone:
            pass  # nobody to answer
        except ProblemError as exc:
            await send_problem(scope, send, exc)
        finally:
            if fault is None:
                breaker.neutral()
            elif fault:
                breaker.failure(time.monotonic())
            else:
                breaker.success()

    def timeout_for(self, method: str, path: str) -> aiohttp.ClientTimeout:
        """The read timeout of the request's route class: bulk, read or write."""
        for marker in self.bulk_markers:
            if marker in path:
                return self.bulk_timeout
        return self.read_timeout if method in READ_METHODS else self.write_timeout

    async def _send(
        self, pool: ServicePool, method: str, url: URL, headers: list[tuple[str, str]], body: bytes, scope: Scope
    ) -> aiohttp.ClientResponse:
        timeout = self.timeout_for(method, scope["path"])
        data = body or None
        try:
            return await pool.session.request(
                method, url, headers=headers, data=data, allow_redirects=False, timeout=timeout
            )
        except RETRIED_ERRORS as exc:
            if not _safe_to_repeat(method, scope):
                raise
            if isinstance(exc, aiohttp.ClientConnectorError):
                await asyncio.sleep(RETRY_DELAY_SECONDS)
            log.info("upstream_retry", upstream=pool.name, error=type(exc).__name__)
        # Never on a kept-alive connection: the one that failed may have company.
        return await pool.fresh.request(method, url, headers=headers, data=data, allow_redirects=False, timeout=timeout)


class ProxyMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        proxy: Proxy,
        routes: RouteTable,
        auth: EdgeAuth,
        limiter: RateLimiter | None,
        auth_failures: AuthFailures | None = None,
        client_address: ClientAddress | None = None,
    ) -> None:
        self.app = app
        self.proxy = proxy
        self.routes = routes
        self.auth = auth
        self.limiter = limiter
        self.auth_failures = auth_failures
        self.client_address = client_address or ClientAddress(())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        failures = self.auth_failures
        if not path.startswith(PUBLIC_BASE):
            if failures is not None and _has_authorization(scope["headers"]):
                # The gateway's own routes that read a credential (/health's
                # details, /metrics) count their refusals too.
                await self._own_route(scope, receive, send, failures)
                return
            await self.app(scope, receive, send)
            return
        upstream = self.routes.match(path)
        if upstream is not None:
            scope["route"] = upstream
        if failures is not None and failures.active:
            wait = failures.retry_after(self.client_address(scope))
            if wait is not None:
                await send_problem(scope, send, failures.refusal(wait))
                return
        try:
            caller = await self.auth.authenticate(scope["headers"])
        except ProblemError as exc:
            if failures is not None and exc.status == 401:
                failures.failed(self.client_address(scope))
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

    async def _own_route(self, scope: Scope, receive: Receive, send: Send, failures: AuthFailures) -> None:
        address = self.client_address(scope)
        wait = failures.retry_after(address)
        if wait is not None:
            await send_problem(scope, send, failures.refusal(wait))
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                failures.failed(address)
            await send(message)

        await self.app(scope, receive, counting_send)


def _has_authorization(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(name in (b"authorization", b"x-api-key") for name, _ in headers)


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
        service=service,
        headers={"Retry-After": str(retry_after)},
    )


def upstream_busy(service: str, bulkhead: Bulkhead) -> UpstreamBusy:
    log.warning("upstream_busy", upstream=service, in_flight=bulkhead.active, waiting=bulkhead.waiting)
    return UpstreamBusy(
        f"The {service} service has too many requests in flight; retry in a moment.",
        service=service,
        headers={"Retry-After": BUSY_RETRY_AFTER},
    )


def _url(scope: Scope, upstream: Upstream) -> URL:
    raw_path = scope.get("raw_path") or scope["path"].encode()
    try:
        return URL.build(
            scheme=upstream.scheme,
            host=upstream.host,
            port=upstream.port,
            path=raw_path.decode("latin-1"),
            query_string=scope["query_string"].decode("latin-1"),
            encoded=True,  # forward the path exactly as sent: no re-quoting, no dot-segment folding
        )
    except ValueError as exc:
        raise BadRequest("The request path or query cannot be forwarded.") from exc


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
    for raw_name, value in response.raw_headers:
        name = raw_name.lower()
        if name not in RESPONSE_DROPPED:
            headers.append((name, value))
    return {"type": "http.response.start", "status": response.status, "headers": headers}


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, or 413 as soon as it passes `limit` (whether
    Content-Length announced it or not), before anything was forwarded."""
    try:
        message = await receive()
        if not message.get("more_body"):
            if message["type"] == "http.disconnect":
                raise ClientGone("the caller disconnected")
            body: bytes = message.get("body", b"")
            if len(body) > limit:
                raise _too_large(limit)
            return body
        chunks = [message.get("body", b"")]
        size = len(chunks[0])
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone("the caller disconnected")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)
    except StarletteHTTPException as exc:
        # BodyLimitMiddleware's receive saw the body pass the limit.
        if exc.status_code != 413:
            raise
        raise _too_large(limit) from None


def _too_large(limit: int) -> ContentTooLarge:
    return ContentTooLarge(f"The request body is larger than the {limit} bytes the gateway accepts.")


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
        error.to_problem(scope.get("path")),
        status_code=error.status,
        media_type=PROBLEM_JSON,
        headers=error.headers,
    )
    await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}
