import uuid

import sqlalchemy as sa

from services.key_account.accounts import repository
from services.key_account.accounts.models import Account
from tests.support import auth

ADMIN = auth(org_unit="/group", roles=("group_admin",))
EAST_MANAGER = auth(org_unit="/group/east", roles=("manager",))


def new_account(name: str = "Acme Holdings", org_unit: str = "/group/east/team-1", **extra: object) -> dict:
    return {"name": name, "org_unit_path": org_unit, **extra}


def rep(employee: uuid.UUID, org_unit: str = "/group/east/team-1") -> dict[str, str]:
    return auth(employee=employee, org_unit=org_unit, roles=("rep",))


async def create(client, data: dict, headers: dict[str, str] = ADMIN) -> dict:
    response = await client.post("/api/v1/accounts", json=data, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_get_update_list(service_client):
    client = await service_client("key_account")
    owner = uuid.uuid4()
    data = new_account(
        industry="retail",
        annual_revenue={"amount": "1234.5", "currency": "CNY"},
        employees=120,
        headquarters="Shanghai",
        owner_id=str(owner),
        external_id="maven-acme",
    )
    created = await client.post("/api/v1/accounts", json=data, headers=ADMIN)
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["location"] == f"/api/v1/accounts/{body['id']}"
    assert created.headers["etag"] == '"1"'
    assert body["annual_revenue"] == {"amount": "1234.50", "currency": "CNY"}
    assert body["owner_id"] == str(owner) and body["external_id"] == "maven-acme"

    got = await client.get(f"/api/v1/accounts/{body['id']}", headers=ADMIN)
    assert got.headers["etag"] == '"1"'
    assert got.json()["annual_revenue"] == {"amount": "1234.50", "currency": "CNY"}
    assert got.json()["employees"] == 120 and got.json()["headquarters"] == "Shanghai"

    patched = await client.patch(
        f"/api/v1/accounts/{body['id']}",
        json={"employees": 130, "annual_revenue": None},
        headers={**ADMIN, "If-Match": '"1"'},
    )
    assert patched.status_code == 200, patched.text
    assert patched.headers["etag"] == '"2"'
    assert patched.json()["employees"] == 130 and patched.json()["annual_revenue"] is None
    assert patched.json()["industry"] == "retail"

    stale = await client.patch(
        f"/api/v1/accounts/{body['id']}", json={"employees": 1}, headers={**ADMIN, "If-Match": '"1"'}
    )
    assert stale.status_code == 412

    listed = await client.get("/api/v1/accounts", params={"industry": "retail"}, headers=ADMIN)
    assert [a["id"] for a in listed.json()["items"]] == [body["id"]]


async def test_invalid_fields_are_named(service_client):
    client = await service_client("key_account")
    cases = {
        ("body", "employees"): new_account(employees=-1),
        ("body", "annual_revenue", "amount"): new_account(annual_revenue={"amount": "1.005", "currency": "CNY"}),
        ("body", "annual_revenue", "currency"): new_account(annual_revenue={"amount": "1", "currency": "cny"}),
        ("body", "colour"): new_account(colour="red"),
        ("body", "org_unit_path"): new_account(org_unit="east"),
    }
    for loc, data in cases.items():
        response = await client.post("/api/v1/accounts", json=data, headers=ADMIN)
        assert response.status_code == 422, (loc, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert [tuple(e["loc"]) for e in response.json()["errors"]] == [loc]
    account = await create(client, new_account())
    null_name = await client.patch(f"/api/v1/accounts/{account['id']}", json={"name": None}, headers=ADMIN)
    assert null_name.status_code == 422
    assert null_name.json()["errors"][0]["loc"] == ["body", "name"]


async def test_duplicate_external_id_conflicts_with_field(service_client):
    client = await service_client("key_account")
    await create(client, new_account(external_id="crm-1"))
    again = await client.post("/api/v1/accounts", json=new_account("Other", external_id="crm-1"), headers=ADMIN)
    assert again.status_code == 409
    assert again.json()["errors"][0]["loc"] == ["body", "external_id"]


async def test_name_prefix_is_case_insensitive_and_literal(service_client):
    client = await service_client("key_account")
    ids = {
        name: (await create(client, new_account(name)))["id"]
        for name in ("Acme Holdings", "acme labs", "Acmex", "Beta Acme", "100% Juice", "100 Pipes")
    }
    found = await client.get("/api/v1/accounts", params={"name_prefix": "ACME "}, headers=ADMIN)
    assert {a["id"] for a in found.json()["items"]} == {ids["Acme Holdings"], ids["acme labs"]}
    # `%` and `_` are letters in a name, not wildcards.
    found = await client.get("/api/v1/accounts", params={"name_prefix": "100%"}, headers=ADMIN)
    assert [a["id"] for a in found.json()["items"]] == [ids["100% Juice"]]
    found = await client.get("/api/v1/accounts", params={"name_prefix": "1_0"}, headers=ADMIN)
    assert found.json()["items"] == []


async def test_name_prefix_walks_the_name_key_index_in_order(connection):
    stmt = (
        sa.select(Account.id)
        .where(repository.name_starts_with("Acme"))
        .order_by(*repository.list_order(name_prefix="Acme"))
        .limit(51)
    )
    sql = str(stmt.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    await connection.execute(sa.text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(row[0] for row in await connection.execute(sa.text("EXPLAIN " + sql)))
    assert "ix_accounts_name_key_id" in plan, plan
    assert "Sort" not in plan, plan  # the index gives the order: no sort of all matches


async def test_pages_cover_every_account_once(service_client):
    client = await service_client("key_account")
    ids = [(await create(client, new_account(f"Paged {i}")))["id"] for i in range(5)]
    everything = (await client.get("/api/v1/accounts", params={"limit": 200}, headers=ADMIN)).json()["items"]
    seen, pages, cursor = [], [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/accounts", params=params, headers=ADMIN)).json()
        pages.append(len(page["items"]))
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [2, 2, 1]
    assert seen == [a["id"] for a in everything]
    assert sorted(seen) == sorted(ids)
    first = (await client.get("/api/v1/accounts", params={"limit": 2}, headers=ADMIN)).json()
    other_query = await client.get(
        "/api/v1/accounts", params={"limit": 2, "cursor": first["next_cursor"], "industry": "x"}, headers=ADMIN
    )
    assert other_query.status_code == 400


async def test_filters_by_parent_and_org_unit(service_client):
    client = await service_client("key_account")
    parent = await create(client, new_account("Parent Co", "/group/east"))
    child = await create(client, new_account("Child Co", "/group/east/team-1", parent_id=parent["id"]))
    west = await create(client, new_account("West Co", "/group/west/team-1", parent_id=parent["id"]))
    by_parent = await client.get("/api/v1/accounts", params={"parent_id": parent["id"]}, headers=ADMIN)
    assert [a["id"] for a in by_parent.json()["items"]] == [child["id"], west["id"]]
    by_unit = await client.get("/api/v1/accounts", params={"org_unit": "/group/east"}, headers=ADMIN)
    assert [a["id"] for a in by_unit.json()["items"]] == [parent["id"], child["id"]]


async def test_unknown_parent_is_named(service_client):
    client = await service_client("key_account")
    response = await client.post("/api/v1/accounts", json=new_account(parent_id=str(uuid.uuid4())), headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "parent_id"]


async def test_parent_cycle_is_refused(service_client):
    client = await service_client("key_account")
    a = await create(client, new_account("A"))
    b = await create(client, new_account("B", parent_id=a["id"]))
    c = await create(client, new_account("C", parent_id=b["id"]))
    for parent in (c["id"], a["id"]):  # grandchild, then itself
        response = await client.patch(f"/api/v1/accounts/{a['id']}", json={"parent_id": parent}, headers=ADMIN)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["loc"] == ["body", "parent_id"]
    assert (await client.get(f"/api/v1/accounts/{a['id']}", headers=ADMIN)).json()["parent_id"] is None
    # Moving a subtree elsewhere in its own hierarchy is fine.
    moved = await client.patch(f"/api/v1/accounts/{c['id']}", json={"parent_id": a["id"]}, headers=ADMIN)
    assert moved.status_code == 200 and moved.json()["parent_id"] == a["id"]


async def test_rep_sees_and_changes_only_own_accounts(service_client):
    client = await service_client("key_account")
    rep_a, rep_b = uuid.uuid4(), uuid.uuid4()
    mine = await create(client, {"name": "Mine"}, headers=rep(rep_a))
    assert mine["owner_id"] == str(rep_a) and mine["org_unit_path"] == "/group/east/team-1"
    theirs = await create(client, {"name": "Theirs"}, headers=rep(rep_b))
    other = await client.get(f"/api/v1/accounts/{theirs['id']}", headers=rep(rep_a))
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
    patch = await client.patch(f"/api/v1/accounts/{theirs['id']}", json={"name": "x"}, headers=rep(rep_a))
    assert patch.status_code == 404
    listed = (await client.get("/api/v1/accounts", headers=rep(rep_a))).json()
    assert [a["id"] for a in listed["items"]] == [mine["id"]]
    # Another rep's account is not a parent this rep can name.
    hidden_parent = await client.patch(
        f"/api/v1/accounts/{mine['id']}", json={"parent_id": theirs["id"]}, headers=rep(rep_a)
    )
    assert hidden_parent.status_code == 422
    give_away = await client.patch(f"/api/v1/accounts/{mine['id']}", json={"owner_id": str(rep_b)}, headers=rep(rep_a))
    assert give_away.status_code == 403


async def test_rep_creates_only_own_accounts_in_own_unit(service_client):
    client = await service_client("key_account")
    me = uuid.uuid4()
    elsewhere = await client.post("/api/v1/accounts", json=new_account(org_unit="/group/east/team-2"), headers=rep(me))
    assert elsewhere.status_code == 403
    for_other = await client.post("/api/v1/accounts", json=new_account(owner_id=str(uuid.uuid4())), headers=rep(me))
    assert for_other.status_code == 403


async def test_visibility_follows_the_org_tree(service_client):
    client = await service_client("key_account")
    account = await create(client, new_account(owner_id=str(uuid.uuid4())))
    url = f"/api/v1/accounts/{account['id']}"
    allowed = {
        "manager above": EAST_MANAGER,
        "org admin": auth(org_unit="/group/east/team-9", roles=("org_admin",)),
        "group admin": ADMIN,
    }
    denied = {
        # `/group/eastern` shares a string prefix with `/group/east` but is not above it.
        "sibling manager": auth(org_unit="/group/eastern", roles=("manager",)),
        "manager below a sibling": auth(org_unit="/group/east/team-2", roles=("manager",)),
        "other org admin": auth(org_unit="/group/west", roles=("org_admin",)),
    }
    for who, headers in allowed.items():
        assert (await client.get(url, headers=headers)).status_code == 200, who
    for who, headers in denied.items():
        assert (await client.get(url, headers=headers)).status_code == 404, who
        listed = (await client.get("/api/v1/accounts", headers=headers)).json()
        assert listed["items"] == [], who


async def test_manager_places_accounts_only_in_own_subtree(service_client):
    client = await service_client("key_account")
    team_rep = uuid.uuid4()
    inside = await client.post("/api/v1/accounts", json=new_account(owner_id=str(team_rep)), headers=EAST_MANAGER)
    assert inside.status_code == 201 and inside.json()["owner_id"] == str(team_rep)
    outside = await client.post("/api/v1/accounts", json=new_account(org_unit="/group/west"), headers=EAST_MANAGER)
    assert outside.status_code == 403
    move_out = await client.patch(
        f"/api/v1/accounts/{inside.json()['id']}", json={"org_unit_path": "/group/west"}, headers=EAST_MANAGER
    )
    assert move_out.status_code == 403
