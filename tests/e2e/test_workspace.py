"""`GET /api/v1/me/workspace` through the real gateway and the four real
services, on real records: each stage's sections show what the rep really
has to do, and nothing of another rep's."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
import pytest

from tests.support import auth, ensure_org_unit_sync

pytestmark = pytest.mark.e2e

TODAY = dt.date.today()
GROUP_ADMIN = auth(org_unit="/group", roles=("group_admin",))


def day(offset: int) -> str:
    return (TODAY + dt.timedelta(days=offset)).isoformat()


class Rep:
    def __init__(self, gateway: httpx.Client) -> None:
        tag = uuid.uuid4().hex[:6]
        self.org, self.team = f"/group/ws{tag}", f"/group/ws{tag}/team-1"
        ensure_org_unit_sync(gateway, self.team, headers=GROUP_ADMIN)  # employees live only in existing units
        made = gateway.post(
            "/api/v1/employees",
            headers=GROUP_ADMIN,
            json={"name": f"Workspace rep {tag}", "email": f"ws-{tag}@example.com", "org_unit_path": self.team},
        )
        assert made.status_code == 201, made.text
        self.id = made.json()["id"]
        self.headers = auth(employee=self.id, org_unit=self.team, roles=("rep",))
        self.manager = auth(org_unit=self.org, roles=("manager",))
        self.gateway = gateway
        evaluated = gateway.post(f"/api/v1/employees/{self.id}/stage:evaluate", headers=self.manager, json={})
        assert evaluated.status_code == 200, evaluated.text

    def at(self, stage: str) -> None:
        r = self.gateway.put(
            f"/api/v1/employees/{self.id}/stage/override",
            headers=self.manager,
            json={"stage": stage, "reason": "workspace test", "expires_at": f"{day(30)}T00:00:00Z"},
        )
        assert r.status_code == 200 and r.json()["stage"] == stage, r.text

    def workspace(self) -> dict:
        r = self.gateway.get("/api/v1/me/workspace", headers=self.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert {name: s["status"] for name, s in body["sections"].items()} == dict.fromkeys(body["sections"], "ok")
        return body


def created(response: httpx.Response) -> dict:
    assert response.status_code == 201, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


def test_l1_shows_newly_assigned_deals_with_their_recommended_solutions(gateway):
    rep = Rep(gateway)
    rep.at("L1_SUBSISTENCE")
    industry = f"ports-{uuid.uuid4().hex[:6]}"
    solution = created(
        gateway.post(
            "/api/v1/solutions",
            headers=GROUP_ADMIN,
            json={"name": f"Harbour scanner {industry}", "industries": [industry]},
        )
    )
    created(
        gateway.post(
            "/api/v1/opportunities",
            headers=GROUP_ADMIN,
            json={
                "name": "Won before",
                "stage": "won",
                # History entered after the fact: created won past the stage gates (issue 16).
                "force": True,
                "reason": "Won before the rep's time; entered for the history.",
                "closed_on": day(-20),
                "industry": industry,
                "solution_ids": [solution["id"]],
                "amount": {"amount": "50000.00", "currency": "CNY"},
                "org_unit_path": rep.team,
                "owner_id": None,
            },
        )
    )
    first = created(
        gateway.post(
            "/api/v1/opportunities",
            headers=rep.manager,
            json={"name": "Assigned first", "industry": industry, "owner_id": rep.id, "org_unit_path": rep.team},
        )
    )
    pooled = created(
        gateway.post(
            "/api/v1/opportunities",
            headers=rep.manager,
            json={"name": "From the pool", "industry": industry, "owner_id": None, "org_unit_path": rep.team},
        )
    )
    given = gateway.patch(f"/api/v1/opportunities/{pooled['id']}", headers=rep.manager, json={"owner_id": rep.id})
    assert given.status_code == 200, given.text
    # Touched after the hand-over, so "recently updated" would put it first; "newly assigned" must not.
    touched = gateway.patch(
        f"/api/v1/opportunities/{first['id']}", headers=rep.headers, json={"name": "Assigned first (edited)"}
    )
    assert touched.status_code == 200, touched.text
    share = created(
        gateway.post(
            "/api/v1/resources",
            headers=rep.manager,
            json={
                "type": "reference_case",
                "title": f"Case for {industry}",
                "scope": "group",
                "industries": [industry],
            },
        )
    )

    body = rep.workspace()
    assert body["stage"]["stage"] == "L1_SUBSISTENCE" and body["stage_used"] == "L1_SUBSISTENCE"
    deals = body["sections"]["new_opportunities"]["items"]
    assert [d["opportunity"]["id"] for d in deals] == [pooled["id"], first["id"]]
    assert deals[0]["recommended_solutions"]["items"][0]["solution_id"] == solution["id"]
    suggested = body["sections"]["suggested_resources"]
    assert suggested["summary"]["industry"] == industry and share["id"] in {r["id"] for r in suggested["items"]}


def test_l2_shows_due_actions_open_incubation_and_relationship_gaps_across_plans(gateway):
    rep, other = Rep(gateway), Rep(gateway)
    rep.at("L2_COMFORTABLE")
    account = created(
        gateway.post("/api/v1/accounts", headers=rep.headers, json={"name": "Harbour Foods", "industry": "retail"})
    )
    plan = created(
        gateway.post(
            "/api/v1/account-plans",
            headers=rep.headers,
            json={"account_id": account["id"], "period": str(TODAY.year), "starts_on": day(-60), "ends_on": day(300)},
        )
    )
    base = f"/api/v1/account-plans/{plan['id']}"
    due = created(
        gateway.post(
            f"{base}/actions",
            headers=rep.headers,
            json={"title": "Send the proposal", "due_on": day(3), "owner_id": rep.id},
        )
    )
    late = created(
        gateway.post(f"{base}/actions", headers=rep.headers, json={"title": "Call the CFO", "due_on": day(-2)})
    )
    created(gateway.post(f"{base}/actions", headers=rep.headers, json={"title": "Far away", "due_on": day(100)}))
    item = created(gateway.post(f"{base}/incubation-items", headers=rep.headers, json={"title": "Cold-chain sensors"}))
    contact = created(
        gateway.post(f"/api/v1/accounts/{account['id']}/contacts", headers=rep.headers, json={"name": "Wang Fang"})
    )
    target = gateway.put(
        f"{base}/relationship-targets",
        headers=rep.headers,
        json={"contact_id": contact["id"], "target_level": "trusted_advisor"},
    )
    assert target.status_code == 200, target.text
    # Another rep's account and plan never show up.
    theirs = created(gateway.post("/api/v1/accounts", headers=other.headers, json={"name": "Not yours"}))
    their_plan = created(
        gateway.post(
            "/api/v1/account-plans",
            headers=other.headers,
            json={"account_id": theirs["id"], "period": str(TODAY.year), "starts_on": day(-60), "ends_on": day(300)},
        )
    )
    created(
        gateway.post(
            f"/api/v1/account-plans/{their_plan['id']}/actions",
            headers=other.headers,
            json={"title": "Theirs", "due_on": day(1)},
        )
    )

    sections = rep.workspace()["sections"]
    accounts = sections["accounts_with_actions_due"]["items"]
    assert [a["account_id"] for a in accounts] == [account["id"]]
    assert [(a["id"], a["overdue"]) for a in accounts[0]["actions"]] == [(late["id"], True), (due["id"], False)]
    assert accounts[0]["account_name"] == "Harbour Foods" and accounts[0]["overdue"] == 1
    assert [i["id"] for i in sections["incubation_items"]["items"]] == [item["id"]]
    gaps = sections["relationship_gaps"]["items"]
    assert [(g["contact_name"], g["gap_steps"], g["account_id"]) for g in gaps] == [("Wang Fang", 4, account["id"])]


def test_l3_shows_decisions_waiting_influence_and_demand(gateway):
    rep = Rep(gateway)
    rep.at("L3_AFFLUENT")
    asset = created(
        gateway.post(
            "/api/v1/resources",
            headers=rep.headers,
            json={"type": "solution_asset", "title": "Warehouse automation playbook", "scope": "group"},
        )
    )
    far = auth(org_unit=f"/group/far{uuid.uuid4().hex[:6]}/team-1", roles=("rep",))
    request = created(gateway.post("/api/v1/resource-requests", headers=far, json={"resource_id": asset["id"]}))

    sections = rep.workspace()["sections"]
    assert [(d["kind"], d["id"]) for d in sections["decisions_waiting"]["items"]] == [
        ("resource_request", request["id"])
    ]
    assert sections["influence"]["summary"]["employee_id"] == rep.id
    demand = sections["expertise_demand"]["summary"]
    assert demand["resource_requests"] | {} == {
        **demand["resource_requests"],
        "total": 1,
        "waiting_decision": 1,
        "from_other_organizations": 1,
    }
