"""What a real HTTP server does with the connection when a request goes wrong.

In-process uvicorn (both of its HTTP parsers) and raw sockets: a client that
keeps its connection alive must be able to send the next request on it after
a 500 or a 413, or be told `Connection: close`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from fastapi import APIRouter, FastAPI
from starlette.types import Receive, Scope, Send

from sanlun.kernel.context import BodyLimitMiddleware
from services.employee_lifecycle.app import create_app
from services.employee_lifecycle.settings import Settings
from tests.support import auth, make_settings
from tests.support_servers import free_port

ADMIN = auth(org_unit="/group", roles=("group_admin",))
PROBLEM = "application/problem+json"
HTTP_IMPLEMENTATIONS = ["httptools", "h11"]


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> dict:
        return json.loads(self.body)


class Connection:
    """One kept-alive HTTP/1.1 connection, spoken by hand."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def request(self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        lines = [f"{method} {path} HTTP/1.1", "Host: test"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        await self.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    async def response(self, timeout: float = 5.0) -> Response:
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), timeout)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await asyncio.wait_for(self.reader.readexactly(int(headers.get("content-length", "0"))), timeout)
        return Response(int(status_line.split()[1]), headers, body)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


@contextlib.asynccontextmanager
async def serve(app: Any, http: str, lifespan: str = "on") -> AsyncIterator[int]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, http=http, log_level="critical", lifespan=lifespan)
    )
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(250):
            if server.started:
                break
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        else:
            raise RuntimeError("uvicorn did not start")
        yield port
    finally:
        server.should_exit = True
        if not server.started:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def service_app(database_url: str, **overrides: object) -> FastAPI:
    settings = make_settings(
        Settings,
        database_url=database_url,
        dispatcher_enabled=False,
        retention_interval_seconds=0,
        stage_schedule_seconds=0,
        **overrides,
    )
    app = create_app(settings)
    router = APIRouter()

    @router.get("/test/boom")
    async def boom() -> dict:
        raise RuntimeError("a bug")

    app.include_router(router)
    return app


def assert_problem(response: Response, status: int, code: str) -> None:
    assert response.status == status, response.body
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == code
    assert b"Traceback" not in response.body


@pytest.mark.parametrize("http", HTTP_IMPLEMENTATIONS)
async def test_a_500_leaves_the_connection_usable(database_url, http):
    async with serve(service_app(database_url), http) as port:
        conn = await Connection.open(port)
        try:
            await conn.request("GET", "/test/boom")
            failed = await conn.response()
            assert_problem(failed, 500, "internal_error")
            assert "x-request-id" in failed.headers
            if failed.headers.get("connection") != "close":
                # Kept alive, so the next request on it must work.
                await conn.request("GET", "/health/live")
                assert (await conn.response()).status == 200
        finally:
            await conn.close()


def chunk(data: bytes) -> bytes:
    return b"%x\r\n" % len(data) + data + b"\r\n"


CHUNKED = {**ADMIN, "Content-Type": "application/json", "Transfer-Encoding": "chunked"}


@pytest.mark.parametrize("http", HTTP_IMPLEMENTATIONS)
async def test_chunked_body_over_the_limit_is_413_and_the_connection_lives(database_url, http):
    async with serve(service_app(database_url, max_body_bytes=1024), http) as port:
        conn = await Connection.open(port)
        try:
            head = "POST /api/v1/employees HTTP/1.1\r\nHost: test\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in CHUNKED.items()) + "\r\n"
            await conn.send(head.encode() + chunk(b"x" * 512) * 4)
            # The answer comes once the limit is passed, before the body ends.
            refused = await conn.response()
            assert_problem(refused, 413, "content_too_large")
            assert refused.headers.get("connection") != "close"
            # The client finishes its body (a megabyte more); the server discards it.
            await conn.send(chunk(b"y" * 65536) * 16 + b"0\r\n\r\n")
            await conn.request("GET", "/health/live")
            assert (await conn.response()).status == 200
        finally:
            await conn.close()


@pytest.mark.parametrize("http", HTTP_IMPLEMENTATIONS)
async def test_declared_length_over_the_limit_is_413_and_the_connection_lives(database_url, http):
    async with serve(service_app(database_url, max_body_bytes=1024), http) as port:
        conn = await Connection.open(port)
        try:
            body = b'{"name": "' + b"x" * 100_000 + b'"}'
            head = (
                "POST /api/v1/employees HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            )
            await conn.send(head.encode())
            assert_problem(await conn.response(), 413, "content_too_large")  # before any of the body is sent
            await conn.send(body)
            await conn.request("GET", "/health/live")
            assert (await conn.response()).status == 200
        finally:
            await conn.close()


async def test_a_body_read_outside_the_routes_still_gets_413():
    """A middleware that reads the body itself (as the gateway's proxy does) is
    outside FastAPI's exception handling; the limit still answers 413, not 500."""

    async def reads_everything(scope: Scope, receive: Receive, send: Send) -> None:
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    app = BodyLimitMiddleware(reads_everything, max_bytes=1024)
    async with serve(app, "httptools", lifespan="off") as port:
        conn = await Connection.open(port)
        try:
            head = "POST /anything HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
            await conn.send(head.encode() + chunk(b"x" * 800) * 2 + b"0\r\n\r\n")
            assert_problem(await conn.response(), 413, "content_too_large")
            await conn.send(head.encode() + chunk(b"x" * 800) + b"0\r\n\r\n")
            assert (await conn.response()).status == 200
        finally:
            await conn.close()
