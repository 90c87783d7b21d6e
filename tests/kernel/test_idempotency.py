import asyncio
import uuid

import httpx
import pytest

from tests.support import TEST_SECRET, TEST_SERVICE_SECRET, auth

ADMIN = auth(org_unit="/group", roles=("group_admin",))


def new_employee() -> dict:
    return {"name": "Idem", "email": f"idem-{uuid.uuid4().hex[:8]}@example.com", "org_unit_path": "/group/idem"}


async def test_same_key_same_body_replays(service_client):
    client = await service_client("employee_lifecycle")
    body, headers = new_employee(), {**ADMIN, "Idempotency-Key": uuid.uuid4().hex}
    first = await client.post("/api/v1/employees", json=body, headers=headers)
    second = await client.post("/api/v1/employees", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["idempotent-replayed"] == "true"
    listed = (await client.get("/api/v1/employees", params={"email": body["email"]}, headers=ADMIN)).json()
    assert len(listed["items"]) == 1


async def test_same_key_other_body_is_422(service_client):
    client = await service_client("employee_lifecycle")
    headers = {**ADMIN, "Idempotency-Key": uuid.uuid4().hex}
    assert (await client.post("/api/v1/employees", json=new_employee(), headers=headers)).status_code == 201
    again = await client.post("/api/v1/employees", json=new_employee(), headers=headers)
    assert again.status_code == 422
    assert again.json()["code"] == "idempotency_key_reused"


async def test_failed_request_releases_the_key(service_client):
    client = await service_client("employee_lifecycle")
    headers = {**ADMIN, "Idempotency-Key": uuid.uuid4().hex}
    bad = {**new_employee(), "manager_id": str(uuid.uuid4())}
    assert (await client.post("/api/v1/employees", json=bad, headers=headers)).status_code == 422
    # The corrected request is new work under a key nothing was stored for.
    bad.pop("manager_id")
    assert (await client.post("/api/v1/employees", json=bad, headers=headers)).status_code == 201


async def test_keys_are_per_principal(service_client):
    client = await service_client("employee_lifecycle")
    key = uuid.uuid4().hex
    a = auth(org_unit="/group", roles=("group_admin",))
    b = auth(org_unit="/group", roles=("group_admin",))
    r1 = await client.post("/api/v1/employees", json=new_employee(), headers={**a, "Idempotency-Key": key})
    r2 = await client.post("/api/v1/employees", json=new_employee(), headers={**b, "Idempotency-Key": key})
    assert r1.status_code == r2.status_code == 201 and r1.json()["id"] != r2.json()["id"]


@pytest.fixture
async def committed_client(committed_database_url):
    """The service on a real engine: requests commit, as in production."""
    from services.employee_lifecycle.app import create_app
    from services.employee_lifecycle.settings import Settings

    settings = Settings(database_url=committed_database_url, environment="test", jwt_secret=TEST_SECRET,
                        service_secret=TEST_SERVICE_SECRET, dispatcher_enabled=False)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://el") as client:
            yield client


async def test_concurrent_duplicates_create_one_record(committed_client):
    body, headers = new_employee(), {**ADMIN, "Idempotency-Key": uuid.uuid4().hex}
    responses = await asyncio.gather(
        *(committed_client.post("/api/v1/employees", json=body, headers=headers) for _ in range(5))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    listed = (await committed_client.get("/api/v1/employees", params={"email": body["email"]}, headers=ADMIN)).json()
    assert len(listed["items"]) == 1
