"""Issue 16: every body field naming another record, for every role.

An id that does not exist and an id the caller may not see get the same 422
`unknown_reference` (the same body but for `instance`), and nothing is
stored. Employees are asked of the employee lifecycle service (here the
`directory` fake of conftest.py, applying the real visibility rule to the
caller's token; one test runs the real service in-process), accounts and
contacts of this service's own tables. The segmentation policy of another
organisation answers 404, as one that does not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.services.key_account.conftest import Directory, serve_lifecycle
from tests.services.key_account.helpers import ADMIN, new_account, new_contact, new_plan
from tests.support import auth

EAST, WEST = "/group/east", "/group/west"
DETAIL = "The request names records that do not exist or that you may not see."


@dataclass
class Caller:
    name: str
    org: str  # the organisation the caller works in
    roles: tuple[str, ...]
    employee: uuid.UUID
    unit: str

    @property
    def headers(self) -> dict[str, str]:
        return auth(employee=self.employee, org_unit=self.unit, roles=self.roles)


def callers() -> list[Caller]:
    def make(name: str, org: str, roles: tuple[str, ...], unit: str) -> Caller:
        return Caller(name, org, roles, uuid.uuid4(), unit)

    return [
        make("rep", EAST, ("rep",), f"{EAST}/team-1"),
        make("manager", EAST, ("manager",), f"{EAST}/team-1"),
        make("org_admin_a", EAST, ("org_admin",), EAST),
        make("org_admin_b", WEST, ("org_admin",), WEST),
        make("group_admin", "/group", ("group_admin",), "/group"),
        make("integrator", EAST, ("integrator",), EAST),
    ]


ROLES = [c.name for c in callers()]


async def snapshot(connection) -> dict[str, Any]:
    """Every key_account table's content, to prove a refusal stored nothing (outbox included)."""
    tables = (
        await connection.execute(
            sa.text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'key_account'")
        )
    ).scalars()
    out = {}
    for table in sorted(tables):
        if table in ("alembic_version", "idempotency_keys"):
            continue
        rows = "md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
        digest = await connection.execute(sa.text(f"SELECT count(*), {rows} FROM key_account.{table} t"))
        out[table] = tuple(digest.one())
    return out


def comparable(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    body.pop("instance", None)
    body.pop("request_id", None)
    return body


@dataclass
class World:
    client: httpx.AsyncClient
    directory: Directory
    caller: Caller
    account: dict  # an account the caller may change
    plan: dict  # a plan on it
    action: dict
    item: dict
    other_account: dict  # an account of the other organisation
    other_contact: dict  # a contact on it
    colleague: str  # an employee the caller may see (not for a rep)
    hidden: str | None  # an employee the caller may not see (None for a group admin: sees everyone)


async def world(client: httpx.AsyncClient, directory: Directory, caller: Caller) -> World:
    directory.open_world = False
    directory.employees[caller.employee] = caller.unit
    home = caller.unit if caller.org != "/group" else f"{EAST}/team-1"
    other_org = WEST if caller.org == EAST else EAST
    account = await new_account(
        client, org_unit_path=home, owner_id=str(caller.employee) if "rep" in caller.roles else None
    )
    plan = await new_plan(client, account["id"])
    action = await client.post(f"/api/v1/account-plans/{plan['id']}/actions", json={"title": "Call"}, headers=ADMIN)
    item = await client.post(
        f"/api/v1/account-plans/{plan['id']}/incubation-items", json={"title": "Pilot"}, headers=ADMIN
    )
    assert action.status_code == item.status_code == 201, (action.text, item.text)
    other = await new_account(client, name="Elsewhere Ltd", org_unit_path=f"{other_org}/team-1")
    contact = await new_contact(client, other["id"])
    hidden = None if caller.org == "/group" else directory.employee(f"{other_org}/team-1")
    return World(
        client, directory, caller, account, plan, action.json(), item.json(), other, contact,
        directory.employee(home), hidden,
    )  # fmt: skip


# (name, method, path, body) with `{ref}` standing for the id under test; `kind`: employee, account or contact.
Case = tuple[str, str, Callable[[World], str], Callable[[World, str], dict], str, tuple[str | int, ...]]


def _employee_cases() -> list[Case]:
    plan = "/api/v1/account-plans/{}"
    return [
        (
            "account owner (create)",
            "POST",
            lambda w: "/api/v1/accounts",
            lambda w, ref: {"name": "New Co", "org_unit_path": w.account["org_unit_path"], "owner_id": ref},
            "employee",
            ("body", "owner_id"),
        ),
        (
            "account owner (change)",
            "PATCH",
            lambda w: f"/api/v1/accounts/{w.account['id']}",
            lambda w, ref: {"owner_id": ref},
            "employee",
            ("body", "owner_id"),
        ),
        (
            "coverage member",
            "POST",
            lambda w: f"/api/v1/accounts/{w.account['id']}/coverage/members",
            lambda w, ref: {"employee_id": ref, "org_unit_path": w.account["org_unit_path"], "role": "delivery"},
            "employee",
            ("body", "employee_id"),
        ),
        (
            "relationship holder",
            "PUT",
            lambda w: f"/api/v1/accounts/{w.account['id']}/relationships",
            lambda w, ref: {"contact_id": w.contact_id, "employee_id": ref, "level": "credible_source", "strength": 60},
            "employee",
            ("body", "employee_id"),
        ),
        (
            "guiding-team member",
            "PUT",
            lambda w: plan.format(w.plan["id"]) + "/solution-guiding-team",
            lambda w, ref: {
                "members": [
                    {"employee_id": str(w.caller.employee), "role": "solution_architect"},
                    {"employee_id": ref, "role": "industry_expert"},
                ],
                "target_initiatives": [],
            },
            "employee",
            ("body", "members", 1, "employee_id"),
        ),
        (
            "plan action owner (create)",
            "POST",
            lambda w: plan.format(w.plan["id"]) + "/actions",
            lambda w, ref: {"title": "Visit", "owner_id": ref},
            "employee",
            ("body", "owner_id"),
        ),
        (
            "plan action owner (change)",
            "PATCH",
            lambda w: plan.format(w.plan["id"]) + f"/actions/{w.action['id']}",
            lambda w, ref: {"owner_id": ref},
            "employee",
            ("body", "owner_id"),
        ),
        (
            "relationship target owner",
            "PUT",
            lambda w: plan.format(w.plan["id"]) + "/relationship-targets",
            lambda w, ref: {"contact_id": w.contact_id, "target_level": "credible_source", "owner_id": ref},
            "employee",
            ("body", "owner_id"),
        ),
        (
            "incubation item owner (create)",
            "POST",
            lambda w: plan.format(w.plan["id"]) + "/incubation-items",
            lambda w, ref: {"title": "Idea", "owner_id": ref},
            "employee",
            ("body", "owner_id"),
        ),
        (
            "incubation item owner (change)",
            "PATCH",
            lambda w: plan.format(w.plan["id"]) + f"/incubation-items/{w.item['id']}",
            lambda w, ref: {"owner_id": ref},
            "employee",
            ("body", "owner_id"),
        ),
    ]


def _record_cases() -> list[Case]:
    plan = "/api/v1/account-plans/{}"
    return [
        (
            "parent account",
            "POST",
            lambda w: "/api/v1/accounts",
            lambda w, ref: {"name": "Sub Co", "org_unit_path": w.account["org_unit_path"], "parent_id": ref},
            "account",
            ("body", "parent_id"),
        ),
        (
            "plan's account",
            "POST",
            lambda w: "/api/v1/account-plans",
            lambda w, ref: {"account_id": ref, "period": "2031", "starts_on": "2031-01-01", "ends_on": "2031-12-31"},
            "account",
            ("body", "account_id"),
        ),
        (
            "relationship target contact",
            "PUT",
            lambda w: plan.format(w.plan["id"]) + "/relationship-targets",
            lambda w, ref: {"contact_id": ref, "target_level": "credible_source"},
            "contact",
            ("body", "contact_id"),
        ),
        (
            "relationship contact",
            "PUT",
            lambda w: f"/api/v1/accounts/{w.account['id']}/relationships",
            lambda w, ref: {
                "contact_id": ref,
                "employee_id": str(w.caller.employee),
                "level": "credible_source",
                "strength": 60,
            },
            "contact",
            ("body", "contact_id"),
        ),
        (
            "guiding session attendee",
            "POST",
            lambda w: plan.format(w.plan["id"]) + "/solution-guiding-team/sessions",
            lambda w, ref: {"held_on": "2026-03-01", "topic": "Roadmap", "attendee_contact_ids": [w.contact_id, ref]},
            "contact",
            ("body", "attendee_contact_ids", 1),
        ),
    ]


CASES = _employee_cases() + _record_cases()
MESSAGES = {
    "employee": "no employee with this id that you may see",
    "account": "no account with this id that you may see",
    "contact": "no contact of this account with this id that you may see",
}


def _skip(caller: Caller, name: str) -> str | None:
    if caller.name == "rep" and name.startswith("account owner"):
        return "a rep may only own their accounts themself (403 before any reference is looked at)"
    return None


async def _send(w: World, method: str, path: str, body: dict) -> httpx.Response:
    headers = dict(w.caller.headers)
    if method == "PATCH" or path.endswith("solution-guiding-team"):
        current = await w.client.get(path, headers=ADMIN)
        headers["If-Match"] = current.headers.get("etag", "*")
    return await w.client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize("role", ROLES)
async def test_unknown_and_invisible_references_answer_alike_and_store_nothing(
    service_client, directory, connection, role
):
    caller = next(c for c in callers() if c.name == role)
    client = await service_client("key_account")
    w = await world(client, directory, caller)
    w.contact_id = (await new_contact(client, w.account["id"], name="Zhou Min"))["id"]  # type: ignore[attr-defined]
    checked = 0
    for name, method, path_of, body_of, kind, loc in CASES:
        if _skip(caller, name):
            continue
        invisible = {"employee": w.hidden, "account": w.other_account["id"], "contact": w.other_contact["id"]}[kind]
        if caller.org == "/group" and kind in ("employee", "account"):
            invisible = None  # a group admin sees every employee and account: only unknown ids are refused
        refs = {"unknown": str(uuid.uuid4()), **({"invisible": invisible} if invisible else {})}
        answers = {}
        before = await snapshot(connection)
        for label, ref in refs.items():
            response = await _send(w, method, path_of(w), body_of(w, ref))
            assert response.status_code == 422, (role, name, label, response.text)
            answers[label] = comparable(response)
        assert await snapshot(connection) == before, (role, name)
        expected = {"loc": list(loc), "msg": MESSAGES[kind]}
        for label, body in answers.items():
            assert body["code"] == "unknown_reference", (role, name, label, body)
            assert body["detail"] == DETAIL
            assert body["errors"] == [expected], (role, name, label, body)
        if "invisible" in answers:
            assert answers["invisible"] == answers["unknown"], (role, name)
        checked += 1
    assert checked >= len(CASES) - 2


@pytest.mark.parametrize("role", [r for r in ROLES if r != "rep"])
async def test_a_visible_employee_is_accepted(service_client, directory, role):
    caller = next(c for c in callers() if c.name == role)
    client = await service_client("key_account")
    w = await world(client, directory, caller)
    response = await client.post(
        f"/api/v1/accounts/{w.account['id']}/coverage/members",
        json={"employee_id": w.colleague, "org_unit_path": w.account["org_unit_path"], "role": "delivery"},
        headers=caller.headers,
    )
    assert response.status_code == 201, response.text


async def test_a_rep_names_themself_without_asking(service_client, directory):
    rep = callers()[0]
    client = await service_client("key_account")
    w = await world(client, directory, rep)
    directory.calls.clear()
    response = await client.post(
        f"/api/v1/account-plans/{w.plan['id']}/actions",
        json={"title": "Visit", "owner_id": str(rep.employee)},
        headers=rep.headers,
    )
    assert response.status_code == 201, response.text
    assert directory.calls == []


async def test_every_employee_of_a_request_in_one_call(service_client, directory):
    admin = callers()[2]
    client = await service_client("key_account")
    w = await world(client, directory, admin)
    directory.calls.clear()
    members = [{"employee_id": directory.employee(), "role": "expert"} for _ in range(30)]
    members.append({"employee_id": w.hidden, "role": "expert"})
    plan = await client.get(f"/api/v1/account-plans/{w.plan['id']}", headers=ADMIN)
    response = await client.put(
        f"/api/v1/account-plans/{w.plan['id']}/solution-guiding-team",
        json={"members": members, "target_initiatives": []},
        headers={**admin.headers, "If-Match": plan.headers["etag"]},
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"loc": ["body", "members", 30, "employee_id"], "msg": "no employee with this id that you may see"}
    ]
    assert directory.calls == [("POST", "/api/v1/employees/stages:batch-get", 31)]


async def test_bulk_upsert_fails_rows_with_unseen_owners_in_one_call(service_client, directory, connection):
    admin = callers()[2]
    client = await service_client("key_account")
    await world(client, directory, admin)
    seen, hidden, unknown = directory.employee(f"{EAST}/team-2"), directory.employee(f"{WEST}/team-1"), uuid.uuid4()
    directory.calls.clear()
    rows = [
        {"external_id": "REF-1", "name": "One", "owner_id": seen, "org_unit_path": f"{EAST}/team-2"},
        {"external_id": "REF-2", "name": "Two", "owner_id": hidden, "org_unit_path": f"{EAST}/team-2"},
        {"external_id": "REF-3", "name": "Three", "owner_id": str(unknown), "org_unit_path": f"{EAST}/team-2"},
    ]
    response = await client.post("/api/v1/accounts:bulk-upsert", json={"items": rows}, headers=admin.headers)
    assert response.status_code == 200, response.text
    report = response.json()
    assert [r["status"] for r in report["results"]] == ["created", "failed", "failed"]
    errors = [r["errors"] for r in report["results"][1:]]
    assert errors == [
        [
            {
                "loc": ["body", "items", i, "owner_id"],
                "msg": "no employee with this id that you may see",
                "code": "unknown_reference",
            }
        ]
        for i in (1, 2)
    ]
    assert directory.calls == [("POST", "/api/v1/employees/stages:batch-get", 3)]
    stored = await connection.execute(
        sa.text("SELECT external_id FROM key_account.accounts WHERE external_id LIKE 'REF-%'")
    )
    assert list(stored.scalars()) == ["REF-1"]


@pytest.mark.parametrize(
    "call",
    [
        lambda c, w: c.post(
            f"/api/v1/accounts/{w.account['id']}/coverage/members",
            json={"employee_id": w.colleague, "org_unit_path": w.account["org_unit_path"], "role": "delivery"},
            headers=w.caller.headers,
        ),
        lambda c, w: c.post(
            "/api/v1/accounts:bulk-upsert",
            json={"items": [{"external_id": "DOWN-1", "name": "Down", "owner_id": w.colleague}]},
            headers=w.caller.headers,
        ),
    ],
    ids=["coverage", "bulk"],
)
async def test_lifecycle_service_down_stores_nothing(service_client, directory, connection, call):
    client = await service_client("key_account")
    w = await world(client, directory, callers()[2])
    directory.failing = True
    before = await snapshot(connection)
    response = await call(client, w)
    assert response.status_code == 502, response.text
    assert response.json()["service"] == "employee_lifecycle"
    assert await snapshot(connection) == before


async def test_lifecycle_service_unreachable_is_502(service_client, directory, connection):
    from tests.support_servers import closed_url

    client = await service_client("key_account", employee_lifecycle_url=closed_url())
    account = await new_account(client, org_unit_path=f"{EAST}/team-1")
    before = await snapshot(connection)
    response = await client.post(
        f"/api/v1/accounts/{account['id']}/coverage/members",
        json={"employee_id": str(uuid.uuid4()), "org_unit_path": f"{EAST}/team-1", "role": "delivery"},
        headers=auth(org_unit=EAST, roles=("org_admin",)),
    )
    assert response.status_code == 502
    assert response.json()["code"] == "upstream_unavailable"
    assert await snapshot(connection) == before


async def test_the_real_lifecycle_service_answers_hidden_as_unknown(service_client, connection):
    """The employee lifecycle service itself, in-process: an employee of another
    organisation is as absent from `stages:batch-get` as one that does not exist."""
    lifecycle = await service_client("employee_lifecycle")
    client = await service_client("key_account", employee_lifecycle_url="http://lifecycle.in-process.test")
    await serve_lifecycle(client, lifecycle._transport.app)  # type: ignore[attr-defined]
    group = auth(org_unit="/group", roles=("group_admin",))
    units: dict[str, str | None] = {"": None}
    for path in ("/group", EAST, WEST, f"{EAST}/team-1", f"{WEST}/team-1"):
        parent, slug = path.rsplit("/", 1)
        made = await lifecycle.post(
            "/api/v1/org-units", json={"slug": slug, "name": slug, "parent_id": units[parent]}, headers=group
        )
        assert made.status_code == 201, made.text
        units[path] = made.json()["id"]

    async def employee(unit: str, email: str) -> str:
        made = await lifecycle.post(
            "/api/v1/employees",
            json={"name": email.split("@")[0], "email": email, "org_unit_path": unit, "hire_date": "2024-01-01"},
            headers=group,
        )
        assert made.status_code == 201, made.text
        return made.json()["id"]

    east, west = await employee(f"{EAST}/team-1", "e@example.com"), await employee(f"{WEST}/team-1", "w@example.com")
    admin_a = auth(org_unit=EAST, roles=("org_admin",))
    account = await new_account(client, org_unit_path=f"{EAST}/team-1")
    answers = {}
    for label, ref in (("unknown", str(uuid.uuid4())), ("invisible", west), ("visible", east)):
        answers[label] = await client.post(
            f"/api/v1/accounts/{account['id']}/coverage/members",
            json={"employee_id": ref, "org_unit_path": f"{EAST}/team-1", "role": "delivery"},
            headers=admin_a,
        )
    assert answers["visible"].status_code == 201, answers["visible"].text
    assert answers["unknown"].status_code == answers["invisible"].status_code == 422
    assert comparable(answers["unknown"]) == comparable(answers["invisible"])


# -- cross-organisation reads ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
async def test_segmentation_policy_is_read_inside_its_organisation(service_client, role):
    caller = next(c for c in callers() if c.name == role)
    client = await service_client("key_account")
    policy = (await client.get("/api/v1/accounts/segmentation-policy", headers=ADMIN)).json()
    policy.pop("version")
    for org in (EAST, WEST):
        saved = await client.put(
            "/api/v1/accounts/segmentation-policy",
            json={**policy, "org_path": org},
            headers=ADMIN,
        )
        assert saved.status_code == 200, saved.text
    own = await client.get("/api/v1/accounts/segmentation-policy", headers=caller.headers)
    assert own.status_code == 200, own.text
    for org in (EAST, WEST):
        for unit in (org, f"{org}/team-1"):
            response = await client.get(
                "/api/v1/accounts/segmentation-policy", params={"org_unit": unit}, headers=caller.headers
            )
            inside = caller.org == "/group" or org == caller.org
            assert response.status_code == (200 if inside else 404), (role, unit, response.text)
            if inside:
                assert response.json()["org_path"] == org
    if caller.org != "/group":
        ghost = await client.get(
            "/api/v1/accounts/segmentation-policy", params={"org_unit": "/group/nowhere"}, headers=caller.headers
        )
        other = WEST if caller.org == EAST else EAST
        hidden = await client.get(
            "/api/v1/accounts/segmentation-policy", params={"org_unit": other}, headers=caller.headers
        )
        assert ghost.status_code == hidden.status_code == 404
        assert comparable(ghost)["code"] == comparable(hidden)["code"] == "not_found"
