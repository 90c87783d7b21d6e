import datetime as dt
import uuid

import pytest

from tests.services.resource_share.helpers import TODAY, Person, new_relationship, share

OWNER = Person("/group/east/team-1")
MANAGER = Person("/group/east", roles=("manager",))
OUTSIDER = Person("/group/west/team-1")


async def test_a_relationship_exposes_only_what_its_owner_shared(service_client):
    client = await service_client("resource_share")
    contact, account = uuid.uuid4(), uuid.uuid4()
    created = await share(client, OWNER, new_relationship(contact, account_id=account, strength=70))
    got = (await client.get(f"/api/v1/resources/{created['id']}", headers=OUTSIDER.headers)).json()
    assert got["relationship"] == {
        "contact_id": str(contact),
        "account_id": str(account),
        "strength": 70,
        "disclosure": "identity",
        "shared": {"title": "CFO"},
        "consent_given_on": str(TODAY - dt.timedelta(days=30)),
        "consent_expires_on": str(TODAY + dt.timedelta(days=365)),
        "consent_expired": False,
    }
    assert got["owner_id"] == str(OWNER.id)


@pytest.mark.parametrize(
    ("disclosure", "owner_seen", "unit_seen"),
    [("identity", True, "/group/east/team-1"), ("organization", False, "/group/east"), ("anonymous", False, None)],
)
async def test_the_owner_is_shown_only_as_far_as_they_disclose(service_client, disclosure, owner_seen, unit_seen):
    client = await service_client("resource_share")
    created = await share(client, OWNER, new_relationship(uuid.uuid4(), disclosure=disclosure))
    got = (await client.get(f"/api/v1/resources/{created['id']}", headers=OUTSIDER.headers)).json()
    assert (got["owner_id"] == str(OWNER.id), got["org_unit_path"]) == (owner_seen, unit_seen)
    # Filtering by owner must not reveal an undisclosed owner either.
    by_owner = await client.get("/api/v1/resources", params={"owner_id": str(OWNER.id)}, headers=OUTSIDER.headers)
    assert [r["id"] for r in by_owner.json()["items"]] == ([created["id"]] if owner_seen else [])
    by_org = await client.get("/api/v1/resources", params={"organization": "/group/east"}, headers=OUTSIDER.headers)
    assert [r["id"] for r in by_org.json()["items"]] == ([created["id"]] if unit_seen else [])
    # The owner's line sees everything.
    mine = (await client.get(f"/api/v1/resources/{created['id']}", headers=MANAGER.headers)).json()
    assert mine["owner_id"] == str(OWNER.id)


async def test_an_expired_consent_hides_the_relationship_from_everyone_but_its_owner(service_client):
    client = await service_client("resource_share")
    created = await share(client, OWNER, new_relationship(uuid.uuid4(), expires=TODAY))
    url = f"/api/v1/resources/{created['id']}"
    assert (await client.get(url, headers=OUTSIDER.headers)).status_code == 200  # the last day still counts
    withdrawn = await client.patch(
        url, json={"relationship": {"consent_expires_on": str(TODAY - dt.timedelta(days=1))}}, headers=OWNER.headers
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["relationship"]["consent_expired"] is True
    for viewer in (OUTSIDER, MANAGER):
        assert (await client.get(url, headers=viewer.headers)).status_code == 404
        listed = await client.get("/api/v1/resources", params={"type": "relationship"}, headers=viewer.headers)
        assert created["id"] not in [r["id"] for r in listed.json()["items"]]
    assert (await client.get(url, headers=OWNER.headers)).status_code == 200
    renewed = await client.patch(
        url, json={"relationship": {"consent_expires_on": str(TODAY + dt.timedelta(days=90))}}, headers=OWNER.headers
    )
    assert renewed.status_code == 200
    assert (await client.get(url, headers=OUTSIDER.headers)).status_code == 200


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"type": "relationship", "title": "x"}, ["body", "relationship"]),
        (
            {"type": "expert", "title": "x", "relationship": new_relationship(uuid.uuid4())["relationship"]},
            ["body", "relationship"],
        ),
        (
            new_relationship(uuid.uuid4(), expires=TODAY - dt.timedelta(days=1)),
            ["body", "relationship", "consent_expires_on"],
        ),
        (new_relationship(uuid.uuid4(), strength=101), ["body", "relationship", "strength"]),
        (
            {
                **new_relationship(uuid.uuid4()),
                "relationship": {**new_relationship(uuid.uuid4())["relationship"], "shared": {"Home Address": "x"}},
            },
            ["body", "relationship", "shared", "Home Address", "[key]"],
        ),
    ],
)
async def test_relationship_validation_names_the_field(service_client, body, loc):
    client = await service_client("resource_share")
    response = await client.post("/api/v1/resources", json=body, headers=OWNER.headers)
    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["errors"]] == [loc]


async def test_relationship_fields_cannot_be_patched_onto_another_type(service_client):
    client = await service_client("resource_share")
    case = await share(client, OWNER, {"type": "reference_case", "title": "A case"})
    response = await client.patch(
        f"/api/v1/resources/{case['id']}", json={"relationship": {"strength": 5}}, headers=OWNER.headers
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "relationship"]
