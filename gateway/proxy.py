"""The proxy path: a pure ASGI middleware in front of FastAPI's routing.

It is the hottest code in the system, so it stays below the framework: no
Request objects, no BaseHTTPMiddleware, and one pooled aiohttp session per
process (about a fifth of httpx's CPU per proxied request, FIELD-NOTES).

For a path under `/api/v1/` it checks the bearer token first (401 without
forwarding). A path under a service's prefix is then forwarded with the same
method, raw path, query, headers (minus hop-by-hop ones) and body, and the
service's status, headers and body come back as they were sent. Anything else
goes on to the gateway's own routes, which answer unknown paths (so also
`/internal/*`, which is never routed) with a 404 problem.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import structlog
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from yarl import URL

from gateway.settings import Settings
from gateway.upstreams import PUBLIC_BASE, RouteTable, Upstream
from sanlun.kernel.auth import Principal, TokenVerifier, parse_bearer
from sanlun.kernel.errors import (
    PROBLEM_JSON,
    BadRequest,
    ProblemError,
    Unauthorized,
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
    b"host", b"expect", b"x-request-id", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host",
}
# The gateway's server and RequestContextMiddleware add their own.
RESPONSE_DROPPED = HOP_BY_HOP | {b"date", b"server", b"x-request-id"}
# A connection the service closed while idle in the pool fails before the
# request reaches it; only requests that are safe to send twice are retried.
RETRIED_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Bodies up to this size are relayed in one message; larger ones are streamed.
BUFFERED_BODY_MAX = 64 * 1024
CHUNK_SIZE = 64 * 1024

log = structlog.get_logger("sanlun.gateway.proxy")


class ClientGone(OSError):
    """The caller disconnected while its body was being forwarded."""


class Proxy:
    """The shared client session, opened and closed by the app's lifespan."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
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
            if started:
                # Status and headers are out; returning unfinished makes the
                # server cut the connection, so the caller sees a broken body.
                log.warning("upstream_broke_mid_response", upstream=upstream.service, error=type(exc).__name__)
                return
            await send_problem(scope, send, _upstream_problem(upstream, exc))
        except ProblemError as exc:
            await send_problem(scope, send, exc)

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
        if message.get("more_body"):
            data, retries = _body_stream(first, receive), 0
        else:
            data, retries = first or None, 1 if method in RETRIED_METHODS else 0
        headers = _request_headers(scope)
        while True:
            try:
                return await self.session.request(method, url, headers=headers, data=data, allow_redirects=False)
            except aiohttp.ServerDisconnectedError:
                if retries == 0:
                    raise
                retries -= 1


class ProxyMiddleware:
    def __init__(self, app: ASGIApp, *, proxy: Proxy, routes: RouteTable, verifier: TokenVerifier) -> None:
        self.app = app
        self.proxy = proxy
        self.routes = routes
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(PUBLIC_BASE):
            await self.app(scope, receive, send)
            return
        upstream = self.routes.match(path)
        if upstream is not None:
            scope["route"] = upstream
        try:
            principal = await self._authenticate(scope)
        except ProblemError as exc:
            await send_problem(scope, send, exc)
            return
        # Where RequestContextMiddleware (access log) and `authenticate` look for it.
        scope.setdefault("state", {})["principal"] = principal
        principal_var.set(principal.subject)
        if upstream is None or _has_dot_segment(path):
            await self.app(scope, receive, send)
            return
        await self.proxy.forward(scope, receive, send, upstream)

    async def _authenticate(self, scope: Scope) -> Principal:
        header = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value
                break
        principal = await self.verifier.verify(parse_bearer(header.decode("latin-1")))
        if principal.is_service:
            raise Unauthorized("A service token is not accepted on public routes.")
        return principal


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
