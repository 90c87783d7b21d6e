"""Who may read which stage: a rep themself, a manager their subtree, admins their organisation or group."""

import uuid

from tests.services.employee_lifecycle.helpers import ADMIN, evaluate, new_employee
from tests.support import auth


async def setup(client):
    east = await new_employee(client, "/group/east/team-1")
    east2 = await new_employee(client, "/group/east/team-2")
    west = await new_employee(client, "/group/west/team-1")
    for e in (east, east2, west):
        await evaluate(client, e["id"], "2017-12-31")
    return east, east2, west


async def visible_stage(client, employee_id, headers) -> int:
    return (await client.get(f"/api/v1/employees/{employee_id}/stage", headers=headers)).status_code


async def test_rep_reads_own_stage_reasons_and_history_only(service_client):
    client = await service_client("employee_lifecycle")
    east, east2, _ = await setup(client)
    rep = auth(employee=east["id"], org_unit="/group/east/team-1", roles=("rep",))
    own = await client.get(f"/api/v1/employees/{east['id']}/stage", headers=rep)
    assert own.status_code == 200 and own.json()["last_evaluation"]["reasons"]["en"]
    assert (await client.get(f"/api/v1/employees/{east['id']}/stage/history", headers=rep)).status_code == 200
    assert await visible_stage(client, east2["id"], rep) == 404
    assert (await client.get(f"/api/v1/employees/{east2['id']}/stage/history", headers=rep)).status_code == 404
    assert (await client.get(f"/api/v1/employees/{east2['id']}/signals", headers=rep)).status_code == 404
    # a rep may preview their own evaluation but not record or evaluate others
    preview = await client.post(
        f"/api/v1/employees/{east['id']}/stage:evaluate", json={"as_of": "2017-12-31", "record": False}, headers=rep
    )
    assert preview.status_code == 200
    other = await client.post(f"/api/v1/employees/{east2['id']}/stage:evaluate", json={"record": False}, headers=rep)
    assert other.status_code == 404
    many = await client.post("/api/v1/employees/stages:evaluate", json={"org_unit": "/group/east"}, headers=rep)
    assert many.status_code == 403


async def test_manager_sees_subtree(service_client):
    client = await service_client("employee_lifecycle")
    east, east2, west = await setup(client)
    manager = auth(org_unit="/group/east/team-1", roles=("manager",))
    assert await visible_stage(client, east["id"], manager) == 200
    assert await visible_stage(client, east2["id"], manager) == 404
    assert await visible_stage(client, west["id"], manager) == 404


async def test_org_admin_sees_organisation_and_group_admin_everything(service_client):
    client = await service_client("employee_lifecycle")
    east, east2, west = await setup(client)
    org_admin = auth(org_unit="/group/east", roles=("org_admin",))
    assert [await visible_stage(client, e["id"], org_admin) for e in (east, east2, west)] == [200, 200, 404]
    assert [await visible_stage(client, e["id"], ADMIN) for e in (east, east2, west)] == [200, 200, 200]


async def test_batch_get_filters_by_visibility(service_client):
    client = await service_client("employee_lifecycle")
    east, east2, west = await setup(client)
    ghost = str(uuid.uuid4())
    manager = auth(org_unit="/group/east", roles=("manager",))
    r = await client.post(
        "/api/v1/employees/stages:batch-get",
        json={"employee_ids": [east["id"], east2["id"], west["id"], ghost]},
        headers=manager,
    )
    assert r.status_code == 200
    body = r.json()
    assert sorted(i["employee_id"] for i in body["items"]) == sorted([east["id"], east2["id"]])
    assert body["not_found"] == [west["id"], ghost]
    item = next(i for i in body["items"] if i["employee_id"] == east["id"])
    assert item == {
        "employee_id": east["id"],
        "stage": "L1_SUBSISTENCE",
        "stage_since": "2017-12-31",
        "capacity": 20,
        "open_load": 0,
        "needs": ["lacks_deals", "lacks_solution_knowledge", "lacks_support"],
    }


async def test_batch_get_caps_at_1000_ids(service_client):
    client = await service_client("employee_lifecycle")
    ids = [str(uuid.uuid4()) for _ in range(1001)]
    r = await client.post("/api/v1/employees/stages:batch-get", json={"employee_ids": ids}, headers=ADMIN)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "employee_ids"]
