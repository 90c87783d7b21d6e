"""Small real HTTP servers for tests: a recording event subscriber, free ports."""

from __future__ import annotations

import asyncio
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


class UvicornThread:
    """Serve an ASGI app on 127.0.0.1:`port` inside this event loop."""

    def __init__(self, app: Any, port: int) -> None:
        self.port = port
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
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
