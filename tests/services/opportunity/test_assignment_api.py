import json
import uuid

import httpx
import pytest

from sanlun.kernel.event_routes import mint_service_token
from tests.services.opportunity.helpers import ADMIN, FORCED, MANAGER, OPPORTUNITIES, new_opportunity, outbox, rep
from tests.support import TEST_SERVICE_SECRET, auth

pytestmark = pytest.mark.usefixtures("any_id_exists")

SERVICE = {"Authorization": f"Bearer {mint_service_token(TEST_SERVICE_SECRET, 'employee_lifecycle')}"}
# Both peers failing (tests.services.opportunity.conftest): stages and coverage come from the cache.
DOWN = {"employee_lifecycle", "key_account"}
PROPOSALS = "/api/v1/assignments/proposals"


def event(event_type: str, data: dict, subject: str) -> dict:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "type": event_type,
        "source": "employee_lifecycle",
        "subject": subject,
        "time": "2026-11-20T08:00:00Z",
        "data": data,
    }


async def add_person(client, *, stage: str, capacity: int, unit: str = "/group/east/team-1") -> str:
    eid = str(uuid.uuid4())
    events = [
        event(
            "employee.created",
            {
                "id": eid,
                "name": f"Rep {stage}",
                "email": "r@x",
                "org_unit_path": unit,
                "manager_id": None,
                "capacity": capacity,
                "active": True,
                "version": 1,
            },
            eid,
        ),
        event(
            "employee.stage_changed",
            {
                "employee_id": eid,
                "org_unit_path": unit,
                "stage": stage,
                "previous_stage": None,
                "since": "2026-10-01",
                "needs": [],
                "capacity": capacity,
                "reason": "evaluation",
                "policy_version": 1,
            },
            eid,
        ),
    ]
    r = await client.post("/internal/events", json=events, headers=SERVICE)
    assert [x["status"] for x in r.json()["results"]] == ["processed", "processed"]
    return eid


async def unassigned(client, n: int, **extra) -> list[str]:
    ids = []
    for i in range(n):
        r = await client.post(
            OPPORTUNITIES,
            json=new_opportunity(name=f"Deal {i}", owner_id=None, org_unit_path="/group/east/team-1", **extra),
            headers=MANAGER,
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids


async def test_stage_event_keeps_the_last_stage_in_the_view(service_client):
    client = await service_client("opportunity")
    eid = await add_person(client, stage="L1_SUBSISTENCE", capacity=4)
    people = (await client.get("/api/v1/assignments/sales-people", params={"limit": 200}, headers=ADMIN)).json()[
        "items"
    ]
    me = next(p for p in people if p["employee_id"] == eid)
    assert me["stage"] == "L1_SUBSISTENCE" and me["stage_since"] == "2026-10-01" and me["capacity"] == 4
    assert me["name"] == "Rep L1_SUBSISTENCE"


async def test_propose_with_lifecycle_down_uses_cached_stages_and_commits_once(service_client, connection, directory):
    client = await service_client("opportunity")
    small = await add_person(client, stage="L1_SUBSISTENCE", capacity=2)
    big = await add_person(client, stage="L2_COMFORTABLE", capacity=3)
    deals = await unassigned(client, 6, account_id=str(uuid.uuid4()))
    directory.failing = DOWN
    r = await client.post(
        PROPOSALS, json={"opportunity_ids": deals, "pool": {"org_unit": "/group/east"}}, headers=MANAGER
    )
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["stages_source"] == "cached" and p["stages_as_of"].startswith("2026-11-20")
    assert any("employee lifecycle service unavailable" in n for n in p["notes"])
    assert p["coverage"]["source"] == "unavailable"
    owners = [i["proposed_owner_id"] for i in p["items"]]
    assert owners.count(small) <= 2 and owners.count(big) <= 3 and len(owners) == 5
    assert len(p["unassigned"]) == 1 and "capacity" in p["unassigned"][0]["reason"]
    item = p["items"][0]
    assert item["runner_up"] is not None and item["runner_up"]["employee_id"] != item["proposed_owner_id"]
    assert any("continuity 0" in e for e in item["explanation"])
    assert any("stages from cache" in e for e in item["explanation"])
    assert set(item["components"]) >= {"win_probability", "expected_value", "continuity", "load_ratio", "stage"}

    commit = await client.post(f"{PROPOSALS}/{p['id']}/commit", headers=MANAGER)
    assert commit.status_code == 200, commit.text
    assert commit.json()["commit_result"] == {"committed": 5, "skipped": []}
    again = await client.post(f"{PROPOSALS}/{p['id']}/commit", headers=MANAGER)
    assert again.json()["commit_result"] == commit.json()["commit_result"]
    decisions = (
        await client.get("/api/v1/assignments/decisions", params={"proposal_id": p["id"]}, headers=MANAGER)
    ).json()
    assert len(decisions["items"]) == 5 and decisions["items"][0]["score"]["stages_source"] == "cached"
    assigned = await outbox(connection, item["opportunity_id"])
    assert assigned[-1][0] == "opportunity.assigned"
    assert assigned[-1][1]["owner_id"] == item["proposed_owner_id"] and assigned[-1][1]["previous_owner_id"] is None
    owner_view = auth(employee=item["proposed_owner_id"], org_unit="/group/east/team-1", roles=("rep",))
    got = await client.get(f"{OPPORTUNITIES}/{item['opportunity_id']}", headers=owner_view)
    assert got.status_code == 200 and got.json()["assigned_at"] is not None


async def test_propose_live_forwards_the_caller_and_scores_continuity(service_client):
    client = await service_client("opportunity")
    a = await add_person(client, stage="L2_COMFORTABLE", capacity=5)
    b = await add_person(client, stage="L2_COMFORTABLE", capacity=5)
    account = str(uuid.uuid4())
    deals = await unassigned(client, 1, account_id=account)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("stages:batch-get"):
            ids = json.loads(request.content)["employee_ids"]
            return httpx.Response(
                200,
                json={
                    "items": [
                        {
                            "employee_id": i,
                            "stage": "L2_COMFORTABLE",
                            "stage_since": "2026-01-01",
                            "capacity": 5,
                            "open_load": 0,
                            "needs": [],
                        }
                        for i in ids
                    ],
                    "not_found": [],
                },
            )
        return httpx.Response(
            200,
            json={
                "account_id": account,
                "members": [{"employee_id": b, "role": "account_owner", "valid_from": "2025-01-01", "valid_to": None}],
            },
        )

    client._transport.app.state.http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    r = await client.post(
        PROPOSALS,
        json={"opportunity_ids": deals, "pool": {"employee_ids": [a, b]}},
        headers={**MANAGER, "X-Request-ID": "req-42"},
    )
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["stages_source"] == "live" and p["coverage"]["source"] == "live"
    assert p["items"][0]["proposed_owner_id"] == b and p["items"][0]["components"]["continuity"] == 1.0
    assert p["items"][0]["runner_up"]["employee_id"] == a
    assert all(req.headers["authorization"] == MANAGER["Authorization"] for req in seen)
    assert all(req.headers["x-request-id"] == "req-42" for req in seen)


async def test_a_deal_of_a_strategic_account_is_kept_for_l3_like_a_large_one(service_client):
    client = await service_client("opportunity")
    senior = await add_person(client, stage="L3_AFFLUENT", capacity=5)
    strategic_account, plain_account = str(uuid.uuid4()), str(uuid.uuid4())
    (strategic_deal,) = await unassigned(client, 1, account_id=strategic_account)
    (plain_deal,) = await unassigned(client, 1, account_id=plain_account)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("stages:batch-get"):
            ids = json.loads(request.content)["employee_ids"]
            return httpx.Response(
                200,
                json={
                    "items": [
                        {
                            "employee_id": i,
                            "stage": "L3_AFFLUENT",
                            "stage_since": "2026-01-01",
                            "capacity": 5,
                            "open_load": 0,
                            "needs": [],
                        }
                        for i in ids
                    ],
                    "not_found": [],
                },
            )
        account = request.url.path.split("/")[4]
        tier = "strategic" if account == strategic_account else "growth"
        return httpx.Response(200, json={"account_id": account, "tier": tier, "members": []})

    client._transport.app.state.http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    r = await client.post(
        PROPOSALS,
        json={"opportunity_ids": [strategic_deal, plain_deal], "pool": {"employee_ids": [senior]}},
        headers=MANAGER,
    )
    assert r.status_code == 201, r.text
    by_deal = {i["opportunity_id"]: i for i in r.json()["items"]}
    assert by_deal[strategic_deal]["components"]["stage_multiplier"] == 1.0
    assert by_deal[plain_deal]["components"]["stage_multiplier"] < 1.0
    assert any("neither large nor strategic" in e for e in by_deal[plain_deal]["explanation"])
    assert not any("neither large nor strategic" in e for e in by_deal[strategic_deal]["explanation"])


async def test_suggestions_override_and_roles(service_client, connection, directory):
    client = await service_client("opportunity")
    a = await add_person(client, stage="L1_SUBSISTENCE", capacity=5)
    b = await add_person(client, stage="L2_COMFORTABLE", capacity=5)
    (deal,) = await unassigned(client, 1)
    directory.failing = DOWN
    s = await client.get(
        f"{OPPORTUNITIES}/{deal}/assignment-suggestions", params={"org_unit": "/group/east"}, headers=MANAGER
    )
    assert s.status_code == 200, s.text
    assert {c["employee_id"] for c in s.json()["candidates"]} == {a, b}
    assert s.json()["stages_source"] == "cached"
    _, rep_headers = rep()
    assert (
        await client.post(
            PROPOSALS, json={"unassigned_in": "/group/east", "pool": {"org_unit": "/group/east"}}, headers=rep_headers
        )
    ).status_code == 403
    # The new owner is checked live: with the lifecycle service failing nothing changes.
    down = await client.post(
        f"{OPPORTUNITIES}/{deal}/assignment", json={"employee_id": a, "reason": "knows the CIO"}, headers=MANAGER
    )
    assert down.status_code == 502 and down.json()["service"] == "employee_lifecycle"
    directory.failing = set()
    no_reason = await client.post(f"{OPPORTUNITIES}/{deal}/assignment", json={"employee_id": a}, headers=MANAGER)
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["loc"] == ["body", "reason"]
    done = await client.post(
        f"{OPPORTUNITIES}/{deal}/assignment", json={"employee_id": a, "reason": "knows the CIO"}, headers=MANAGER
    )
    assert done.status_code == 200 and done.json()["owner_id"] == a and done.json()["assigned_at"] is not None
    audit = (
        await client.get("/api/v1/assignments/decisions", params={"opportunity_id": deal}, headers=MANAGER)
    ).json()["items"]
    assert [(d["kind"], d["reason"], d["employee_id"]) for d in audit] == [("override", "knows the CIO", a)]
    assert (await outbox(connection, deal))[-1][0] == "opportunity.assigned"


async def test_commit_skips_deals_whose_rep_filled_up_since_the_proposal(service_client, directory):
    client = await service_client("opportunity")
    only = await add_person(client, stage="L2_COMFORTABLE", capacity=2)
    deals = await unassigned(client, 2)
    directory.failing = DOWN
    first = (
        await client.post(PROPOSALS, json={"opportunity_ids": deals, "pool": {"employee_ids": [only]}}, headers=MANAGER)
    ).json()
    assert len(first["items"]) == 2
    # Meanwhile the rep is given another deal directly: one slot is left.
    directory.failing = set()
    other = (await unassigned(client, 1))[0]
    r = await client.post(
        f"{OPPORTUNITIES}/{other}/assignment", json={"employee_id": only, "reason": "asked for it"}, headers=MANAGER
    )
    assert r.status_code == 200, r.text
    result = (await client.post(f"{PROPOSALS}/{first['id']}/commit", headers=MANAGER)).json()["commit_result"]
    assert result["committed"] == 1
    assert [s["reason"] for s in result["skipped"]] == ["the proposed rep has reached capacity since the proposal"]
    load = (await client.get(OPPORTUNITIES, params={"owner_id": only, "limit": 200}, headers=MANAGER)).json()["items"]
    assert len(load) == 2  # capacity 2, never 3


async def test_a_proposal_a_manager_can_defend_pool_caps_leftovers_spread_and_the_runner_up(service_client, directory):
    """A manager (capacity 0) is no salesperson; a rep without a closed deal
    gets at most 10 of a big batch; a full rep gets nothing but is named as the
    higher scorer who had no room; what the pool cannot hold stays unassigned."""
    client = await service_client("opportunity")
    unit = "/group/east/team-1"
    await add_person(client, stage="L2_COMFORTABLE", capacity=0)  # a manager
    unproven = await add_person(client, stage="L1_SUBSISTENCE", capacity=80)
    full = await add_person(client, stage="L2_COMFORTABLE", capacity=5)
    loser = await add_person(client, stage="L2_COMFORTABLE", capacity=3)

    async def owned(owner: str, n: int, **extra) -> None:
        for _ in range(n):
            body = new_opportunity(owner_id=owner, org_unit_path=unit, **FORCED, **extra)
            assert (await client.post(OPPORTUNITIES, json=body, headers=MANAGER)).status_code == 201

    await owned(full, 5, stage="won", closed_on="2026-10-01")
    await owned(full, 5)  # open: 5 of 5
    await owned(loser, 10, stage="lost", closed_on="2026-10-01")
    deals = await unassigned(client, 20)
    directory.failing = DOWN

    r = await client.post(
        PROPOSALS, json={"opportunity_ids": deals, "pool": {"org_unit": "/group/east"}}, headers=MANAGER
    )
    assert r.status_code == 201, r.text
    p = r.json()
    summary = p["summary"]
    assert (summary["reps"], summary["excluded_no_capacity"]) == (3, 1)
    assert any("with no capacity" in n and "3 salespeople" in n for n in p["notes"])
    owners = [i["proposed_owner_id"] for i in p["items"]]
    assert owners.count(unproven) == 10 and owners.count(loser) == 3 and full not in owners
    assert (summary["assigned"], summary["unassigned"], summary["room"]) == (13, 7, 13)
    assert summary["people_receiving"] == 2
    assert summary["per_person"] == {"min": 3, "median": 6.5, "max": 10}
    assert len(p["unassigned"]) == 7
    assert all(u["reason"].startswith("beyond the pool's room: 13 new deal(s)") for u in p["unassigned"])

    item = next(i for i in p["items"] if i["proposed_owner_id"] == unproven)
    assert item["runner_up"]["employee_id"] == full
    assert item["runner_up"]["score"] > item["score"]
    assert any(
        e.startswith("Rep L2_COMFORTABLE scored") and e.endswith("but had no room: 5 of 5 open deals")
        for e in item["explanation"]
    ), item["explanation"]
