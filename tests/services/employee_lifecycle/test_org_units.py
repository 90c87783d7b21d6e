"""Org units: a tree with materialised paths; a move rewrites every path below it and publishes."""

import sqlalchemy as sa

from tests.services.employee_lifecycle.helpers import ADMIN, new_employee
from tests.support import auth


async def new_unit(client, slug: str, parent: dict | None = None, headers=ADMIN) -> dict:
    r = await client.post(
        "/api/v1/org-units",
        json={"slug": slug, "name": slug.title(), "parent_id": parent["id"] if parent else None},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_move_rewrites_paths_of_units_and_employees_below(service_client, connection):
    client = await service_client("employee_lifecycle")
    group = await new_unit(client, "group")
    east, west = await new_unit(client, "east", group), await new_unit(client, "west", group)
    team = await new_unit(client, "team-1", east)
    squad = await new_unit(client, "squad", team)
    assert squad["path"] == "/group/east/team-1/squad" and squad["depth"] == 4
    inside = await new_employee(client, "/group/east/team-1/squad")
    lead = await new_employee(client, "/group/east/team-1")
    elsewhere = await new_employee(client, "/group/east/team-10")
    moved = await client.patch(
        f"/api/v1/org-units/{team['id']}",
        json={"parent_id": west["id"]},
        headers={**ADMIN, "If-Match": f'"{team["version"]}"'},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["path"] == "/group/west/team-1"
    got = (await client.get(f"/api/v1/org-units/{squad['id']}", headers=ADMIN)).json()
    assert (got["path"], got["depth"]) == ("/group/west/team-1/squad", 4)
    paths = {
        e: (await client.get(f"/api/v1/employees/{e}", headers=ADMIN)).json()["org_unit_path"]
        for e in (inside["id"], lead["id"], elsewhere["id"])
    }
    assert paths == {
        inside["id"]: "/group/west/team-1/squad",
        lead["id"]: "/group/west/team-1",
        elsewhere["id"]: "/group/east/team-10",
    }
    rows = (
        await connection.execute(
            sa.text(
                "SELECT type, subject, data FROM employee_lifecycle.outbox WHERE subscriber = 'opportunity' "
                "AND type = 'employee.updated' ORDER BY id"
            )
        )
    ).all()
    assert {r.subject for r in rows} == {inside["id"], lead["id"]}
    assert {r.data["org_unit_path"] for r in rows} == {"/group/west/team-1/squad", "/group/west/team-1"}


async def test_cannot_move_below_itself_or_onto_a_taken_path(service_client):
    client = await service_client("employee_lifecycle")
    group = await new_unit(client, "group")
    east = await new_unit(client, "east", group)
    team = await new_unit(client, "team", east)
    r = await client.patch(f"/api/v1/org-units/{east['id']}", json={"parent_id": team["id"]}, headers=ADMIN)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "parent_id"]
    await new_unit(client, "team", group)
    r = await client.patch(f"/api/v1/org-units/{team['id']}", json={"parent_id": group["id"]}, headers=ADMIN)
    assert r.status_code == 409


async def test_unit_visibility_and_admin_scope(service_client):
    client = await service_client("employee_lifecycle")
    group = await new_unit(client, "group")
    east, west = await new_unit(client, "east", group), await new_unit(client, "west", group)
    east_admin = auth(org_unit="/group/east", roles=("org_admin",))
    assert (await client.get(f"/api/v1/org-units/{west['id']}", headers=east_admin)).status_code == 404
    listed = (await client.get("/api/v1/org-units", headers=east_admin)).json()
    assert [u["path"] for u in listed["items"]] == ["/group/east"]
    r = await client.post(
        "/api/v1/org-units", json={"slug": "x", "name": "X", "parent_id": west["id"]}, headers=east_admin
    )
    # Another organisation's unit is unknown to the east admin: the 422 of an id that does not exist.
    assert r.status_code == 422 and r.json()["errors"] == [
        {"loc": ["body", "parent_id"], "msg": "no org unit with this id that you may see"}
    ]
    assert (
        await client.post(
            "/api/v1/org-units", json={"slug": "y", "name": "Y", "parent_id": east["id"]}, headers=east_admin
        )
    ).status_code == 201


async def test_bulk_upsert_units_parents_first_with_report(service_client):
    client = await service_client("employee_lifecycle")
    items = [
        {"external_id": "t1", "slug": "team-1", "name": "Team 1", "parent_external_id": "east"},
        {"external_id": "root", "slug": "group", "name": "Group"},
        {"external_id": "east", "slug": "east", "name": "East", "parent_external_id": "root"},
        {"external_id": "orphan", "slug": "o", "name": "O", "parent_external_id": "nowhere"},
        {"external_id": "bad", "slug": "has space", "name": "Bad"},
    ]
    r = await client.post("/api/v1/org-units:bulk-upsert", json={"items": items}, headers=ADMIN)
    body = r.json()
    assert [(x["external_id"], x["status"]) for x in body["results"]] == [
        ("t1", "created"),
        ("root", "created"),
        ("east", "created"),
        ("orphan", "failed"),
        ("bad", "failed"),
    ]
    assert body["results"][3]["errors"] == [{"loc": ["body", "items", 3, "parent_external_id"], "msg": "no such unit"}]
    assert body["results"][4]["errors"][0]["loc"] == ["body", "items", 4, "slug"]
    items[0]["name"] = "Team One"
    again = (await client.post("/api/v1/org-units:bulk-upsert", json={"items": items[:3]}, headers=ADMIN)).json()
    assert [x["status"] for x in again["results"]] == ["updated", "unchanged", "unchanged"]
    units = (await client.get("/api/v1/org-units", params={"within": "/group/east"}, headers=ADMIN)).json()
    assert sorted(u["path"] for u in units["items"]) == ["/group/east", "/group/east/team-1"]
