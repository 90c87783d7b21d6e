"""Calls from one Sanlun process to another, made one way.

A `Peers` is what a service function receives to talk to the other services
while it serves one request (routers take it with `PeersDep`; service
functions never see FastAPI's `Request`). Every call through it:

- goes to `settings.service_url(service)` + path, over the process's shared
  `httpx.AsyncClient` (`app.state.http`);
- has a timeout (`settings.http_timeout_seconds` unless the call says less);
- carries `X-Request-ID` (the one of the request being served) and the
  credentials `call_headers` picks: the caller's `Authorization` on public
  routes, where the peer applies the caller's visibility; a service token on
  `/internal/...` routes, which accept nothing else;
- is retried once, on a fresh connection, only when it is safe to repeat
  (GET, or a call marked `idempotent` such as a `:batch-get` read or a POST
  with an `Idempotency-Key`) and the failure is a connection that broke, not
  a timeout: the timeout is the caller's budget;
- fails as a problem naming the service: `UpstreamTimeout` (504) when the
  peer did not answer in time, `UpstreamUnavailable` (502) when it could not
  be reached or (through `ok_json`) answered neither 2xx nor JSON. The
  transport's own error stays the problem's `__cause__`; `failure_reason`
  names it for answers that degrade instead of failing.

Batching helpers: `post_batches` (a `…:batch-get` in chunks of at most
`BATCH_SIZE` ids) and `gather_limited` (one call per item, at most N at once).
The employee lifecycle service's stages, live with a local fallback, are in
`sanlun.kernel.peer_stages`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Annotated, Any, TypeVar

import httpx
from fastapi import Depends, Request

from sanlun.kernel.context import outbound_headers
from sanlun.kernel.errors import UpstreamTimeout, UpstreamUnavailable

T = TypeVar("T")
R = TypeVar("R")

# What every call may raise; callers that degrade instead of failing catch these.
PEER_ERRORS: tuple[type[Exception], ...] = (UpstreamTimeout, UpstreamUnavailable)
BATCH_SIZE = 1000
INTERNAL_PREFIX = "/internal/"
# Connections that broke before an answer came: safe to repeat an idempotent call once.
_RETRIED = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def call_headers(*, authorization: str | None) -> dict[str, str]:
    """The headers of every call to a peer: the request id of the request
    being served, and `authorization` (a caller's token, or a service token)
    when there is one. The gateway's aiohttp calls use it too."""
    headers = outbound_headers()
    if authorization:
        headers["Authorization"] = authorization
    return headers


def failure_reason(exc: BaseException) -> str:
    """Why a peer call failed, in a word: the transport's error class
    (`ConnectError`, `ReadTimeout`, `HTTPStatusError`, `JSONDecodeError`)
    when there is one, else the exception's class."""
    cause = exc.__cause__
    return type(cause if isinstance(exc, PEER_ERRORS) and cause is not None else exc).__name__


def label(service: str) -> str:
    return service.replace("_", " ")


class Peers:
    """The other services, as one caller (a request's principal, or a job) sees them."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        service_url: Callable[[str], str | None],
        timeout_seconds: float,
        authorization: str | None = None,
        service_token: Callable[[], str] | None = None,
    ) -> None:
        if not timeout_seconds > 0:
            raise ValueError("every call between services needs a timeout")
        self._http = http
        self._service_url = service_url
        self.timeout_seconds = timeout_seconds
        self._authorization = authorization
        self._service_token = service_token

    @classmethod
    def for_request(cls, request: Request) -> Peers:
        """Calls on behalf of the caller of `request`, with this process's client and settings."""
        state = request.app.state
        return cls(
            state.http,
            service_url=state.settings.service_url,
            timeout_seconds=state.settings.http_timeout_seconds,
            authorization=request.headers.get("authorization"),
            service_token=getattr(state, "service_token", None),
        )

    def url(self, service: str, path: str) -> str:
        base = self._service_url(service)
        if not base:
            raise UpstreamUnavailable(f"No URL is configured for the {label(service)} service.", service=service)
        return base.rstrip("/") + path

    def headers(self, path: str) -> dict[str, str]:
        if path.startswith(INTERNAL_PREFIX):
            if self._service_token is None:
                raise RuntimeError("an /internal call needs a service token; this Peers has none")
            return call_headers(authorization=f"Bearer {self._service_token()}")
        return call_headers(authorization=self._authorization)

    async def request(
        self,
        method: str,
        service: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        timeout_seconds: float | None = None,
        advice: str = "try again",
    ) -> httpx.Response:
        """Any answer the peer gives (check its status); a 502/504 problem naming
        the service when there is none, ending with `advice` to the client.
        `idempotent` defaults to the method's nature, or to True when `headers`
        carry an `Idempotency-Key`."""
        url = self.url(service, path)
        sent = {**self.headers(path), **(headers or {})}
        if idempotent is None:
            idempotent = method.upper() in _IDEMPOTENT_METHODS or any(k.lower() == "idempotency-key" for k in sent)
        timeout = timeout_seconds or self.timeout_seconds
        attempts = 2 if idempotent else 1
        for attempt in range(attempts):
            try:
                return await self._http.request(method, url, params=params, json=json, headers=sent, timeout=timeout)
            except httpx.TimeoutException as exc:
                raise UpstreamTimeout(
                    f"The {label(service)} service did not answer in time; {advice}.", service=service
                ) from exc
            except _RETRIED as exc:
                if attempt + 1 < attempts:
                    continue
                raise UpstreamUnavailable(
                    f"The {label(service)} service could not be reached; {advice}.", service=service
                ) from exc
            except httpx.HTTPError as exc:
                raise UpstreamUnavailable(
                    f"The {label(service)} service could not be reached; {advice}.", service=service
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def get(
        self,
        service: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        timeout_seconds: float | None = None,
        advice: str = "try again",
    ) -> httpx.Response:
        return await self.request("GET", service, path, params=params, timeout_seconds=timeout_seconds, advice=advice)

    async def post(
        self,
        service: str,
        path: str,
        json: Any,
        *,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        timeout_seconds: float | None = None,
        advice: str = "try again",
    ) -> httpx.Response:
        """A write, unless `idempotent` (a read that takes a body) or an
        `Idempotency-Key` header makes it safe to repeat."""
        return await self.request(
            "POST",
            service,
            path,
            json=json,
            headers=headers,
            idempotent=idempotent,
            timeout_seconds=timeout_seconds,
            advice=advice,
        )

    async def post_batches(
        self, service: str, path: str, ids: Sequence[Any], *, field: str, size: int = BATCH_SIZE, **body: Any
    ) -> list[Any]:
        """A `…:batch-get` read of `ids` in chunks of at most `size`, sent at
        once: each chunk's JSON answer, in order. Any chunk failing fails all."""
        chunks = [ids[i : i + size] for i in range(0, len(ids), size)]

        async def one(chunk: Sequence[Any]) -> Any:
            response = await self.post(service, path, {field: [str(i) for i in chunk], **body}, idempotent=True)
            return ok_json(service, response)

        return list(await asyncio.gather(*(one(c) for c in chunks)))


def ok_json(service: str, response: httpx.Response) -> Any:
    """The JSON of a 2xx answer; otherwise a 502 naming the service and its status."""
    try:
        response.raise_for_status()
    except httpx.HTTPStatusError as exc:
        raise UpstreamUnavailable(
            f"The {label(service)} service answered {response.status_code}.",
            service=service,
            upstream_status=response.status_code,
        ) from exc
    try:
        return response.json()
    except ValueError as exc:
        raise UpstreamUnavailable(f"The {label(service)} service answered invalid JSON.", service=service) from exc


async def gather_limited(items: Iterable[T], call: Callable[[T], Awaitable[R]], *, concurrency: int) -> list[R]:
    """`call(item)` for every item, at most `concurrency` at once; results in order."""
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(item: T) -> R:
        async with gate:
            return await call(item)

    return list(await asyncio.gather(*(one(i) for i in items)))


async def _peers(request: Request) -> Peers:
    return Peers.for_request(request)


PeersDep = Annotated[Peers, Depends(_peers)]
