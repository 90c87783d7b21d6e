"""What a service tells whom (issue 16): `/health` says up or down to anyone
and the details to an ops credential, the probes answer orchestrators
without internals, `/metrics` needs an ops JWT or the scrape token, and every
answer carries the security headers (errors and unknown paths included)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from sanlun.kernel.context import RequestContextMiddleware
from sanlun.kernel.errors import install_problem_handlers
from tests.support import auth

OPS = auth(org_unit="/group", roles=("ops",))
GROUP_ADMIN = auth(org_unit="/group", roles=("group_admin",))
REP = auth(roles=("rep",))
SCRAPE_TOKEN = "m" * 40
SECURITY = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY"}


def assert_secure(response: httpx.Response, cache_control: str = "no-store") -> None:
    for name, value in SECURITY.items():
        assert response.headers.get_list(name) == [value], (response.status_code, response.headers)
    assert response.headers.get_list("cache-control") == [cache_control]
    assert "strict-transport-security" not in response.headers
    assert "server" not in response.headers


@pytest.fixture
async def service(service_client) -> httpx.AsyncClient:
    return await service_client("employee_lifecycle", metrics_token=SCRAPE_TOKEN)


async def test_health_says_up_or_down_and_the_details_only_to_ops(service):
    anonymous = await service.get("/health")
    assert anonymous.status_code == 200 and anonymous.json() == {"status": "ok"}
    assert (await service.get("/health", headers=REP)).json() == {"status": "ok"}
    for credential in (OPS, GROUP_ADMIN):
        detailed = (await service.get("/health", headers=credential)).json()
        assert detailed["status"] == "ok" and detailed["service"] == "employee_lifecycle"
        database = detailed["checks"]["database"]
        assert database["ok"] is True and database["schema"] == "employee_lifecycle" and database["revision"]
    assert (await service.get("/health", headers={"Authorization": "Bearer nope"})).status_code == 401


async def test_the_probes_answer_without_credentials_nor_internals(service):
    assert (await service.get("/health/live")).json() == {"status": "ok", "service": "employee_lifecycle"}
    ready = await service.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "service": "employee_lifecycle", "checks": {}}
    detailed = (await service.get("/health/ready", headers=OPS)).json()
    assert detailed["checks"]["database"]["schema"] == "employee_lifecycle"


async def test_metrics_need_an_ops_jwt_or_the_scrape_token(service):
    anonymous = await service.get("/metrics")
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == "application/problem+json"
    assert (await service.get("/metrics", headers=REP)).status_code == 403
    assert (await service.get("/metrics", headers={"Authorization": "Bearer " + "n" * 40})).status_code == 401
    for headers in (OPS, GROUP_ADMIN, {"Authorization": f"Bearer {SCRAPE_TOKEN}"}):
        answer = await service.get("/metrics", headers=headers)
        assert answer.status_code == 200 and "sanlun_http_requests_total" in answer.text


async def test_every_answer_of_a_service_carries_the_security_headers(service):
    answers = [
        await service.get("/health/live"),
        await service.get("/api/v1/employees", headers=GROUP_ADMIN),
        await service.get("/api/v1/employees"),  # 401
        await service.get("/api/v1/employees/00000000-0000-0000-0000-000000000000", headers=GROUP_ADMIN),
        await service.post("/api/v1/employees", json={}, headers=GROUP_ADMIN),  # 422
        await service.get("/nowhere"),  # 404
        await service.delete("/health/live"),  # 405
        await service.post("/internal/events", json=[]),  # 401: service tokens only
        await service.get("/metrics"),
    ]
    assert [a.status_code for a in answers] == [200, 200, 401, 404, 422, 404, 405, 401, 401]
    for answer in answers:
        assert_secure(answer)


def small_app(hsts: int = 0) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/cached")
    async def cached() -> JSONResponse:
        return JSONResponse({"a": 1}, headers={"Cache-Control": "public, max-age=60"})

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    app.add_middleware(RequestContextMiddleware, service="test", hsts_max_age_seconds=hsts)
    return app


async def test_a_crash_is_answered_with_the_headers_and_a_routes_cache_control_is_kept():
    transport = httpx.ASGITransport(app=small_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        crashed = await client.get("/boom")
        assert crashed.status_code == 500 and crashed.headers["content-type"] == "application/problem+json"
        assert_secure(crashed)
        assert_secure(await client.get("/cached"), cache_control="public, max-age=60")


async def test_hsts_when_a_max_age_is_given():
    transport = httpx.ASGITransport(app=small_app(hsts=600))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for path in ("/cached", "/nowhere"):
            assert (await client.get(path)).headers.get_list("strict-transport-security") == ["max-age=600"]
