"""Promotion of an incubation item across a real HTTP call to a running opportunity service."""

import asyncio

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.services.key_account.helpers import ADMIN, new_account, new_plan
from tests.support_processes import ServiceProcess
from tests.support_servers import UvicornThread, closed_url, free_port

pytestmark = pytest.mark.e2e


async def _account(request):
    return JSONResponse({"id": request.path_params["account_id"]})


async def _stages(request):
    ids = (await request.json())["employee_ids"]
    return JSONResponse({"items": [{"employee_id": i, "capacity": 0, "open_load": 0} for i in ids], "not_found": []})


@pytest.fixture(scope="module")
async def references_stand_in():
    """What the opportunity service asks about the references of a new deal (issue 16): the account
    lives in this test's rolled-back transaction, out of a real key account service's sight, so a
    stand-in says every account and employee exists and may be seen."""
    server = UvicornThread(
        Starlette(
            routes=[
                Route("/api/v1/accounts/{account_id}", _account),
                Route("/api/v1/employees/stages:batch-get", _stages, methods=["POST"]),
            ]
        ),
        free_port(),
    )
    await server.start()
    yield server.url
    await server.stop()


@pytest.fixture(scope="module")
def opportunity_service(committed_database_url, tmp_path_factory, references_stand_in):
    process = ServiceProcess(
        "opportunity",
        free_port(),
        database_url=committed_database_url,
        log_dir=tmp_path_factory.mktemp("logs"),
        env={
            "SANLUN_DISPATCHER_ENABLED": "false",
            "SANLUN_KEY_ACCOUNT_URL": references_stand_in,
            "SANLUN_EMPLOYEE_LIFECYCLE_URL": references_stand_in,
        },
    )
    process.start()
    yield process
    process.stop()


async def qualified_item(client) -> tuple[str, dict]:
    account = await new_account(client)
    plan = await new_plan(client, account["id"])
    items = f"/api/v1/account-plans/{plan['id']}/incubation-items"
    item = (
        await client.post(
            items,
            headers=ADMIN,
            json={
                "title": "Edge analytics",
                "amount": {"amount": "250000", "currency": "CNY"},
                "expected_close_date": "2026-12-01",
            },
        )
    ).json()
    for step in ("validated", "qualified"):
        moved = await client.patch(f"{items}/{item['id']}", json={"status": step}, headers=ADMIN)
        assert moved.status_code == 200, moved.text
    return f"{items}/{item['id']}", account


async def test_promotion_is_idempotent_with_lineage_both_ways(service_client, connection, opportunity_service):
    client = await service_client("key_account", opportunity_url=opportunity_service.url)
    url, account = await qualified_item(client)
    promoted = await client.post(f"{url}/promote", headers={**ADMIN, "X-Request-ID": "promote-test-1"})
    assert promoted.status_code == 201, promoted.text
    item = promoted.json()
    assert item["status"] == "promoted" and item["opportunity_id"] and item["promoted_at"]
    opportunity_id = item["opportunity_id"]
    assert promoted.headers["location"] == f"/api/v1/opportunities/{opportunity_id}"

    async with httpx.AsyncClient(base_url=opportunity_service.url, headers=ADMIN, timeout=5) as opp:
        opportunity = (await opp.get(f"/api/v1/opportunities/{opportunity_id}")).json()
    assert opportunity["account_id"] == account["id"]
    assert opportunity["source"] == "esp_incubation" and opportunity["amount"] == {
        "amount": "250000.00",
        "currency": "CNY",
    }
    origin = opportunity.get("origin") or {"type": opportunity.get("origin_type"), "id": opportunity.get("origin_id")}
    assert origin == {"type": "incubation_item", "id": item["id"]}

    again = await client.post(f"{url}/promote", headers=ADMIN)
    assert again.status_code == 200 and again.json()["opportunity_id"] == opportunity_id

    # Our commit lost after the opportunity was made: the retry replays the same opportunity.
    await connection.execute(
        sa.text(
            "UPDATE key_account.incubation_items"
            " SET status = 'qualified', opportunity_id = NULL, promoted_at = NULL WHERE id = :id"
        ),
        {"id": item["id"]},
    )
    retried = await client.post(f"{url}/promote", headers=ADMIN)
    assert retried.status_code == 201 and retried.json()["opportunity_id"] == opportunity_id


async def test_opportunity_service_down_leaves_item_unpromoted(service_client):
    client = await service_client("key_account", opportunity_url=closed_url())
    url, _ = await qualified_item(client)
    failed = await client.post(f"{url}/promote", headers=ADMIN)
    assert failed.status_code == 502
    assert failed.headers["content-type"] == "application/problem+json"
    assert failed.json()["service"] == "opportunity" and failed.json()["code"] == "upstream_unavailable"
    item = (await client.get(url, headers=ADMIN)).json()
    assert item["status"] == "qualified" and item["opportunity_id"] is None


async def test_opportunity_service_timeout_answers_504(service_client):
    async def hang(request):
        await asyncio.sleep(5)
        return JSONResponse({})

    server = UvicornThread(Starlette(routes=[Route("/api/v1/opportunities", hang, methods=["POST"])]), free_port())
    await server.start()
    try:
        client = await service_client("key_account", opportunity_url=server.url, http_timeout_seconds=0.3)
        url, _ = await qualified_item(client)
        failed = await client.post(f"{url}/promote", headers=ADMIN)
        assert failed.status_code == 504 and failed.json()["service"] == "opportunity"
        assert (await client.get(url, headers=ADMIN)).json()["status"] == "qualified"
    finally:
        server.server.force_exit = True
        await server.stop()
