"""Circuit breakers, retries of what is safe to repeat, CORS and the body limit."""

import asyncio
import time

import pytest

from tests.support import auth

ADMIN = auth(org_unit="/group", roles=("group_admin",))


class FlakyUpstream:
    """Drops the first `drops` connections after reading the request (the
    connection closes with no answer), then answers 200."""

    def __init__(self, drops: int) -> None:
        self.drops = drops
        self.requests = 0
        self.url = ""
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0
        )
        if length:
            await reader.readexactly(length)
        self.requests += 1
        if self.drops > 0:
            self.drops -= 1
        else:
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
            )
            await writer.drain()
        writer.close()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def flaky():
    upstreams: list[FlakyUpstream] = []

    async def make(drops: int) -> FlakyUpstream:
        upstream = FlakyUpstream(drops)
        await upstream.start()
        upstreams.append(upstream)
        return upstream

    yield make
    for u in upstreams:
        await u.stop()


async def test_a_dead_service_opens_its_breaker_and_then_answers_fast(start_gateway, echo):
    gw = await start_gateway(key_account=echo.url, breaker_failure_threshold=3, breaker_open_seconds=30)
    statuses = [(await gw.get("/api/v1/opportunities", headers=ADMIN)).status_code for _ in range(3)]
    assert statuses == [502, 502, 502]
    started = time.monotonic()
    refused = await gw.get("/api/v1/opportunities/x", headers=ADMIN)
    assert time.monotonic() - started < 0.2
    assert refused.status_code == 503
    body = refused.json()
    assert body["code"] == "upstream_circuit_open" and body["service"] == "opportunity"
    assert 25 <= int(refused.headers["retry-after"]) <= 30
    # Other services are not affected.
    assert (await gw.get("/api/v1/accounts", headers=ADMIN)).status_code == 200
    ready = (await gw.get("/health/ready", headers=ADMIN)).json()
    assert ready["checks"]["breakers"]["states"]["opportunity"] == "open"


async def test_a_hanging_service_trips_the_breaker_and_recovers_after_the_trial(start_gateway, silent, echo):
    gw = await start_gateway(
        resource_share=silent.url,
        proxy_read_timeout_get_seconds=0.3,
        breaker_failure_threshold=1,
        breaker_open_seconds=0.5,
    )
    assert (await gw.get("/api/v1/resources", headers=ADMIN)).status_code == 504
    started = time.monotonic()
    assert (await gw.get("/api/v1/resources", headers=ADMIN)).status_code == 503
    assert time.monotonic() - started < 0.2
    await asyncio.sleep(0.6)
    # The half-open trial fails again (still hanging): open once more.
    assert (await gw.get("/api/v1/resources", headers=ADMIN)).status_code == 504
    assert (await gw.get("/api/v1/resources", headers=ADMIN)).status_code == 503


async def test_only_requests_safe_to_repeat_are_retried(start_gateway, flaky):
    upstream = await flaky(drops=1)
    gw = await start_gateway(key_account=upstream.url)
    got = await gw.get("/api/v1/accounts", headers=ADMIN)
    assert got.status_code == 200 and upstream.requests == 2

    upstream.drops, upstream.requests = 1, 0
    put = await gw.put("/api/v1/accounts/a", json={"x": 1}, headers=ADMIN)
    assert put.status_code == 200 and upstream.requests == 2

    upstream.drops, upstream.requests = 1, 0
    post = await gw.post("/api/v1/accounts", json={"x": 1}, headers=ADMIN)
    assert post.status_code == 502 and upstream.requests == 1

    upstream.drops, upstream.requests = 1, 0
    keyed = await gw.post("/api/v1/accounts", json={"x": 1}, headers={**ADMIN, "Idempotency-Key": "k1"})
    assert keyed.status_code == 200 and upstream.requests == 2


async def test_cors_answers_preflights_and_exposes_the_headers_frontends_need(start_gateway, echo):
    gw = await start_gateway(key_account=echo.url, cors_origins=["https://app.example"])
    preflight = await gw.options(
        "/api/v1/accounts",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization,if-match",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert "PATCH" in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["access-control-max-age"] == "600"
    stranger = await gw.options(
        "/api/v1/accounts",
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "GET",
        },
    )
    assert stranger.status_code == 400 and "access-control-allow-origin" not in stranger.headers
    simple = await gw.get("/api/v1/accounts", headers={**ADMIN, "Origin": "https://app.example"})
    assert simple.headers["access-control-allow-origin"] == "https://app.example"
    assert "ratelimit-remaining" in simple.headers["access-control-expose-headers"].lower()
    unauthorised = await gw.get("/api/v1/accounts", headers={"Origin": "https://app.example"})
    assert unauthorised.status_code == 401
    assert unauthorised.headers["access-control-allow-origin"] == "https://app.example"


async def test_no_cors_headers_unless_origins_are_configured(start_gateway, echo):
    gw = await start_gateway(key_account=echo.url)
    response = await gw.get("/api/v1/accounts", headers={**ADMIN, "Origin": "https://app.example"})
    assert "access-control-allow-origin" not in response.headers


async def test_bodies_over_the_limit_are_refused_without_forwarding(start_gateway, echo):
    gw = await start_gateway(key_account=echo.url, max_body_bytes=1000)
    before = len(echo.seen)
    sized = await gw.post("/api/v1/accounts", content=b"x" * 2000, headers=ADMIN)
    assert sized.status_code == 413 and sized.headers["content-type"] == "application/problem+json"

    async def chunks():
        for _ in range(4):
            yield b"y" * 600

    streamed = await gw.post("/api/v1/accounts", content=chunks(), headers=ADMIN)
    assert streamed.status_code == 413
    assert streamed.json()["code"] == "content_too_large"
    assert len(echo.seen) == before
    assert (await gw.post("/api/v1/accounts", content=b"z" * 900, headers=ADMIN)).status_code == 200
