import time

from sanlun.topology import SERVICES
from tests.support import auth


async def test_health_lists_every_service_with_its_status(start_gateway, employee_service, echo, silent):
    gw = await start_gateway(
        employee_lifecycle=employee_service,
        resource_share=echo.url,  # answers /health/ready with 503
        key_account=silent.url,  # never answers
        health_timeout_seconds=0.5,
    )  # opportunity: a closed port
    started = time.monotonic()
    response = await gw.get("/health")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
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
    response = await gw.get("/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
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
    services = {s["name"]: s for s in (await gw.get("/health")).json()["services"]}
    assert services["opportunity"]["breaker"] == "open"
    assert services["employee_lifecycle"]["breaker"] == "closed"


async def test_gateway_is_live_and_ready_on_its_own(start_gateway):
    gw = await start_gateway()  # every service down: the gateway can still answer (with 502s)
    live = await gw.get("/health/live")
    assert live.json() == {"status": "ok", "service": "gateway"}
    ready = await gw.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["service"] == "gateway" and ready.json()["checks"]["proxy"]["ok"] is True
    metrics = await gw.get("/metrics")
    assert metrics.status_code == 200 and "sanlun_http_requests_total" in metrics.text


async def test_gateway_is_not_ready_while_its_schema_is_behind(start_gateway):
    import uuid

    from tests.support import admin_url_for_tests, create_database, drop_database, with_database

    admin = admin_url_for_tests()
    name = f"sanlun_gw_unmigrated_{uuid.uuid4().hex[:8]}"
    await create_database(admin, name)
    try:
        gw = await start_gateway(database_url=with_database(admin, name))
        ready = await gw.get("/health/ready")
        assert ready.status_code == 503
        database = ready.json()["checks"]["database"]
        assert database["ok"] is False and database["schema"] == "gateway" and database["revision"] is None
        from gateway.app import MIGRATIONS_DIR
        from sanlun.kernel.migrations import head_revision

        assert database["head"] == head_revision(MIGRATIONS_DIR, "gateway") is not None
    finally:
        await drop_database(admin, name)
