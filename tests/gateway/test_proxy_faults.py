"""The proxy against misbehaving upstreams (issue 13): small real servers on
port 0, a real gateway in front of them.

- a body over the limit without Content-Length is a 413 that reaches no
  service and never counts against its breaker;
- the breaker closes again once a restarted service answers, and isolated
  failures between successes never open it;
- a service that answers 500 and drops the kept-alive connection does not make
  the next (unrelated) request fail: it is retried on a fresh connection;
- a hung service costs its own callers a bounded wait (503 `upstream_busy`)
  and does not slow calls to the other services;
- only faults of the service count: 4xx never, nor a 502/504 it relays.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest

from tests.support import TEST_SECRET, TEST_SERVICE_SECRET, auth

ADMIN = auth(org_unit="/group", roles=("group_admin",))
PROBLEM = "application/problem+json"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    connection: int


@dataclass
class Connection:
    number: int
    served: int = 0
    poisoned: bool = False  # the next request on it is dropped unanswered


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"{}"
    close: bool = False  # close the connection after answering (without saying so)
    headers: list[tuple[str, str]] = field(default_factory=list)


# Returns the answer, or None to drop the connection without answering.
Behaviour = Callable[[Seen, Connection], Awaitable[Answer | None]]


async def answer_ok(seen: Seen, conn: Connection) -> Answer | None:
    return Answer()


class RawUpstream:
    """An HTTP/1.1 server on asyncio streams whose behaviour per request is a
    function: it can answer any status, keep or silently close the
    connection, or drop a request unanswered. Records every request head and
    every connection it accepted; can stop and start again on the same port."""

    def __init__(self, behaviour: Behaviour = answer_ok) -> None:
        self.behaviour = behaviour
        self.seen: list[Seen] = []
        self.connections = 0
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Like a killed process: the listener and every open connection go."""
        if self.server is None:
            return
        self.server.close()
        for writer in list(self.writers):
            writer.close()
        await self.server.wait_closed()
        self.server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        conn = Connection(self.connections)
        self.writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                request_line, *lines = head.decode("latin-1").split("\r\n")
                method, path, _ = request_line.split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
                seen = Seen(method, path, headers, b"", conn.number)
                self.seen.append(seen)
                if conn.poisoned:
                    return  # a connection the service had closed: the request is lost
                seen.body = await _read_body(reader, headers)
                answer = await self.behaviour(seen, conn)
                if answer is None:
                    return
                extra = "".join(f"{k}: {v}\r\n" for k, v in answer.headers)
                writer.write(
                    f"HTTP/1.1 {answer.status} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(answer.body)}\r\n{extra}\r\n".encode()
                    + answer.body
                )
                await writer.drain()
                conn.served += 1
                if answer.close:
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            self.writers.discard(writer)
            writer.close()


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "content-length" in headers:
        return await reader.readexactly(int(headers["content-length"]))
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readline()).strip() or b"0", 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return body
            body += chunk[:-2]
    return b""


@pytest.fixture
async def raw() -> AsyncIterator[Callable[..., Awaitable[RawUpstream]]]:
    started: list[RawUpstream] = []

    async def make(behaviour: Behaviour = answer_ok) -> RawUpstream:
        upstream = RawUpstream(behaviour)
        await upstream.start()
        started.append(upstream)
        return upstream

    yield make
    for upstream in started:
        await upstream.stop()


async def breaker_states(gw: httpx.AsyncClient) -> dict[str, str]:
    health = (await gw.get("/health", headers=ADMIN)).json()
    return {s["name"]: s["breaker"] for s in health["services"]}


async def oversized(parts: int = 4, size: int = 600) -> AsyncIterator[bytes]:
    for _ in range(parts):
        yield b"y" * size


async def test_oversized_chunked_bodies_are_413_and_never_reach_the_service_nor_trip_its_breaker(start_gateway, raw):
    upstream = await raw()
    gw = await start_gateway(key_account=upstream.url, max_body_bytes=1000, breaker_failure_threshold=2)
    for _ in range(20):
        # No Content-Length: httpx sends a generator with Transfer-Encoding: chunked.
        response = await gw.post("/api/v1/accounts", content=oversized(), headers=ADMIN)
        assert response.status_code == 413, response.text
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["code"] == "content_too_large"
    assert upstream.connections == 0 and upstream.seen == []
    assert (await breaker_states(gw))["key_account"] == "closed"
    # A chunked body within the limit is forwarded whole, with its length.
    fits = await gw.post("/api/v1/accounts", content=oversized(parts=3, size=300), headers=ADMIN)
    assert fits.status_code == 200
    assert upstream.seen[-1].body == b"y" * 900 and upstream.seen[-1].headers["content-length"] == "900"


async def test_the_breaker_closes_once_a_restarted_service_answers(start_gateway, raw):
    upstream = await raw()
    gw = await start_gateway(
        opportunity=upstream.url,
        breaker_failure_threshold=3,
        breaker_window_seconds=10,
        breaker_open_seconds=0.3,
    )
    assert (await gw.get("/api/v1/opportunities", headers=ADMIN)).status_code == 200
    await upstream.stop()
    assert [(await gw.get("/api/v1/opportunities", headers=ADMIN)).status_code for _ in range(3)] == [502] * 3
    refused = await gw.get("/api/v1/opportunities", headers=ADMIN)
    assert refused.status_code == 503 and refused.json()["code"] == "upstream_circuit_open"
    assert refused.headers["retry-after"] == "1"
    assert (await breaker_states(gw))["opportunity"] == "open"

    await upstream.start()  # the same port again
    await asyncio.sleep(0.35)
    statuses = [(await gw.get(f"/api/v1/opportunities/{i}", headers=ADMIN)).status_code for i in range(20)]
    assert statuses == [200] * 20
    assert (await breaker_states(gw))["opportunity"] == "closed"


async def test_isolated_failures_between_successes_never_open_the_breaker(start_gateway, raw):
    async def drop_every_other(seen: Seen, conn: Connection) -> Answer | None:
        return None if "drop" in seen.path else Answer()

    upstream = await raw(drop_every_other)
    gw = await start_gateway(key_account=upstream.url, breaker_failure_threshold=2, breaker_window_seconds=60)
    for _ in range(5):
        # A POST without Idempotency-Key is not retried: each drop is a 502 and a failure.
        assert (await gw.post("/api/v1/accounts/drop", json={}, headers=ADMIN)).status_code == 502
        assert (await gw.get("/api/v1/accounts", headers=ADMIN)).status_code == 200
    assert (await breaker_states(gw))["key_account"] == "closed"
    # Two in a row do open it.
    for _ in range(2):
        assert (await gw.post("/api/v1/accounts/drop", json={}, headers=ADMIN)).status_code == 502
    assert (await gw.get("/api/v1/accounts", headers=ADMIN)).status_code == 503


async def test_a_500_that_drops_the_kept_alive_connection_does_not_fail_the_next_request(start_gateway, raw):
    """The service answers 500 without `Connection: close` and then drops the
    connection: the gateway's pool holds dead connections. A request sent on
    one is retried once, on a fresh connection, not on another pooled one."""
    concurrent = 4
    all_in = asyncio.Event()
    booms = 0

    async def behaviour(seen: Seen, conn: Connection) -> Answer | None:
        nonlocal booms
        if "boom" in seen.path:
            booms += 1
            if booms >= concurrent:
                all_in.set()
            # Held until every boom has its own connection: all of them end up pooled.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_in.wait(), 2)
            conn.poisoned = True
            return Answer(status=500, body=b'{"error": "boom"}')
        return Answer()

    upstream = await raw(behaviour)
    gw = await start_gateway(key_account=upstream.url, breaker_failure_threshold=100)
    booms_answered = await asyncio.gather(
        *(gw.get(f"/api/v1/accounts/boom{i}", headers=ADMIN) for i in range(concurrent))
    )
    assert [r.status_code for r in booms_answered] == [500] * concurrent
    assert upstream.connections == concurrent

    # Unrelated callers: each first lands on a dead pooled connection.
    got = await gw.get("/api/v1/accounts/a", headers=ADMIN)
    assert got.status_code == 200, got.text
    keyed = await gw.post("/api/v1/accounts", json={"x": 1}, headers={**ADMIN, "Idempotency-Key": "k-500"})
    assert keyed.status_code == 200, keyed.text
    put = await gw.put("/api/v1/accounts/b", json={"x": 1}, headers=ADMIN)
    assert put.status_code == 200, put.text
    lost = [s for s in upstream.seen if "boom" not in s.path and s.connection <= concurrent]
    assert len(lost) == 3, "each request first went out on a dead pooled connection"
    retried = [s for s in upstream.seen if s.connection > concurrent]
    assert [s.path for s in retried] == ["/api/v1/accounts/a", "/api/v1/accounts", "/api/v1/accounts/b"]
    assert json.loads(retried[1].body) == {"x": 1}  # the buffered body went out again


async def test_a_hung_service_does_not_slow_calls_to_the_others(start_gateway, silent, raw):
    other = await raw()
    gw = await start_gateway(
        key_account=silent.url,
        employee_lifecycle=other.url,
        proxy_max_connections_per_service=4,
        proxy_max_queue_per_service=4,
        proxy_pool_timeout_seconds=0.3,
        proxy_read_timeout_get_seconds=1.0,
        health_timeout_seconds=0.3,
        breaker_failure_threshold=100,
    )
    started = time.monotonic()
    hung = [asyncio.create_task(gw.get(f"/api/v1/accounts/{i}", headers=ADMIN)) for i in range(30)]
    await asyncio.sleep(0.1)
    latencies = []
    for i in range(20):
        t = time.monotonic()
        response = await gw.get(f"/api/v1/employees/{i}", headers=ADMIN)
        latencies.append(time.monotonic() - t)
        assert response.status_code == 200
    assert max(latencies) < 0.5, latencies
    answers = await asyncio.gather(*hung)
    statuses = sorted(r.status_code for r in answers)
    # 4 in flight wait for the read timeout (504); 4 queue for 0.3 s and the
    # rest are refused at once: 503 upstream_busy with Retry-After.
    assert statuses == [503] * 26 + [504] * 4, statuses
    busy = [r for r in answers if r.status_code == 503]
    assert all(r.json()["code"] == "upstream_busy" and r.headers["retry-after"] == "1" for r in busy)
    assert all(r.json()["service"] == "key_account" for r in busy)
    assert len(silent.writers) == 4, "only the bulkhead's share reached the hung service"
    assert time.monotonic() - started < 2.5
    # Being busy is the gateway's own refusal, not a fault of the service.
    assert (await breaker_states(gw))["key_account"] == "closed"


async def test_only_faults_of_the_service_count_against_its_breaker(start_gateway, raw):
    async def by_path(seen: Seen, conn: Connection) -> Answer | None:
        status = int(seen.path.rsplit("/", 1)[1])
        return Answer(status=status, body=b'{"status": %d}' % status)

    upstream = await raw(by_path)
    gw = await start_gateway(key_account=upstream.url, breaker_failure_threshold=2)
    # Client errors, however many in a row, and 5xx that relay a peer's failure.
    for status in [400, 401, 403, 404, 409, 412, 413, 422, 429] * 2 + [502, 504, 501] * 2:
        response = await gw.get(f"/api/v1/accounts/{status}", headers=ADMIN)
        assert response.status_code == status
    assert (await breaker_states(gw))["key_account"] == "closed"
    # A 500 or 503 the service produced does count.
    assert (await gw.get("/api/v1/accounts/500", headers=ADMIN)).status_code == 500
    assert (await gw.get("/api/v1/accounts/503", headers=ADMIN)).status_code == 503
    refused = await gw.get("/api/v1/accounts/200", headers=ADMIN)
    assert refused.status_code == 503 and refused.json()["code"] == "upstream_circuit_open"


def test_read_timeouts_follow_the_route_class():
    from gateway.proxy import Proxy
    from gateway.resilience import Breakers
    from gateway.settings import Settings

    settings = Settings(
        environment="test",
        jwt_secret=TEST_SECRET,
        service_secret=TEST_SERVICE_SECRET,
        proxy_read_timeout_seconds=30,
        proxy_read_timeout_get_seconds=5,
        proxy_read_timeout_bulk_seconds=300,
        proxy_connect_timeout_seconds=1.5,
    )
    proxy = Proxy(settings, Breakers(["a"], threshold=5, open_seconds=5))
    assert proxy.timeout_for("GET", "/api/v1/accounts/1").sock_read == 5
    assert proxy.timeout_for("HEAD", "/api/v1/accounts/1").sock_read == 5
    assert proxy.timeout_for("POST", "/api/v1/accounts").sock_read == 30
    assert proxy.timeout_for("PATCH", "/api/v1/accounts/1").sock_read == 30
    assert proxy.timeout_for("POST", "/api/v1/employees:bulk-upsert").sock_read == 300
    assert proxy.timeout_for("POST", "/api/v1/accounts/bulk-upsert").sock_read == 300
    assert proxy.timeout_for("POST", "/api/v1/employees/x/stage:evaluate").sock_read == 300
    assert proxy.timeout_for("GET", "/api/v1/accounts/ops/outbox").sock_read == 300
    assert all(proxy.timeout_for(m, "/api/v1/x").sock_connect == 1.5 for m in ("GET", "POST"))
