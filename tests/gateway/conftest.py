"""Real upstreams for the gateway: the employee_lifecycle service committing
for real, an echo server that records what reached it, a server that never
answers, and the gateway itself, all served by uvicorn on free ports."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support import make_settings
from tests.support_servers import UvicornThread, closed_url, free_port

__all__ = ["closed_url"]  # tests import it from here

GatewayFactory = Callable[..., Awaitable[httpx.AsyncClient]]
SERVICE_NAMES = ("opportunity", "employee_lifecycle", "key_account", "resource_share")


class EchoUpstream:
    """Answers every request with what it received (`?reply_bytes=N` streams N
    bytes instead, `?redirect=1` answers a redirect) and records each one."""

    def __init__(self) -> None:
        self.seen: list[dict] = []
        self.url = ""
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
        self.app = Starlette(
            routes=[
                Route("/health/ready", self.not_ready),
                Route("/{path:path}", self.echo, methods=methods),
            ]
        )

    async def not_ready(self, request: Request) -> JSONResponse:
        return JSONResponse({"status": "not_ready"}, status_code=503)

    async def echo(self, request: Request) -> Response:
        body = await request.body()
        seen = {
            "method": request.method,
            "raw_path": request.scope["raw_path"].decode(),
            "query": request.url.query,
            "headers": [[k.decode(), v.decode()] for k, v in request.scope["headers"]],
            "body_len": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
        }
        self.seen.append(seen)
        if request.query_params.get("redirect"):
            return RedirectResponse("/api/v1/accounts/elsewhere", status_code=307)
        if size := int(request.query_params.get("reply_bytes", "0")):
            return StreamingResponse(
                _chunks(size), media_type="application/octet-stream", headers={"x-upstream": "echo"}
            )
        return JSONResponse(seen, status_code=200, headers={"x-upstream": "echo", "set-cookie": "echo=1; Path=/"})

    def paths(self) -> list[str]:
        return [s["raw_path"] for s in self.seen]


async def _chunks(size: int) -> AsyncIterator[bytes]:
    sent = 0
    while sent < size:
        n = min(10_000, size - sent)
        yield bytes(range(256)) * (n // 256) + bytes(n % 256)
        sent += n


class SilentUpstream:
    """Accepts connections and reads requests but never answers."""

    def __init__(self) -> None:
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)

    async def stop(self) -> None:
        for writer in self.writers:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture(scope="package")
async def employee_service(committed_database_url: str) -> AsyncIterator[str]:
    from services.employee_lifecycle.app import create_app
    from services.employee_lifecycle.settings import Settings

    settings = make_settings(Settings, database_url=committed_database_url, dispatcher_enabled=False)
    server = UvicornThread(create_app(settings), free_port())
    await server.start()
    yield server.url
    await server.stop()


@pytest.fixture(scope="package")
async def echo() -> AsyncIterator[EchoUpstream]:
    upstream = EchoUpstream()
    server = UvicornThread(upstream.app, free_port())
    await server.start()
    upstream.url = server.url
    yield upstream
    await server.stop()


@pytest.fixture
async def silent() -> AsyncIterator[SilentUpstream]:
    upstream = SilentUpstream()
    await upstream.start()
    yield upstream
    await upstream.stop()


def migrate_gateway(database_url: str) -> str:
    """The gateway's schema on `database_url` (tests/conftest.py migrates only the services)."""
    from gateway.app import MIGRATIONS_DIR
    from gateway.db import SCHEMA
    from sanlun.kernel.migrations import upgrade

    upgrade(MIGRATIONS_DIR, SCHEMA, database_url)
    return database_url


@pytest.fixture(scope="package")
def gateway_database_url(committed_database_url: str) -> str:
    """The committed database with the gateway schema migrated too."""
    return migrate_gateway(committed_database_url)


@pytest.fixture
async def start_gateway(gateway_database_url: str) -> AsyncIterator[GatewayFactory]:
    """`await start_gateway(employee_lifecycle=url, ..., **settings)`: a real
    gateway whose unnamed services are at closed ports, and a client for it."""
    from gateway.app import create_app
    from gateway.settings import Settings

    servers: list[UvicornThread] = []
    clients: list[httpx.AsyncClient] = []

    async def start(**overrides: object) -> httpx.AsyncClient:
        urls = {f"{name}_url": url for name in SERVICE_NAMES if (url := overrides.pop(name, None))}
        settings = make_settings(Settings, **{"database_url": gateway_database_url, **urls, **overrides})
        server = UvicornThread(create_app(settings), free_port())
        # As `sanlun up` and compose run it: no banner, and the client's
        # address is the peer's (X-Forwarded-For only from trusted_proxies).
        server.server.config.server_header = False
        server.server.config.proxy_headers = False
        await server.start()
        servers.append(server)
        client = httpx.AsyncClient(base_url=server.url, timeout=10)
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.aclose()
    for server in servers:
        await server.stop()
