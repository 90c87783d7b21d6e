from tests.support import auth

SOLUTIONS = "/api/v1/solutions"
ADMIN = auth(org_unit="/group/east", roles=("org_admin",))
REP = auth(org_unit="/group/west/team-9", roles=("rep",))
# Lists show the caller's organisation's catalogue (and the group's): a rep of the admin's organisation.
EAST_REP = auth(org_unit="/group/east/team-1", roles=("rep",))


def new_solution(**extra: object) -> dict:
    return {
        "name": "Hybrid Cloud Backup",
        "family": "storage",
        "industries": ["banking", "retail"],
        "size_bands": ["enterprise"],
        "list_price": {"amount": "45000.00", "currency": "CNY"},
        "presales_support_usual": True,
        **extra,
    }


async def test_create_get_update(service_client):
    client = await service_client("opportunity")
    created = await client.post(SOLUTIONS, json=new_solution(), headers=ADMIN)
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["location"] == f"{SOLUTIONS}/{body['id']}"
    assert body["list_price"] == {"amount": "45000.00", "currency": "CNY"}
    assert body["industries"] == ["banking", "retail"]
    assert body["active"] is True

    # An organisation's catalogue is read by its people, whichever org unit they sit in; another's get 404.
    got = await client.get(f"{SOLUTIONS}/{body['id']}", headers=EAST_REP)
    assert got.status_code == 200 and got.headers["etag"] == '"1"'
    assert got.json() == body
    assert (await client.get(f"{SOLUTIONS}/{body['id']}", headers=REP)).status_code == 404

    patched = await client.patch(
        f"{SOLUTIONS}/{body['id']}",
        json={"active": False, "list_price": {"amount": "39999.9", "currency": "CNY"}},
        headers={**ADMIN, "If-Match": '"1"'},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["active"] is False
    assert patched.json()["list_price"] == {"amount": "39999.90", "currency": "CNY"}
    assert patched.headers["etag"] == '"2"'


async def test_filters_and_pagination(service_client):
    client = await service_client("opportunity")
    backup = (await client.post(SOLUTIONS, json=new_solution(), headers=ADMIN)).json()["id"]
    crm = (
        await client.post(
            SOLUTIONS,
            json=new_solution(name="Retail CRM", family="apps", industries=["retail"], size_bands=["smb"]),
            headers=ADMIN,
        )
    ).json()["id"]
    retired = (
        await client.post(
            SOLUTIONS, json=new_solution(name="Tape Library", industries=["banking"], active=False), headers=ADMIN
        )
    ).json()["id"]

    async def ids(**params: object) -> list[str]:
        response = await client.get(SOLUTIONS, params=params, headers=EAST_REP)
        assert response.status_code == 200, response.text
        return [s["id"] for s in response.json()["items"]]

    assert await ids(industry="retail") == [backup, crm]
    assert await ids(industry="banking", active="true") == [backup]
    assert await ids(size_band="smb") == [crm]
    assert await ids(family="storage") == [backup, retired]
    first = (await client.get(SOLUTIONS, params={"limit": 2}, headers=EAST_REP)).json()
    assert [s["id"] for s in first["items"]] == [backup, crm]
    second = (await client.get(SOLUTIONS, params={"limit": 2, "cursor": first["next_cursor"]}, headers=EAST_REP)).json()
    assert [s["id"] for s in second["items"]] == [retired]
    assert second["next_cursor"] is None


async def test_reps_and_managers_cannot_write(service_client):
    client = await service_client("opportunity")
    created = (await client.post(SOLUTIONS, json=new_solution(), headers=ADMIN)).json()
    manager = auth(org_unit="/group/east", roles=("manager",))
    for headers in (EAST_REP, manager):
        assert (await client.post(SOLUTIONS, json=new_solution(name="Other"), headers=headers)).status_code == 403
        changed = await client.patch(f"{SOLUTIONS}/{created['id']}", json={"active": False}, headers=headers)
        assert changed.status_code == 403
        assert changed.headers["content-type"] == "application/problem+json"
    assert (await client.get(f"{SOLUTIONS}/{created['id']}", headers=EAST_REP)).json()["active"] is True
    group_admin = auth(org_unit="/group", roles=("group_admin",))
    assert (await client.post(SOLUTIONS, json=new_solution(name="Other"), headers=group_admin)).status_code == 201


async def test_duplicate_name_conflicts_with_field(service_client):
    client = await service_client("opportunity")
    assert (await client.post(SOLUTIONS, json=new_solution(), headers=ADMIN)).status_code == 201
    again = await client.post(SOLUTIONS, json=new_solution(), headers=ADMIN)
    assert again.status_code == 409
    assert again.json()["errors"][0]["loc"] == ["body", "name"]


async def test_list_price_errors_name_the_field(service_client):
    client = await service_client("opportunity")
    bad = await client.post(
        SOLUTIONS, json=new_solution(list_price={"amount": "lots", "currency": "CN"}), headers=ADMIN
    )
    assert bad.status_code == 422
    assert sorted(e["loc"] for e in bad.json()["errors"]) == [
        ["body", "list_price", "amount"],
        ["body", "list_price", "currency"],
    ]
    null_name = await client.post(SOLUTIONS, json=new_solution(), headers=ADMIN)
    renamed = await client.patch(f"{SOLUTIONS}/{null_name.json()['id']}", json={"name": None}, headers=ADMIN)
    assert renamed.status_code == 422 and renamed.json()["errors"][0]["loc"] == ["body", "name"]


async def test_unknown_solution_is_404(service_client):
    client = await service_client("opportunity")
    response = await client.get(f"{SOLUTIONS}/00000000-0000-0000-0000-000000000000", headers=REP)
    assert response.status_code == 404
