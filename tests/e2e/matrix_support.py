"""Records of every kind in the matrix's reach, and the request the matrix
sends to each public write.

`add_records` makes, once, one record of each kind owned by (or waiting on)
the matrix's rep. Reads and harmless writes use those. A write that would
change state another cell depends on (a state transition, an override, a PUT
of a singleton, a delete) has a *setup* in `WRITES`: called inside its cell,
it makes what the route needs (a fresh opportunity, a request in the right
state, ...) and returns `(path ids, body)`. So every cell meets the same
record state, whatever ran before it.

Conventions of a setup's answer:
- the path ids overlay the shared ones (`fill` maps `request_id` to the
  support or the resource request, as the path says);
- when they carry an `employee_id` other than the rep's, that employee is a
  fresh rep made for the cell, and the matrix's `rep_of_record` calls as them.

Bodies are scoped per role where the route creates something in an org unit
(`own_unit`: the caller's own unit, or the rep's team for the group admin);
creating in the rep's team from outside it is `REACH`, a table of its own.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tests.gateway.system import Cast
from tests.support import auth

PERIOD = "2026-Q1"
SIGNED_IN = (
    "rep_of_record",
    "other_rep",
    "manager_above",
    "manager_elsewhere",
    "org_admin",
    "other_org_admin",
    "group_admin",
    "integrator_key",
)
TODAY = dt.date.today()
Setup = Callable[["Matrix", str], tuple[dict[str, str], Any]]


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:10]}"


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


def _created(response: httpx.Response) -> str:
    return _ok(response)["id"]


def own_unit(cast: Cast, role: str) -> str:
    """Where a role creates what it owns: its own unit. The group admin (placed
    at `/group`, above every organisation) creates in the rep's team."""
    return {
        "rep_of_record": cast.team,
        "other_rep": cast.other_team,
        "manager_above": cast.org,
        "manager_elsewhere": cast.other_team,
        "org_admin": cast.org,
        "other_org_admin": cast.other_org,
        "group_admin": cast.team,
        "integrator_key": cast.org,
    }.get(role, cast.team)


def own_org(cast: Cast, role: str) -> str:
    return cast.other_org if role == "other_org_admin" else cast.org


def _org_unit(gateway: httpx.Client, group_admin: dict[str, str], path: str) -> tuple[str, str | None]:
    """The org unit at `path` (`/group/<org>`), made when missing: (id, external id)."""
    parts = [p for p in path.split("/") if p]
    parent: str | None = None
    for depth in range(1, len(parts) + 1):
        here = "/" + "/".join(parts[:depth])
        # A unit is made after its parent, so the oldest unit within a path is the unit itself.
        found = _ok(gateway.get("/api/v1/org-units", params={"within": here, "limit": 1}, headers=group_admin))["items"]
        if found and found[0]["path"] == here:
            parent, external = found[0]["id"], found[0]["external_id"]
            continue
        external = f"matrix{here.replace('/', '-')}"
        unit = _ok(
            gateway.post(
                "/api/v1/org-units",
                headers=group_admin,
                json={"slug": parts[depth - 1], "name": parts[depth - 1], "parent_id": parent, "external_id": external},
            )
        )
        parent = unit["id"]
    assert parent is not None
    return parent, external


def add_records(gateway: httpx.Client, cast: Cast) -> dict[str, str]:
    """One record of each kind in the rep's reach, keyed by the path parameter naming it."""
    rep, admin, group = cast.headers["rep_of_record"], cast.headers["org_admin"], cast.headers["group_admin"]
    tag = uuid.uuid4().hex[:6]
    account, opportunity = cast.records["account"], cast.records["opportunity"]
    ids = {
        "account_id": account,
        "opportunity_id": opportunity,
        "resource_id": cast.records["resource"],
        "employee_id": cast.rep_id,
        "key_id": cast.records["api_key"],
        "period": PERIOD,
    }
    plan = _created(
        gateway.post(
            "/api/v1/account-plans",
            headers=rep,
            json={"account_id": account, "period": "2026", "starts_on": "2026-01-01", "ends_on": "2026-12-31"},
        )
    )
    ids["plan_id"] = plan
    ids["action_id"] = _created(
        gateway.post(f"/api/v1/account-plans/{plan}/actions", headers=rep, json={"title": "Matrix action"})
    )
    ids["item_id"] = _created(
        gateway.post(f"/api/v1/account-plans/{plan}/incubation-items", headers=rep, json={"title": "Matrix item"})
    )
    contact = _created(
        gateway.post(f"/api/v1/accounts/{account}/contacts", headers=rep, json={"name": f"Matrix contact {tag}"})
    )
    ids["contact_id"] = contact
    ids["member_id"] = _created(
        gateway.post(
            f"/api/v1/accounts/{account}/coverage/members",
            headers=admin,
            json={"employee_id": cast.rep_id, "org_unit_path": cast.team, "role": "overlay"},
        )
    )
    ids["solution_id"] = _created(
        gateway.post("/api/v1/solutions", headers=admin, json={"name": f"Matrix solution {tag}"})
    )
    ids["policy_id"] = _created(
        gateway.post(
            "/api/v1/stage-policies", headers=admin, json={"name": f"Matrix policy {tag}", "rules": STAGE_RULES}
        )
    )
    ids["support_request_id"] = _created(
        gateway.post(
            "/api/v1/support-requests",
            headers=rep,
            json={
                "kind": "presales_engineer",
                "opportunity_id": opportunity,
                "skills": ["matrix"],
                "title": "Matrix support",
            },
        )
    )
    # Someone outside the matrix (a rep of another team of the organisation)
    # lends a resource the rep asks for, so only the request is the rep's.
    ids["lender_id"] = str(uuid.uuid4())
    lender = lender_headers(cast, ids)
    lent = _created(
        gateway.post(
            "/api/v1/resources",
            headers=lender,
            json={"type": "reference_case", "title": f"Matrix loan {tag}", "scope": "organization"},
        )
    )
    ids["lent_resource_id"] = lent
    ids["resource_request_id"] = _created(
        gateway.post("/api/v1/resource-requests", headers=rep, json={"resource_id": lent})
    )
    # ...and the rep lends one of theirs, so the rep decides on the lender's requests for it.
    ids["rep_lent_resource_id"] = _created(
        gateway.post(
            "/api/v1/resources",
            headers=rep,
            json={"type": "reference_case", "title": f"Matrix lent by the rep {tag}", "scope": "organization"},
        )
    )
    # Relationships in the group's graph: the rep's (the rep connects) and the lender's (anyone may ask the lender).
    ids["rep_contact_ref"], ids["lender_contact_ref"] = str(uuid.uuid4()), str(uuid.uuid4())
    ids["rep_relationship_id"] = _created(
        gateway.post("/api/v1/resources", headers=rep, json=relationship(ids["rep_contact_ref"]))
    )
    ids["lender_relationship_id"] = _created(
        gateway.post("/api/v1/resources", headers=lender, json=relationship(ids["lender_contact_ref"]))
    )
    ids["introduction_id"] = _created(
        gateway.post(
            "/api/v1/introductions",
            headers=lender,
            json={"contact_id": ids["rep_contact_ref"], "relationship_ids": [ids["rep_relationship_id"]]},
        )
    )
    # The support desk's one pool member, with hours for every assignment of a run.
    _org_unit(gateway, group, f"{cast.org}/desk")  # employees live only in existing units (issue 16)
    ids["desk_member_id"] = _created(
        gateway.post(
            "/api/v1/employees",
            headers=group,
            json={
                "name": unique("Matrix presales"),
                "email": f"{uuid.uuid4().hex}@example.com",
                "org_unit_path": f"{cast.org}/desk",
            },
        )
    )
    _ok(
        gateway.put(
            f"/api/v1/support-requests/pool/{ids['desk_member_id']}",
            headers=admin,
            json={"org_unit_path": f"{cast.org}/desk", "skills": ["matrix"], "weekly_capacity_hours": 80},
        )
    )
    # An unassigned deal of the rep's team, and the org admin's proposal for it.
    ids["unassigned_opportunity_id"] = _created(
        gateway.post(
            "/api/v1/opportunities",
            headers=admin,
            json={"name": f"Matrix unassigned {tag}", "owner_id": None, "org_unit_path": cast.team},
        )
    )
    ids["proposal_id"] = _created(
        gateway.post(
            "/api/v1/assignments/proposals",
            headers=admin,
            json={"opportunity_ids": [ids["unassigned_opportunity_id"]], "pool": {"employee_ids": [cast.rep_id]}},
        )
    )
    ids["unit_id"] = _created(
        gateway.post("/api/v1/org-units", headers=group, json={"slug": f"matrix-{tag}", "name": f"Matrix unit {tag}"})
    )
    ids["org_unit_id"], ids["org_unit_external_id"] = _org_unit(gateway, group, cast.org)
    ids["other_org_unit_id"], ids["other_org_unit_external_id"] = _org_unit(gateway, group, cast.other_org)
    policy = _ok(gateway.get("/api/v1/accounts/segmentation-policy", headers=admin))
    ids["segmentation_policy"] = {k: v for k, v in policy.items() if k not in ("org_path", "version")}  # type: ignore[assignment]
    ids["opportunity_policy"] = _ok(gateway.get("/api/v1/opportunities/policy", headers=admin))  # type: ignore[assignment]
    return ids


STAGE_RULES = [
    {"id": "l3", "stage": "L3_AFFLUENT", "conditions": [{"signal": "stable_accounts", "op": ">=", "value": 3}]},
    {"id": "l2", "stage": "L2_COMFORTABLE", "conditions": [{"signal": "stable_accounts", "op": ">=", "value": 1}]},
]


def relationship(contact_id: str) -> dict[str, Any]:
    return {
        "type": "relationship",
        "title": unique("Matrix relationship"),
        "scope": "group",
        "relationship": {
            "contact_id": contact_id,
            "strength": 80,
            "consent_given_on": TODAY.isoformat(),
            "consent_expires_on": (TODAY + dt.timedelta(days=365)).isoformat(),
        },
    }


def lender_headers(cast: Cast, ids: dict[str, str]) -> dict[str, str]:
    return auth(employee=ids["lender_id"], org_unit=f"{cast.org}/team-3", roles=("rep",))


def fill(method: str, template: str, ids: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "request_id":
            name = "support_request_id" if template.startswith("/api/v1/support-requests") else "resource_request_id"
        return ids.get(name, str(uuid.uuid4()))

    return re.sub(r"\{(\w+)\}", value, template)


class Matrix:
    """What a setup needs: the gateway, the cast, the shared records, and
    helpers that make fresh records (each asserts it was made)."""

    def __init__(self, gateway: httpx.Client, cast: Cast, ids: dict[str, str]) -> None:
        self.gateway, self.cast, self.ids = gateway, cast, ids

    def call(
        self, method: str, path: str, body: Any = None, who: str | dict[str, str] = "rep_of_record"
    ) -> dict[str, Any]:
        headers = self.cast.headers[who] if isinstance(who, str) else who
        return _ok(self.gateway.request(method, path, json=body, headers=headers))

    @property
    def lender(self) -> dict[str, str]:
        return lender_headers(self.cast, self.ids)

    # -- opportunities ----------------------------------------------------------------
    def opportunity(self, who: str = "rep_of_record", **fields: Any) -> str:
        return self.call("POST", "/api/v1/opportunities", {"name": unique("Matrix deal"), **fields}, who)["id"]

    # -- key accounts -------------------------------------------------------------------
    def account(self) -> str:
        return self.call("POST", "/api/v1/accounts", {"name": unique("Matrix account")})["id"]

    def contact(self, account: str) -> str:
        return self.call("POST", f"/api/v1/accounts/{account}/contacts", {"name": unique("Matrix contact")})["id"]

    def plan(self, account: str | None = None) -> tuple[str, str]:
        account = account or self.account()
        plan = self.call(
            "POST",
            "/api/v1/account-plans",
            {"account_id": account, "period": "2026", "starts_on": "2026-01-01", "ends_on": "2026-12-31"},
        )["id"]
        return account, plan

    def qualified_item(self) -> str:
        plan = self.ids["plan_id"]
        item = self.call("POST", f"/api/v1/account-plans/{plan}/incubation-items", {"title": unique("Matrix idea")})[
            "id"
        ]
        for status in ("validated", "qualified"):
            self.call("PATCH", f"/api/v1/account-plans/{plan}/incubation-items/{item}", {"status": status})
        return item

    # -- employees ------------------------------------------------------------------------
    def employee(self, unit: str | None = None) -> str:
        """A fresh rep of the rep's team (the matrix's rep_of_record calls as them), or of `unit`."""
        return self.call(
            "POST",
            "/api/v1/employees",
            {
                "name": unique("Matrix rep"),
                "email": f"{uuid.uuid4().hex}@example.com",
                "org_unit_path": unit or self.cast.team,
            },
            "group_admin",
        )["id"]

    def evaluated_employee(self) -> str:
        employee = self.employee()
        self.call("POST", f"/api/v1/employees/{employee}/stage:evaluate", {"record": True}, "org_admin")
        return employee

    # -- resource sharing -------------------------------------------------------------------
    def request_to_rep(self) -> str:
        """The lender asks for the rep's resource: waiting on the rep."""
        return self.call(
            "POST", "/api/v1/resource-requests", {"resource_id": self.ids["rep_lent_resource_id"]}, self.lender
        )["id"]

    def fulfilled_request_of_rep(self) -> str:
        """The rep asked for the lender's resource and got it."""
        request = self.call("POST", "/api/v1/resource-requests", {"resource_id": self.ids["lent_resource_id"]})["id"]
        for action in ("approve", "fulfil"):
            self.call("POST", f"/api/v1/resource-requests/{request}/{action}", {}, self.lender)
        return request

    def introduction_via_rep(self) -> str:
        """The lender asks the rep to introduce them to the rep's contact."""
        return self.call(
            "POST",
            "/api/v1/introductions",
            {"contact_id": self.ids["rep_contact_ref"], "relationship_ids": [self.ids["rep_relationship_id"]]},
            self.lender,
        )["id"]

    def support_request(self) -> str:
        return self.call(
            "POST",
            "/api/v1/support-requests",
            {
                "kind": "presales_engineer",
                "opportunity_id": self.ids["opportunity_id"],
                "skills": ["matrix"],
                "title": unique("Matrix support"),
            },
        )["id"]

    def assigned_support_request(self) -> str:
        request = self.support_request()
        self.call(
            "POST",
            f"/api/v1/support-requests/{request}/assign",
            {"assignee_id": self.ids["desk_member_id"]},
            "org_admin",
        )
        return request


def _future(days: int = 30) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).isoformat()


# -- one setup per operation with a body or a state to change: (matrix, role) -> (path ids, body) ----


def _api_key(m: Matrix, role: str) -> tuple[dict, Any]:
    return {}, {"name": unique("matrix key"), "org_unit_path": own_org(m.cast, role)}


def _revoke_api_key(m: Matrix, role: str) -> tuple[dict, Any]:
    key = m.call("POST", "/api/v1/api-keys", {"name": unique("matrix key"), "org_unit_path": m.cast.org}, "org_admin")
    return {"key_id": key["id"]}, None


def _opportunity_policy(m: Matrix, role: str) -> tuple[dict, Any]:
    return {}, m.ids["opportunity_policy"]  # the policy in force again: nothing changes but the version


def _bulk_opportunity(m: Matrix, role: str) -> tuple[dict, Any]:
    return {}, {"items": [{"name": unique("Matrix import"), "external_id": unique("matrix-opp")}]}


def _fresh_opportunity(body: Any) -> Setup:
    def setup(m: Matrix, role: str) -> tuple[dict, Any]:
        return {"opportunity_id": m.opportunity()}, body() if callable(body) else body

    return setup


def _proposal(m: Matrix, role: str) -> tuple[dict, Any]:
    # The pool is someone the caller may see (an unseen employee is an unknown reference, issue 16):
    # the rep, or for the assigners who may not see the rep a fresh hire of their own unit. The rep's
    # deal, which those may not see either, is then listed as not placed, not refused.
    elsewhere = role in ("manager_elsewhere", "other_org_admin")
    pool = m.employee(own_unit(m.cast, role)) if elsewhere else m.cast.rep_id
    return {}, {"opportunity_ids": [m.ids["unassigned_opportunity_id"]], "pool": {"employee_ids": [pool]}}


def _commit(m: Matrix, role: str) -> tuple[dict, Any]:
    deal = m.opportunity("org_admin", owner_id=None, org_unit_path=m.cast.team)
    proposal = m.call(
        "POST",
        "/api/v1/assignments/proposals",
        {"opportunity_ids": [deal], "pool": {"employee_ids": [m.cast.rep_id]}},
        "org_admin",
    )
    return {"proposal_id": proposal["id"]}, None


def _override_stage(m: Matrix, role: str) -> tuple[dict, Any]:
    return {"employee_id": m.evaluated_employee()}, {
        "stage": "L2_COMFORTABLE",
        "reason": "matrix override",
        "expires_at": _future(),
    }


def _remove_stage_override(m: Matrix, role: str) -> tuple[dict, Any]:
    employee = m.evaluated_employee()
    m.call(
        "PUT",
        f"/api/v1/employees/{employee}/stage/override",
        {"stage": "L2_COMFORTABLE", "reason": "matrix override", "expires_at": _future()},
        "org_admin",
    )
    return {"employee_id": employee}, None


def _backfill(m: Matrix, role: str) -> tuple[dict, Any]:
    return {}, {
        "facts": [
            {
                "external_id": unique("matrix-fact"),
                "kind": "opportunity_closed",
                "employee_id": m.cast.rep_id,
                "occurred_on": "2020-01-15",
                "opportunity_ref": str(uuid.uuid4()),
            }
        ]
    }


def _employee(m: Matrix, role: str) -> tuple[dict, Any]:
    return {}, {
        "name": unique("Matrix hire"),
        "email": f"{uuid.uuid4().hex}@example.com",
        "org_unit_path": own_unit(m.cast, role),
    }


def employee_rows(unit: str, *, with_manager: bool = True) -> list[dict[str, Any]]:
    """A manager and their report, imported together (or the report alone)."""
    manager = unique("matrix-mgr")
    rows = (
        [
            {
                "external_id": manager,
                "name": unique("Matrix manager"),
                "email": f"{uuid.uuid4().hex}@example.com",
                "org_unit_path": unit,
            }
        ]
        if with_manager
        else []
    )
    return [
        *rows,
        {
            "external_id": unique("matrix-emp"),
            "name": unique("Matrix import"),
            "email": f"{uuid.uuid4().hex}@example.com",
            "org_unit_path": unit,
            **({"manager_external_id": manager} if with_manager else {}),
        },
    ]


def _bulk_employees(m: Matrix, role: str) -> tuple[dict, Any]:
    # A manager and their report (a batch without managers has its own test in the test file).
    return {}, {"items": employee_rows(own_unit(m.cast, role))}


def _org_unit_parent(m: Matrix, role: str) -> tuple[str, str]:
    if role == "other_org_admin":
        return m.ids["other_org_unit_id"], m.ids["other_org_unit_external_id"]
    return m.ids["org_unit_id"], m.ids["org_unit_external_id"]


def _create_org_unit(m: Matrix, role: str) -> tuple[dict, Any]:
    return {}, {"slug": uuid.uuid4().hex[:12], "name": unique("Matrix team"), "parent_id": _org_unit_parent(m, role)[0]}


def _bulk_org_units(m: Matrix, role: str) -> tuple[dict, Any]:
    return {}, {
        "items": [
            {
                "external_id": unique("matrix-unit"),
                "slug": uuid.uuid4().hex[:12],
                "name": unique("Matrix team"),
                "parent_external_id": _org_unit_parent(m, role)[1],
            }
        ]
    }


def _quota(m: Matrix, role: str) -> tuple[dict, Any]:
    return {"employee_id": m.employee()}, {"amount": {"amount": "250000.00", "currency": "CNY"}}


def _stage_policy(m: Matrix, role: str) -> tuple[dict, Any]:
    # The group admin publishes for the rep's organisation, never for the whole group.
    return {}, {"name": unique("Matrix policy"), "rules": STAGE_RULES, "organization_path": own_org(m.cast, role)}


def _segmentation_policy(m: Matrix, role: str) -> tuple[dict, Any]:
    return {}, {**m.ids["segmentation_policy"], "org_path": own_org(m.cast, role)}  # type: ignore[dict-item]


def _tier_override(m: Matrix, role: str) -> tuple[dict, Any]:
    return {"account_id": m.account()}, {"tier": "key", "reason": "matrix override"}


_DAYS_AHEAD = itertools.count(1)


def _rep_joins_later(m: Matrix) -> dict[str, Any]:
    """The rep on the account's team again, from a day no other cell uses: a real employee every
    role that reaches the account may see (issue 16 refuses unknown ones), and the account's
    audience stays as it is."""
    starts = TODAY + dt.timedelta(days=next(_DAYS_AHEAD))
    return {"employee_id": m.cast.rep_id, "org_unit_path": m.cast.team, "role": "overlay", "valid_from": str(starts)}


def _coverage_member(m: Matrix, role: str) -> tuple[dict, Any]:
    return {}, _rep_joins_later(m)


def _remove_coverage_member(m: Matrix, role: str) -> tuple[dict, Any]:
    member = m.call("POST", f"/api/v1/accounts/{m.ids['account_id']}/coverage/members", _rep_joins_later(m))
    return {"member_id": member["id"]}, None


def _relationship(m: Matrix, role: str) -> tuple[dict, Any]:
    # The rep's own relationship, replaced each time: an employee every role that reaches the account may see.
    return {}, {"contact_id": m.ids["contact_id"], "employee_id": m.cast.rep_id, "level": "vendor", "strength": 10}


def _reassign(m: Matrix, role: str) -> tuple[dict, Any]:
    # A fresh deal of the rep's, given to a fresh rep of the rep's team (a real employee, not the owner).
    return {"opportunity_id": m.opportunity()}, {"employee_id": m.employee(), "reason": "matrix override"}


def _influence_line(m: Matrix, role: str) -> tuple[dict, Any]:
    account = m.ids["account_id"]
    return {}, {"from_contact_id": m.contact(account), "to_contact_id": m.contact(account)}


def _account_plan(m: Matrix, role: str) -> tuple[dict, Any]:
    return {}, {"account_id": m.account(), "period": "2026", "starts_on": "2026-01-01", "ends_on": "2026-12-31"}


def _fresh_plan(body: Callable[[Matrix, str], Any]) -> Setup:
    def setup(m: Matrix, role: str) -> tuple[dict, Any]:
        account, plan = m.plan()
        return {"plan_id": plan, "account_id": account}, body(m, account)

    return setup


def _profile(m: Matrix, role: str) -> tuple[dict, Any]:
    return {"employee_id": m.employee()}, {"public": False, "headline": "Matrix profile", "expertise_areas": ["retail"]}


def _pool_member(m: Matrix, role: str) -> tuple[dict, Any]:
    body: dict[str, Any] = {"skills": ["matrix"], "weekly_capacity_hours": 10}
    if role != "rep_of_record":  # the member themself takes their unit from their token
        body["org_unit_path"] = m.cast.team
    return {"employee_id": m.employee()}, body


def _support_request(m: Matrix, role: str) -> tuple[dict, Any]:
    # About a deal of the caller's own (an integrator's has no owner; the unauthenticated name the rep's).
    deal = m.opportunity(role) if role in SIGNED_IN else m.ids["opportunity_id"]
    return {}, {
        "kind": "presales_engineer",
        "opportunity_id": deal,
        "skills": ["matrix"],
        "title": unique("Matrix support"),
    }


def _resource_request(m: Matrix, role: str) -> tuple[dict, Any]:
    return {}, {"resource_id": m.ids["lent_resource_id"], "message": "matrix"}


def _introduction(m: Matrix, role: str) -> tuple[dict, Any]:
    return {}, {"contact_id": m.ids["lender_contact_ref"], "relationship_ids": [m.ids["lender_relationship_id"]]}


def _decide(prepare: tuple[str, ...], body: Any) -> Setup:
    """A request for the rep's resource, moved by the rep through `prepare` first."""

    def setup(m: Matrix, role: str) -> tuple[dict, Any]:
        request = m.request_to_rep()
        for action in prepare:
            m.call("POST", f"/api/v1/resource-requests/{request}/{action}", {})
        return {"resource_request_id": request}, body

    return setup


def _fulfilled(body: Any) -> Setup:
    def setup(m: Matrix, role: str) -> tuple[dict, Any]:
        return {"resource_request_id": m.fulfilled_request_of_rep()}, body

    return setup


def _introduce(prepare: tuple[str, ...]) -> Setup:
    def setup(m: Matrix, role: str) -> tuple[dict, Any]:
        introduction = m.introduction_via_rep()
        for action in prepare:
            m.call("POST", f"/api/v1/introductions/{introduction}/{action}", {})
        return {"introduction_id": introduction}, {"note": "matrix"}

    return setup


def _promote(m: Matrix, role: str) -> tuple[dict, Any]:
    return {"item_id": m.qualified_item()}, None


def _assign_support(m: Matrix, role: str) -> tuple[dict, Any]:
    return {"support_request_id": m.support_request()}, {"assignee_id": m.ids["desk_member_id"]}


def _fulfil_support(m: Matrix, role: str) -> tuple[dict, Any]:
    return {"support_request_id": m.assigned_support_request()}, None


def _cancel_support(m: Matrix, role: str) -> tuple[dict, Any]:
    return {"support_request_id": m.support_request()}, None


def _body(body: Callable[[Matrix], Any] | Any) -> Setup:
    """Shared records, a body only (made fresh each call when callable)."""

    def setup(m: Matrix, role: str) -> tuple[dict, Any]:
        return {}, body(m) if callable(body) else body

    return setup


WRITES: dict[str, Setup] = {
    "POST /api/v1/api-keys": _api_key,
    "DELETE /api/v1/api-keys/{key_id}": _revoke_api_key,
    "PUT /api/v1/opportunities/policy": _opportunity_policy,
    "POST /api/v1/opportunities": _body(lambda m: {"name": unique("Matrix deal")}),
    "POST /api/v1/opportunities:bulk-upsert": _bulk_opportunity,
    "POST /api/v1/opportunities/{opportunity_id}/stage": _fresh_opportunity(
        lambda: {"stage": "lost", "closed_on": TODAY.isoformat()}
    ),
    "PUT /api/v1/opportunities/{opportunity_id}/plan": _fresh_opportunity(
        {"profile": "Matrix plan", "business_issues": ["growth"]}
    ),
    "POST /api/v1/opportunities/{opportunity_id}/assignment": _reassign,
    "POST /api/v1/opportunities/recommended-solutions:batch-get": _body(
        lambda m: {"opportunity_ids": [m.ids["opportunity_id"]]}
    ),
    "POST /api/v1/solutions": _body(lambda m: {"name": unique("Matrix solution")}),
    "POST /api/v1/solutions:bulk-upsert": _body(
        lambda m: {"items": [{"external_id": unique("matrix-solution"), "name": unique("Matrix solution")}]}
    ),
    "POST /api/v1/assignments/proposals": _proposal,
    "POST /api/v1/assignments/proposals/{proposal_id}/commit": _commit,
    "POST /api/v1/employees/stages:batch-get": _body(lambda m: {"employee_ids": [m.cast.rep_id]}),
    "POST /api/v1/employees/stages:evaluate": _body(lambda m: {"employee_ids": [m.cast.rep_id], "record": True}),
    "POST /api/v1/employees/{employee_id}/stage:evaluate": _body({"record": True}),
    "PUT /api/v1/employees/{employee_id}/stage/override": _override_stage,
    "DELETE /api/v1/employees/{employee_id}/stage/override": _remove_stage_override,
    "POST /api/v1/employees/facts:backfill": _backfill,
    "POST /api/v1/employees": _employee,
    "POST /api/v1/employees:bulk-upsert": _bulk_employees,
    "POST /api/v1/org-units": _create_org_unit,
    "POST /api/v1/org-units:bulk-upsert": _bulk_org_units,
    "PUT /api/v1/employees/{employee_id}/quotas/{period}": _quota,
    "POST /api/v1/stage-policies": _stage_policy,
    "PUT /api/v1/accounts/segmentation-policy": _segmentation_policy,
    "PUT /api/v1/accounts/{account_id}/tier-override": _tier_override,
    "POST /api/v1/accounts/{account_id}/coverage/members": _coverage_member,
    "DELETE /api/v1/accounts/{account_id}/coverage/members/{member_id}": _remove_coverage_member,
    "POST /api/v1/accounts": _body(lambda m: {"name": unique("Matrix account"), "industry": "retail"}),
    "POST /api/v1/accounts:bulk-upsert": _body(
        lambda m: {"items": [{"external_id": unique("matrix-acc"), "name": unique("Matrix import")}]}
    ),
    "POST /api/v1/accounts:batch-get": _body(lambda m: {"account_ids": [m.ids["account_id"]]}),
    "POST /api/v1/accounts/{account_id}/contacts": _body(lambda m: {"name": unique("Matrix contact")}),
    "PUT /api/v1/accounts/{account_id}/relationships": _relationship,
    "POST /api/v1/accounts/{account_id}/influence-lines": _influence_line,
    "POST /api/v1/account-plans": _account_plan,
    "POST /api/v1/account-plans/{plan_id}/objectives": _body(lambda m: {"title": unique("Matrix objective")}),
    "POST /api/v1/account-plans/{plan_id}/actions": _body(lambda m: {"title": unique("Matrix action")}),
    "POST /api/v1/account-plans/{plan_id}/reviews": _body({"notes": "Matrix review"}),
    "PUT /api/v1/account-plans/{plan_id}/relationship-targets": _fresh_plan(
        lambda m, account: {"contact_id": m.contact(account), "target_level": "trusted_advisor"}
    ),
    "PUT /api/v1/account-plans/{plan_id}/solution-guiding-team": _fresh_plan(
        lambda m, account: {
            "members": [{"employee_id": m.cast.rep_id, "role": "solution_architect"}],
            "target_initiatives": ["Matrix initiative"],
        }
    ),
    "POST /api/v1/account-plans/{plan_id}/solution-guiding-team/sessions": _body(
        lambda m: {"held_on": TODAY.isoformat(), "topic": unique("Matrix session")}
    ),
    "PUT /api/v1/account-plans/{plan_id}/whitespace-cells": _fresh_plan(
        lambda m, account: {"business_unit": "Matrix BU", "solution": "Matrix solution", "status": "open"}
    ),
    "POST /api/v1/account-plans/{plan_id}/incumbent-contracts": _body(lambda m: {"competitor": unique("Rival")}),
    "POST /api/v1/account-plans/{plan_id}/incubation-items": _body(lambda m: {"title": unique("Matrix idea")}),
    "POST /api/v1/account-plans/{plan_id}/incubation-items/{item_id}/promote": _promote,
    "PUT /api/v1/resources/people/{employee_id}/profile": _profile,
    "POST /api/v1/resources": _body(
        lambda m: {"type": "reference_case", "title": unique("Matrix case"), "scope": "private"}
    ),
    "POST /api/v1/resource-requests": _resource_request,
    "POST /api/v1/resource-requests/{request_id}/approve": _decide((), {"note": "matrix"}),
    "POST /api/v1/resource-requests/{request_id}/decline": _decide((), {"note": "matrix"}),
    "POST /api/v1/resource-requests/{request_id}/fulfil": _decide(
        ("approve",), {"note": "matrix", "outcome": "contributed"}
    ),
    "POST /api/v1/resource-requests/{request_id}/rate": _fulfilled({"rating": 4, "comment": "matrix"}),
    "POST /api/v1/resource-requests/{request_id}/outcome": _fulfilled({"outcome": "contributed"}),
    "POST /api/v1/introductions": _introduction,
    "POST /api/v1/introductions/{introduction_id}/accept": _introduce(()),
    "POST /api/v1/introductions/{introduction_id}/decline": _introduce(()),
    "POST /api/v1/introductions/{introduction_id}/introduce": _introduce(("accept",)),
    "POST /api/v1/introductions/{introduction_id}/fail": _introduce(("accept",)),
    "PUT /api/v1/support-requests/pool/{employee_id}": _pool_member,
    "POST /api/v1/support-requests": _support_request,
    "POST /api/v1/support-requests/{request_id}/assign": _assign_support,
    "POST /api/v1/support-requests/{request_id}/fulfil": _fulfil_support,
    "POST /api/v1/support-requests/{request_id}/cancel": _cancel_support,
}
# The old URLs of two bulk upserts answer for one more release (sanlun.kernel.bulk.deprecated_alias).
DEPRECATED_ALIASES = {
    "POST /api/v1/opportunities/bulk-upsert": "POST /api/v1/opportunities:bulk-upsert",
    "POST /api/v1/accounts/bulk-upsert": "POST /api/v1/accounts:bulk-upsert",
}
WRITES.update({alias: WRITES[current] for alias, current in DEPRECATED_ALIASES.items()})


# -- creating in the rep's reach from outside it ----------------------------------------------------
# (operation, role, setup): the body names the rep's team, organisation or record.


def _in_team(body: Callable[[Matrix], dict[str, Any]]) -> Setup:
    def setup(m: Matrix, role: str) -> tuple[dict, Any]:
        return {}, body(m)

    return setup


def _pool_member_elsewhere(m: Matrix, role: str) -> tuple[dict, Any]:
    # A member of the rep's team. Those outside the team claim them for their own unit in the body
    # (the member's unit is the lifecycle service's, so that claim must not work); the manager above
    # names no unit and succeeds, which shows the body is otherwise valid.
    body: dict[str, Any] = {"skills": ["matrix"], "weekly_capacity_hours": 10}
    if role != "manager_above":
        body["org_unit_path"] = own_unit(m.cast, role)
    return {"employee_id": m.employee()}, body


REACH_SETUPS: dict[str, Setup] = {
    "POST /api/v1/opportunities": _in_team(lambda m: {"name": unique("Matrix deal"), "org_unit_path": m.cast.team}),
    "POST /api/v1/opportunities:bulk-upsert": _in_team(
        lambda m: {
            "items": [
                {"name": unique("Matrix import"), "external_id": unique("matrix-opp"), "org_unit_path": m.cast.team}
            ]
        }
    ),
    "POST /api/v1/accounts": _in_team(lambda m: {"name": unique("Matrix account"), "org_unit_path": m.cast.team}),
    "POST /api/v1/accounts:bulk-upsert": _in_team(
        lambda m: {
            "items": [
                {"external_id": unique("matrix-acc"), "name": unique("Matrix import"), "org_unit_path": m.cast.team}
            ]
        }
    ),
    "POST /api/v1/employees": _in_team(
        lambda m: {
            "name": unique("Matrix hire"),
            "email": f"{uuid.uuid4().hex}@example.com",
            "org_unit_path": m.cast.team,
        }
    ),
    "POST /api/v1/employees:bulk-upsert": _in_team(lambda m: {"items": employee_rows(m.cast.team)}),
    "POST /api/v1/org-units": _in_team(
        lambda m: {"slug": uuid.uuid4().hex[:12], "name": unique("Matrix team"), "parent_id": m.ids["org_unit_id"]}
    ),
    "POST /api/v1/org-units:bulk-upsert": _in_team(
        lambda m: {
            "items": [
                {
                    "external_id": unique("matrix-unit"),
                    "slug": uuid.uuid4().hex[:12],
                    "name": unique("Matrix team"),
                    "parent_external_id": m.ids["org_unit_external_id"],
                }
            ]
        }
    ),
    "POST /api/v1/api-keys": _in_team(lambda m: {"name": unique("matrix key"), "org_unit_path": m.cast.org}),
    "POST /api/v1/stage-policies": _in_team(
        lambda m: {"name": unique("Matrix policy"), "rules": STAGE_RULES, "organization_path": m.cast.org}
    ),
    "PUT /api/v1/accounts/segmentation-policy": _in_team(
        lambda m: {**m.ids["segmentation_policy"], "org_path": m.cast.org}
    ),  # type: ignore[dict-item]
    "POST /api/v1/support-requests": _in_team(
        lambda m: {
            "kind": "presales_engineer",
            "opportunity_id": m.ids["opportunity_id"],
            "skills": ["matrix"],
            "title": unique("Matrix support"),
        }
    ),
    "PUT /api/v1/support-requests/pool/{employee_id}": _pool_member_elsewhere,
}
