import uuid

from sanlun.kernel.event_routes import mint_service_token
from tests.support import TEST_SERVICE_SECRET, auth

SERVICE = {"Authorization": f"Bearer {mint_service_token(TEST_SERVICE_SECRET, 'employee_lifecycle')}"}


def employee_event(employee_id: str, *, version: int, capacity: int, event_type: str = "employee.updated") -> dict:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "type": event_type,
        "source": "employee_lifecycle",
        "subject": employee_id,
        "time": "2026-11-27T00:00:00Z",
        "data": {
            "id": employee_id,
            "name": "Lin",
            "email": "lin@example.com",
            "org_unit_path": "/group/east/t1",
            "manager_id": None,
            "capacity": capacity,
            "active": True,
            "version": version,
        },
    }


async def test_employee_events_keep_the_view_and_older_versions_lose(service_client):
    client = await service_client("opportunity")
    employee = str(uuid.uuid4())
    manager = auth(org_unit="/group/east", roles=("manager",))
    for event in (
        employee_event(employee, version=1, capacity=10, event_type="employee.created"),
        employee_event(employee, version=3, capacity=30),
        employee_event(employee, version=2, capacity=20),  # arrives late: ignored
    ):
        r = await client.post("/internal/events", json=event, headers=SERVICE)
        assert r.status_code == 200 and r.json()["results"][0]["status"] == "processed"
    page = (await client.get("/api/v1/assignments/sales-people", headers=manager)).json()
    person = next(p for p in page["items"] if p["employee_id"] == employee)
    assert person["capacity"] == 30 and person["source_version"] == 3
    # Visibility: a manager elsewhere does not see them; the person sees themself.
    elsewhere = auth(org_unit="/group/west", roles=("manager",))
    assert employee not in [
        p["employee_id"]
        for p in (await client.get("/api/v1/assignments/sales-people", headers=elsewhere)).json()["items"]
    ]
    me = auth(employee=employee, org_unit="/group/east/t1", roles=("rep",))
    assert [
        p["employee_id"] for p in (await client.get("/api/v1/assignments/sales-people", headers=me)).json()["items"]
    ] == [employee]


async def test_a_failing_event_in_a_batch_fails_alone(service_client):
    client = await service_client("opportunity")
    good_id, bad_id = str(uuid.uuid4()), str(uuid.uuid4())
    good = employee_event(good_id, version=1, capacity=8, event_type="employee.created")
    bad = employee_event(bad_id, version=1, capacity=8, event_type="employee.created")
    del bad["data"]["name"]
    r = await client.post("/internal/events", json=[good, bad], headers=SERVICE)
    assert r.status_code == 200
    assert [x["status"] for x in r.json()["results"]] == ["processed", "failed"]
    assert "KeyError" in r.json()["results"][1]["error"]
    admin = auth(org_unit="/group", roles=("group_admin",))
    ids = {
        p["employee_id"]
        for p in (await client.get("/api/v1/assignments/sales-people", params={"limit": 200}, headers=admin)).json()[
            "items"
        ]
    }
    assert good_id in ids and bad_id not in ids
    # The failed event left no inbox row: its corrected redelivery is processed.
    bad["data"]["name"] = "Fixed"
    again = await client.post("/internal/events", json=[bad], headers=SERVICE)
    assert again.json()["results"][0]["status"] == "processed"
