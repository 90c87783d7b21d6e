import uuid

from tests.services.key_account.helpers import ADMIN, EAST_MANAGER, new_account, new_contact, rep
from tests.support import auth


async def test_account_is_tiered_on_create_and_update(service_client):
    client = await service_client("key_account")
    account = await new_account(client, annual_revenue={"amount": "100000000000", "currency": "CNY"}, potential=90)
    assert account["tier"] == "strategic"
    reasons = {r["factor"]: r for r in account["segmentation"]["reasons"]}
    assert reasons["revenue"]["score"] == 100.0 and reasons["solution_fit"]["known"] is False
    changed = await client.patch(
        f"/api/v1/accounts/{account['id']}", json={"potential": 0, "annual_revenue": None}, headers=ADMIN
    )
    assert changed.json()["tier"] == "transactional"
    assert changed.headers["etag"] == '"2"'


async def test_relationships_feed_the_score(service_client):
    client = await service_client("key_account")
    account = await new_account(client, potential=60)
    before = account["segmentation"]["score"]
    contact = await new_contact(client, account["id"])
    await client.put(
        f"/api/v1/accounts/{account['id']}/relationships",
        headers=ADMIN,
        json={
            "contact_id": contact["id"],
            "employee_id": str(uuid.uuid4()),
            "level": "trusted_advisor",
            "strength": 100,
        },
    )
    after = (await client.get(f"/api/v1/accounts/{account['id']}", headers=ADMIN)).json()
    relationship = next(r for r in after["segmentation"]["reasons"] if r["factor"] == "relationship")
    assert relationship["score"] == 100.0 and after["segmentation"]["score"] > before


async def test_override_needs_a_manager_and_a_reason(service_client):
    client = await service_client("key_account")
    me = uuid.uuid4()
    account = await new_account(client, headers=rep(me))
    assert account["tier"] == "transactional"
    url = f"/api/v1/accounts/{account['id']}/tier-override"
    assert (
        await client.put(url, json={"tier": "key", "reason": "board-level sponsor"}, headers=rep(me))
    ).status_code == 403
    no_reason = await client.put(url, json={"tier": "key"}, headers=EAST_MANAGER)
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["loc"] == ["body", "reason"]
    done = await client.put(url, json={"tier": "key", "reason": "board-level sponsor"}, headers=EAST_MANAGER)
    assert done.status_code == 200
    seg = done.json()["segmentation"]
    assert done.json()["tier"] == "key" and seg["computed_tier"] == "transactional"
    assert seg["override"]["reason"] == "board-level sponsor"
    # re-evaluation keeps the override in force
    again = await client.post(f"/api/v1/accounts/{account['id']}/segmentation", headers=ADMIN)
    assert again.json()["tier"] == "key"
    removed = await client.delete(url, headers=EAST_MANAGER)
    assert removed.json()["tier"] == "transactional" and removed.json()["segmentation"]["override"] is None
    by_tier = await client.get("/api/v1/accounts", params={"tier": "transactional"}, headers=ADMIN)
    assert account["id"] in [a["id"] for a in by_tier.json()["items"]]


async def test_policy_is_configurable_per_organisation(service_client):
    client = await service_client("key_account")
    default = (await client.get("/api/v1/accounts/segmentation-policy", headers=ADMIN)).json()
    assert default["org_path"] is None and default["version"] == 0
    east_admin = auth(org_unit="/group/east/hq", roles=("org_admin",))
    policy = {
        **{
            k: default[k] for k in ("weights", "thresholds", "currency", "revenue_floor", "revenue_ceiling", "fx_rates")
        },
        "weights": {"potential": 1.0},
        "thresholds": {"strategic": 90, "key": 50, "growth": 20},
    }
    saved = await client.put("/api/v1/accounts/segmentation-policy", json=policy, headers=east_admin)
    assert saved.status_code == 200, saved.text
    assert saved.json()["org_path"] == "/group/east" and saved.json()["version"] == 1
    account = await new_account(client, potential=60)
    assert account["tier"] == "key" and account["segmentation"]["policy_version"] == 1
    west = await new_account(client, potential=60, org_unit_path="/group/west")
    assert west["segmentation"]["policy_version"] == 0
    other = await client.put(
        "/api/v1/accounts/segmentation-policy", json={**policy, "org_path": "/group/west"}, headers=east_admin
    )
    assert other.status_code == 403
    bad = await client.put(
        "/api/v1/accounts/segmentation-policy",
        json={**policy, "thresholds": {"strategic": 10, "key": 50, "growth": 20}},
        headers=ADMIN,
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["body", "thresholds"]


async def test_a_new_policy_rescores_the_organisations_accounts_at_once(service_client):
    client = await service_client("key_account")
    default = (await client.get("/api/v1/accounts/segmentation-policy", headers=ADMIN)).json()
    body = {
        k: default[k] for k in ("weights", "thresholds", "currency", "revenue_floor", "revenue_ceiling", "fx_rates")
    }
    south_admin = auth(org_unit="/group/south/hq", roles=("org_admin",))
    south = [await new_account(client, potential=60, org_unit_path="/group/south/team-1") for _ in range(3)]
    pinned = await new_account(client, potential=60, org_unit_path="/group/south/team-2")
    await client.put(
        f"/api/v1/accounts/{pinned['id']}/tier-override",
        json={"tier": "strategic", "reason": "group decision"},
        headers=ADMIN,
    )
    elsewhere = await new_account(client, potential=60, org_unit_path="/group/north/team-1")
    saved = await client.put(
        "/api/v1/accounts/segmentation-policy",
        headers=south_admin,
        json={**body, "weights": {"potential": 1.0}, "thresholds": {"strategic": 95, "key": 90, "growth": 50}},
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["accounts_rescored"] == 4 and saved.json()["version"] == 1
    for account in south:
        got = (await client.get(f"/api/v1/accounts/{account['id']}", headers=ADMIN)).json()
        assert (got["tier"], got["segmentation"]["policy_version"]) == ("growth", 1)
    kept = (await client.get(f"/api/v1/accounts/{pinned['id']}", headers=ADMIN)).json()
    assert kept["tier"] == "strategic" and kept["segmentation"]["policy_version"] == 1  # the override stays in force
    other = (await client.get(f"/api/v1/accounts/{elsewhere['id']}", headers=ADMIN)).json()
    assert other["segmentation"]["policy_version"] == elsewhere["segmentation"]["policy_version"]
