"""The importer's HTTP client: the public API through the gateway.

httpx with timeouts on every call, `X-Request-ID` on every request, an
`Idempotency-Key` on every write (one per batch, stable across the retries of
that batch), and retries only for calls that are safe to repeat: reads, and
writes carrying their key.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pydantic_core

RETRY_STATUSES = frozenset({502, 503, 504})


def encode(body: Any) -> bytes:
    """A request body as JSON (UTF-8, compact), the same bytes for the same body."""
    return pydantic_core.to_json(body)


class ApiError(Exception):
    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        self.status, self.body = status, body
        detail = body.get("detail") if isinstance(body, dict) else None
        errors = body.get("errors") if isinstance(body, dict) else None
        super().__init__(
            f"{method} {path} answered {status}: {detail or body}" + (f" {json.dumps(errors[:3])}" if errors else "")
        )


class ApiClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        run_id: str | None = None,
        timeout: float = 60.0,
        retries: int = 3,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.retries = retries
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"),
            transport=transport,
            # Bulk writes of 500 rows take seconds on a busy machine; connecting must not.
            timeout=httpx.Timeout(timeout, connect=5.0),
            headers={"Authorization": f"Bearer {token}", "User-Agent": "sanlun-import"},
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def batch_key(self, what: str, body: Any) -> str:
        """One key per batch of this run: a retry of the batch replays, a later run is a new request."""
        return self._key(what, encode(body))

    def _key(self, what: str, content: bytes) -> str:
        return f"sanlun-import-{self.run_id}-{what}-{hashlib.sha256(content).hexdigest()[:24]}"

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        repeatable: bool = False,
    ) -> httpx.Response:
        """`content`: a JSON body already encoded (`encode`), sent as it is on every attempt;
        `repeatable`: a write that changes nothing (a dry run), retried like a read."""
        safe = method == "GET" or idempotency_key is not None or repeatable
        extra = dict(headers or {})
        if idempotency_key:
            extra["Idempotency-Key"] = idempotency_key
        if json_body is not None and content is None:
            content = encode(json_body)
        if content is not None:
            extra["Content-Type"] = "application/json"
        attempt = 0
        while True:
            extra["X-Request-ID"] = f"import-{self.run_id}-{uuid.uuid4().hex[:8]}"
            try:
                response = self.http.request(method, path, content=content, params=params, headers=extra)
            except httpx.TransportError:
                if not safe or attempt >= self.retries:
                    raise
            else:
                if response.status_code not in RETRY_STATUSES or not safe or attempt >= self.retries:
                    return response
            attempt += 1
            time.sleep(min(0.5 * 2**attempt, 5))

    def call(self, method: str, path: str, **kw: Any) -> Any:
        response = self.request(method, path, **kw)
        try:
            if response.status_code >= 400:
                try:
                    body = response.json()
                except ValueError:
                    body = response.text[:500]
                raise ApiError(method, path, response.status_code, body)
            return pydantic_core.from_json(response.content) if response.content else None
        finally:
            _let_go(response)

    def post(self, path: str, body: Any, *, what: str, dry_run: bool = False) -> Any:
        """A write with its `Idempotency-Key`; a dry run (`dry_run`) carries none, since the
        server would store the key, and a dry run writes nothing: it is retried as a read is."""
        content = encode(body)  # once: the key is the digest of what is sent
        if dry_run:
            return self.call("POST", path, content=content, repeatable=True)
        return self.call("POST", path, content=content, idempotency_key=self._key(what, content))

    def get_all(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        cursor = None
        while True:
            query = {**(params or {}), "limit": 200, **({"cursor": cursor} if cursor else {})}
            page = self.call("GET", path, params=query)
            yield from page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return


def _let_go(response: httpx.Response) -> None:
    """Break the reference cycle httpx makes of every response (its stream is bound to it), once
    the response is read. Left to the cyclic garbage collector, each batch's request and response
    bodies waited for a full collection, which a process holding a large plan runs seldom: about
    10 MB of them at a time on a 100,000-deal import."""
    response.stream = httpx.ByteStream(b"")
