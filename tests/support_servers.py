"""Small real HTTP servers for tests: a recording event subscriber, free ports."""

from __future__ import annotations

import asyncio
import atexit
import socket
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Ports this test run holds closed: bound (so no other process can take them)
# but never listening (so every connection is refused). A small pool, reused.
_CLOSED: list[socket.socket] = []
_CLOSED_POOL = 8
_next_closed = 0


def _release_closed_ports() -> None:
    while _CLOSED:
        _CLOSED.pop().close()


atexit.register(_release_closed_ports)


def _closed_ports() -> list[int]:
    while len(_CLOSED) < _CLOSED_POOL:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        _CLOSED.append(sock)
    return [sock.getsockname()[1] for sock in _CLOSED]


def closed_url() -> str:
    """`http://127.0.0.1:<port>` where connecting is refused for the rest of the run."""
    global _next_closed  # noqa: PLW0603 - one rotation for the whole run
    ports = _closed_ports()
    _next_closed += 1
    return f"http://127.0.0.1:{ports[_next_closed % len(ports)]}"


def closed_peer_urls() -> dict[str, str]:
    """Every service's `<name>_url` setting at a port of its own that refuses
    connections: an in-process or child service under test never reaches a
    system that happens to run on the default ports (8001-8004)."""
    from sanlun.topology import SERVICES

    ports = _closed_ports()
    return {f"{s.name}_url": f"http://127.0.0.1:{ports[i]}" for i, s in enumerate(SERVICES)}


class UvicornThread:
    """Serve an ASGI app on 127.0.0.1:`port` inside this event loop."""

    def __init__(self, app: Any, port: int) -> None:
        self.port = port
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        self.task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.server.should_exit = False
        self.task = asyncio.create_task(self.server.serve())
        for _ in range(200):
            if self.server.started:
                return
            await asyncio.sleep(0.02)
        raise RuntimeError("server did not start")

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task:
            await self.task
        self.server.started = False


class RecordingSubscriber:
    """A subscriber outside the service under test: records what it receives;
    `mode` makes it answer 200, 500, or hang."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.mode = "ok"
        self.app = Starlette(routes=[Route("/internal/events", self.receive, methods=["POST"])])

    async def receive(self, request: Request) -> JSONResponse:
        if self.mode == "hang":
            await asyncio.sleep(30)
        if self.mode == "fail":
            return JSONResponse({"error": "boom"}, status_code=500)
        body = await request.json()
        events = body if isinstance(body, list) else [body]
        auth = request.headers.get("authorization", "")
        self.received += [{"auth": auth, **e} for e in events]
        return JSONResponse({"results": [{"id": e["id"], "status": "processed"} for e in events]})

    def for_subjects(self, subjects: set[str]) -> list[dict]:
        return [e for e in self.received if e["subject"] in subjects]
