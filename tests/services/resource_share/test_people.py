import uuid

import sqlalchemy as sa

from tests.services.resource_share.helpers import SERVICE, employee_event, event


def stage_event(employee_id: str, stage: str, time: str) -> dict:
    return event(
        "employee.stage_changed",
        {
            "employee_id": employee_id,
            "org_unit_path": "/group/east/t1",
            "stage": stage,
            "previous_stage": None,
            "since": time[:10],
            "needs": [],
            "capacity": 8,
            "reason": "evaluation",
            "policy_version": 1,
        },
        subject=employee_id,
        time=time,
    )


async def person(connection, employee_id: str):
    return (
        await connection.execute(
            sa.text(
                "SELECT name, org_unit_path, stage, source_version FROM resource_share.people WHERE employee_id = :id"
            ),
            {"id": uuid.UUID(employee_id)},
        )
    ).one()


async def test_employee_and_stage_events_keep_the_local_view_and_late_events_lose(service_client, connection):
    client = await service_client("resource_share")
    employee = str(uuid.uuid4())
    batch = [
        stage_event(employee, "L1_SUBSISTENCE", "2026-10-01T00:00:00Z"),  # before the employee record: still kept
        employee_event(employee, version=1, org_unit="/group/east/t1", event_type="employee.created"),
        employee_event(employee, version=3, org_unit="/group/east/t2"),
        employee_event(employee, version=2, org_unit="/group/east/t9"),  # late: ignored
        stage_event(employee, "L2_COMFORTABLE", "2026-11-01T00:00:00Z"),
        stage_event(employee, "L1_SUBSISTENCE", "2026-10-15T00:00:00Z"),  # late: ignored
    ]
    result = await client.post("/internal/events", json=batch, headers=SERVICE)
    assert [r["status"] for r in result.json()["results"]] == ["processed"] * 6
    assert tuple(await person(connection, employee)) == ("Lin", "/group/east/t2", "L2_COMFORTABLE", 3)
    again = await client.post("/internal/events", json=batch[:1], headers=SERVICE)
    assert again.json()["results"][0]["status"] == "duplicate"
