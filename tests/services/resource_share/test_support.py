import json
import uuid

import httpx
import sqlalchemy as sa

from tests.services.resource_share.helpers import ALL_EVENTS, SERVICE, Person, employee_event, event, outbox, share
from tests.support_servers import closed_url

L1 = Person("/group/east/team-1")
L2 = Person("/group/east/team-1")
ENGINEER = Person("/group/east/presales")
CONSULTANT = Person("/group/east/consulting")  # the desk serves its own organisation (issue 16)
MANAGER = Person("/group/east", roles=("manager",))
STAGES = {L1.id: "L1_SUBSISTENCE", L2.id: "L2_COMFORTABLE"}


def new_support_request(**extra: object) -> dict:
    return {
        "opportunity_id": str(uuid.uuid4()),
        "kind": "presales_engineer",
        "title": "Demo for Acme",
        "skills": ["storage"],
        "industry": "retail",
        "urgency": "high",
        "deal_value": {"amount": "100000.00", "currency": "CNY"},
        "hours_needed": "8",
        **extra,
    }


async def stage_event(client, person: Person, stage: str) -> None:
    body = event(
        "employee.stage_changed",
        {
            "employee_id": str(person.id),
            "org_unit_path": person.org_unit,
            "stage": stage,
            "previous_stage": None,
            "since": "2026-10-01",
            "needs": [],
            "capacity": 10,
            "reason": "evaluation",
            "policy_version": 1,
        },
    )
    result = await client.post("/internal/events", json=body, headers=SERVICE)
    assert result.json()["results"][0]["status"] == "processed", result.text


async def join_pool(client, person: Person, skills: list[str], industries: list[str], hours: int = 40) -> None:
    response = await client.put(
        f"/api/v1/support-requests/pool/{person.id}",
        headers=person.headers,
        json={"skills": skills, "industries": industries, "weekly_capacity_hours": hours},
    )
    assert response.status_code == 200, response.text


async def ask(client, person: Person, **extra: object) -> dict:
    response = await client.post("/api/v1/support-requests", json=new_support_request(**extra), headers=person.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def age(connection, request_id: str, hours: int) -> None:
    """Backdate when it was asked (ageing and waits run from `requested_at`, the business time)."""
    await connection.execute(
        sa.text(
            "UPDATE resource_share.support_requests SET requested_at = now() - make_interval(hours => :h)"
            " WHERE id = :id"
        ),
        {"h": hours, "id": uuid.UUID(request_id)},
    )


async def test_without_the_lifecycle_service_the_last_known_stage_is_used_and_said(service_client):
    client = await service_client("resource_share", employee_lifecycle_url=closed_url())
    await stage_event(client, L1, "L1_SUBSISTENCE")
    created = await ask(client, L1)
    assert (created["requester_stage"], created["stages_source"]) == ("L1_SUBSISTENCE", "cached")
    assert created["stages_as_of"] == "2026-11-27T00:00:00Z"
    assert created["deal_value"] == {"amount": "100000.00", "currency": "CNY"}


async def test_live_stages_come_from_the_lifecycle_service_with_the_callers_headers(service_client):
    lifecycle_url = closed_url()  # the mock below answers for it; a call that escapes the mock is refused
    client = await service_client("resource_share", employee_lifecycle_url=lifecycle_url)
    await stage_event(client, L1, "L2_COMFORTABLE")  # stale: the live answer wins
    seen: list[httpx.Request] = []

    def lifecycle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.startswith("/api/v1/opportunities/"):  # the check that the caller may see the deal
            return httpx.Response(200, json={"id": request.url.path.rsplit("/", 1)[1]})
        ids = json.loads(request.content)["employee_ids"]
        return httpx.Response(
            200,
            json={
                "items": [
                    {
                        "employee_id": i,
                        "stage": "L1_SUBSISTENCE",
                        "stage_since": "2026-01-01",
                        "capacity": 5,
                        "open_load": 1,
                        "needs": [],
                    }
                    for i in ids
                ],
                "not_found": [],
            },
        )

    state = client._transport.app.state  # type: ignore[attr-defined]
    real = state.http
    async with httpx.AsyncClient(transport=httpx.MockTransport(lifecycle)) as mock:
        state.http = mock
        try:
            created = await client.post(
                "/api/v1/support-requests", json=new_support_request(), headers={**L1.headers, "X-Request-ID": "req-42"}
            )
        finally:
            state.http = real
    assert created.status_code == 201, created.text
    assert (created.json()["requester_stage"], created.json()["stages_source"]) == ("L1_SUBSISTENCE", "live")
    assert [r.url.path.split("/")[3] for r in seen] == ["opportunities", "employees"]
    assert str(seen[1].url) == f"{lifecycle_url}/api/v1/employees/stages:batch-get"
    assert {r.headers["authorization"] for r in seen} == {L1.headers["Authorization"]}
    assert {r.headers["x-request-id"] for r in seen} == {"req-42"}


async def test_the_queue_tilts_towards_l1_and_ageing_lets_a_waiting_l2_overtake(service_client, connection):
    client = await service_client("resource_share", employee_lifecycle_url=closed_url())
    for person, stage in ((L1, "L1_SUBSISTENCE"), (L2, "L2_COMFORTABLE")):
        await stage_event(client, person, stage)
    await join_pool(client, ENGINEER, ["storage"], ["retail"])
    l2_old = await ask(client, L2, title="L2 waiting")
    l1_fresh = await ask(client, L1, title="L1 fresh")
    l2_fresh = await ask(client, L2, title="L2 fresh")

    async def queue() -> dict:
        response = await client.get("/api/v1/support-requests/queue", headers=ENGINEER.headers)
        assert response.status_code == 200, response.text
        return response.json()

    await age(connection, l2_old["id"], 1)
    page = await queue()
    assert [i["request"]["id"] for i in page["items"]] == [l1_fresh["id"], l2_old["id"], l2_fresh["id"]]
    assert page["stages_source"] == "cached"
    top = page["items"][0]
    assert [r["code"] for r in top["reasons"]][:3] == ["urgency_high", "deal_value", "stage_tilt"]
    assert top["priority"] > 2 * page["items"][2]["priority"] - 0.1
    await age(connection, l2_old["id"], 40)  # 40 h × 0.25 = +10 beats the L1 tilt (≈ +9)
    page = await queue()
    assert [i["request"]["id"] for i in page["items"]][:2] == [l2_old["id"], l1_fresh["id"]]
    assert page["items"][0]["reasons"][-1]["code"] == "ageing"
    # A rep outside the pool sees only their own in the queue.
    assert [
        i["request"]["id"]
        for i in (await client.get("/api/v1/support-requests/queue", headers=L1.headers)).json()["items"]
    ] == [l1_fresh["id"]]


async def test_tilt_off_orders_by_age_only_when_everything_else_is_equal(service_client, connection):
    client = await service_client("resource_share", employee_lifecycle_url=closed_url(), support_tilt=False)
    await stage_event(client, L1, "L1_SUBSISTENCE")
    await join_pool(client, ENGINEER, ["storage"], ["retail"])
    l2 = await ask(client, L2)
    l1 = await ask(client, L1)
    await age(connection, l2["id"], 1)
    page = (await client.get("/api/v1/support-requests/queue", headers=ENGINEER.headers)).json()
    assert [i["request"]["id"] for i in page["items"]] == [l2["id"], l1["id"]]


async def test_queue_pages_are_pinned_to_one_instant(service_client):
    client = await service_client("resource_share", employee_lifecycle_url=closed_url())
    await join_pool(client, ENGINEER, ["storage"], ["retail"])
    ids = [(await ask(client, L1, urgency=u))["id"] for u in ("critical", "high", "normal")]
    first = (await client.get("/api/v1/support-requests/queue", params={"limit": 2}, headers=ENGINEER.headers)).json()
    second = (
        await client.get(
            "/api/v1/support-requests/queue",
            headers=ENGINEER.headers,
            params={"limit": 2, "cursor": first["next_cursor"]},
        )
    ).json()
    assert [i["request"]["id"] for i in first["items"] + second["items"]] == ids
    assert second["as_of"] == first["as_of"] and second["next_cursor"] is None


async def test_matching_assignment_capacity_and_fulfilment_event(service_client, connection):
    client = await service_client("resource_share", employee_lifecycle_url=closed_url(), **ALL_EVENTS)
    await stage_event(client, L1, "L1_SUBSISTENCE")
    await join_pool(client, ENGINEER, ["storage", "networking"], ["retail"], hours=10)
    await join_pool(client, CONSULTANT, ["storage"], ["energy"], hours=40)
    created = await ask(client, L1, skills=["storage", "networking"])
    matches = (await client.get(f"/api/v1/support-requests/{created['id']}/matches", headers=MANAGER.headers)).json()
    assert [m["employee_id"] for m in matches["items"]] == [str(ENGINEER.id), str(CONSULTANT.id)]
    assert matches["items"][0]["reasons"] == ["skills 2/2", "industry match", "10 h free this week"]
    assigned = await client.post(f"/api/v1/support-requests/{created['id']}/assign", json={}, headers=MANAGER.headers)
    assert assigned.status_code == 200, assigned.text
    assert (assigned.json()["status"], assigned.json()["assignee_id"]) == ("assigned", str(ENGINEER.id))
    # ENGINEER now has 2 h left: a second 8 h request cannot go to them.
    second = await ask(client, L1)
    full = await client.post(
        f"/api/v1/support-requests/{second['id']}/assign",
        json={"assignee_id": str(ENGINEER.id)},
        headers=MANAGER.headers,
    )
    assert full.status_code == 409 and full.json()["code"] == "no_capacity"
    assert [
        m["employee_id"]
        for m in (await client.get(f"/api/v1/support-requests/{second['id']}/matches", headers=MANAGER.headers)).json()[
            "items"
        ]
    ] == [str(CONSULTANT.id)]
    not_yours = await client.post(f"/api/v1/support-requests/{created['id']}/fulfil", headers=CONSULTANT.headers)
    assert not_yours.status_code == 404  # no longer open, not theirs: invisible
    done = await client.post(f"/api/v1/support-requests/{created['id']}/fulfil", headers=ENGINEER.headers)
    assert done.status_code == 200 and done.json()["status"] == "fulfilled"
    again = await client.post(f"/api/v1/support-requests/{created['id']}/fulfil", headers=ENGINEER.headers)
    assert again.status_code == 409 and again.json()["code"] == "illegal_transition"
    [published] = await outbox(connection, "support_request.fulfilled")
    assert published["support_request_id"] == created["id"] and published["assignee_id"] == str(ENGINEER.id)
    assert (published["requester_id"], published["requester_stage"]) == (str(L1.id), "L1_SUBSISTENCE")
    assert published["opportunity_id"] == created["opportunity_id"] and 0 <= published["waited_hours"] < 0.1


async def test_fairness_per_stage(service_client, connection):
    client = await service_client("resource_share", employee_lifecycle_url=closed_url())
    await stage_event(client, L1, "L1_SUBSISTENCE")
    await stage_event(client, L2, "L2_COMFORTABLE")
    await join_pool(client, ENGINEER, ["storage"], ["retail"])
    served = await ask(client, L1)
    await ask(client, L1)
    await ask(client, L2)
    await age(connection, served["id"], 6)
    await client.post(f"/api/v1/support-requests/{served['id']}/assign", json={}, headers=ENGINEER.headers)
    await client.post(f"/api/v1/support-requests/{served['id']}/fulfil", headers=ENGINEER.headers)
    figures = (await client.get("/api/v1/support-requests/fairness", headers=MANAGER.headers)).json()
    by = {s["stage"]: s for s in figures["stages"]}
    assert (
        by["L1_SUBSISTENCE"]["requests"],
        by["L1_SUBSISTENCE"]["fulfilled"],
        by["L1_SUBSISTENCE"]["fulfilment_rate"],
    ) == (2, 1, 0.5)
    assert 5.9 < by["L1_SUBSISTENCE"]["median_wait_hours"] < 6.1
    assert (by["L2_COMFORTABLE"]["requests"], by["L2_COMFORTABLE"]["median_wait_hours"]) == (1, None)
    assert by["L3_AFFLUENT"]["requests"] == 0
    elsewhere = (
        await client.get("/api/v1/support-requests/fairness", headers=Person("/group/west", ("manager",)).headers)
    ).json()
    assert all(s["requests"] == 0 for s in elsewhere["stages"])


async def test_pool_membership_rules(service_client):
    client = await service_client("resource_share")  # the lifecycle service is down: the people view answers
    someone = Person("/group/east/presales")
    known = await client.post(
        "/internal/events",
        headers=SERVICE,
        json=[
            employee_event(str(someone.id), version=1, org_unit="/group/east/presales", event_type="employee.created")
        ],
    )
    assert known.json()["results"][0]["status"] == "processed"
    body = {"skills": ["x"], "weekly_capacity_hours": 5}
    url = f"/api/v1/support-requests/pool/{someone.id}"
    # Another rep may not even learn that the person exists; a manager elsewhere neither.
    assert (await client.put(url, headers=L1.headers, json=body)).status_code == 404
    elsewhere = Person("/group/west", ("manager",))
    claimed = await client.put(url, headers=elsewhere.headers, json={**body, "org_unit_path": "/group/west/team-1"})
    assert claimed.status_code == 404  # naming their own unit in the body does not make the person theirs
    wrong_unit = await client.put(url, headers=MANAGER.headers, json={**body, "org_unit_path": "/group/east/other"})
    assert wrong_unit.status_code == 422 and wrong_unit.json()["errors"][0]["loc"] == ["body", "org_unit_path"]
    by_manager = await client.put(url, headers=MANAGER.headers, json=body)
    assert by_manager.status_code == 200 and by_manager.json()["weekly_capacity_hours"] == 5
    assert by_manager.json()["org_unit_path"] == "/group/east/presales"
    unknown = await client.put(f"/api/v1/support-requests/pool/{uuid.uuid4()}", headers=MANAGER.headers, json=body)
    assert unknown.status_code == 404
    pool = (await client.get("/api/v1/support-requests/pool", params={"skill": "x"}, headers=L1.headers)).json()
    assert [m["employee_id"] for m in pool["items"]] == [str(someone.id)]


async def test_a_request_must_name_an_opportunity_the_caller_may_see(service_client):
    from tests.services.resource_share.conftest import hidden_opportunity

    client = await service_client("resource_share")
    hidden = hidden_opportunity()
    refused = await client.post(
        "/api/v1/support-requests", json=new_support_request(opportunity_id=str(hidden)), headers=L1.headers
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["loc"] == ["body", "opportunity_id"]
    down = await service_client("resource_share", opportunity_url=closed_url())
    failed = await down.post("/api/v1/support-requests", json=new_support_request(), headers=L1.headers)
    assert failed.status_code == 502 and failed.json()["service"] == "opportunity"
    case = await share(client, ENGINEER, {"type": "reference_case", "title": "Cold chain", "scope": "group"})
    linked = await client.post(
        "/api/v1/resource-requests", json={"resource_id": case["id"], "opportunity_id": str(hidden)}, headers=L1.headers
    )
    assert linked.status_code == 422 and linked.json()["errors"][0]["loc"] == ["body", "opportunity_id"]


async def test_support_request_validation_names_the_field(service_client):
    client = await service_client("resource_share")
    for body, loc in [
        (new_support_request(urgency="asap"), ["body", "urgency"]),
        (new_support_request(deal_value={"amount": "1.234", "currency": "CNY"}), ["body", "deal_value", "amount"]),
        (new_support_request(skills=[]), ["body", "skills"]),
        (new_support_request(hours_needed="0"), ["body", "hours_needed"]),
    ]:
        response = await client.post("/api/v1/support-requests", json=body, headers=L1.headers)
        assert response.status_code == 422, response.text
        assert [e["loc"] for e in response.json()["errors"]] == [loc]
