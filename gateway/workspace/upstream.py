"""Calls the workspace makes to the services: the caller's token, the request
id, a per-call timeout and the upstream's circuit breaker (shared with the
proxy: a timeout, an unreachable service or a 5xx it produced counts as a
failure, any other answer as a success). A failure is an `Unavailable` naming
the service, never an exception that sinks the page.

The services call each other through `sanlun.kernel.peers` (httpx); these
calls ride the proxy's pooled aiohttp session instead, so they share its
per-service connection pools (the bulkheads) and breakers and cost the
gateway what a proxied request costs. The headers are the kernel's
(`call_headers`), so a service cannot tell the two kinds of caller apart."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from gateway.resilience import NOT_UPSTREAM_FAULTS, Breakers
from gateway.settings import Settings
from sanlun.kernel.peers import call_headers

Params = Mapping[str, str | int | Sequence[str]]


class Unavailable(Exception):
    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service}: {reason}")
        self.service = service
        self.reason = reason


class NotFoundUpstream(Exception):
    """The service answered 404 (unknown or hidden record)."""


class ServiceCalls:
    def __init__(
        self, session: aiohttp.ClientSession, settings: Settings, breakers: Breakers, authorization: str
    ) -> None:
        self._session = session
        self._settings = settings
        self._breakers = breakers
        self._timeout = aiohttp.ClientTimeout(total=settings.workspace_call_timeout_seconds)
        self._headers = {"Accept": "application/json", **call_headers(authorization=authorization)}

    async def get(self, service: str, path: str, params: Params | None = None) -> Any:
        return await self._call("GET", service, path, params=params)

    async def post(self, service: str, path: str, body: Any) -> Any:
        """For reads that take a body (`…:batch-get`); never for writes."""
        return await self._call("POST", service, path, body=json.dumps(body).encode())

    async def _call(
        self, method: str, service: str, path: str, *, params: Params | None = None, body: bytes | None = None
    ) -> Any:
        breaker = self._breakers[service]
        if not breaker.allow(time.monotonic()):
            raise Unavailable(service, "circuit_open")
        url = (self._settings.service_url(service) or "").rstrip("/") + path
        headers = self._headers if body is None else {**self._headers, "Content-Type": "application/json"}
        try:
            async with self._session.request(
                method, url, params=_query(params or {}), data=body, headers=headers, timeout=self._timeout
            ) as response:
                payload = await response.read()
                status = response.status
        except TimeoutError:
            breaker.failure(time.monotonic())
            raise Unavailable(service, "timeout") from None
        except aiohttp.ClientError:
            breaker.failure(time.monotonic())
            raise Unavailable(service, "unreachable") from None
        except asyncio.CancelledError:
            breaker.neutral()  # frees a half-open trial
            raise
        if status >= 500 and status not in NOT_UPSTREAM_FAULTS:
            breaker.failure(time.monotonic())
        else:
            breaker.success()  # a 4xx too: the service answered
        if status == 404:
            raise NotFoundUpstream(path)
        if status != 200:
            raise Unavailable(service, f"answered {status}")
        try:
            return json.loads(payload)
        except ValueError:
            raise Unavailable(service, "answered invalid JSON") from None


def _query(params: Params) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, value in params.items():
        if isinstance(value, (list, tuple)):
            out += [(name, str(v)) for v in value]
        else:
            out.append((name, str(value)))
    return out
