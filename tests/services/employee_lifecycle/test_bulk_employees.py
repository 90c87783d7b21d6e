"""Bulk upsert of employees by external id: idempotent, with a per-row report."""

import sqlalchemy as sa

from tests.services.employee_lifecycle.helpers import ADMIN, ensure_unit


def row(ext: str, **extra) -> dict:
    return {
        "external_id": ext,
        "name": ext.title(),
        "email": f"{ext}@maven.example",
        "org_unit_path": "/group/central",
        **extra,
    }


async def test_bulk_upsert_reports_each_row_and_is_idempotent(service_client, connection):
    client = await service_client("employee_lifecycle")
    await ensure_unit(client, "/group/central")
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
    assert (body["created"], body["failed"]) == (2, 3)
    assert [(x["external_id"], x["status"]) for x in body["results"]] == [
        ("agent-1", "created"),
        ("mgr", "created"),
        ("agent-2", "failed"),
        ("agent-3", "failed"),
        ("agent-4", "failed"),
    ]
    assert body["results"][2]["errors"] == [
        {"loc": ["body", "items", 2, "email"], "msg": "appears earlier in this batch"}
    ]
    assert body["results"][3]["errors"][0]["loc"] == ["body", "items", 3, "manager_external_id"]
    assert body["results"][4]["errors"][0]["loc"] == ["body", "items", 4, "email"]
    agent = (await client.get(f"/api/v1/employees/{body['results'][0]['id']}", headers=ADMIN)).json()
    assert agent["manager_id"] == body["results"][1]["id"]

    again = (await client.post("/api/v1/employees:bulk-upsert", json={"items": items[:2]}, headers=ADMIN)).json()
    assert [x["status"] for x in again["results"]] == ["unchanged", "unchanged"]
    changed = [row("agent-1", manager_external_id="mgr", capacity=5), row("mgr", skills=["GTX"])]
    third = (await client.post("/api/v1/employees:bulk-upsert", json={"items": changed}, headers=ADMIN)).json()
    assert [x["status"] for x in third["results"]] == ["updated", "unchanged"]
    types = (
        (
            await connection.execute(
                sa.text(
                    "SELECT type FROM employee_lifecycle.outbox"
                    " WHERE subscriber = 'opportunity' AND subject = :s ORDER BY id"
                ),
                {"s": body["results"][0]["id"]},
            )
        )
        .scalars()
        .all()
    )
    assert types == ["employee.created", "employee.updated"]


async def test_a_batch_where_nobody_names_a_manager_is_imported(service_client):
    """Every manager_id of the set-based update is null: it must still be typed uuid."""
    client = await service_client("employee_lifecycle")
    await ensure_unit(client, "/group/central")
    r = await client.post(
        "/api/v1/employees:bulk-upsert", json={"items": [row("solo-1"), row("solo-2")]}, headers=ADMIN
    )
    assert r.status_code == 200, r.text
    assert [x["status"] for x in r.json()["results"]] == ["created", "created"]
