import uuid

from tests.services.employee_lifecycle.helpers import ADMIN, ensure_unit
from tests.support import auth


def new_employee(org_unit: str = "/group/east/team-1", **extra: object) -> dict:
    return {"name": "Ada Lin", "email": f"ada-{uuid.uuid4().hex[:8]}@example.com", "org_unit_path": org_unit, **extra}


async def test_create_get_update_list(service_client):
    client = await service_client("employee_lifecycle")
    for unit in ("/group/east/team-1", "/group/eastern", "/group/west"):
        await ensure_unit(client, unit)
    created = await client.post("/api/v1/employees", json=new_employee(capacity=12), headers=ADMIN)
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["location"] == f"/api/v1/employees/{body['id']}"
    got = await client.get(f"/api/v1/employees/{body['id']}", headers=ADMIN)
    assert got.json()["capacity"] == 12
    assert got.headers["etag"] == '"1"'
    patched = await client.patch(
        f"/api/v1/employees/{body['id']}", json={"capacity": 3}, headers={**ADMIN, "If-Match": '"1"'}
    )
    assert patched.status_code == 200 and patched.json()["capacity"] == 3
    listed = await client.get("/api/v1/employees", params={"org_unit": "/group/east"}, headers=ADMIN)
    assert [e["id"] for e in listed.json()["items"]] == [body["id"]]


async def test_rep_sees_only_themself(service_client):
    client = await service_client("employee_lifecycle")
    for unit in ("/group/east/team-1", "/group/eastern", "/group/west"):
        await ensure_unit(client, unit)
    a = (await client.post("/api/v1/employees", json=new_employee(), headers=ADMIN)).json()
    b = (await client.post("/api/v1/employees", json=new_employee(), headers=ADMIN)).json()
    rep_a = auth(employee=a["id"], org_unit="/group/east/team-1", roles=("rep",))
    assert (await client.get(f"/api/v1/employees/{a['id']}", headers=rep_a)).status_code == 200
    other = await client.get(f"/api/v1/employees/{b['id']}", headers=rep_a)
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
    listed = (await client.get("/api/v1/employees", headers=rep_a)).json()
    assert [e["id"] for e in listed["items"]] == [a["id"]]


async def test_manager_sees_subtree_only(service_client):
    client = await service_client("employee_lifecycle")
    for unit in ("/group/east/team-1", "/group/eastern", "/group/west"):
        await ensure_unit(client, unit)
    inside = (await client.post("/api/v1/employees", json=new_employee("/group/east/team-1"), headers=ADMIN)).json()
    sibling = (await client.post("/api/v1/employees", json=new_employee("/group/eastern"), headers=ADMIN)).json()
    manager = auth(org_unit="/group/east", roles=("manager",))
    assert (await client.get(f"/api/v1/employees/{inside['id']}", headers=manager)).status_code == 200
    # `/group/eastern` shares a string prefix with `/group/east` but is not below it.
    assert (await client.get(f"/api/v1/employees/{sibling['id']}", headers=manager)).status_code == 404


async def test_rep_cannot_create(service_client):
    client = await service_client("employee_lifecycle")
    for unit in ("/group/east/team-1", "/group/eastern", "/group/west"):
        await ensure_unit(client, unit)
    response = await client.post("/api/v1/employees", json=new_employee(), headers=auth(roles=("rep",)))
    assert response.status_code == 403


async def test_org_admin_cannot_place_outside_organisation(service_client):
    client = await service_client("employee_lifecycle")
    for unit in ("/group/east/team-1", "/group/eastern", "/group/west"):
        await ensure_unit(client, unit)
    west_admin = auth(org_unit="/group/west", roles=("org_admin",))
    response = await client.post("/api/v1/employees", json=new_employee("/group/east/team-1"), headers=west_admin)
    # Another organisation's unit is unknown to the west admin: the 422 of a unit that does not exist.
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"loc": ["body", "org_unit_path"], "msg": "no org unit at this path that you may see"}
    ]


async def test_duplicate_email_conflicts_with_field(service_client):
    client = await service_client("employee_lifecycle")
    for unit in ("/group/east/team-1", "/group/eastern", "/group/west"):
        await ensure_unit(client, unit)
    data = new_employee()
    assert (await client.post("/api/v1/employees", json=data, headers=ADMIN)).status_code == 201
    again = await client.post("/api/v1/employees", json={**data, "name": "Other"}, headers=ADMIN)
    assert again.status_code == 409
    assert again.json()["errors"][0]["loc"] == ["body", "email"]


async def test_unknown_manager_is_named(service_client):
    client = await service_client("employee_lifecycle")
    for unit in ("/group/east/team-1", "/group/eastern", "/group/west"):
        await ensure_unit(client, unit)
    response = await client.post("/api/v1/employees", json=new_employee(manager_id=str(uuid.uuid4())), headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "manager_id"]
