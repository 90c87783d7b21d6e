"""Stage policies: versions per organisation, validation as problem+json naming the rule."""

import datetime as dt

from sanlun.kernel.clock import Clock
from tests.services.employee_lifecycle.helpers import (
    ADMIN,
    backfill,
    ensure_unit,
    evaluate,
    new_employee,
    repeat_business,
)
from tests.support import auth

EAST_ADMIN = auth(org_unit="/group/east", roles=("org_admin",))


def policy(**overrides) -> dict:
    return {
        "name": "East v1",
        "currency": "CNY",
        "hysteresis": 1,
        "rules": [
            {
                "id": "l3_many",
                "stage": "L3_AFFLUENT",
                "conditions": [{"signal": "stable_accounts", "op": ">=", "value": 3}],
            },
            {
                "id": "l2_some",
                "stage": "L2_COMFORTABLE",
                "conditions": [{"signal": "stable_accounts", "op": ">=", "value": 1}],
            },
        ],
        **overrides,
    }


async def test_versions_apply_to_their_organisation_only(service_client):
    client = await service_client("employee_lifecycle")
    east = await new_employee(client, "/group/east/team-1")
    west = await new_employee(client, "/group/west/team-1")
    for e in (east, west):
        await backfill(client, repeat_business(e["id"], accounts=3))
    first = await client.post("/api/v1/stage-policies", json=policy(), headers=EAST_ADMIN)
    assert first.status_code == 201, first.text
    assert first.json()["organization_path"] == "/group/east" and first.json()["version"] == 1
    assert first.headers["location"] == f"/api/v1/stage-policies/{first.json()['id']}"
    second = await client.post("/api/v1/stage-policies", json=policy(name="East v2"), headers=EAST_ADMIN)
    assert second.json()["version"] == 2
    east_eval = await evaluate(client, east["id"], "2017-12-31")
    west_eval = await evaluate(client, west["id"], "2017-12-31")
    assert (east_eval["stage"], east_eval["policy"]) == (
        "L3_AFFLUENT",
        {"organization_path": "/group/east", "version": 2},
    )
    assert (west_eval["stage"], west_eval["policy"]) == ("L2_COMFORTABLE", {"organization_path": "/", "version": 0})
    effective = await client.get(
        "/api/v1/stage-policies/effective", params={"org_unit": "/group/east/team-9"}, headers=ADMIN
    )
    assert effective.json()["name"] == "East v2"
    listed = await client.get("/api/v1/stage-policies", params={"organization_path": "/group/east"}, headers=ADMIN)
    assert [p["version"] for p in listed.json()["items"]] == [1, 2]


async def test_unknown_signal_is_named(service_client):
    client = await service_client("employee_lifecycle")
    await ensure_unit(client, "/group/east")
    body = policy()
    body["rules"][0]["conditions"][0]["signal"] = "golf_handicap"
    r = await client.post("/api/v1/stage-policies", json=body, headers=EAST_ADMIN)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "invalid_policy"
    assert r.json()["errors"] == [
        {"loc": ["body", "rules", 0, "conditions", 0, "signal"], "msg": "rule l3_many: unknown signal 'golf_handicap'"}
    ]


async def test_impossible_threshold_and_overlap_are_named(service_client):
    client = await service_client("employee_lifecycle")
    await ensure_unit(client, "/group/east")
    body = policy()
    body["rules"][1]["conditions"] = [{"signal": "win_rate_12m", "op": ">", "value": 1}]
    r = await client.post("/api/v1/stage-policies", json=body, headers=EAST_ADMIN)
    assert r.status_code == 422 and "rule l2_some: win_rate_12m > 1 can never hold" in r.json()["errors"][0]["msg"]
    body = policy()
    body["rules"][1]["conditions"] = [{"signal": "stable_accounts", "op": ">=", "value": 5}]
    r = await client.post("/api/v1/stage-policies", json=body, headers=EAST_ADMIN)
    assert r.status_code == 422
    assert r.json()["errors"][0]["msg"].startswith("rule l2_some: overlaps rule l3_many of L3_AFFLUENT")


async def test_only_admins_of_that_organisation_publish(service_client):
    client = await service_client("employee_lifecycle")
    await ensure_unit(client, "/group/west")
    manager = auth(org_unit="/group/east", roles=("manager",))
    assert (await client.post("/api/v1/stage-policies", json=policy(), headers=manager)).status_code == 403
    west = policy(organization_path="/group/west")
    # Another organisation is a reference the east admin may not see: the 422 of one that does not exist.
    refused = await client.post("/api/v1/stage-policies", json=west, headers=EAST_ADMIN)
    assert refused.status_code == 422 and refused.json()["errors"] == [
        {"loc": ["body", "organization_path"], "msg": "no organisation at this path that you may see"}
    ]
    assert (await client.post("/api/v1/stage-policies", json=west, headers=ADMIN)).status_code == 201


async def test_default_policy_is_readable(service_client):
    client = await service_client("employee_lifecycle")
    r = await client.get("/api/v1/stage-policies/default", headers=auth(roles=("rep",)))
    assert r.status_code == 200 and r.json()["version"] == 0 and len(r.json()["rules"]) == 4


async def test_need_thresholds_are_part_of_the_policy(service_client):
    client = await service_client("employee_lifecycle")
    default = (await client.get("/api/v1/stage-policies/default", headers=ADMIN)).json()
    assert default["needs"]["few_wins_12m"] == 6 and default["needs"]["low_win_rate"] == 0.5
    south = auth(org_unit="/group/south", roles=("org_admin",))
    employee = await new_employee(client, "/group/south/team-1")
    twin = await new_employee(client, "/group/north/team-1")  # the same record, under the shipped policy
    for e in (employee, twin):
        await backfill(client, repeat_business(e["id"], accounts=3))
    assert "lacks_deals" in (await evaluate(client, employee["id"], "2017-12-31"))["needs"]
    lenient = {"few_wins_12m": 0, "few_open_opportunities": 0}
    created = await client.post("/api/v1/stage-policies", headers=south, json=policy(needs=lenient))
    assert created.status_code == 201, created.text
    assert created.json()["needs"]["few_wins_12m"] == 0 and created.json()["needs"]["narrow_solutions"] == 2
    assert "lacks_deals" not in (await evaluate(client, employee["id"], "2017-12-31"))["needs"]
    assert "lacks_deals" in (await evaluate(client, twin["id"], "2017-12-31"))["needs"]
    bad = await client.post("/api/v1/stage-policies", headers=south, json=policy(needs={"low_win_rate": 1.5}))
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["body", "needs", "low_win_rate"]


async def test_confirm_after_days_is_part_of_the_policy(service_client):
    clock = Clock()
    clock.set(dt.datetime(2017, 12, 31, 8, tzinfo=dt.UTC))
    client = await service_client("employee_lifecycle", clock=clock)
    await ensure_unit(client, "/group/east")
    default = await client.get("/api/v1/stage-policies/effective", params={"org_unit": "/group/east"}, headers=ADMIN)
    assert default.json()["confirm_after_days"] == 14 and default.json()["hysteresis"] == 2
    for bad in (-1, 366):
        r = await client.post("/api/v1/stage-policies", json=policy(confirm_after_days=bad), headers=EAST_ADMIN)
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "confirm_after_days"]
    quick = await client.post("/api/v1/stage-policies", json=policy(confirm_after_days=0), headers=EAST_ADMIN)
    assert quick.status_code == 201 and quick.json()["confirm_after_days"] == 0
    emp = await new_employee(client, "/group/east/team-1")
    first = await evaluate(client, emp["id"], "2017-12-31")
    assert first["stage"] == "L1_SUBSISTENCE"
    await backfill(client, repeat_business(emp["id"], accounts=3))
    # hysteresis 1 and no dwell: the next scheduled day confirms; a manual evaluation still does not
    manual = await evaluate(client, emp["id"], "2017-12-31")
    assert manual["stage"] == "L1_SUBSISTENCE" and manual["provisional"]["stage"] == "L3_AFFLUENT"
    r = await client.post("/ops/stages/round", headers=ADMIN)
    assert r.json()["confirmed"] == 1
    state = (await client.get(f"/api/v1/employees/{emp['id']}/stage", headers=ADMIN)).json()
    assert state["stage"] == "L3_AFFLUENT" and state["provisional"] is None and state["pending"] is None
