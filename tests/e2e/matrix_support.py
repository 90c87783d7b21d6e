"""Records of every kind owned by the matrix's rep, and the request the matrix
sends to each public operation."""

from __future__ import annotations

import re
import uuid

import httpx

from tests.gateway.system import Cast
from tests.support import auth

# A body no request model accepts (they all forbid extra fields): write routes
# whose body would really change shared state answer 422 to whoever may reach
# them, so the matrix can run every role against one set of records.
PROBE_BODY = {"authorization_matrix_probe": True}
PERIOD = "2026-Q1"


def _created(response: httpx.Response) -> str:
    assert response.status_code in (200, 201), f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()["id"]


def add_records(gateway: httpx.Client, cast: Cast) -> dict[str, str]:
    """One record of each kind in the rep's reach, keyed by the path parameter naming it."""
    rep, admin = cast.headers["rep_of_record"], cast.headers["org_admin"]
    tag = uuid.uuid4().hex[:6]
    account, opportunity = cast.records["account"], cast.records["opportunity"]
    ids = {
        "account_id": account, "opportunity_id": opportunity, "resource_id": cast.records["resource"],
        "employee_id": cast.rep_id, "key_id": cast.records["api_key"], "period": PERIOD,
    }
    plan = _created(gateway.post("/api/v1/account-plans", headers=rep, json={
        "account_id": account, "period": "2026", "starts_on": "2026-01-01", "ends_on": "2026-12-31"}))
    ids["plan_id"] = plan
    ids["action_id"] = _created(gateway.post(f"/api/v1/account-plans/{plan}/actions", headers=rep, json={"title": "Matrix action"}))
    ids["item_id"] = _created(gateway.post(f"/api/v1/account-plans/{plan}/incubation-items", headers=rep, json={"title": "Matrix item"}))
    contact = _created(gateway.post(f"/api/v1/accounts/{account}/contacts", headers=rep, json={"name": f"Matrix contact {tag}"}))
    ids["contact_id"] = contact
    ids["member_id"] = _created(gateway.post(f"/api/v1/accounts/{account}/coverage/members", headers=admin, json={
        "employee_id": cast.rep_id, "org_unit_path": cast.team, "role": "overlay"}))
    ids["solution_id"] = _created(gateway.post("/api/v1/solutions", headers=admin, json={"name": f"Matrix solution {tag}"}))
    ids["policy_id"] = _created(gateway.post("/api/v1/stage-policies", headers=admin, json={"name": f"Matrix policy {tag}", "rules": [
        {"id": "l3", "stage": "L3_AFFLUENT", "conditions": [{"signal": "stable_accounts", "op": ">=", "value": 3}]},
        {"id": "l2", "stage": "L2_COMFORTABLE", "conditions": [{"signal": "stable_accounts", "op": ">=", "value": 1}]}]}))
    ids["support_request_id"] = _created(gateway.post("/api/v1/support-requests", headers=rep, json={
        "kind": "presales_engineer", "opportunity_id": opportunity, "skills": ["matrix"], "title": "Matrix support"}))
    # Someone outside the matrix owns the resource the rep asks for, so only the request is the rep's.
    lender = auth(org_unit=f"{cast.org}/team-3", roles=("rep",))
    lent = _created(gateway.post("/api/v1/resources", headers=lender, json={
        "type": "reference_case", "title": f"Matrix loan {tag}", "scope": "organization"}))
    ids["resource_request_id"] = _created(gateway.post("/api/v1/resource-requests", headers=rep, json={"resource_id": lent}))
    ids["unit_id"] = _created(gateway.post("/api/v1/org-units", headers=cast.headers["group_admin"], json={"slug": f"matrix-{tag}", "name": f"Matrix unit {tag}"}))
    return ids


def fill(method: str, template: str, ids: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "request_id":
            name = "support_request_id" if template.startswith("/api/v1/support-requests") else "resource_request_id"
        return ids.get(name, str(uuid.uuid4()))

    return re.sub(r"\{(\w+)\}", value, template)
