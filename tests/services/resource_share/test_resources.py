import uuid

import pytest

from tests.support import auth

OWNER_ID = uuid.uuid4()
OWNER = auth(employee=OWNER_ID, org_unit="/group/east/team-1", roles=("rep",))
ROLES = {
    "owner": OWNER,
    "teammate": auth(org_unit="/group/east/team-1", roles=("rep",)),
    "colleague": auth(org_unit="/group/east/team-2", roles=("rep",)),
    "outsider": auth(org_unit="/group/west/team-1", roles=("rep",)),
    "manager": auth(org_unit="/group/east", roles=("manager",)),
    "group_admin": auth(org_unit="/group", roles=("group_admin",)),
    # Traps: a string prefix that is not an ancestor, and a rep above every organisation.
    "prefix_manager": auth(org_unit="/group/eas", roles=("manager",)),
    "group_staff": auth(org_unit="/group", roles=("rep",)),
}
#                 owner teammate colleague outsider manager group_admin prefix_manager group_staff
VISIBILITY = {
    "private": (1, 0, 0, 0, 1, 1, 0, 0),
    "team": (1, 1, 0, 0, 1, 1, 0, 0),
    "organization": (1, 1, 1, 0, 1, 1, 0, 0),
    "group": (1, 1, 1, 1, 1, 1, 1, 1),
    "public": (1, 1, 1, 1, 1, 1, 1, 1),
}
CASES = [(scope, role, bool(seen)) for scope, row in VISIBILITY.items() for role, seen in zip(ROLES, row, strict=True)]


def new_resource(**extra: object) -> dict:
    return {
        "type": "reference_case",
        "title": "Cold-chain rollout at a retail chain",
        "summary": "Twelve stores in six weeks.",
        "scope": "team",
        "industries": ["retail"],
        "solutions": ["gtx-pro"],
        **extra,
    }


async def create(client, headers=OWNER, **extra: object) -> dict:
    response = await client.post("/api/v1/resources", json=new_resource(**extra), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_sets_owner_unit_and_headers(service_client):
    client = await service_client("resource_share")
    response = await client.post(
        "/api/v1/resources", json=new_resource(industries=["retail", " retail"]), headers=OWNER
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/api/v1/resources/{body['id']}"
    assert response.headers["etag"] == '"1"'
    assert body["owner_id"] == str(OWNER_ID)
    assert body["org_unit_path"] == "/group/east/team-1"
    assert body["industries"] == ["retail"]
    assert (body["usage_count"], body["rating_avg"], body["version"]) == (0, None, 1)
    got = await client.get(f"/api/v1/resources/{body['id']}", headers=OWNER)
    assert got.json() == body
    assert got.headers["etag"] == '"1"'


@pytest.mark.parametrize(("scope", "role", "visible"), CASES, ids=[f"{s}-{r}" for s, r, _ in CASES])
async def test_scope_visibility(service_client, scope, role, visible):
    client = await service_client("resource_share")
    resource = await create(client, scope=scope)
    got = await client.get(f"/api/v1/resources/{resource['id']}", headers=ROLES[role])
    assert got.status_code == (200 if visible else 404), got.text
    listed = await client.get("/api/v1/resources", params={"owner_id": str(OWNER_ID)}, headers=ROLES[role])
    assert [r["id"] for r in listed.json()["items"]] == ([resource["id"]] if visible else [])


@pytest.mark.parametrize(
    ("role", "status"),
    [("owner", 200), ("manager", 200), ("group_admin", 200), ("teammate", 403), ("colleague", 404)],
)
async def test_only_owner_managers_and_admins_may_change(service_client, role, status):
    client = await service_client("resource_share")
    resource = await create(client, scope="team")
    response = await client.patch(f"/api/v1/resources/{resource['id']}", json={"title": "Renamed"}, headers=ROLES[role])
    assert response.status_code == status, response.text
    after = (await client.get(f"/api/v1/resources/{resource['id']}", headers=OWNER)).json()
    assert after["title"] == ("Renamed" if status == 200 else resource["title"])


async def test_patch_checks_if_match_and_bumps_etag(service_client):
    client = await service_client("resource_share")
    resource = await create(client)
    url = f"/api/v1/resources/{resource['id']}"
    stale = await client.patch(url, json={"scope": "group"}, headers={**OWNER, "If-Match": '"7"'})
    assert stale.status_code == 412
    ok = await client.patch(url, json={"scope": "group", "solutions": ["a", "b"]}, headers={**OWNER, "If-Match": '"1"'})
    assert ok.status_code == 200, ok.text
    assert ok.headers["etag"] == '"2"'
    assert (ok.json()["scope"], ok.json()["solutions"], ok.json()["type"]) == ("group", ["a", "b"], "reference_case")


async def test_filters(service_client):
    client = await service_client("resource_share")
    other_id = uuid.uuid4()
    other = auth(employee=other_id, org_unit="/group/west/team-9", roles=("rep",))
    case = await create(client, scope="group", industries=["retail", "energy"], solutions=["gtx-pro"])
    expert = await create(
        client,
        scope="group",
        type="expert",
        title="Grid storage expert",
        summary="Batteries.",
        industries=["energy"],
        solutions=["mg-special"],
    )
    west = await create(client, other, scope="group", industries=["finance"], solutions=["gtx-pro"])

    async def ids(**params: object) -> list[str]:
        response = await client.get("/api/v1/resources", params=params, headers=ROLES["outsider"])
        assert response.status_code == 200, response.text
        return [r["id"] for r in response.json()["items"]]

    assert await ids(type="expert") == [expert["id"]]
    assert await ids(industry="energy") == [case["id"], expert["id"]]
    assert await ids(solution="gtx-pro") == [case["id"], west["id"]]
    assert await ids(organization="/group/west") == [west["id"]]
    assert await ids(organization="/group/east/team-1") == [case["id"], expert["id"]]
    assert await ids(owner_id=str(other_id)) == [west["id"]]
    assert await ids(industry="energy", type="reference_case") == [case["id"]]
    assert await ids(q="grid storage") == [expert["id"]]
    assert await ids(q="stores") == [case["id"], west["id"]]


async def test_pagination(service_client):
    client = await service_client("resource_share")
    created = [(await create(client, title=f"Asset {i}"))["id"] for i in range(5)]
    first = (await client.get("/api/v1/resources", params={"limit": 2}, headers=OWNER)).json()
    assert [r["id"] for r in first["items"]] == created[:2]
    second = (
        await client.get("/api/v1/resources", params={"limit": 2, "cursor": first["next_cursor"]}, headers=OWNER)
    ).json()
    assert [r["id"] for r in second["items"]] == created[2:4]
    last = (
        await client.get("/api/v1/resources", params={"limit": 2, "cursor": second["next_cursor"]}, headers=OWNER)
    ).json()
    assert ([r["id"] for r in last["items"]], last["next_cursor"]) == (created[4:], None)
    other_query = await client.get(
        "/api/v1/resources", params={"limit": 2, "cursor": first["next_cursor"], "type": "expert"}, headers=OWNER
    )
    assert other_query.status_code == 400
    assert other_query.json()["code"] == "invalid_cursor"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (new_resource(type="brochure"), ["body", "type"]),
        (new_resource(scope="everyone"), ["body", "scope"]),
        (new_resource(title=" "), ["body", "title"]),
        ({k: v for k, v in new_resource().items() if k != "title"}, ["body", "title"]),
        (new_resource(industries=[""]), ["body", "industries", 0]),
        (new_resource(usage_count=99), ["body", "usage_count"]),
        (new_resource(owner_id=str(uuid.uuid4())), ["body", "owner_id"]),
    ],
)
async def test_create_validation_names_the_field(service_client, body, loc):
    client = await service_client("resource_share")
    response = await client.post("/api/v1/resources", json=body, headers=OWNER)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["loc"] for e in response.json()["errors"]] == [loc]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"type": "expert"}, ["body", "type"]),
        ({"title": None}, ["body", "title"]),
        ({"rating_avg": 5}, ["body", "rating_avg"]),
    ],
)
async def test_patch_validation_names_the_field(service_client, body, loc):
    client = await service_client("resource_share")
    resource = await create(client)
    response = await client.patch(f"/api/v1/resources/{resource['id']}", json=body, headers=OWNER)
    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["errors"]] == [loc]


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"type": "brochure"}, ["query", "type"]),
        ({"owner_id": "x"}, ["query", "owner_id"]),
        ({"organization": "east"}, ["query", "organization"]),
        ({"limit": 0}, ["query", "limit"]),
    ],
)
async def test_list_validation_names_the_parameter(service_client, params, loc):
    client = await service_client("resource_share")
    response = await client.get("/api/v1/resources", params=params, headers=OWNER)
    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["errors"]] == [loc]


async def test_non_employee_token_cannot_share(service_client):
    client = await service_client("resource_share")
    response = await client.post("/api/v1/resources", json=new_resource(), headers=auth(employee="robot-7"))
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
