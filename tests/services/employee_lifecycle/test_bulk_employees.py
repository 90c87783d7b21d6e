"""Bulk upsert of employees by external id: idempotent, with a per-row report."""

import sqlalchemy as sa

from tests.services.employee_lifecycle.helpers import ADMIN


def row(ext: str, **extra) -> dict:
    return {"external_id": ext, "name": ext.title(), "email": f"{ext}@maven.example", "org_unit_path": "/group/central",
            **extra}


async def test_bulk_upsert_reports_each_row_and_is_idempotent(service_client, connection):
    client = await service_client("employee_lifecycle")
    items = [
        row("agent-1", manager_external_id="mgr"),
        row("mgr", skills=["GTX"]),
        row("agent-2", email="MGR@maven.example"),
        row("agent-3", manager_external_id="nobody"),
        {"external_id": "agent-4", "name": "No email"},
    ]
    r = await client.post("/api/v1/employees:bulk-upsert", json={"items": items}, headers=ADMIN)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["created"], body["rejected"]) == (2, 3)
    assert [(x["external_id"], x["status"]) for x in body["rows"]] == [
        ("agent-1", "created"), ("mgr", "created"), ("agent-2", "rejected"), ("agent-3", "rejected"),
        ("agent-4", "rejected"),
    ]
    assert body["rows"][2]["errors"] == [{"loc": ["email"], "msg": "appears earlier in this batch"}]
    assert body["rows"][3]["errors"][0]["loc"] == ["manager_external_id"]
    assert body["rows"][4]["errors"][0]["loc"] == ["email"]
    agent = (await client.get(f"/api/v1/employees/{body['rows'][0]['id']}", headers=ADMIN)).json()
    assert agent["manager_id"] == body["rows"][1]["id"]

    again = (await client.post("/api/v1/employees:bulk-upsert", json={"items": items[:2]}, headers=ADMIN)).json()
    assert [x["status"] for x in again["rows"]] == ["unchanged", "unchanged"]
    changed = [row("agent-1", manager_external_id="mgr", capacity=5), row("mgr", skills=["GTX"])]
    third = (await client.post("/api/v1/employees:bulk-upsert", json={"items": changed}, headers=ADMIN)).json()
    assert [x["status"] for x in third["rows"]] == ["updated", "unchanged"]
    types = (await connection.execute(sa.text(
        "SELECT type FROM employee_lifecycle.outbox WHERE subscriber = 'opportunity' AND subject = :s ORDER BY id"),
        {"s": body["rows"][0]["id"]})).scalars().all()
    assert types == ["employee.created", "employee.updated"]


async def test_a_batch_where_nobody_names_a_manager_is_imported(service_client):
    """Every manager_id of the set-based update is null: it must still be typed uuid."""
    client = await service_client("employee_lifecycle")
    r = await client.post("/api/v1/employees:bulk-upsert", json={"items": [row("solo-1"), row("solo-2")]}, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert [x["status"] for x in r.json()["rows"]] == ["created", "created"]
