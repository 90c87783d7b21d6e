import asyncio
import datetime as dt
import uuid

import pytest

from tests.services.resource_share.helpers import ALL_EVENTS, SERVICE, Person, event, new_relationship, outbox, share

OWNER = Person("/group/east/team-1")
OWNERS_MANAGER = Person("/group/east", roles=("manager",))
REQUESTER = Person("/group/west/team-2")
REQUESTERS_MANAGER = Person("/group/west", roles=("manager",))
BYSTANDER = Person("/group/west/team-2")
GROUP_ADMIN = Person("/group", roles=("group_admin",))


async def new_request(client, resource_id: str, *, who: Person = REQUESTER, **extra: object) -> dict:
    response = await client.post(
        "/api/v1/resource-requests",
        json={"resource_id": resource_id, "message": "For Acme", **extra},
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def setup(service_client, **settings):
    client = await service_client("resource_share", **{**ALL_EVENTS, **settings})
    resource = await share(client, OWNER, {"type": "reference_case", "title": "Cold chain at Acme", "scope": "group"})
    return client, resource


async def step(client, request_id: str, action: str, who: Person, body: dict | None = None, status: int = 200) -> dict:
    response = await client.post(
        f"/api/v1/resource-requests/{request_id}/{action}", json=body or {}, headers=who.headers
    )
    assert response.status_code == status, response.text
    return response.json()


async def test_the_whole_workflow_counts_use_rates_and_publishes_resource_used(service_client, connection):
    client, resource = await setup(service_client)
    opportunity = uuid.uuid4()
    created = await new_request(client, resource["id"], opportunity_id=str(opportunity))
    assert (created["status"], created["allowed_actions"], created["overdue"]) == (
        "requested",
        ["approve", "decline"],
        False,
    )
    assert created["owner_id"] == str(OWNER.id)
    due = dt.datetime.fromisoformat(created["due_at"]) - dt.datetime.fromisoformat(created["created_at"])
    assert round(due.total_seconds() / 3600) == 48
    approved = await step(client, created["id"], "approve", OWNERS_MANAGER, {"note": "Go ahead"})
    assert (approved["status"], approved["decided_by"], approved["decision_note"]) == (
        "approved",
        str(OWNERS_MANAGER.id),
        "Go ahead",
    )
    fulfilled = await step(client, created["id"], "fulfil", OWNER, {"outcome": "contributed"})
    assert fulfilled["status"] == "fulfilled"
    rated = await step(client, created["id"], "rate", REQUESTER, {"rating": 4, "comment": "Useful"})
    assert (rated["status"], rated["rating"], rated["version"]) == ("rated", 4, 4)
    after = (await client.get(f"/api/v1/resources/{resource['id']}", headers=REQUESTER.headers)).json()
    assert (after["usage_count"], after["rating_avg"], after["rating_count"]) == (1, 4.0, 1)
    assert await outbox(connection, "resource.used") == [
        {
            "resource_id": resource["id"],
            "resource_type": "reference_case",
            "owner_id": str(OWNER.id),
            "owner_org_unit_path": "/group/east/team-1",
            "user_id": str(REQUESTER.id),
            "user_org_unit_path": "/group/west/team-2",
            "request_id": created["id"],
            "opportunity_id": str(opportunity),
            "outcome": "contributed",
        }
    ]


@pytest.mark.parametrize(
    ("path", "action", "status_now"),
    [
        ([], "fulfil", "requested"),
        ([], "rate", "requested"),
        (["decline"], "approve", "declined"),
        (["approve"], "approve", "approved"),
        (["approve", "fulfil"], "decline", "fulfilled"),
    ],
)
async def test_illegal_transitions_answer_problem_json(service_client, path, action, status_now):
    client, resource = await setup(service_client)
    created = await new_request(client, resource["id"])
    for done in path:
        await step(client, created["id"], done, OWNER)
    who, body = (REQUESTER, {"rating": 3}) if action == "rate" else (OWNER, {})
    response = await client.post(f"/api/v1/resource-requests/{created['id']}/{action}", json=body, headers=who.headers)
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert (response.json()["code"], response.json()["status_now"]) == ("illegal_transition", status_now)


@pytest.mark.parametrize(
    ("who", "status"), [(REQUESTER, 403), (REQUESTERS_MANAGER, 403), (GROUP_ADMIN, 403), (BYSTANDER, 404)]
)
async def test_only_the_owner_or_their_manager_decides(service_client, who, status):
    client, resource = await setup(service_client)
    created = await new_request(client, resource["id"])
    response = await client.post(f"/api/v1/resource-requests/{created['id']}/approve", json={}, headers=who.headers)
    assert response.status_code == status, response.text
    assert (await client.get(f"/api/v1/resource-requests/{created['id']}", headers=OWNER.headers)).json()[
        "status"
    ] == "requested"


async def test_requests_are_visible_to_requester_owner_and_their_managers_only(service_client):
    client, resource = await setup(service_client)
    created = await new_request(client, resource["id"])
    for who, seen in [
        (REQUESTER, True),
        (OWNER, True),
        (OWNERS_MANAGER, True),
        (REQUESTERS_MANAGER, True),
        (BYSTANDER, False),
        (Person("/group/east/team-1"), False),
    ]:
        got = await client.get(f"/api/v1/resource-requests/{created['id']}", headers=who.headers)
        assert got.status_code == (200 if seen else 404)
        listed = (await client.get("/api/v1/resource-requests", headers=who.headers)).json()["items"]
        assert [r["id"] for r in listed] == ([created["id"]] if seen else [])
    waiting = (
        await client.get(
            "/api/v1/resource-requests", params={"role": "owner", "status": "requested"}, headers=OWNER.headers
        )
    ).json()
    assert [r["id"] for r in waiting["items"]] == [created["id"]]
    assert (await client.get("/api/v1/resource-requests", params={"role": "requester"}, headers=OWNER.headers)).json()[
        "items"
    ] == []


async def test_an_expired_request_can_no_longer_be_decided(service_client):
    client, resource = await setup(service_client, request_expiry_days=0)
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(milliseconds=300)).isoformat()
    created = await new_request(client, resource["id"], needed_by=soon)
    await asyncio.sleep(0.4)
    got = (await client.get(f"/api/v1/resource-requests/{created['id']}", headers=OWNER.headers)).json()
    assert (got["status"], got["allowed_actions"]) == ("expired", [])
    response = await client.post(f"/api/v1/resource-requests/{created['id']}/approve", json={}, headers=OWNER.headers)
    assert response.status_code == 409 and response.json()["status_now"] == "expired"
    listed = (await client.get("/api/v1/resource-requests", params={"status": "expired"}, headers=OWNER.headers)).json()
    assert [r["id"] for r in listed["items"]] == [created["id"]]


async def test_an_undisclosed_relationship_owner_stays_hidden_from_the_requester(service_client):
    client = await service_client("resource_share")
    rel = await share(client, OWNER, new_relationship(uuid.uuid4(), disclosure="anonymous"))
    created = await new_request(client, rel["id"])
    assert (created["owner_id"], created["owner_org_unit_path"]) == (None, None)
    seen_by_owner = (await client.get(f"/api/v1/resource-requests/{created['id']}", headers=OWNER.headers)).json()
    assert seen_by_owner["owner_id"] == str(OWNER.id)


async def test_cannot_request_your_own_or_an_invisible_resource(service_client):
    client, resource = await setup(service_client)
    own = await client.post("/api/v1/resource-requests", json={"resource_id": resource["id"]}, headers=OWNER.headers)
    assert own.status_code == 422 and own.json()["errors"][0]["loc"] == ["body", "resource_id"]
    private = await share(client, OWNER, {"type": "solution_asset", "title": "Secret deck", "scope": "private"})
    hidden = await client.post(
        "/api/v1/resource-requests", json={"resource_id": private["id"]}, headers=REQUESTER.headers
    )
    # A body's reference: the same 422 as for a resource that does not exist (issue 16).
    unknown = await client.post(
        "/api/v1/resource-requests", json={"resource_id": str(uuid.uuid4())}, headers=REQUESTER.headers
    )
    assert hidden.status_code == unknown.status_code == 422
    assert hidden.json()["code"] == "unknown_reference"
    assert hidden.json()["errors"] == [
        {"loc": ["body", "resource_id"], "msg": "no resource with this id that you may see"}
    ]
    assert {k: v for k, v in hidden.json().items() if k != "instance"} == {
        k: v for k, v in unknown.json().items() if k != "instance"
    }


async def test_a_won_opportunity_marks_the_requests_that_served_it(service_client):
    client, resource = await setup(service_client)
    opportunity = uuid.uuid4()
    served = await new_request(client, resource["id"], opportunity_id=str(opportunity))
    pending = await new_request(client, resource["id"], opportunity_id=str(opportunity))
    await step(client, served["id"], "approve", OWNER)
    await step(client, served["id"], "fulfil", OWNER)
    won = event("opportunity.won", {"opportunity_id": str(opportunity), "owner_id": str(REQUESTER.id)})
    result = await client.post("/internal/events", json=won, headers=SERVICE)
    assert result.json()["results"][0]["status"] == "processed"
    got = {
        r["id"]: r["outcome"]
        for r in (await client.get("/api/v1/resource-requests", headers=OWNER.headers)).json()["items"]
    }
    assert got == {served["id"]: "contributed_to_win", pending["id"]: None}


async def test_outcome_is_kept_only_after_fulfilment(service_client):
    client, resource = await setup(service_client)
    created = await new_request(client, resource["id"])
    early = await client.post(
        f"/api/v1/resource-requests/{created['id']}/outcome", json={"outcome": "no_impact"}, headers=REQUESTER.headers
    )
    assert early.status_code == 409
    await step(client, created["id"], "approve", OWNER)
    await step(client, created["id"], "fulfil", OWNER)
    opportunity = str(uuid.uuid4())
    kept = await step(
        client, created["id"], "outcome", REQUESTER, {"outcome": "contributed_to_win", "opportunity_id": opportunity}
    )
    assert (kept["outcome"], kept["opportunity_id"]) == ("contributed_to_win", opportunity)
    bad = await client.post(
        f"/api/v1/resource-requests/{created['id']}/rate", json={"rating": 6}, headers=REQUESTER.headers
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["body", "rating"]
