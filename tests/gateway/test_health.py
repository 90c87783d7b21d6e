"""The gateway's `/health`, probes and metrics: up or down for anyone, the
details (services' URLs, breakers, schema revisions) and the metrics for an
ops credential only (issue 16)."""

import time

import pytest

from sanlun.topology import SERVICES
from tests.support import auth

OPS = auth(org_unit="/group", roles=("ops",))
GROUP_ADMIN = auth(org_unit="/group", roles=("group_admin",))
REP = auth(roles=("rep",))


async def test_health_lists_every_service_with_its_status(start_gateway, employee_service, echo, silent):
    gw = await start_gateway(
        employee_lifecycle=employee_service,
        resource_share=echo.url,  # answers /health/ready with 503
        key_account=silent.url,  # never answers
        health_timeout_seconds=0.5,
    )  # opportunity: a closed port
    started = time.monotonic()
    response = await gw.get("/health", headers=OPS)
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    services = {s["name"]: s for s in body["services"]}
    assert {name: s["status"] for name, s in services.items()} == {
        "opportunity": "unreachable",
        "employee_lifecycle": "ready",
        "key_account": "unreachable",
        "resource_share": "not_ready",
    }
    assert services["employee_lifecycle"]["url"] == employee_service
    assert services["resource_share"]["url"] == echo.url
    assert services["key_account"]["latency_ms"] >= 450
    assert all(isinstance(s["latency_ms"], float) for s in services.values())
    # Probing is not traffic: the breakers stay as they were.
    assert {s["breaker"] for s in services.values()} == {"closed"}
    assert elapsed < 3


async def test_health_is_200_when_every_service_is_ready(start_gateway, employee_service):
    gw = await start_gateway(**{s.name: employee_service for s in SERVICES})
    response = await gw.get("/health", headers=GROUP_ADMIN)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert [s["name"] for s in body["services"]] == [s.name for s in SERVICES]
    assert {s["status"] for s in body["services"]} == {"ready"}
    assert {s["breaker"] for s in body["services"]} == {"closed"}


async def test_health_shows_an_open_breaker(start_gateway, employee_service):
    gw = await start_gateway(
        employee_lifecycle=employee_service,
        breaker_failure_threshold=1,
        breaker_open_seconds=30,
    )  # opportunity: a closed port
    admin = auth(org_unit="/group", roles=("group_admin",))
    assert (await gw.get("/api/v1/opportunities", headers=admin)).status_code == 502
    services = {s["name"]: s for s in (await gw.get("/health", headers=OPS)).json()["services"]}
    assert services["opportunity"]["breaker"] == "open"
    assert services["employee_lifecycle"]["breaker"] == "closed"


async def test_gateway_is_live_and_ready_on_its_own(start_gateway):
    gw = await start_gateway()  # every service down: the gateway can still answer (with 502s)
    live = await gw.get("/health/live")
    assert live.json() == {"status": "ok", "service": "gateway"}
    ready = await gw.get("/health/ready", headers=OPS)
    assert ready.status_code == 200
    assert ready.json()["service"] == "gateway" and ready.json()["checks"]["proxy"]["ok"] is True
    metrics = await gw.get("/metrics", headers=OPS)
    assert metrics.status_code == 200 and "sanlun_http_requests_total" in metrics.text


async def test_gateway_is_not_ready_while_its_schema_is_behind(start_gateway):
    import uuid

    from tests.support import admin_url_for_tests, create_database, drop_database, with_database

    admin = admin_url_for_tests()
    name = f"sanlun_gw_unmigrated_{uuid.uuid4().hex[:8]}"
    await create_database(admin, name)
    try:
        gw = await start_gateway(database_url=with_database(admin, name))
        assert (await gw.get("/health/ready")).json() == {"status": "not_ready", "service": "gateway", "checks": {}}
        ready = await gw.get("/health/ready", headers=OPS)
        assert ready.status_code == 503
        database = ready.json()["checks"]["database"]
        assert database["ok"] is False and database["schema"] == "gateway" and database["revision"] is None
        from gateway.app import MIGRATIONS_DIR
        from sanlun.kernel.migrations import head_revision

        assert database["head"] == head_revision(MIGRATIONS_DIR, "gateway") is not None
    finally:
        await drop_database(admin, name)


# --- what an anonymous caller learns -----------------------------------------------


async def test_anonymous_health_says_only_up_or_down(start_gateway, employee_service, echo):
    gw = await start_gateway(**{s.name: employee_service for s in SERVICES})
    up = await gw.get("/health")
    assert up.status_code == 200 and up.json() == {"status": "ok"}
    # A valid token without an ops role learns no more.
    assert (await gw.get("/health", headers=REP)).json() == {"status": "ok"}

    down = await start_gateway(employee_lifecycle=employee_service, resource_share=echo.url)
    answer = await down.get("/health")
    assert answer.status_code == 503 and answer.json() == {"status": "unavailable"}
    for text in (employee_service, echo.url, "127.0.0.1", "breaker", "services"):
        assert text not in answer.text


async def test_probes_answer_orchestrators_without_credentials_nor_internals(start_gateway):
    gw = await start_gateway()
    live = await gw.get("/health/live")
    assert live.status_code == 200 and live.json() == {"status": "ok", "service": "gateway"}
    ready = await gw.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "service": "gateway", "checks": {}}


@pytest.mark.parametrize("path", ["/health", "/health/ready", "/metrics"])
async def test_a_credential_that_is_sent_must_be_valid(start_gateway, path):
    gw = await start_gateway()
    bad = await gw.get(path, headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401, bad.text
    assert bad.headers["content-type"] == "application/problem+json"
    expired = await gw.get(path, headers=auth(org_unit="/group", roles=("ops",), ttl=-10))
    assert expired.status_code == 401


async def test_metrics_need_an_ops_credential_or_the_scrape_token(start_gateway):
    scrape = "s" * 40
    gw = await start_gateway(metrics_token=scrape)
    anonymous = await gw.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert "sanlun_" not in anonymous.text
    assert (await gw.get("/metrics", headers=REP)).status_code == 403
    assert (await gw.get("/metrics", headers={"Authorization": "Bearer " + "t" * 40})).status_code == 401
    for headers in (OPS, GROUP_ADMIN, {"Authorization": f"Bearer {scrape}"}):
        answer = await gw.get("/metrics", headers=headers)
        assert answer.status_code == 200, answer.text
        assert "sanlun_http_requests_total" in answer.text


async def test_the_scrape_token_is_refused_when_none_is_configured(start_gateway):
    gw = await start_gateway()
    assert (await gw.get("/metrics", headers={"Authorization": "Bearer " + "s" * 40})).status_code == 401
