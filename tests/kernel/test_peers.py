"""The kernel's client for calls between services, against small real servers
on ports the system picks: what it sends, and the problem it raises when the
peer is slow, absent or breaks the connection."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sanlun.kernel import peer_stages
from sanlun.kernel.context import RequestContextMiddleware
from sanlun.kernel.errors import UpstreamTimeout, UpstreamUnavailable, install_problem_handlers
from sanlun.kernel.event_routes import SERVICE_ROLE, mint_service_token
from sanlun.kernel.logging import request_id_var
from sanlun.kernel.peers import Peers, PeersDep, failure_reason, ok_json
from sanlun.kernel.settings import ServiceSettings
from tests.support import TEST_SECRET, TEST_SERVICE_SECRET


class Served:
    """Serve an ASGI app on 127.0.0.1 at a port the system picks."""

    def __init__(self, app: object) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> str:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
            await asyncio.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = self.server.force_exit = True
        assert self.task is not None
        await self.task


class Recorder:
    def __init__(self) -> None:
        self.seen: list[Request] = []
        self.bodies: list[object] = []

    async def echo(self, request: Request) -> JSONResponse:
        self.seen.append(request)
        if request.method == "POST":
            self.bodies.append(await request.json())
        status = int(request.query_params.get("status", "200"))
        return JSONResponse({"path": request.url.path}, status_code=status)

    async def hang(self, request: Request) -> JSONResponse:
        self.seen.append(request)
        await asyncio.sleep(5)
        return JSONResponse({})

    async def stages(self, request: Request) -> JSONResponse:
        ids = (await request.json())["employee_ids"]
        self.bodies.append(ids)
        return JSONResponse(
            {
                "items": [
                    {"employee_id": i, "stage": "L2_COMFORTABLE", "capacity": 4, "open_load": 1} for i in ids[:-1]
                ],
                "not_found": ids[-1:],
            }
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/hang", self.hang, methods=["GET", "POST"]),
                Route("/api/v1/employees/stages:batch-get", self.stages, methods=["POST"]),
                Route("/{path:path}", self.echo, methods=["GET", "POST"]),
            ]
        )


@pytest.fixture
async def peer() -> AsyncIterator[tuple[str, Recorder]]:
    recorder = Recorder()
    async with Served(recorder.app()) as url:
        yield url, recorder


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def make_peers(
    http: httpx.AsyncClient, url: str, *, timeout: float = 2.0, authorization: str | None = "Bearer caller"
) -> Peers:
    return Peers(
        http,
        service_url={"key_account": url, "employee_lifecycle": url}.get,
        timeout_seconds=timeout,
        authorization=authorization,
        service_token=lambda: mint_service_token(TEST_SERVICE_SECRET, "opportunity"),
    )


def closed_port_url() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once the socket closes
    return f"http://127.0.0.1:{port}"


async def test_the_request_id_and_the_callers_token_go_to_public_routes(peer, http):
    url, recorder = peer
    token = request_id_var.set("req-7")
    try:
        await make_peers(http, url).get("key_account", "/api/v1/accounts")
    finally:
        request_id_var.reset(token)
    (seen,) = recorder.seen
    assert seen.headers["authorization"] == "Bearer caller"
    assert seen.headers["x-request-id"] == "req-7"


async def test_internal_routes_get_a_service_token_never_the_callers(peer, http):
    url, recorder = peer
    await make_peers(http, url).post("key_account", "/internal/events", [])
    (seen,) = recorder.seen
    scheme, _, bearer = seen.headers["authorization"].partition(" ")
    claims = jwt.decode(bearer, TEST_SERVICE_SECRET, algorithms=["HS256"])
    assert scheme == "Bearer" and claims["sub"] == "service:opportunity" and claims["roles"] == [SERVICE_ROLE]


async def test_a_call_without_a_caller_sends_no_authorization(peer, http):
    url, recorder = peer
    await make_peers(http, url, authorization=None).get("key_account", "/api/v1/accounts")
    assert "authorization" not in recorder.seen[0].headers


async def test_a_peer_that_does_not_answer_in_time_is_a_504_naming_it_and_is_not_retried(peer, http):
    url, recorder = peer
    started = asyncio.get_running_loop().time()
    with pytest.raises(UpstreamTimeout) as caught:
        await make_peers(http, url, timeout=0.3).get("key_account", "/hang")
    assert asyncio.get_running_loop().time() - started < 2
    problem = caught.value.to_problem()
    assert problem["status"] == 504 and problem["service"] == "key_account"
    assert "key account service did not answer in time" in problem["detail"]
    assert len(recorder.seen) == 1  # the timeout is the caller's budget: no second try
    assert failure_reason(caught.value) == "ReadTimeout"


async def test_a_refused_connection_is_a_502_naming_the_service(http):
    peers = make_peers(http, closed_port_url())
    with pytest.raises(UpstreamUnavailable) as caught:
        await peers.get("employee_lifecycle", "/api/v1/employees/x", advice="the record stays as it was")
    problem = caught.value.to_problem()
    assert problem["status"] == 502 and problem["service"] == "employee_lifecycle"
    assert problem["detail"] == "The employee lifecycle service could not be reached; the record stays as it was."
    assert failure_reason(caught.value) == "ConnectError"


async def test_a_service_without_a_url_is_a_502_naming_it(http):
    peers = Peers(http, service_url=lambda name: None, timeout_seconds=1)
    with pytest.raises(UpstreamUnavailable, match="No URL"):
        await peers.get("opportunity", "/api/v1/opportunities")


def test_every_call_has_a_timeout():
    with pytest.raises(ValueError, match="needs a timeout"):
        Peers(httpx.AsyncClient(), service_url=lambda name: None, timeout_seconds=0)


class DropsFirstConnections:
    """A raw server that reads a request and hangs up without answering on
    its first `drops` connections (a stale keep-alive, a restarting peer),
    then answers 200."""

    def __init__(self, drops: int) -> None:
        self.drops = drops
        self.requests = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0
        )
        await reader.readexactly(length)
        self.requests += 1
        if self.requests <= self.drops:
            writer.close()
            return
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}"
        )
        await writer.drain()
        writer.close()


@pytest.fixture
async def flaky() -> AsyncIterator[tuple[str, DropsFirstConnections]]:
    handler = DropsFirstConnections(drops=1)
    server = await asyncio.start_server(handler.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}", handler


async def test_a_broken_connection_is_retried_once_for_a_read(flaky, http):
    url, handler = flaky
    response = await make_peers(http, url).get("key_account", "/api/v1/accounts/1/coverage")
    assert response.status_code == 200 and handler.requests == 2


async def test_a_write_is_never_repeated(flaky, http):
    url, handler = flaky
    with pytest.raises(UpstreamUnavailable):
        await make_peers(http, url).post("key_account", "/api/v1/accounts", {"name": "x"})
    assert handler.requests == 1


async def test_a_write_with_an_idempotency_key_or_a_batch_read_may_be_repeated(flaky, http):
    url, handler = flaky
    peers = make_peers(http, url)
    response = await peers.post("key_account", "/api/v1/accounts", {"name": "x"}, headers={"Idempotency-Key": "k-1"})
    assert response.status_code == 200 and handler.requests == 2
    handler.requests, handler.drops = 0, 1
    response = await peers.post("key_account", "/api/v1/accounts:batch-get", {"ids": []}, idempotent=True)
    assert response.status_code == 200 and handler.requests == 2


async def test_ok_json_makes_an_error_answer_a_502_with_the_status(peer, http):
    url, _ = peer
    response = await make_peers(http, url).get("key_account", "/x", params={"status": "503"})
    with pytest.raises(UpstreamUnavailable) as caught:
        ok_json("key_account", response)
    assert caught.value.to_problem()["upstream_status"] == 503
    assert failure_reason(caught.value) == "HTTPStatusError"


async def test_post_batches_sends_chunks_of_at_most_the_batch_size(peer, http):
    url, recorder = peer
    answers = await make_peers(http, url).post_batches("key_account", "/batch", list(range(5)), field="ids", size=2)
    assert [a["path"] for a in answers] == ["/batch"] * 3
    assert sorted(map(len, (b["ids"] for b in recorder.bodies))) == [1, 2, 2]


async def test_routes_get_peers_for_their_caller_and_failures_render_as_problems(peer, http):
    url, recorder = peer
    settings = ServiceSettings(
        environment="test",
        jwt_secret=TEST_SECRET,
        service_secret=TEST_SERVICE_SECRET,
        key_account_url=url,
        opportunity_url=closed_port_url(),
    )
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware, service="test")
    app.state.settings, app.state.http = settings, http

    @app.get("/probe/{service}")
    async def probe(service: str, peers: PeersDep) -> dict[str, int]:
        return {"status": (await peers.get(service, "/api/v1/accounts")).status_code}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client:
        headers = {"Authorization": "Bearer someone", "X-Request-ID": "req-9"}
        assert (await client.get("/probe/key_account", headers=headers)).json() == {"status": 200}
        failed = await client.get("/probe/opportunity", headers=headers)
    assert recorder.seen[0].headers["authorization"] == "Bearer someone"
    assert recorder.seen[0].headers["x-request-id"] == "req-9"
    assert failed.status_code == 502 and failed.headers["content-type"] == "application/problem+json"
    assert failed.json()["service"] == "opportunity" and failed.json()["code"] == "upstream_unavailable"


async def test_stages_come_live_in_batches(peer, http):
    url, _ = peer
    ids = [uuid.uuid4() for _ in range(3)]

    async def local(asked: list[uuid.UUID]):
        return {i: peer_stages.StageInfo("L1_SUBSISTENCE") for i in asked}, None

    stages = await peer_stages.fetch(make_peers(http, url), ids, local=local)
    assert stages.source == "live" and stages.note is None
    assert stages.by_employee[ids[0]] == peer_stages.StageInfo("L2_COMFORTABLE", 4, 1)
    assert stages.not_found == [ids[2]] and stages.stage(ids[2]) is None
    filled = await peer_stages.fetch(make_peers(http, url), ids, local=local, fill_missing=True)
    assert filled.stage(ids[2]) == "L1_SUBSISTENCE" and filled.stage(ids[0]) == "L2_COMFORTABLE"


async def test_stages_fall_back_to_the_local_view_and_say_why(http):
    ids = [uuid.uuid4()]
    seen_at = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)

    async def local(asked: list[uuid.UUID]):
        return {i: peer_stages.StageInfo("L3_AFFLUENT", 2) for i in asked}, seen_at

    stages = await peer_stages.fetch(make_peers(http, closed_port_url()), ids, local=local)
    assert (stages.source, stages.as_of, stages.stage(ids[0])) == ("cached", seen_at, "L3_AFFLUENT")
    assert stages.note is not None and stages.note.startswith("employee lifecycle service unavailable (ConnectError)")
