import datetime as dt
import uuid

import sqlalchemy as sa

from tests.services.key_account.helpers import ADMIN, EAST_MANAGER, new_account, new_member, rep
from tests.support import auth


async def coverage_events(connection, account_id: str) -> list[dict]:
    rows = await connection.execute(
        sa.text(
            "SELECT data FROM key_account.outbox WHERE type = 'account.coverage_changed' AND subject = :s ORDER BY id"
        ),
        {"s": account_id},
    )
    return [r[0] for r in rows]


async def test_team_violations_and_event(service_client, connection):
    client = await service_client("key_account")
    account = await new_account(client, annual_revenue={"amount": "100000000000", "currency": "CNY"}, potential=95)
    assert account["tier"] == "strategic"
    url = f"/api/v1/accounts/{account['id']}/coverage"
    empty = (await client.get(url, headers=ADMIN)).json()
    assert [v["code"] for v in empty["violations"]] == ["no_account_owner", "no_solution_role"]
    listed = (await client.get("/api/v1/accounts/coverage-violations", headers=ADMIN)).json()
    assert [a["account_id"] for a in listed["items"]] == [account["id"]]

    owner = uuid.uuid4()
    await new_member(client, account["id"], "account_owner", owner)
    consultant = await new_member(client, account["id"], "solution_consultant", org_unit="/group/east/presales")
    coverage = (await client.get(url, headers=ADMIN)).json()
    assert coverage["violations"] == [] and coverage["version"] == 2
    assert {(m["employee_id"], m["role"]) for m in coverage["members"]} >= {(str(owner), "account_owner")}
    assert set(coverage["members"][0]) >= {"employee_id", "role", "valid_from", "valid_to"}
    assert (await client.get("/api/v1/accounts/coverage-violations", headers=ADMIN)).json()["items"] == []

    # Ending the consultant's validity yesterday brings the violation back.
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    ended = await client.patch(
        f"{url}/members/{consultant['id']}",
        headers={**ADMIN, "If-Match": '"1"'},
        json={"valid_from": yesterday, "valid_to": yesterday},
    )
    assert ended.status_code == 200, ended.text
    assert [v["code"] for v in (await client.get(url, headers=ADMIN)).json()["violations"]] == ["no_solution_role"]
    past = (await client.get(url, params={"as_of": yesterday}, headers=ADMIN)).json()
    assert len(past["members"]) == 1  # the owner starts today

    events = await coverage_events(connection, account["id"])
    assert [e["version"] for e in events] == [1, 2, 3]
    assert events[-1]["account_id"] == account["id"] and events[-1]["org_unit_path"] == "/group/east/team-1"
    assert events[-1]["members"] == [
        {
            "employee_id": str(owner),
            "role": "account_owner",
            "valid_from": dt.date.today().isoformat(),
            "valid_to": None,
        }
    ]


async def test_bad_members_are_refused(service_client):
    client = await service_client("key_account")
    account = await new_account(client)
    url = f"/api/v1/accounts/{account['id']}/coverage/members"
    bad_role = await client.post(
        url, headers=ADMIN, json={"employee_id": str(uuid.uuid4()), "org_unit_path": "/group", "role": "boss"}
    )
    assert bad_role.status_code == 422 and bad_role.json()["errors"][0]["loc"] == ["body", "role"]
    backwards = await client.post(
        url,
        headers=ADMIN,
        json={
            "employee_id": str(uuid.uuid4()),
            "org_unit_path": "/group",
            "role": "delivery",
            "valid_from": "2026-05-01",
            "valid_to": "2026-04-01",
        },
    )
    assert backwards.status_code == 422


async def test_visibility_by_role(service_client):
    client = await service_client("key_account")
    owner, member, stranger = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    account = await new_account(client, owner_id=str(owner), org_unit_path="/group/east/team-1")
    await new_member(client, account["id"], "solution_consultant", member, org_unit="/group/south/presales")
    url = f"/api/v1/accounts/{account['id']}"
    sees = {
        "owner": rep(owner),
        "coverage member": rep(member, "/group/south/presales"),
        "manager above the member": auth(org_unit="/group/south", roles=("manager",)),
        "manager above the account": EAST_MANAGER,
        "admin of the owning organisation": auth(org_unit="/group/east/hq", roles=("org_admin",)),
        "group admin": ADMIN,
    }
    hidden = {
        "another rep": rep(stranger),
        "manager elsewhere": auth(org_unit="/group/north", roles=("manager",)),
        "admin of the member's organisation": auth(org_unit="/group/south/hq", roles=("org_admin",)),
    }
    for who, headers in sees.items():
        assert (await client.get(url, headers=headers)).status_code == 200, who
        assert (await client.get(url + "/coverage", headers=headers)).status_code == 200, who
        listed = (await client.get("/api/v1/accounts", headers=headers)).json()["items"]
        assert account["id"] in [a["id"] for a in listed], who
    for who, headers in hidden.items():
        assert (await client.get(url, headers=headers)).status_code == 404, who
        assert (await client.get(url + "/coverage", headers=headers)).status_code == 404, who
        assert (await client.get(url + "/relationship-map", headers=headers)).status_code == 404, who
    # A member reads the team but does not shape it; the owner does.
    add = {"employee_id": str(uuid.uuid4()), "org_unit_path": "/group/east/team-1", "role": "delivery"}
    assert (
        await client.post(url + "/coverage/members", json=add, headers=rep(member, "/group/south/presales"))
    ).status_code == 403
    assert (await client.post(url + "/coverage/members", json=add, headers=rep(owner))).status_code == 201


async def test_expired_membership_stops_visibility(service_client):
    client = await service_client("key_account")
    member = uuid.uuid4()
    account = await new_account(client)
    m = await new_member(client, account["id"], "delivery", member, valid_from="2020-01-01")
    assert (await client.get(f"/api/v1/accounts/{account['id']}", headers=rep(member))).status_code == 200
    await client.patch(
        f"/api/v1/accounts/{account['id']}/coverage/members/{m['id']}", json={"valid_to": "2021-01-01"}, headers=ADMIN
    )
    assert (await client.get(f"/api/v1/accounts/{account['id']}", headers=rep(member))).status_code == 404
