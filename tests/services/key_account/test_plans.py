import uuid

import sqlalchemy as sa

from tests.services.key_account.helpers import ADMIN, new_account, new_contact, new_plan, rep


async def test_plan_lifecycle_and_completeness(service_client):
    client = await service_client("key_account")
    account = await new_account(client)
    plan = await new_plan(
        client, account["id"], goal="Become the digital partner", critical_success_factors=["CIO sponsorship"]
    )
    base = f"/api/v1/account-plans/{plan['id']}"
    duplicate = await client.post(
        "/api/v1/account-plans",
        headers=ADMIN,
        json={"account_id": account["id"], "period": "2026", "starts_on": "2026-01-01", "ends_on": "2026-12-31"},
    )
    assert duplicate.status_code == 409

    first = (await client.post(f"{base}/reviews", json={"notes": "kick-off"}, headers=ADMIN)).json()
    assert first["completeness_score"] == 20 and first["completeness_status"] == "incomplete"

    await client.patch(base, json={"value_proposition": "Cut their time to market"}, headers=ADMIN)
    objective = (await client.post(f"{base}/objectives", json={"title": "Win the data platform"}, headers=ADMIN)).json()
    action = await client.post(
        f"{base}/actions",
        headers=ADMIN,
        json={"title": "Workshop with IT", "objective_id": objective["id"], "due_on": "2026-03-01"},
    )
    assert action.status_code == 201
    done = await client.patch(
        f"{base}/actions/{action.json()['id']}", json={"status": "done"}, headers={**ADMIN, "If-Match": '"1"'}
    )
    assert done.json()["status"] == "done"

    # core task 1: relationship targets with gaps, and a solution-guiding team
    cio = await new_contact(client, account["id"], "Li CIO")
    await client.put(
        f"/api/v1/accounts/{account['id']}/relationships",
        headers=ADMIN,
        json={"contact_id": cio["id"], "employee_id": str(uuid.uuid4()), "level": "credible_source", "strength": 50},
    )
    targets = await client.put(
        f"{base}/relationship-targets", json={"contact_id": cio["id"], "target_level": "trusted_advisor"}, headers=ADMIN
    )
    assert targets.status_code == 200, targets.text
    assert targets.json()[0] | {} == {
        **targets.json()[0],
        "current_level": "credible_source",
        "gap_steps": 2,
        "met": False,
    }
    team = await client.put(
        f"{base}/solution-guiding-team",
        headers=ADMIN,
        json={
            "members": [{"employee_id": str(uuid.uuid4()), "role": "solution_architect"}],
            "target_initiatives": ["Data platform modernisation"],
        },
    )
    assert team.status_code == 200 and team.json()["guiding_team_initiatives"] == ["Data platform modernisation"]
    guiding = await client.post(
        f"{base}/solution-guiding-team/sessions",
        headers=ADMIN,
        json={
            "held_on": "2026-02-01",
            "topic": "Architecture review",
            "attendee_contact_ids": [cio["id"]],
            "outcome": "PoC agreed",
        },
    )
    assert guiding.status_code == 201

    # core task 2: competitor footprint, incumbent contracts, counter-actions
    cell = await client.put(
        f"{base}/whitespace-cells",
        headers=ADMIN,
        json={
            "business_unit": "IT",
            "solution": "Storage",
            "status": "competitor",
            "competitor": "Rival",
            "competitor_strength": 70,
            "potential": {"amount": "500000", "currency": "CNY"},
        },
    )
    assert cell.status_code == 200, cell.text
    assert cell.json()["potential"] == {"amount": "500000.00", "currency": "CNY"}
    contract = (
        await client.post(
            f"{base}/incumbent-contracts",
            headers=ADMIN,
            json={"competitor": "Rival", "solution": "Storage", "expires_on": "2026-09-30"},
        )
    ).json()
    await client.post(
        f"{base}/actions",
        headers=ADMIN,
        json={"title": "Benchmark before renewal", "incumbent_contract_id": contract["id"]},
    )
    footprint = (await client.get(f"{base}/competitor-footprint", headers=ADMIN)).json()
    assert footprint[0]["competitor"] == "Rival" and footprint[0]["next_expiry"] == "2026-09-30"
    assert footprint[0]["counter_actions_open"] == 1 and footprint[0]["cells"][0]["solution"] == "Storage"

    # core task 3: an incubation item
    item = await client.post(
        f"{base}/incubation-items",
        headers=ADMIN,
        json={"title": "Backup service", "whitespace_cell_id": cell.json()["id"]},
    )
    assert item.status_code == 201 and item.json()["status"] == "idea"

    completeness = (await client.get(f"{base}/completeness", headers=ADMIN)).json()
    assert completeness == {"score": 100, "status": "complete", "missing": []}
    last = (await client.post(f"{base}/reviews", json={}, headers=ADMIN)).json()
    assert last["completeness_status"] == "complete"
    reviews = (await client.get(f"{base}/reviews", headers=ADMIN)).json()["items"]
    assert [r["completeness_score"] for r in reviews] == [20, 100]


async def test_incubation_workflow_and_metrics(service_client, connection):
    client = await service_client("key_account")
    account = await new_account(client)
    plan = await new_plan(client, account["id"])
    items = f"/api/v1/account-plans/{plan['id']}/incubation-items"
    item = (
        await client.post(
            items, json={"title": "AI assistant", "amount": {"amount": "100000", "currency": "CNY"}}, headers=ADMIN
        )
    ).json()
    url = f"{items}/{item['id']}"
    skip = await client.patch(url, json={"status": "qualified"}, headers=ADMIN)
    assert skip.status_code == 409 and skip.json()["code"] == "illegal_transition"
    self_promote = await client.patch(url, json={"status": "promoted"}, headers=ADMIN)
    assert self_promote.status_code == 422
    assert (await client.patch(url, json={"status": "validated"}, headers=ADMIN)).json()["validated_at"]
    unqualified = (await client.post(items, json={"title": "x"}, headers=ADMIN)).json()
    not_yet = await client.post(f"{items}/{unqualified['id']}/promote", headers=ADMIN)
    assert not_yet.status_code == 409 and not_yet.json()["code"] == "not_qualified"
    dropped = (await client.post(items, json={"title": "Dead end"}, headers=ADMIN)).json()
    await client.patch(f"{items}/{dropped['id']}", json={"status": "dropped"}, headers=ADMIN)
    # a promoted item 10 days after it was an idea (promotion itself is tested against a real service)
    await connection.execute(
        sa.text(
            "UPDATE key_account.incubation_items SET status = 'promoted', created_at = now() - interval '10 days', "
            "promoted_at = now(), opportunity_id = gen_random_uuid() WHERE id = :id"
        ),
        {"id": item["id"]},
    )
    metrics = (await client.get(f"/api/v1/account-plans/{plan['id']}/incubation-metrics", headers=ADMIN)).json()
    assert metrics["by_status"] == {"idea": 1, "validated": 0, "qualified": 0, "promoted": 1, "dropped": 1}
    assert metrics["conversion_rate"] == 0.5 and round(metrics["incubation_days_median"]) == 10
    assert metrics["promoted_amount"] == "100000.00"
    by_account = (await client.get(f"/api/v1/accounts/{account['id']}/incubation-metrics", headers=ADMIN)).json()
    assert by_account["scope"] == "account" and by_account["items"] == 3


async def test_opportunity_events_keep_lineage(service_client, connection):
    from sanlun.kernel.event_routes import mint_service_token
    from tests.support import TEST_SERVICE_SECRET

    client = await service_client("key_account")
    account = await new_account(client)
    plan = await new_plan(client, account["id"])
    item = (
        await client.post(
            f"/api/v1/account-plans/{plan['id']}/incubation-items", json={"title": "Lost commit"}, headers=ADMIN
        )
    ).json()
    opportunity = str(uuid.uuid4())
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "type": "opportunity.won",
        "source": "opportunity",
        "subject": opportunity,
        "time": "2026-11-27T00:00:00Z",
        "data": {
            "opportunity_id": opportunity,
            "stage": "won",
            "origin_type": "incubation_item",
            "origin_id": item["id"],
        },
    }
    token = mint_service_token(TEST_SERVICE_SECRET, "opportunity")
    delivered = await client.post("/internal/events", json=event, headers={"Authorization": f"Bearer {token}"})
    assert delivered.status_code == 200, delivered.text
    got = (await client.get(f"/api/v1/account-plans/{plan['id']}/incubation-items/{item['id']}", headers=ADMIN)).json()
    assert (got["status"], got["opportunity_id"], got["opportunity_stage"]) == ("promoted", opportunity, "won")


async def test_plans_follow_account_visibility(service_client):
    client = await service_client("key_account")
    owner = uuid.uuid4()
    account = await new_account(client, owner_id=str(owner))
    plan = await new_plan(client, account["id"])
    assert (await client.get(f"/api/v1/account-plans/{plan['id']}", headers=rep(owner))).status_code == 200
    assert (await client.get(f"/api/v1/account-plans/{plan['id']}", headers=rep(uuid.uuid4()))).status_code == 404
    assert (await client.get("/api/v1/account-plans", headers=rep(uuid.uuid4()))).json()["items"] == []
    hidden_account = await client.post(
        "/api/v1/account-plans",
        headers=rep(uuid.uuid4()),
        json={"account_id": account["id"], "period": "2027", "starts_on": "2027-01-01", "ends_on": "2027-12-31"},
    )
    assert hidden_account.status_code == 422 and hidden_account.json()["errors"][0]["loc"] == ["body", "account_id"]
