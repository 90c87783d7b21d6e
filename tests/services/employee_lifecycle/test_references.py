"""Issue 16: every body field of this service that names another record, for
every role, through the real endpoints. An id (or path, or external id) that
does not exist and one the caller may not see get byte-identical answers
(apart from the request's own id), and a refused request stores nothing."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from tests.services.employee_lifecycle.helpers import ADMIN, ensure_unit, new_employee
from tests.support import auth

TABLES = ("employees", "org_units", "stage_policies", "facts", "quotas", "outbox")


async def snapshot(connection) -> tuple:
    """Everything a refused request could have written: rows and versions."""
    counts = [
        (await connection.execute(sa.text(f"SELECT count(*) FROM employee_lifecycle.{t}"))).scalar_one() for t in TABLES
    ]
    versions = [
        (await connection.execute(sa.text(f"SELECT coalesce(sum(version), 0) FROM employee_lifecycle.{t}"))).scalar()
        for t in ("employees", "org_units")
    ]
    managers = (
        await connection.execute(sa.text("SELECT id, manager_id, org_unit_path FROM employee_lifecycle.employees"))
    ).all()
    return (*counts, *versions, sorted(map(tuple, managers), key=str))


def comparable(response) -> tuple[int, str, Any]:
    body = response.json()
    if isinstance(body, dict):
        body.pop("instance", None)
        body.pop("request_id", None)
    return response.status_code, response.headers["content-type"], body


@dataclass
class World:
    """Two organisations, A and B, each with a team, a boss and a rep."""

    a_boss: dict
    a_rep: dict
    b_boss: dict
    b_rep: dict
    units: dict[str, dict]  # path -> unit (with external ids)

    def headers(self, role: str) -> dict[str, str]:
        return {
            "rep": auth(employee=self.a_rep["id"], org_unit="/group/a/team", roles=("rep",)),
            "manager": auth(employee=self.a_boss["id"], org_unit="/group/a/team", roles=("manager",)),
            "org_admin_a": auth(org_unit="/group/a", roles=("org_admin",)),
            "org_admin_b": auth(org_unit="/group/b", roles=("org_admin",)),
            "group_admin": ADMIN,
            "integrator": auth(org_unit="/group/a", roles=("integrator",)),
        }[role]

    def home(self, role: str) -> str:
        return "b" if role == "org_admin_b" else "a"

    def other(self, role: str) -> str:
        return "a" if role == "org_admin_b" else "b"

    def boss(self, org: str) -> dict:
        return self.a_boss if org == "a" else self.b_boss

    def rep(self, org: str) -> dict:
        return self.a_rep if org == "a" else self.b_rep


async def make_world(client) -> World:
    r = await client.post(
        "/api/v1/org-units:bulk-upsert",
        json={
            "items": [
                {"external_id": "ou-group", "slug": "group", "name": "Group"},
                {"external_id": "ou-a", "slug": "a", "name": "A", "parent_external_id": "ou-group"},
                {"external_id": "ou-b", "slug": "b", "name": "B", "parent_external_id": "ou-group"},
                {"external_id": "ou-a-team", "slug": "team", "name": "A team", "parent_external_id": "ou-a"},
                {"external_id": "ou-b-team", "slug": "team", "name": "B team", "parent_external_id": "ou-b"},
            ]
        },
        headers=ADMIN,
    )
    assert r.status_code == 200 and r.json()["failed"] == 0, r.text
    listed = (await client.get("/api/v1/org-units", params={"limit": 100}, headers=ADMIN)).json()["items"]
    units = {u["path"]: u for u in listed}
    a_boss = await new_employee(client, "/group/a/team", external_id="emp-a-boss")
    b_boss = await new_employee(client, "/group/b/team", external_id="emp-b-boss")
    a_rep = await new_employee(client, "/group/a/team", external_id="emp-a-rep", manager_id=a_boss["id"])
    b_rep = await new_employee(client, "/group/b/team", external_id="emp-b-rep", manager_id=b_boss["id"])
    return World(a_boss, a_rep, b_boss, b_rep, units)


# Each case: (what the unknown reference is, what the hidden one is) -> (method, path, body).
Request = tuple[str, str, Any]
Case = Callable[[World, str, str], Request]  # (world, role, reference) -> request


def employee_create(w: World, role: str, ref: str) -> Request:
    return (
        "POST",
        "/api/v1/employees",
        {"name": "New", "email": "new@example.com", "org_unit_path": f"/group/{w.home(role)}/team", "manager_id": ref},
    )


def employee_update(w: World, role: str, ref: str) -> Request:
    return "PATCH", f"/api/v1/employees/{w.rep(w.home(role))['id']}", {"manager_id": ref}


def employee_unit_create(w: World, role: str, ref: str) -> Request:
    return "POST", "/api/v1/employees", {"name": "New", "email": "new@example.com", "org_unit_path": ref}


def employee_unit_update(w: World, role: str, ref: str) -> Request:
    return "PATCH", f"/api/v1/employees/{w.rep(w.home(role))['id']}", {"org_unit_path": ref}


def bulk_manager(w: World, role: str, ref: str) -> Request:
    row = {
        "external_id": "emp-new",
        "name": "New",
        "email": "new@example.com",
        "org_unit_path": f"/group/{w.home(role)}/team",
        "manager_external_id": ref,
    }
    return "POST", "/api/v1/employees:bulk-upsert", {"items": [row]}


def bulk_unit(w: World, role: str, ref: str) -> Request:
    row = {"external_id": "emp-new", "name": "New", "email": "new@example.com", "org_unit_path": ref}
    return "POST", "/api/v1/employees:bulk-upsert", {"items": [row]}


def backfill(w: World, role: str, ref: str) -> Request:
    fact = {"external_id": "fact-1", "kind": "opportunity_lost", "employee_id": ref, "occurred_on": "2017-05-01"}
    return "POST", "/api/v1/employees/facts:backfill", {"facts": [fact]}


def policy(w: World, role: str, ref: str) -> Request:
    rules = [
        {"id": "l3", "stage": "L3_AFFLUENT", "conditions": [{"signal": "stable_accounts", "op": ">=", "value": 3}]},
        {"id": "l2", "stage": "L2_COMFORTABLE", "conditions": [{"signal": "stable_accounts", "op": ">=", "value": 1}]},
    ]
    return "POST", "/api/v1/stage-policies", {"name": "P", "rules": rules, "organization_path": ref}


def unit_create(w: World, role: str, ref: str) -> Request:
    return "POST", "/api/v1/org-units", {"slug": "new", "name": "New", "parent_id": ref}


def unit_bulk(w: World, role: str, ref: str) -> Request:
    row = {"external_id": "ou-new", "slug": "new", "name": "New", "parent_external_id": ref}
    return "POST", "/api/v1/org-units:bulk-upsert", {"items": [row]}


def unknown_and_hidden(w: World, role: str) -> dict[str, tuple[Case, str, str | None]]:
    """Per body field: the request, an unknown reference, and one hidden from `role`
    (None for a group admin, who sees everything)."""
    other = w.other(role)
    sees_all = role == "group_admin"
    # A rep sees only themself: their own boss is as hidden as anyone else.
    hidden_boss = w.a_boss["id"] if role == "rep" else w.boss(other)["id"]
    hidden_unit = f"/group/{other}/team"
    return {
        "employees.manager_id (create)": (employee_create, str(uuid.uuid4()), None if sees_all else hidden_boss),
        "employees.manager_id (update)": (employee_update, str(uuid.uuid4()), None if sees_all else hidden_boss),
        "employees.org_unit_path (create)": (
            employee_unit_create,
            f"/group/{w.home(role)}/nowhere",
            None if sees_all else hidden_unit,
        ),
        "employees.org_unit_path (update)": (
            employee_unit_update,
            f"/group/{w.home(role)}/nowhere",
            None if sees_all else hidden_unit,
        ),
        "employees:bulk-upsert manager_external_id": (
            bulk_manager,
            "emp-nobody",
            None if sees_all else f"emp-{other}-boss",
        ),
        "employees:bulk-upsert org_unit_path": (
            bulk_unit,
            f"/group/{w.home(role)}/nowhere",
            None if sees_all else hidden_unit,
        ),
        "facts:backfill employee_id": (backfill, str(uuid.uuid4()), None if sees_all else hidden_boss),
        "stage-policies organization_path": (policy, "/group/nowhere", None if sees_all else f"/group/{other}"),
        "org-units parent_id": (unit_create, str(uuid.uuid4()), None if sees_all else w.units[f"/group/{other}"]["id"]),
        "org-units:bulk-upsert parent_external_id": (unit_bulk, "ou-nowhere", None if sees_all else f"ou-{other}"),
    }


ROLES = ("rep", "manager", "org_admin_a", "org_admin_b", "group_admin", "integrator")


async def send(client, w: World, role: str, request: Request):
    method, path, body = request
    return await client.request(method, path, json=body, headers=w.headers(role))


def refused(response) -> bool:
    if response.status_code in (403, 404, 422):
        return True
    body = response.json()
    # A bulk answer refuses row by row; a clean refusal has every row failed.
    return response.status_code == 200 and body.get("failed") == len(body["results"])


@pytest.mark.parametrize("role", ROLES)
async def test_unknown_and_hidden_references_get_the_same_answer_and_store_nothing(service_client, connection, role):
    client = await service_client("employee_lifecycle")
    w = await make_world(client)
    before = await snapshot(connection)
    for field, (case, unknown, hidden) in unknown_and_hidden(w, role).items():
        first = await send(client, w, role, case(w, role, unknown))
        assert refused(first), (field, first.text)
        assert await snapshot(connection) == before, field
        if hidden is None:
            continue
        second = await send(client, w, role, case(w, role, hidden))
        assert comparable(first) == comparable(second), (field, first.text, second.text)
        assert await snapshot(connection) == before, field


EXPECTED_422 = {
    # The roles allowed to try, and what the one answer is.
    "org_admin_a": {
        "employees.manager_id (create)": ["body", "manager_id"],
        "employees.manager_id (update)": ["body", "manager_id"],
        "employees.org_unit_path (create)": ["body", "org_unit_path"],
        "employees.org_unit_path (update)": ["body", "org_unit_path"],
        "stage-policies organization_path": ["body", "organization_path"],
        "org-units parent_id": ["body", "parent_id"],
    },
}


async def test_the_one_answer_names_the_field(service_client):
    client = await service_client("employee_lifecycle")
    w = await make_world(client)
    for field, (case, unknown, _) in unknown_and_hidden(w, "org_admin_a").items():
        r = await send(client, w, "org_admin_a", case(w, "org_admin_a", unknown))
        if field in EXPECTED_422["org_admin_a"]:
            assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
            body = r.json()
            assert body["code"] == "unknown_reference"
            assert body["detail"] == "The request names records that do not exist or that you may not see."
            [error] = body["errors"]
            assert error["loc"] == EXPECTED_422["org_admin_a"][field]
            assert error["msg"].endswith("that you may see")
    manager = await send(client, w, "org_admin_a", employee_create(w, "org_admin_a", str(uuid.uuid4())))
    assert manager.json()["errors"] == [
        {"loc": ["body", "manager_id"], "msg": "no employee with this id that you may see"}
    ]
    bulk = await send(client, w, "org_admin_a", bulk_manager(w, "org_admin_a", "emp-b-boss"))
    assert bulk.json()["results"][0]["errors"] == [
        {
            "loc": ["body", "items", 0, "manager_external_id"],
            "msg": "no employee with this external id that you may see",
            "code": "unknown_reference",
        }
    ]
    unit = await send(client, w, "org_admin_a", bulk_unit(w, "org_admin_a", "/group/b/team"))
    assert unit.json()["results"][0]["errors"] == [
        {
            "loc": ["body", "items", 0, "org_unit_path"],
            "msg": "no org unit at this path that you may see",
            "code": "unknown_reference",
        }
    ]


async def test_visible_references_are_accepted(service_client):
    client = await service_client("employee_lifecycle")
    w = await make_world(client)
    admin_a = w.headers("org_admin_a")
    created = await client.post(
        "/api/v1/employees",
        json={"name": "N", "email": "n@example.com", "org_unit_path": "/group/a/team", "manager_id": w.a_boss["id"]},
        headers=admin_a,
    )
    assert created.status_code == 201, created.text
    # A manager may name themself or someone below them.
    manager = w.headers("manager")
    r = await client.patch(
        f"/api/v1/employees/{created.json()['id']}", json={"manager_id": w.a_rep["id"]}, headers=manager
    )
    assert r.status_code == 200 and r.json()["manager_id"] == w.a_rep["id"], r.text


async def test_a_reporting_line_across_organisations_is_a_group_admins(service_client, connection):
    client = await service_client("employee_lifecycle")
    w = await make_world(client)
    # An integrator of the whole group sees both ends, and is still refused.
    group_key = auth(org_unit="/group", roles=("integrator",))
    before = await snapshot(connection)
    r = await client.patch(f"/api/v1/employees/{w.a_rep['id']}", json={"manager_id": w.b_boss["id"]}, headers=group_key)
    assert r.status_code == 422 and r.json()["code"] == "cross_organisation_manager", r.text
    assert r.json()["errors"][0]["loc"] == ["body", "manager_id"]
    row = {
        "external_id": "emp-a-rep",
        "name": "Rep",
        "email": w.a_rep["email"],
        "org_unit_path": "/group/a/team",
        "manager_external_id": "emp-b-boss",
    }
    bulk = await client.post("/api/v1/employees:bulk-upsert", json={"items": [row]}, headers=group_key)
    assert bulk.json()["results"][0]["errors"][0]["code"] == "cross_organisation_manager"
    # Moving someone to another organisation while their manager stays behind.
    moved = await client.patch(
        f"/api/v1/employees/{w.a_rep['id']}", json={"org_unit_path": "/group/b/team"}, headers=group_key
    )
    assert moved.status_code == 422 and moved.json()["errors"][0]["loc"] == ["body", "org_unit_path"]
    assert await snapshot(connection) == before
    # A group admin may.
    ok = await client.patch(f"/api/v1/employees/{w.a_rep['id']}", json={"manager_id": w.b_boss["id"]}, headers=ADMIN)
    assert ok.status_code == 200 and ok.json()["manager_id"] == w.b_boss["id"], ok.text


async def test_employees_only_in_existing_units(service_client, connection):
    client = await service_client("employee_lifecycle")
    before = await snapshot(connection)
    body = {"name": "Nowhere", "email": "nowhere@example.com", "org_unit_path": "/nowhere/at-all"}
    r = await client.post("/api/v1/employees", json=body, headers=ADMIN)
    assert r.status_code == 422 and r.json()["errors"] == [
        {"loc": ["body", "org_unit_path"], "msg": "no org unit at this path that you may see"}
    ]
    assert await snapshot(connection) == before
    await ensure_unit(client, "/group/east/team-3")
    # The README's example, with its unit made first and no manager.
    ok = await client.post(
        "/api/v1/employees",
        json={"name": "Li Wei", "email": "li.wei@example.com", "org_unit_path": "/group/east/team-3", "capacity": 20},
        headers=ADMIN,
    )
    assert ok.status_code == 201, ok.text
    moved = await client.patch(
        f"/api/v1/employees/{ok.json()['id']}", json={"org_unit_path": "/group/east/team-4"}, headers=ADMIN
    )
    assert moved.status_code == 422 and moved.json()["errors"][0]["loc"] == ["body", "org_unit_path"]
    rows = [
        {"external_id": "x1", "name": "X1", "email": "x1@example.com", "org_unit_path": "/group/east/team-3"},
        {"external_id": "x2", "name": "X2", "email": "x2@example.com", "org_unit_path": "/group/east/team-9"},
    ]
    bulk = (await client.post("/api/v1/employees:bulk-upsert", json={"items": rows}, headers=ADMIN)).json()
    assert [x["status"] for x in bulk["results"]] == ["created", "failed"]
    assert bulk["results"][1]["errors"][0]["loc"] == ["body", "items", 1, "org_unit_path"]


async def chain(client, n: int) -> list[dict]:
    """n people, each managed by the previous one."""
    people: list[dict] = []
    for _ in range(n):
        people.append(await new_employee(client, manager_id=people[-1]["id"] if people else None))
    return people


@pytest.mark.parametrize("length", [1, 2, 4])
async def test_no_manager_cycle_on_update(service_client, connection, length):
    client = await service_client("employee_lifecycle")
    people = await chain(client, length)
    before = await snapshot(connection)
    top, bottom = people[0], people[-1]
    r = await client.patch(f"/api/v1/employees/{top['id']}", json={"manager_id": bottom["id"]}, headers=ADMIN)
    assert r.status_code == 422 and r.json()["code"] == "manager_cycle", r.text
    assert r.json()["errors"][0]["loc"] == ["body", "manager_id"]
    assert await snapshot(connection) == before


def person(ext: str, manager: str | None = None, **extra) -> dict:
    row = {"external_id": ext, "name": ext, "email": f"{ext}@example.com", "org_unit_path": "/group/east/team-1"}
    return {**row, **({"manager_external_id": manager} if manager else {}), **extra}


async def test_no_manager_cycle_inside_one_batch(service_client, connection):
    client = await service_client("employee_lifecycle")
    await ensure_unit(client, "/group/east/team-1")
    before = await snapshot(connection)
    items = [person("p1", "p2"), person("p2", "p1"), person("p3", "p4"), person("p4", "p5"), person("p5", "p3")]
    items.append(person("p6", "p1"))  # below the cycle: its manager's row failed
    items.append(person("p7"))
    body = (await client.post("/api/v1/employees:bulk-upsert", json={"items": items}, headers=ADMIN)).json()
    assert [x["status"] for x in body["results"]] == ["failed"] * 6 + ["created"]
    assert body["results"][0]["errors"] == [
        {
            "loc": ["body", "items", 0, "manager_external_id"],
            "msg": "the reporting lines of rows 0, 1 form a cycle",
            "code": "manager_cycle",
        }
    ]
    assert body["results"][3]["errors"][0]["msg"] == "the reporting lines of rows 2, 3, 4 form a cycle"
    assert body["results"][5]["errors"][0]["msg"] == "the manager's row (0) failed"
    after = await snapshot(connection)
    assert after[0] == before[0] + 1  # p7 alone


async def test_no_manager_cycle_with_stored_lines(service_client):
    client = await service_client("employee_lifecycle")
    await ensure_unit(client, "/group/east/team-1")
    first = [person("s1"), person("s2", "s1"), person("s3", "s2")]
    body = (await client.post("/api/v1/employees:bulk-upsert", json={"items": first}, headers=ADMIN)).json()
    assert body["created"] == 3
    # s1 under s3, whose line goes up to s1 in the stored data.
    closing = (
        await client.post("/api/v1/employees:bulk-upsert", json={"items": [person("s1", "s3")]}, headers=ADMIN)
    ).json()
    assert closing["results"][0]["status"] == "failed"
    assert closing["results"][0]["errors"][0]["msg"] == "the reporting lines of rows 0 form a cycle"
    # Turning the whole line round in one batch is fine: nothing is left pointing the old way.
    turned = [person("s1", "s2"), person("s2", "s3"), person("s3")]
    body = (await client.post("/api/v1/employees:bulk-upsert", json={"items": turned}, headers=ADMIN)).json()
    assert [x["status"] for x in body["results"]] == ["updated", "updated", "updated"], body
    # A row that fails (here: its email) keeps its stored line, which closes a cycle with another row.
    taken = (await new_employee(client))["email"]
    again = [person("s3", "s1", email=taken), person("s2", "s1")]
    body = (await client.post("/api/v1/employees:bulk-upsert", json={"items": again}, headers=ADMIN)).json()
    assert [x["status"] for x in body["results"]] == ["failed", "failed"], body
    assert body["results"][1]["errors"][0]["code"] == "manager_cycle"


async def test_an_external_id_of_someone_unseen_is_never_overwritten(service_client, connection):
    client = await service_client("employee_lifecycle")
    w = await make_world(client)
    before = await snapshot(connection)
    row = {
        "external_id": "emp-b-rep",
        "name": "Hijack",
        "email": "hijack@example.com",
        "org_unit_path": "/group/a/team",
    }
    body = (
        await client.post("/api/v1/employees:bulk-upsert", json={"items": [row]}, headers=w.headers("org_admin_a"))
    ).json()
    assert body["results"][0]["status"] == "failed" and body["results"][0]["id"] is None
    assert await snapshot(connection) == before


async def test_effective_policy_of_another_organisation_is_not_found(service_client):
    client = await service_client("employee_lifecycle")
    w = await make_world(client)
    published = await client.post("/api/v1/stage-policies", json=policy(w, "group_admin", "/group/b")[2], headers=ADMIN)
    assert published.status_code == 201, published.text
    policy_id = published.json()["id"]
    group_key = auth(org_unit="/group", roles=("integrator",))
    readers = {
        "rep": 404,
        "manager": 404,
        "org_admin_a": 404,
        "integrator": 404,
        "org_admin_b": 200,
        "group_admin": 200,
    }
    for role, expected in readers.items():
        headers = w.headers(role)
        by_id = await client.get(f"/api/v1/stage-policies/{policy_id}", headers=headers)
        effective = await client.get(
            "/api/v1/stage-policies/effective", params={"org_unit": "/group/b/team"}, headers=headers
        )
        listed = await client.get("/api/v1/stage-policies", params={"organization_path": "/group/b"}, headers=headers)
        assert (role, by_id.status_code, effective.status_code) == (role, expected, expected), effective.text
        assert len(listed.json()["items"]) == (1 if expected == 200 else 0)
        if expected == 404:
            assert effective.headers["content-type"] == "application/problem+json"
            # A unit of an organisation that does not exist answers the same.
            ghost = await client.get(
                "/api/v1/stage-policies/effective", params={"org_unit": "/group/ghost/team"}, headers=headers
            )
            assert (ghost.status_code, ghost.json()["code"]) == (404, effective.json()["code"])
        else:
            assert effective.json()["id"] == policy_id
    # An integrator of the whole group reads every organisation's.
    assert (await client.get(f"/api/v1/stage-policies/{policy_id}", headers=group_key)).status_code == 200
    effective = await client.get("/api/v1/stage-policies/effective", params={"org_unit": "/group/b"}, headers=group_key)
    assert effective.json()["id"] == policy_id
    # One's own organisation and the group's stay readable to everyone in them.
    own = await client.get(
        "/api/v1/stage-policies/effective", params={"org_unit": "/group/a/team"}, headers=w.headers("rep")
    )
    assert own.status_code == 200 and own.json()["version"] == 0
