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


def stage_event(employee_id: str, *, stage: str, seen: str, capacity: int | None = None) -> dict:
    data: dict = {"employee_id": employee_id, "org_unit_path": "/group/east/t1", "stage": stage, "since": "2026-03-01"}
    if capacity is not None:
        data["capacity"] = capacity
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "type": "employee.stage_changed",
        "source": "employee_lifecycle",
        "subject": employee_id,
        "time": seen,
        "data": data,
    }


async def test_one_batch_applies_its_events_in_order_as_one_by_one_would(service_client):
    """The employee events of a batch are applied set-based (one statement per
    stretch of records or stages) with the same outcome as one by one: the
    same employee twice in a statement, a stale version, a stage before the
    employee, an older stage after a newer one."""
    client = await service_client("opportunity")
    e, f = str(uuid.uuid4()), str(uuid.uuid4())
    batch = [
        employee_event(e, version=1, capacity=10, event_type="employee.created"),
        stage_event(e, stage="L2_GROWTH", seen="2026-11-27T01:00:00Z", capacity=12),
        employee_event(e, version=3, capacity=30),
        employee_event(e, version=2, capacity=20),  # stale: loses
        stage_event(f, stage="L1_SUBSISTENCE", seen="2026-11-27T01:00:00Z"),  # before F exists: a placeholder
        stage_event(e, stage="L1_SUBSISTENCE", seen="2026-11-27T00:00:00Z", capacity=99),  # older: loses
        employee_event(f, version=1, capacity=5, event_type="employee.created"),
    ]
    r = await client.post("/internal/events", json=batch, headers=SERVICE)
    assert r.status_code == 200
    assert [x["status"] for x in r.json()["results"]] == ["processed"] * len(batch)
    admin = auth(org_unit="/group", roles=("group_admin",))
    page = await client.get("/api/v1/assignments/sales-people", params={"limit": 200}, headers=admin)
    people = {p["employee_id"]: p for p in page.json()["items"]}
    assert (people[e]["capacity"], people[e]["source_version"], people[e]["stage"]) == (30, 3, "L2_GROWTH")
    assert (people[f]["capacity"], people[f]["source_version"], people[f]["name"]) == (5, 1, "Lin")
    assert people[f]["stage"] == "L1_SUBSISTENCE"
    again = await client.post("/internal/events", json=batch, headers=SERVICE)
    assert [x["status"] for x in again.json()["results"]] == ["duplicate"] * len(batch)
