import uuid

from tests.services.resource_share.helpers import SERVICE, Person, employee_event, event, new_relationship, share
from tests.support_servers import closed_url

OWNER = Person("/group/east/team-1")
MANAGER = Person("/group/east", roles=("manager",))
TEAMMATE = Person("/group/east/team-1")
OTHER_TEAM = Person("/group/east/team-2")
OTHER_ORG = Person("/group/west/team-1")
FAR = Person("/group/south/team-1")


async def use(client, resource_id: str, who: Person, opportunity: uuid.UUID | None = None) -> None:
    body = {"resource_id": resource_id, **({"opportunity_id": str(opportunity)} if opportunity else {})}
    request = (await client.post("/api/v1/resource-requests", json=body, headers=who.headers)).json()
    for action in ("approve", "fulfil"):
        response = await client.post(
            f"/api/v1/resource-requests/{request['id']}/{action}", json={}, headers=OWNER.headers
        )
        assert response.status_code == 200, response.text


async def won(client, opportunity: uuid.UUID) -> None:
    body = event("opportunity.won", {"opportunity_id": str(opportunity)})
    assert (await client.post("/internal/events", json=body, headers=SERVICE)).json()["results"][0][
        "status"
    ] == "processed"


async def test_influence_breakdown_counts_reuse_reach_introductions_and_wins(service_client):
    client = await service_client("resource_share", employee_lifecycle_url=closed_url())
    case = await share(client, OWNER, {"type": "reference_case", "title": "Grid at Acme", "scope": "group"})
    deal, supported_deal = uuid.uuid4(), uuid.uuid4()
    await use(client, case["id"], TEAMMATE)  # same team: not influence
    await use(client, case["id"], OTHER_TEAM)
    await use(client, case["id"], OTHER_ORG, deal)
    # An introduction OWNER made for someone in a third organisation.
    contact = uuid.uuid4()
    rel = await share(client, OWNER, new_relationship(contact, strength=90))
    intro = (
        await client.post(
            "/api/v1/introductions",
            headers=FAR.headers,
            json={"contact_id": str(contact), "relationship_ids": [rel["id"]]},
        )
    ).json()
    for action in ("accept", "introduce"):
        assert (
            await client.post(f"/api/v1/introductions/{intro['id']}/{action}", json={}, headers=OWNER.headers)
        ).status_code == 200
    # Support OWNER gave on a deal that was then won.
    await client.put(
        f"/api/v1/support-requests/pool/{OWNER.id}",
        headers=OWNER.headers,
        json={"skills": ["grid"], "weekly_capacity_hours": 20},
    )
    support = (
        await client.post(
            "/api/v1/support-requests",
            headers=OTHER_TEAM.headers,
            json={
                "opportunity_id": str(supported_deal),
                "kind": "expert_time",
                "title": "Grid design",
                "skills": ["grid"],
            },
        )
    ).json()
    await client.post(f"/api/v1/support-requests/{support['id']}/assign", json={}, headers=OWNER.headers)
    await client.post(f"/api/v1/support-requests/{support['id']}/fulfil", headers=OWNER.headers)
    before = (await client.get(f"/api/v1/resources/people/{OWNER.id}/influence", headers=OWNER.headers)).json()
    assert before["breakdown"]["wins_contributed"] == 0
    await won(client, deal)
    await won(client, supported_deal)
    got = (await client.get(f"/api/v1/resources/people/{OWNER.id}/influence", headers=OWNER.headers)).json()
    assert got["breakdown"] == {
        "reuse_other_teams": 1,
        "reuse_other_organizations": 1,
        "introductions_completed": 1,
        "wins_contributed": 2,
        "organizations_reached": 2,
    }
    assert got["points"] == {
        "reuse_other_teams": 1.0,
        "reuse_other_organizations": 2.0,
        "introductions_completed": 3.0,
        "wins_contributed": 10.0,
        "organizations_reached": 4.0,
    }
    assert got["score"] == 20.0


async def test_influence_and_profile_are_private_until_opted_in(service_client):
    client = await service_client("resource_share")
    await share(
        client, OWNER, {"type": "solution_asset", "title": "Storage deck", "scope": "group", "industries": ["retail"]}
    )
    await share(client, OWNER, {"type": "solution_asset", "title": "Team notes", "scope": "team"})
    influence_url = f"/api/v1/resources/people/{OWNER.id}/influence"
    profile_url = f"/api/v1/resources/people/{OWNER.id}/profile"
    assert (await client.get(profile_url, headers=OWNER.headers)).status_code == 404  # no profile yet
    private = await client.put(
        profile_url, json={"public": False, "expertise_areas": ["storage"]}, headers=OWNER.headers
    )
    assert private.status_code == 200, private.text
    assert (await client.get(profile_url, headers=OTHER_ORG.headers)).status_code == 404
    assert (await client.get(influence_url, headers=OTHER_ORG.headers)).status_code == 404
    assert (await client.get(profile_url, headers=MANAGER.headers)).status_code == 200
    assert (await client.put(profile_url, json={"public": True}, headers=MANAGER.headers)).status_code == 403
    public = await client.put(
        profile_url,
        json={"public": True, "headline": "Storage for retail", "expertise_areas": ["storage", "retail"]},
        headers=OWNER.headers,
    )
    assert public.json()["published_at"] is not None
    seen = (await client.get(profile_url, headers=OTHER_ORG.headers)).json()
    assert (seen["headline"], seen["expertise_areas"]) == ("Storage for retail", ["storage", "retail"])
    assert [a["title"] for a in seen["shared_assets"]] == ["Storage deck"]
    assert seen["influence"]["score"] == 0.0
    assert (await client.get(influence_url, headers=OTHER_ORG.headers)).status_code == 200


async def test_demand_counts_what_is_asked_and_stays_in_the_line(service_client):
    client = await service_client("resource_share", employee_lifecycle_url=closed_url())
    expert = Person("/group/east/team-1")
    known = await client.post(
        "/internal/events",
        headers=SERVICE,
        json=[employee_event(str(expert.id), version=1, org_unit="/group/east/team-1", event_type="employee.created")],
    )
    assert known.json()["results"][0]["status"] == "processed"
    case = await share(client, expert, {"type": "reference_case", "title": "Cold chain at Harbour", "scope": "group"})
    demand_url = f"/api/v1/resources/people/{expert.id}/demand"
    empty = (await client.get(demand_url, headers=expert.headers)).json()
    assert empty["resource_requests"] == {
        "total": 0,
        "by_status": {},
        "waiting_decision": 0,
        "requesting_organizations": 0,
        "from_other_organizations": 0,
    }
    for who in (TEAMMATE, OTHER_ORG, FAR):
        r = await client.post("/api/v1/resource-requests", json={"resource_id": case["id"]}, headers=who.headers)
        assert r.status_code == 201, r.text
    first = (await client.get("/api/v1/resource-requests", params={"role": "owner"}, headers=expert.headers)).json()[
        "items"
    ][0]
    assert (
        await client.post(f"/api/v1/resource-requests/{first['id']}/approve", json={}, headers=expert.headers)
    ).status_code == 200
    contact = uuid.uuid4()
    rel = await share(client, expert, new_relationship(contact, strength=80))
    intro = await client.post(
        "/api/v1/introductions", headers=FAR.headers, json={"contact_id": str(contact), "relationship_ids": [rel["id"]]}
    )
    assert intro.status_code == 201, intro.text

    got = await client.get(demand_url, headers=expert.headers)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["resource_requests"] == {
        "total": 3,
        "by_status": {"requested": 2, "approved": 1},
        "waiting_decision": 2,
        "requesting_organizations": 3,
        "from_other_organizations": 2,
    }
    assert body["introductions"] == {"total": 1, "by_status": {"requested": 1}, "waiting_decision": 1}
    assert body["support_requests"] == {"assigned_open": 0, "fulfilled": 0} and body["window_days"] == 90

    assert (await client.get(demand_url, headers=MANAGER.headers)).status_code == 200
    assert (await client.get(demand_url, headers=OTHER_ORG.headers)).status_code == 404
    # Opting in to a public profile shows influence to everyone, not what is asked of you.
    await client.put(f"/api/v1/resources/people/{expert.id}/profile", json={"public": True}, headers=expert.headers)
    assert (await client.get(demand_url, headers=OTHER_ORG.headers)).status_code == 404
    bad = await client.get(demand_url, params={"window_days": 0}, headers=expert.headers)
    assert bad.status_code == 422 and "window_days" in bad.text
