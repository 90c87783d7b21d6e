import datetime as dt
import uuid

from tests.services.resource_share.helpers import ALL_EVENTS, TODAY, Person, new_relationship, outbox, share

ME = Person("/group/east/team-1")
SAME_ORG = Person("/group/east/team-2")
OTHER_ORG = Person("/group/west/team-1")
SHY = Person("/group/south/team-1")
OTHER_ORG_MANAGER = Person("/group/west", roles=("manager",))
ACME = uuid.uuid4()


async def paths(client, who: Person = ME, **params: object) -> list[dict]:
    response = await client.get(
        "/api/v1/introductions/paths", params={k: str(v) for k, v in params.items()}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_paths_are_ranked_by_combined_strength_across_organisations(service_client):
    client = await service_client("resource_share")
    target, mutual = uuid.uuid4(), uuid.uuid4()
    near = await share(client, SAME_ORG, new_relationship(target, account_id=ACME, strength=60))  # 0.8 × 0.6 = 0.48
    far = await share(client, OTHER_ORG, new_relationship(target, account_id=ACME, strength=90))  # 0.6 × 0.9 = 0.54
    # I know `mutual` well, and so does OTHER_ORG: 0.9 × 0.9 × 0.9 = 0.729 beats both cold asks.
    mine = await share(client, ME, new_relationship(mutual, strength=90, scope="private"))
    theirs = await share(client, OTHER_ORG, new_relationship(mutual, strength=90))
    # Not in the graph: team scope, and an expired consent.
    await share(client, SAME_ORG, new_relationship(target, account_id=ACME, strength=100, scope="team"))
    expired = await share(client, SHY, new_relationship(target, account_id=ACME, strength=100))
    await client.patch(
        f"/api/v1/resources/{expired['id']}",
        headers=SHY.headers,
        json={"relationship": {"consent_expires_on": str(TODAY - dt.timedelta(days=1))}},
    )
    found = await paths(client, contact_id=target)
    assert [(p["rank"], p["relationship_ids"], p["strength"], p["hops"]) for p in found] == [
        (1, [mine["id"], theirs["id"], far["id"]], 0.729, 3),
        (2, [far["id"]], 0.54, 2),
        (3, [near["id"]], 0.48, 2),
    ]
    assert [p["connector"]["employee_id"] for p in found] == [str(OTHER_ORG.id), str(OTHER_ORG.id), str(SAME_ORG.id)]
    assert [s["kind"] for s in found[1]["steps"]] == ["ask", "relationship"]
    assert found[1]["steps"][1]["target"] == {
        "type": "contact",
        "employee": None,
        "contact_id": str(target),
        "shared": {"title": "CFO"},
    }


async def test_account_targets_and_connector_disclosure(service_client):
    client = await service_client("resource_share")
    cfo, cto = uuid.uuid4(), uuid.uuid4()
    await share(client, SHY, new_relationship(cfo, account_id=ACME, strength=90, disclosure="organization"))
    await share(client, OTHER_ORG, new_relationship(cto, account_id=ACME, strength=50, disclosure="anonymous"))
    found = await paths(client, account_id=ACME)
    assert [p["target_contact_id"] for p in found] == [str(cfo), str(cto)]
    assert found[0]["connector"] == {
        "disclosure": "organization",
        "employee_id": None,
        "org_unit_path": None,
        "organization": "/group/south",
    }
    assert found[1]["connector"] == {
        "disclosure": "anonymous",
        "employee_id": None,
        "org_unit_path": None,
        "organization": None,
    }
    # The connector's identity is not in the steps either.
    assert str(SHY.id) not in str(found) and str(OTHER_ORG.id) not in str(found)


async def test_paths_paginate_by_rank(service_client):
    client = await service_client("resource_share")
    target = uuid.uuid4()
    for strength in (90, 80, 70):
        await share(client, Person("/group/west/team-9"), new_relationship(target, strength=strength))
    first = await client.get(
        "/api/v1/introductions/paths", params={"contact_id": str(target), "limit": 2}, headers=ME.headers
    )
    second = await client.get(
        "/api/v1/introductions/paths",
        headers=ME.headers,
        params={"contact_id": str(target), "limit": 2, "cursor": first.json()["next_cursor"]},
    )
    assert [p["rank"] for p in first.json()["items"]] + [p["rank"] for p in second.json()["items"]] == [1, 2, 3]
    assert second.json()["next_cursor"] is None
    assert (await client.get("/api/v1/introductions/paths", headers=ME.headers)).status_code == 422


async def test_asking_goes_to_the_connector_who_decides_and_the_outcome_is_published(service_client, connection):
    client = await service_client("resource_share", **ALL_EVENTS)
    target = uuid.uuid4()
    rel = await share(
        client, OTHER_ORG, new_relationship(target, account_id=ACME, strength=90, disclosure="organization")
    )
    bad = await client.post(
        "/api/v1/introductions",
        headers=ME.headers,
        json={"contact_id": str(target), "relationship_ids": [str(uuid.uuid4())]},
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["body", "relationship_ids"]
    asked = await client.post(
        "/api/v1/introductions",
        headers=ME.headers,
        json={"contact_id": str(target), "relationship_ids": [rel["id"]], "message": "Please"},
    )
    assert asked.status_code == 201, asked.text
    intro = asked.json()
    assert (intro["status"], intro["strength"], intro["hops"], intro["target_account_id"]) == (
        "requested",
        0.54,
        2,
        str(ACME),
    )
    assert intro["connector"]["employee_id"] is None  # the requester does not learn who it is
    waiting = (
        await client.get("/api/v1/introductions", params={"role": "connector"}, headers=OTHER_ORG.headers)
    ).json()
    assert [i["id"] for i in waiting["items"]] == [intro["id"]]
    assert waiting["items"][0]["connector"]["employee_id"] == str(OTHER_ORG.id)
    url = f"/api/v1/introductions/{intro['id']}"
    assert (await client.post(f"{url}/accept", json={}, headers=ME.headers)).status_code == 403
    too_early = await client.post(f"{url}/introduce", json={}, headers=OTHER_ORG.headers)
    assert too_early.status_code == 409 and too_early.json()["code"] == "illegal_transition"
    assert (await client.post(f"{url}/accept", json={}, headers=OTHER_ORG_MANAGER.headers)).json()[
        "status"
    ] == "accepted"
    done = await client.post(f"{url}/introduce", json={"note": "Lunch on Friday"}, headers=OTHER_ORG.headers)
    assert done.status_code == 200 and done.json()["status"] == "introduced"
    assert await outbox(connection, "introduction.completed") == [
        {
            "introduction_id": intro["id"],
            "connector_id": str(OTHER_ORG.id),
            "requester_id": str(ME.id),
            "connector_org_unit_path": "/group/west/team-1",
            "requester_org_unit_path": "/group/east/team-1",
            "account_id": str(ACME),
            "contact_id": str(target),
            "outcome": "introduced",
        }
    ]
    used = (await client.get(f"/api/v1/resources/{rel['id']}", headers=OTHER_ORG.headers)).json()
    assert used["usage_count"] == 1
    assert (await client.get(url, headers=Person("/group/east/team-1").headers)).status_code == 404


async def test_a_declined_introduction_is_completed_with_outcome_declined(service_client, connection):
    client = await service_client("resource_share", **ALL_EVENTS)
    target = uuid.uuid4()
    rel = await share(client, OTHER_ORG, new_relationship(target, strength=90))
    intro = (
        await client.post(
            "/api/v1/introductions",
            headers=ME.headers,
            json={"contact_id": str(target), "relationship_ids": [rel["id"]]},
        )
    ).json()
    declined = await client.post(f"/api/v1/introductions/{intro['id']}/decline", json={}, headers=OTHER_ORG.headers)
    assert declined.json()["status"] == "declined"
    assert [e["outcome"] for e in await outbox(connection, "introduction.completed")] == ["declined"]
