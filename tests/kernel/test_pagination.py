import uuid

from tests.support import auth, ensure_org_unit

ADMIN = auth(org_unit="/group", roles=("group_admin",))


async def create_many(client, n: int, unit: str) -> set[str]:
    await ensure_org_unit(client, unit)  # employees live only in existing units (issue 16)
    ids = set()
    for i in range(n):
        r = await client.post(
            "/api/v1/employees",
            json={"name": f"P{i}", "email": f"p{i}-{uuid.uuid4().hex[:6]}@example.com", "org_unit_path": unit},
            headers=ADMIN,
        )
        ids.add(r.json()["id"])
    return ids


async def test_walks_every_page_once(service_client):
    client = await service_client("employee_lifecycle")
    ids = await create_many(client, 7, "/group/pages")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3, "org_unit": "/group/pages"}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/employees", params=params, headers=ADMIN)).json()
        seen += [e["id"] for e in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 7 and set(seen) == ids


async def test_default_limit_is_50(service_client):
    client = await service_client("employee_lifecycle")
    await create_many(client, 51, "/group/many")
    page = (await client.get("/api/v1/employees", params={"org_unit": "/group/many"}, headers=ADMIN)).json()
    assert len(page["items"]) == 50 and page["next_cursor"]


async def test_forged_and_foreign_cursors_are_400(service_client):
    client = await service_client("employee_lifecycle")
    await create_many(client, 3, "/group/cur")
    page = (await client.get("/api/v1/employees", params={"limit": 1, "org_unit": "/group/cur"}, headers=ADMIN)).json()
    cursor = page["next_cursor"]
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    r = await client.get(
        "/api/v1/employees", params={"limit": 1, "org_unit": "/group/cur", "cursor": tampered}, headers=ADMIN
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_cursor"
    # A cursor replayed on another query (other filter) is stale for it.
    r = await client.get(
        "/api/v1/employees", params={"limit": 1, "org_unit": "/group", "cursor": cursor}, headers=ADMIN
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_cursor"
