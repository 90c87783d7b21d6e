"""API keys through a real gateway: created once-shown, stored hashed, turned
into a minted JWT downstream, revoked."""

import hashlib
import uuid

import asyncpg
import jwt

from tests.support import TEST_SERVICE_SECRET, auth

PROBLEM = "application/problem+json"


def new_org() -> str:
    return f"/group/k{uuid.uuid4().hex[:8]}"


def admin_of(org: str) -> dict[str, str]:
    return auth(org_unit=org, roles=("org_admin",))


GROUP_ADMIN = auth(org_unit="/group", roles=("group_admin",))


def new_key(org: str, **extra) -> dict:
    return {"name": "ERP sync", "org_unit_path": org, **extra}


def seen_header(seen: dict, name: str) -> list[str]:
    return [v for k, v in seen["headers"] if k == name]


async def test_create_shows_the_key_once_and_stores_only_its_hash(start_gateway, gateway_database_url):
    gw = await start_gateway()
    org = new_org()
    created = await gw.post("/api/v1/api-keys", json=new_key(org, rate_limit_per_second=20), headers=admin_of(org))
    assert created.status_code == 201, created.text
    body = created.json()
    key = body["key"]
    assert key.startswith("snl_") and body["prefix"] == key[:12]
    assert body["roles"] == ["integrator"] and body["status"] == "active" and body["org_unit_path"] == org
    assert created.headers["location"] == f"/api/v1/api-keys/{body['id']}"
    assert created.headers["etag"] == '"1"' and created.headers["cache-control"] == "no-store"

    got = await gw.get(created.headers["location"], headers=admin_of(org))
    assert got.status_code == 200 and "key" not in got.json()
    assert got.json() == {k: v for k, v in body.items() if k != "key"}
    listed = await gw.get("/api/v1/api-keys", params={"org_unit": org}, headers=admin_of(org))
    assert [k["id"] for k in listed.json()["items"]] == [body["id"]]

    conn = await asyncpg.connect(gateway_database_url)
    try:
        row = await conn.fetchrow("SELECT * FROM gateway.api_keys WHERE id = $1", uuid.UUID(body["id"]))
    finally:
        await conn.close()
    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert key not in " ".join(str(v) for v in row.values())


async def test_a_key_becomes_a_minted_jwt_downstream(start_gateway, echo):
    gw = await start_gateway(key_account=echo.url)
    org = new_org()
    body = (await gw.post("/api/v1/api-keys", json=new_key(org), headers=admin_of(org))).json()
    for headers in ({"X-API-Key": body["key"]}, {"Authorization": f"ApiKey {body['key']}"}):
        response = await gw.get("/api/v1/accounts", headers=headers)
        assert response.status_code == 200, response.text
        seen = echo.seen[-1]
        assert seen_header(seen, "x-api-key") == []
        (authorization,) = seen_header(seen, "authorization")
        scheme, token = authorization.split(" ")
        claims = jwt.decode(token, TEST_SERVICE_SECRET, algorithms=["HS256"], issuer="sanlun-gateway")
        assert scheme == "Bearer"
        assert claims["sub"] == f"apikey:{body['id']}" and claims["roles"] == ["integrator"]
        assert claims["org_unit_path"] == org
        assert 0 < claims["exp"] - claims["iat"] <= 300
        assert int(response.headers["ratelimit-limit"]) > 0


async def test_revoked_unknown_and_malformed_keys_get_the_same_401(start_gateway, echo):
    gw = await start_gateway(key_account=echo.url)
    org = new_org()
    body = (await gw.post("/api/v1/api-keys", json=new_key(org), headers=admin_of(org))).json()
    assert (await gw.get("/api/v1/accounts", headers={"X-API-Key": body["key"]})).status_code == 200
    stale = await gw.delete(f"/api/v1/api-keys/{body['id']}", headers={**admin_of(org), "If-Match": '"7"'})
    assert stale.status_code == 412
    revoked = await gw.delete(f"/api/v1/api-keys/{body['id']}", headers=admin_of(org))
    assert revoked.status_code == 204
    assert (await gw.delete(f"/api/v1/api-keys/{body['id']}", headers=admin_of(org))).status_code == 204
    after = (await gw.get(f"/api/v1/api-keys/{body['id']}", headers=admin_of(org))).json()
    assert after["status"] == "revoked" and after["revoked_by"] and after["revoked_at"]
    before = len(echo.seen)
    details = set()
    for key in (body["key"], "snl_" + "x" * 43, "not-a-key"):
        refused = await gw.get("/api/v1/accounts", headers={"X-API-Key": key})
        assert refused.status_code == 401 and refused.headers["content-type"] == PROBLEM
        details.add(refused.json()["detail"])
    assert details == {"The API key is not valid."}
    assert len(echo.seen) == before


async def test_only_admins_manage_keys_within_their_reach(start_gateway):
    gw = await start_gateway()
    org, elsewhere = new_org(), new_org()
    rep = auth(org_unit=org + "/team-1", roles=("rep",))
    refused = await gw.post("/api/v1/api-keys", json=new_key(org), headers=rep)
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert (await gw.get("/api/v1/api-keys", headers=rep)).status_code == 403
    assert (await gw.post("/api/v1/api-keys", json=new_key(elsewhere), headers=admin_of(org))).status_code == 403
    beyond = await gw.post("/api/v1/api-keys", json=new_key(org, roles=["group_admin"]), headers=admin_of(org))
    assert beyond.status_code == 403 and "group_admin" in beyond.json()["detail"]
    mine = (await gw.post("/api/v1/api-keys", json=new_key(org, roles=["org_admin"]), headers=admin_of(org))).json()
    # Another organisation's admin cannot tell the key exists.
    assert (await gw.get(f"/api/v1/api-keys/{mine['id']}", headers=admin_of(elsewhere))).status_code == 404
    assert (await gw.delete(f"/api/v1/api-keys/{mine['id']}", headers=admin_of(elsewhere))).status_code == 404
    assert (await gw.get(f"/api/v1/api-keys/{mine['id']}", headers=GROUP_ADMIN)).status_code == 200
    # An integrator key is no admin.
    integrator = (await gw.post("/api/v1/api-keys", json=new_key(org), headers=admin_of(org))).json()
    assert (await gw.get("/api/v1/api-keys", headers={"X-API-Key": integrator["key"]})).status_code == 403
    workspace = await gw.get("/api/v1/me/workspace", headers={"X-API-Key": integrator["key"]})
    assert workspace.status_code == 403


async def test_bad_input_is_a_problem_naming_the_field(start_gateway):
    gw = await start_gateway()
    org = new_org()
    invalid = await gw.post("/api/v1/api-keys", json=new_key(org, roles=["rep"], colour="red"), headers=admin_of(org))
    assert invalid.status_code == 422
    assert sorted(tuple(e["loc"]) for e in invalid.json()["errors"]) == [("body", "colour"), ("body", "roles", 0)]
    past = await gw.post(
        "/api/v1/api-keys", json=new_key(org, expires_at="2020-01-01T00:00:00Z"), headers=admin_of(org)
    )
    assert past.status_code == 422 and past.json()["errors"][0]["loc"] == ["body", "expires_at"]
    replay = await gw.post("/api/v1/api-keys", json=new_key(org), headers={**admin_of(org), "Idempotency-Key": "k-1"})
    assert replay.status_code == 422 and replay.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert (await gw.get(f"/api/v1/api-keys/{uuid.uuid4()}", headers=admin_of(org))).status_code == 404
    assert (await gw.get("/api/v1/api-keys/not-a-uuid", headers=admin_of(org))).status_code == 422


async def test_an_expired_key_stops_working(start_gateway, echo, gateway_database_url):
    gw = await start_gateway(key_account=echo.url, api_key_cache_seconds=0)
    org = new_org()
    body = (await gw.post("/api/v1/api-keys", json=new_key(org), headers=admin_of(org))).json()
    assert (await gw.get("/api/v1/accounts", headers={"X-API-Key": body["key"]})).status_code == 200
    conn = await asyncpg.connect(gateway_database_url)
    try:
        await conn.execute(
            "UPDATE gateway.api_keys SET expires_at = now() - interval '1 s' WHERE id = $1", uuid.UUID(body["id"])
        )
    finally:
        await conn.close()
    assert (await gw.get("/api/v1/accounts", headers={"X-API-Key": body["key"]})).status_code == 401
    listed = await gw.get("/api/v1/api-keys", params={"org_unit": org}, headers=admin_of(org))
    assert listed.json()["items"][0]["status"] == "expired"
