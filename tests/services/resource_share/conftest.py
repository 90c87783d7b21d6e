"""Resource sharing asks the opportunity service whether the caller may see an
opportunity a request names. Here a small real HTTP server stands in for it:
every opportunity is visible except those a test puts in `HIDDEN_OPPORTUNITIES`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support_servers import UvicornThread, free_port

HIDDEN_OPPORTUNITIES: set[str] = set()


async def _opportunity(request: Request) -> JSONResponse:
    opportunity_id = request.path_params["opportunity_id"]
    if opportunity_id in HIDDEN_OPPORTUNITIES or not request.headers.get("authorization"):
        return JSONResponse({"status": 404}, status_code=404)
    return JSONResponse({"id": opportunity_id, "stage": "qualified"})


@pytest.fixture(scope="session")
async def opportunity_stand_in() -> AsyncIterator[str]:
    server = UvicornThread(
        Starlette(routes=[Route("/api/v1/opportunities/{opportunity_id}", _opportunity)]), free_port()
    )
    await server.start()
    yield server.url
    await server.stop()


@pytest.fixture
async def service_client(service_client, opportunity_stand_in):
    async def make(name: str, **overrides: object):
        return await service_client(name, **{"opportunity_url": opportunity_stand_in, **overrides})

    return make


def hidden_opportunity() -> uuid.UUID:
    opportunity_id = uuid.uuid4()
    HIDDEN_OPPORTUNITIES.add(str(opportunity_id))
    return opportunity_id
