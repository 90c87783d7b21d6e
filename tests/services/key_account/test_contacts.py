import uuid

from tests.services.key_account.helpers import ADMIN, new_account, new_contact


async def test_relationship_map_is_one_drawable_response(service_client):
    client = await service_client("key_account")
    account = await new_account(client)
    aid = account["id"]
    ceo = await new_contact(
        client, aid, "Chen CEO", title="CEO", buying_role="approver", political_status="inner_circle"
    )
    cio = await new_contact(
        client,
        aid,
        "Li CIO",
        title="CIO",
        reports_to_id=ceo["id"],
        buying_role="decision_maker",
        business_unit="IT",
        decision_orientation="technical",
    )
    rep_id = uuid.uuid4()
    rel = await client.put(
        f"/api/v1/accounts/{aid}/relationships",
        headers=ADMIN,
        json={
            "contact_id": cio["id"],
            "employee_id": str(rep_id),
            "level": "problem_solver",
            "strength": 65,
            "last_interaction_on": "2026-11-01",
        },
    )
    assert rel.status_code == 200, rel.text
    again = await client.put(
        f"/api/v1/accounts/{aid}/relationships",
        headers=ADMIN,
        json={"contact_id": cio["id"], "employee_id": str(rep_id), "level": "trusted_advisor", "strength": 80},
    )
    assert again.json()["id"] == rel.json()["id"] and again.json()["version"] == 2
    line = await client.post(
        f"/api/v1/accounts/{aid}/influence-lines",
        headers=ADMIN,
        json={"from_contact_id": ceo["id"], "to_contact_id": cio["id"], "strength": 70},
    )
    assert line.status_code == 201, line.text

    drawn = (await client.get(f"/api/v1/accounts/{aid}/relationship-map", headers=ADMIN)).json()
    nodes = {n["id"]: n for n in drawn["nodes"]}
    assert set(nodes) == {f"account:{aid}", f"contact:{ceo['id']}", f"contact:{cio['id']}", f"employee:{rep_id}"}
    assert nodes[f"contact:{cio['id']}"]["data"]["buying_role"] == "decision_maker"
    edges = {(e["kind"], e["source"], e["target"]): e for e in drawn["edges"]}
    assert set(edges) == {
        ("works_at", f"contact:{ceo['id']}", f"account:{aid}"),
        ("reports_to", f"contact:{cio['id']}", f"contact:{ceo['id']}"),
        ("relationship", f"employee:{rep_id}", f"contact:{cio['id']}"),
        ("influence", f"contact:{ceo['id']}", f"contact:{cio['id']}"),
    }
    assert edges[("relationship", f"employee:{rep_id}", f"contact:{cio['id']}")]["data"] == {
        "level": "trusted_advisor",
        "strength": 80,
        "last_interaction_on": None,
    }
    assert drawn["truncated"] is False


async def test_contacts_stay_within_their_account(service_client):
    client = await service_client("key_account")
    a, b = await new_account(client, name="A"), await new_account(client, name="B")
    boss = await new_contact(client, a["id"], "Boss")
    foreign = await client.post(
        f"/api/v1/accounts/{b['id']}/contacts", json={"name": "X", "reports_to_id": boss["id"]}, headers=ADMIN
    )
    assert foreign.status_code == 422 and foreign.json()["errors"][0]["loc"] == ["body", "reports_to_id"]
    other = await new_contact(client, b["id"], "Other")
    cross = await client.post(
        f"/api/v1/accounts/{a['id']}/influence-lines",
        headers=ADMIN,
        json={"from_contact_id": boss["id"], "to_contact_id": other["id"]},
    )
    assert cross.status_code == 422
    bad_level = await client.put(
        f"/api/v1/accounts/{a['id']}/relationships",
        headers=ADMIN,
        json={"contact_id": boss["id"], "employee_id": str(uuid.uuid4()), "level": "friend", "strength": 101},
    )
    assert {tuple(e["loc"]) for e in bad_level.json()["errors"]} == {("body", "level"), ("body", "strength")}


async def test_reporting_cycle_is_refused(service_client):
    client = await service_client("key_account")
    a = await new_account(client)
    top = await new_contact(client, a["id"], "Top")
    mid = await new_contact(client, a["id"], "Mid", reports_to_id=top["id"])
    low = await new_contact(client, a["id"], "Low", reports_to_id=mid["id"])
    cycle = await client.patch(
        f"/api/v1/accounts/{a['id']}/contacts/{top['id']}", json={"reports_to_id": low["id"]}, headers=ADMIN
    )
    assert cycle.status_code == 422 and cycle.json()["code"] == "reporting_cycle"
    listed = (await client.get(f"/api/v1/accounts/{a['id']}/contacts", params={"limit": 2}, headers=ADMIN)).json()
    assert len(listed["items"]) == 2 and listed["next_cursor"]
