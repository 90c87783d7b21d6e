import uuid

import pytest

from tests.services.opportunity.helpers import MANAGER, OPPORTUNITIES, full_plan, new_opportunity, outbox, rep

pytestmark = pytest.mark.usefixtures("any_id_exists")


async def make_solution(client) -> str:
    from tests.support import auth

    r = await client.post(
        "/api/v1/solutions",
        json={"name": f"Sol {uuid.uuid4().hex[:6]}"},
        headers=auth(org_unit="/group", roles=("group_admin",)),
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_forward_move_lists_every_unmet_requirement(service_client):
    client = await service_client("opportunity")
    _, headers = rep()
    opp = (await client.post(OPPORTUNITIES, json=new_opportunity(), headers=headers)).json()
    r = await client.post(f"{OPPORTUNITIES}/{opp['id']}/stage", json={"stage": "qualified"}, headers=headers)
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "stage_gate_unmet"
    assert {e["requirement"] for e in body["errors"]} == {"account", "expected_close_date", "assessment_opportunity"}
    assert (await client.get(f"{OPPORTUNITIES}/{opp['id']}", headers=headers)).json()["stage"] == "lead"


async def test_gates_pass_when_met_and_history_and_events_follow(service_client, connection):
    client = await service_client("opportunity")
    _, headers = rep()
    solution = await make_solution(client)
    opp = (
        await client.post(
            OPPORTUNITIES,
            json=new_opportunity(
                account_id=str(uuid.uuid4()),
                expected_close_date="2026-12-31",
                compelling_event="Regulator deadline",
                solution_ids=[solution],
                industry="banking",
                size_band="large",
            ),
            headers=headers,
        )
    ).json()
    plan = await client.put(f"{OPPORTUNITIES}/{opp['id']}/plan", json=full_plan(), headers=headers)
    assert plan.status_code == 200, plan.text
    moved = await client.post(f"{OPPORTUNITIES}/{opp['id']}/stage", json={"stage": "proposal"}, headers=headers)
    assert moved.status_code == 200, moved.text
    assert moved.json()["stage"] == "proposal"
    won = await client.post(
        f"{OPPORTUNITIES}/{opp['id']}/stage", json={"stage": "won", "closed_on": "2026-11-30"}, headers=headers
    )
    assert won.status_code == 200, won.text
    assert won.json()["closed_on"] == "2026-11-30"
    history = (await client.get(f"{OPPORTUNITIES}/{opp['id']}/stage-history", headers=headers)).json()["items"]
    assert [(h["from_stage"], h["to_stage"]) for h in history] == [
        (None, "lead"),
        ("lead", "proposal"),
        ("proposal", "won"),
    ]
    published = await outbox(connection, opp["id"])
    assert [t for t, _ in published] == [
        "opportunity.created",
        "opportunity.stage_changed",
        "opportunity.stage_changed",
        "opportunity.won",
    ]
    won_data = published[-1][1]
    assert won_data["previous_stage"] == "proposal" and won_data["closed_on"] == "2026-11-30"
    assert won_data["amount"] == {"amount": "120000.50", "currency": "CNY"}
    assert won_data["solution_ids"] == [solution] and won_data["industry"] == "banking"
    assert won_data["origin_type"] is None and "previous_owner_id" not in won_data
    # Closed is final: a rep cannot move it back.
    back = await client.post(f"{OPPORTUNITIES}/{opp['id']}/stage", json={"stage": "negotiation"}, headers=headers)
    assert back.status_code == 409 and back.json()["code"] == "illegal_stage_transition"


async def test_manager_forces_with_reason_rep_cannot(service_client):
    client = await service_client("opportunity")
    _, headers = rep()
    opp = (await client.post(OPPORTUNITIES, json=new_opportunity(), headers=headers)).json()
    url = f"{OPPORTUNITIES}/{opp['id']}/stage"
    assert (
        await client.post(url, json={"stage": "qualified", "force": True, "reason": "x"}, headers=headers)
    ).status_code == 403
    no_reason = await client.post(url, json={"stage": "qualified", "force": True}, headers=MANAGER)
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["loc"] == ["body", "reason"]
    forced = await client.post(
        url, json={"stage": "qualified", "force": True, "reason": "CEO sponsor"}, headers=MANAGER
    )
    assert forced.status_code == 200, forced.text
    last = (await client.get(f"{OPPORTUNITIES}/{opp['id']}/stage-history", headers=MANAGER)).json()["items"][-1]
    assert last["forced"] is True and last["reason"] == "CEO sponsor"
    assert {u["requirement"] for u in last["unmet"]} == {"account", "expected_close_date", "assessment_opportunity"}


async def test_won_needs_close_date_and_amount_even_forced(service_client):
    client = await service_client("opportunity")
    _, headers = rep()
    opp = (await client.post(OPPORTUNITIES, json={"name": "No amount"}, headers=headers)).json()
    r = await client.post(
        f"{OPPORTUNITIES}/{opp['id']}/stage", json={"stage": "won", "force": True, "reason": "r"}, headers=MANAGER
    )
    assert r.status_code == 409
    assert {tuple(e["loc"]) for e in r.json()["errors"]} >= {("body", "closed_on"), ("body", "amount")}
    lost = await client.post(
        f"{OPPORTUNITIES}/{opp['id']}/stage", json={"stage": "lost", "closed_on": "2026-11-01"}, headers=headers
    )
    assert lost.status_code == 200 and lost.json()["stage"] == "lost"


async def test_patch_stage_goes_through_the_gates(service_client):
    client = await service_client("opportunity")
    _, headers = rep()
    opp = (await client.post(OPPORTUNITIES, json=new_opportunity(), headers=headers)).json()
    r = await client.patch(f"{OPPORTUNITIES}/{opp['id']}", json={"stage": "negotiation"}, headers=headers)
    assert r.status_code == 409 and r.json()["code"] == "stage_gate_unmet"
    assert any(e["requirement"] == "plan_completeness" for e in r.json()["errors"])
