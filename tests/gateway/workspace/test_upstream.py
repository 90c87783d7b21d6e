"""The workspace's calls share the proxy's breakers and count the same way:
a 5xx the service produced is a failure, a 4xx is an answer."""

import aiohttp
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.resilience import Breakers
from gateway.settings import Settings
from gateway.workspace.upstream import NotFoundUpstream, ServiceCalls, Unavailable
from tests.support import TEST_SECRET, TEST_SERVICE_SECRET
from tests.support_servers import UvicornThread, free_port


async def answer_status(request: Request) -> JSONResponse:
    return JSONResponse({}, status_code=int(request.path_params["status"]))


@pytest.fixture
async def upstream_url():
    server = UvicornThread(Starlette(routes=[Route("/status/{status}", answer_status)]), free_port())
    await server.start()
    yield server.url
    await server.stop()


async def test_5xx_from_the_service_counts_4xx_does_not(upstream_url):
    settings = Settings(
        environment="test",
        jwt_secret=TEST_SECRET,
        service_secret=TEST_SERVICE_SECRET,
        key_account_url=upstream_url,
    )
    breakers = Breakers(["key_account"], threshold=2, open_seconds=30)
    async with aiohttp.ClientSession() as session:
        calls = ServiceCalls(session, settings, breakers, "Bearer x")
        for status in (404, 404, 404):
            with pytest.raises(NotFoundUpstream):
                await calls.get("key_account", f"/status/{status}")
        for status in (422, 502, 504, 409):
            with pytest.raises(Unavailable):
                await calls.get("key_account", f"/status/{status}")
        assert breakers.states() == {"key_account": "closed"}
        for _ in range(2):
            with pytest.raises(Unavailable, match="answered 500"):
                await calls.get("key_account", "/status/500")
        assert breakers.states() == {"key_account": "open"}
        with pytest.raises(Unavailable, match="circuit_open"):
            await calls.get("key_account", "/status/200")
