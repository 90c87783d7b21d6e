"""Issue 16: every record a body names is checked against what the caller may
see, and an id that does not exist answers exactly as one the caller may not
see (same status, same problem, same errors); nothing is stored on refusal.
Stage gates apply to a deal created beyond lead as to a move there.

The employee lifecycle and key account services are the `directory` fake of
conftest.py: it applies the visibility rule to the caller's token, as they do.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.services.opportunity.conftest import Directory
from tests.services.opportunity.helpers import OPPORTUNITIES, new_opportunity
from tests.support import auth
from tests.support_servers import closed_url

A_TEAM = "/group/east/team-1"
B_TEAM = "/group/west/team-1"


@dataclass(frozen=True)
class Caller:
    name: str
    employee: str | None
    unit: str
    roles: tuple[str, ...]

    @property
    def headers(self) -> dict[str, str]:
        return auth(employee=self.employee or "integrator-key", org_unit=self.unit, roles=self.roles)

    @property
    def places(self) -> bool:
        return self.roles[0] != "rep"


def callers(directory: Directory) -> list[Caller]:
    return [
        Caller("rep", directory.employee(A_TEAM), A_TEAM, ("rep",)),
        Caller("manager", directory.employee("/group/east"), "/group/east", ("manager",)),
        Caller("org_admin_a", directory.employee("/group/east"), "/group/east", ("org_admin",)),
        Caller("org_admin_b", directory.employee("/group/west"), "/group/west", ("org_admin",)),
        Caller("group_admin", directory.employee("/group"), "/group", ("group_admin",)),
        Caller("integrator", None, "/group/east", ("integrator",)),
    ]


def hidden_unit(caller: Caller) -> str:
    """An org unit whose records this caller may not see (another organisation's)."""
    return A_TEAM if caller.name == "org_admin_b" else B_TEAM


def same_problem(unknown: httpx.Response, hidden: httpx.Response) -> dict[str, Any]:
    """Both 422 with identical bodies apart from `instance`; the body."""
    assert unknown.status_code == hidden.status_code == 422, (unknown.text, hidden.text)
    a, b = unknown.json(), hidden.json()
    a.pop("instance", None)
    b.pop("instance", None)
    assert a == b
    assert a["code"] == "unknown_reference"
    return a


async def count(connection, table: str = "opportunities") -> int:
    return (await connection.execute(sa.text(f"SELECT count(*) FROM opportunity.{table}"))).scalar_one()


# -- create, update, bulk: each field naming a record, for every role ------------------------------

# field -> (body fragment naming `ref`, expected loc, expected msg, kind of record)
Fragment = Callable[[str], dict[str, Any]]
FIELDS: dict[str, tuple[Fragment, list[Any], str, str]] = {
    "owner_id": (
        lambda ref: {"owner_id": ref},
        ["owner_id"],
        "no employee with this id that you may see",
        "employee",
    ),
    "team": (
        lambda ref: {"team": [{"employee_id": ref, "role": "presales"}]},
        ["team", 0, "employee_id"],
        "no employee with this id that you may see",
        "employee",
    ),
    "account_id": (
        lambda ref: {"account_id": ref},
        ["account_id"],
        "no account with this id that you may see",
        "account",
    ),
}


def placement(caller: Caller) -> dict[str, Any]:
    return {} if not caller.places else {"org_unit_path": caller.unit if caller.name != "group_admin" else A_TEAM}


def hidden_ref(directory: Directory, caller: Caller, kind: str) -> str:
    unit = hidden_unit(caller)
    if caller.name == "group_admin":
        return ""  # a group admin sees every record: only unknown ids apply
    if caller.name == "rep" and kind == "employee":
        unit = A_TEAM  # a colleague in the rep's own team: still not someone a rep may see
    return directory.employee(unit) if kind == "employee" else directory.account(unit)


@pytest.mark.parametrize("field", list(FIELDS))
async def test_create_names_only_records_the_caller_may_see(service_client, directory, connection, field):
    client = await service_client("opportunity")
    fragment, loc, msg, kind = FIELDS[field]
    for caller in callers(directory):
        if field == "owner_id" and not caller.places:
            continue  # a rep's owner is themself (403 otherwise, tested in test_opportunities)
        before = await count(connection)
        body = new_opportunity(**placement(caller))
        unknown = await client.post(OPPORTUNITIES, json={**body, **fragment(str(uuid.uuid4()))}, headers=caller.headers)
        ref = hidden_ref(directory, caller, kind)
        if ref:
            hidden = await client.post(OPPORTUNITIES, json={**body, **fragment(ref)}, headers=caller.headers)
            problem = same_problem(unknown, hidden)
        else:
            assert unknown.status_code == 422, unknown.text
            problem = unknown.json()
        assert problem["errors"] == [{"loc": ["body", *loc], "msg": msg}], caller.name
        assert await count(connection) == before, caller.name
        # And one the caller may see goes through.
        seen_unit = caller.unit if caller.name not in ("group_admin", "rep") else A_TEAM
        if kind == "employee":
            seen = caller.employee if caller.name == "rep" else directory.employee(seen_unit)
        else:
            seen = directory.account(seen_unit, owner=caller.employee if caller.name == "rep" else None)
        assert seen is not None
        ok = await client.post(OPPORTUNITIES, json={**body, **fragment(seen)}, headers=caller.headers)
        assert ok.status_code == 201, (caller.name, ok.text)


@pytest.mark.parametrize("field", list(FIELDS))
async def test_update_checks_what_the_change_brings_in(service_client, directory, connection, field):
    client = await service_client("opportunity")
    fragment, loc, msg, kind = FIELDS[field]
    for caller in callers(directory):
        if field == "owner_id" and not caller.places:
            continue
        created = await client.post(OPPORTUNITIES, json=new_opportunity(**placement(caller)), headers=caller.headers)
        assert created.status_code == 201, created.text
        url = f"{OPPORTUNITIES}/{created.json()['id']}"
        unknown = await client.patch(url, json=fragment(str(uuid.uuid4())), headers=caller.headers)
        ref = hidden_ref(directory, caller, kind)
        if ref:
            problem = same_problem(unknown, await client.patch(url, json=fragment(ref), headers=caller.headers))
        else:
            problem = unknown.json()
        assert problem["errors"] == [{"loc": ["body", *loc], "msg": msg}], caller.name
        after = (await client.get(url, headers=caller.headers)).json()
        assert after["version"] == created.json()["version"] and after["team"] == [], caller.name


async def test_bulk_rows_naming_unseen_records_fail_alike_and_one_call_checks_the_batch(
    service_client, directory, connection
):
    client = await service_client("opportunity")
    for caller in callers(directory):
        if caller.name == "group_admin":
            continue
        base = {"name": "Imported", **placement(caller)}
        rows = []
        for i, (field, (fragment, _, _, kind)) in enumerate(FIELDS.items()):
            if field == "owner_id" and not caller.places:
                continue
            rows.append({**base, "external_id": f"{caller.name}-u-{i}", **fragment(str(uuid.uuid4()))})
            rows.append(
                {**base, "external_id": f"{caller.name}-h-{i}", **fragment(hidden_ref(directory, caller, kind))}
            )
        rows.append({**base, "external_id": f"{caller.name}-ok"})
        directory.calls.clear()
        before = await count(connection)
        r = await client.post(f"{OPPORTUNITIES}:bulk-upsert", json={"items": rows}, headers=caller.headers)
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        assert [x["status"] for x in results] == ["failed"] * (len(rows) - 1) + ["created"]
        for unknown, hidden in zip(results[0:-1:2], results[1:-1:2], strict=True):
            strip = [{**e, "loc": e["loc"][3:]} for e in unknown["errors"]]
            assert strip == [{**e, "loc": e["loc"][3:]} for e in hidden["errors"]]
            assert unknown["errors"][0]["code"] == "unknown_reference"
        assert await count(connection) == before + 1
        # One batched read of employees and one of accounts (no per-row or per-account calls).
        assert sorted(path for _, path in directory.calls) == [
            "/api/v1/accounts:batch-get",
            "/api/v1/employees/stages:batch-get",
        ], directory.calls


# -- the assignment override ---------------------------------------------------------------------


async def test_assignment_to_a_ghost_or_another_organisations_rep_is_refused_alike(
    service_client, directory, connection
):
    client = await service_client("opportunity")
    for caller in callers(directory):
        if caller.name in ("rep", "integrator"):
            continue  # not assigners (403, tested in test_assignment_api)
        unit = caller.unit if caller.name != "group_admin" else A_TEAM
        deal = await client.post(
            OPPORTUNITIES, json=new_opportunity(owner_id=None, org_unit_path=unit), headers=caller.headers
        )
        assert deal.status_code == 201, deal.text
        url = f"{OPPORTUNITIES}/{deal.json()['id']}/assignment"
        decisions = await count(connection, "assignment_decisions")
        unknown = await client.post(
            url, json={"employee_id": str(uuid.uuid4()), "reason": "try"}, headers=caller.headers
        )
        if caller.name != "group_admin":
            other = directory.employee(hidden_unit(caller))
            hidden = await client.post(url, json={"employee_id": other, "reason": "try"}, headers=caller.headers)
            problem = same_problem(unknown, hidden)
        else:
            problem = unknown.json()
        assert problem["errors"] == [
            {"loc": ["body", "employee_id"], "msg": "no employee with this id that you may see"}
        ]
        assert (await client.get(f"{OPPORTUNITIES}/{deal.json()['id']}", headers=caller.headers)).json()[
            "owner_id"
        ] is None
        assert await count(connection, "assignment_decisions") == decisions
        ok = await client.post(
            url, json={"employee_id": directory.employee(unit), "reason": "knows them"}, headers=caller.headers
        )
        assert ok.status_code == 200, ok.text


async def test_proposal_pools_name_only_people_the_caller_may_see(service_client, directory):
    client = await service_client("opportunity")
    admin_a = auth(org_unit="/group/east", roles=("org_admin",))
    deal = await client.post(OPPORTUNITIES, json=new_opportunity(owner_id=None, org_unit_path=A_TEAM), headers=admin_a)
    body = {"opportunity_ids": [deal.json()["id"]]}
    unknown = await client.post(
        "/api/v1/assignments/proposals",
        json={**body, "pool": {"employee_ids": [str(uuid.uuid4())]}},
        headers=admin_a,
    )
    hidden = await client.post(
        "/api/v1/assignments/proposals",
        json={**body, "pool": {"employee_ids": [directory.employee(B_TEAM)]}},
        headers=admin_a,
    )
    problem = same_problem(unknown, hidden)
    assert problem["errors"] == [
        {"loc": ["body", "pool", "employee_ids", 0], "msg": "no employee with this id that you may see"}
    ]


# -- plans --------------------------------------------------------------------------------------


async def test_plan_key_players_and_action_owners_are_checked(service_client, directory):
    client = await service_client("opportunity")
    manager = auth(org_unit="/group/east", roles=("manager",))
    account = directory.account(A_TEAM)
    deal = (
        await client.post(
            OPPORTUNITIES, json=new_opportunity(account_id=account, org_unit_path=A_TEAM), headers=manager
        )
    ).json()
    url = f"{OPPORTUNITIES}/{deal['id']}/plan"
    other_account = directory.account(B_TEAM)

    def plan(contact: str, owner: str) -> dict:
        return {
            "key_players": [{"contact_id": contact, "buying_role": "decision_maker"}],
            "action_plan": [{"action": "Workshop", "owner_id": owner}],
        }

    unknown = await client.put(url, json=plan(str(uuid.uuid4()), str(uuid.uuid4())), headers=manager)
    hidden = await client.put(
        url, json=plan(directory.contact(other_account), directory.employee(B_TEAM)), headers=manager
    )
    problem = same_problem(unknown, hidden)
    assert [e["loc"] for e in problem["errors"]] == [
        ["body", "key_players", 0, "contact_id"],
        ["body", "action_plan", 0, "owner_id"],
    ]
    # A contact of another account the caller sees is not one of this deal's.
    elsewhere = await client.put(
        url, json=plan(directory.contact(directory.account(A_TEAM)), directory.employee(A_TEAM)), headers=manager
    )
    assert elsewhere.status_code == 422 and len(elsewhere.json()["errors"]) == 1
    assert (await client.get(url, headers=manager)).json()["version"] == 1
    ok = await client.put(url, json=plan(directory.contact(account), directory.employee(A_TEAM)), headers=manager)
    assert ok.status_code == 200, ok.text


# -- when a peer cannot answer ------------------------------------------------------------------


@pytest.mark.parametrize("down", ["employee_lifecycle", "key_account"])
async def test_a_peer_that_cannot_answer_stores_nothing(service_client, directory, connection, down):
    admin = auth(org_unit="/group/east", roles=("org_admin",))
    body = new_opportunity(
        org_unit_path=A_TEAM,
        owner_id=directory.employee(A_TEAM),
        account_id=directory.account(A_TEAM),
    )
    # Failing (answers 503) and unreachable (a closed port) alike.
    failing = await service_client("opportunity")
    directory.failing = {down}
    unreachable = await service_client("opportunity")
    up = "key_account" if down == "employee_lifecycle" else "employee_lifecycle"
    await directory.serve(unreachable, services=(up,))
    closed = await service_client("opportunity", employee_lifecycle_url=closed_url(), key_account_url=closed_url())
    before = await count(connection)
    for client, detail in ((failing, "answered 503"), (unreachable, "could not be reached")):
        directory.failing = {down} if client is failing else set()
        r = await client.post(OPPORTUNITIES, json=body, headers=admin)
        assert r.status_code == 502, r.text
        assert r.json()["code"] == "upstream_unavailable" and r.json()["service"] == down
        assert detail in r.json()["detail"]
        bulk = await client.post(
            f"{OPPORTUNITIES}:bulk-upsert", json={"items": [{**body, "external_id": "x-1"}]}, headers=admin
        )
        assert bulk.status_code == 502
    # Both unreachable (closed ports): 502 naming one of them, nothing stored.
    r = await closed.post(OPPORTUNITIES, json=body, headers=admin)
    assert r.status_code == 502 and r.json()["service"] in ("employee_lifecycle", "key_account")
    assert await count(connection) == before


# -- stage gates on create ------------------------------------------------------------------------


async def test_created_won_passes_the_gates_of_a_move_there(service_client, directory, connection):
    client = await service_client("opportunity")
    me = directory.employee(A_TEAM)
    rep_headers = auth(employee=me, org_unit=A_TEAM, roles=("rep",))
    manager = auth(org_unit="/group/east", roles=("manager",))
    won = {"stage": "won", "closed_on": "2026-11-01"}
    before = await count(connection)
    created = await client.post(OPPORTUNITIES, json=new_opportunity(**won), headers=rep_headers)
    assert created.status_code == 409 and created.json()["code"] == "stage_gate_unmet"
    assert await count(connection) == before
    # The same body as moving a new lead there.
    lead = (await client.post(OPPORTUNITIES, json=new_opportunity(), headers=rep_headers)).json()
    moved = await client.post(f"{OPPORTUNITIES}/{lead['id']}/stage", json=won, headers=rep_headers)
    assert moved.status_code == 409
    a, b = created.json(), moved.json()
    assert {k: v for k, v in a.items() if k != "instance"} == {k: v for k, v in b.items() if k != "instance"}
    # A rep may not force; a manager must give a reason, and then may.
    forced = {"force": True, "reason": "signed before the CRM went live"}
    body = new_opportunity(**won, owner_id=me, org_unit_path=A_TEAM)
    assert (await client.post(OPPORTUNITIES, json={**body, **forced}, headers=rep_headers)).status_code == 403
    no_reason = await client.post(OPPORTUNITIES, json={**body, "force": True}, headers=manager)
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["loc"] == ["body", "reason"]
    ok = await client.post(OPPORTUNITIES, json={**body, **forced}, headers=manager)
    assert ok.status_code == 201, ok.text
    history = (await client.get(f"{OPPORTUNITIES}/{ok.json()['id']}/stage-history", headers=manager)).json()
    (entry,) = history["items"]
    assert entry["forced"] is True and entry["reason"] == forced["reason"]
    assert {u["stage"] for u in entry["unmet"]} >= {"qualified", "negotiation"}
    # Lost needs only its close date, as a move would.
    lost = await client.post(
        OPPORTUNITIES, json=new_opportunity(stage="lost", closed_on="2026-11-01"), headers=rep_headers
    )
    assert lost.status_code == 201, lost.text


async def test_bulk_history_is_for_admins_and_integrators_reps_pass_the_gates(service_client, directory):
    client = await service_client("opportunity")
    me = directory.employee(A_TEAM)
    row = {"name": "Old win", "stage": "won", "closed_on": "2017-03-01", "amount": {"amount": "10", "currency": "USD"}}
    rep_headers = auth(employee=me, org_unit=A_TEAM, roles=("rep",))
    r = (
        await client.post(
            f"{OPPORTUNITIES}:bulk-upsert", json={"items": [{**row, "external_id": "r-1"}]}, headers=rep_headers
        )
    ).json()
    assert r["results"][0]["status"] == "failed"
    assert {e["code"] for e in r["results"][0]["errors"]} == {"stage_gate_unmet"}
    for roles, unit in (
        (("org_admin",), "/group/east"),
        (("integrator",), "/group/east"),
        (("group_admin",), "/group"),
    ):
        headers = auth(org_unit=unit, roles=roles)
        body = {"items": [{**row, "external_id": f"h-{roles[0]}", "owner_id": me, "org_unit_path": A_TEAM}]}
        r = (await client.post(f"{OPPORTUNITIES}:bulk-upsert", json=body, headers=headers)).json()
        assert r["results"][0]["status"] == "created", (roles, r)


# -- solutions: the deal's organisation's catalogue and the group's ------------------------------


async def test_a_deal_names_only_its_organisations_solutions_and_the_groups(service_client, directory, connection):
    """Issue 18: another organisation's solution is as unknown to a deal as one
    that does not exist, on create, PATCH (a move to another organisation
    included) and bulk upsert, checked for a whole batch in one statement."""
    directory.open_world = True
    client = await service_client("opportunity")
    east = auth(org_unit="/group/east", roles=("org_admin",))
    west = auth(org_unit="/group/west", roles=("org_admin",))
    group = auth(org_unit="/group", roles=("group_admin",))

    async def solution(name: str, headers: dict[str, str]) -> str:
        made = await client.post("/api/v1/solutions", json={"name": f"{name} {uuid.uuid4().hex[:6]}"}, headers=headers)
        assert made.status_code == 201, made.text
        return made.json()["id"]

    mine, theirs, everyones = await solution("East", east), await solution("West", west), await solution("All", group)
    msg = "no solution with this id in the deal's organisation's catalogue or the group's"
    body = new_opportunity(org_unit_path=A_TEAM, owner_id=None)

    # Create.
    before = await count(connection)
    unknown = await client.post(OPPORTUNITIES, json={**body, "solution_ids": [str(uuid.uuid4())]}, headers=east)
    hidden = await client.post(OPPORTUNITIES, json={**body, "solution_ids": [theirs]}, headers=east)
    problem = same_problem(unknown, hidden)
    assert problem["errors"] == [{"loc": ["body", "solution_ids", 0], "msg": msg}]
    # A group admin sees every catalogue, but the deal's organisation still decides.
    by_group = await client.post(OPPORTUNITIES, json={**body, "solution_ids": [mine, theirs]}, headers=group)
    assert by_group.status_code == 422 and by_group.json()["errors"][0]["loc"] == ["body", "solution_ids", 1]
    assert await count(connection) == before
    made = await client.post(OPPORTUNITIES, json={**body, "solution_ids": [mine, everyones]}, headers=east)
    assert made.status_code == 201, made.text
    url = f"{OPPORTUNITIES}/{made.json()['id']}"

    # PATCH: the solutions it brings in, and those it keeps when the deal changes organisation.
    unknown = await client.patch(url, json={"solution_ids": [everyones, str(uuid.uuid4())]}, headers=east)
    hidden = await client.patch(url, json={"solution_ids": [everyones, theirs]}, headers=east)
    assert same_problem(unknown, hidden)["errors"] == [{"loc": ["body", "solution_ids", 1], "msg": msg}]
    moved = await client.patch(url, json={"org_unit_path": B_TEAM}, headers=group)
    assert moved.status_code == 422 and moved.json()["errors"] == [{"loc": ["body", "solution_ids", 0], "msg": msg}]
    assert (await client.get(url, headers=east)).json()["version"] == made.json()["version"]
    moved = await client.patch(url, json={"org_unit_path": B_TEAM, "solution_ids": [theirs, everyones]}, headers=group)
    assert moved.status_code == 200, moved.text

    # Bulk: a new deal, and an update that keeps its stored (west) org unit; one statement for the batch.
    stored = await client.post(
        f"{OPPORTUNITIES}:bulk-upsert",
        json={"items": [{"external_id": "sol-upd", "name": "Upd", "org_unit_path": B_TEAM}]},
        headers=group,
    )
    assert stored.json()["created"] == 1, stored.text
    rows = [
        {"external_id": "sol-new", "name": "New", "org_unit_path": A_TEAM, "solution_ids": [theirs]},
        {"external_id": "sol-upd", "name": "Upd", "solution_ids": [mine]},
        {"external_id": "sol-unknown", "name": "Unknown", "org_unit_path": A_TEAM, "solution_ids": [str(uuid.uuid4())]},
        {"external_id": "sol-ok", "name": "Ok", "org_unit_path": A_TEAM, "solution_ids": [mine, everyones]},
        {"external_id": "sol-ok-west", "name": "Ok west", "org_unit_path": B_TEAM, "solution_ids": [theirs]},
    ]
    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:
        if "opportunity.solutions" in statement:
            statements.append(statement)

    sa.event.listen(connection.sync_connection, "before_cursor_execute", seen)
    try:
        r = await client.post(f"{OPPORTUNITIES}:bulk-upsert", json={"items": rows}, headers=group)
    finally:
        sa.event.remove(connection.sync_connection, "before_cursor_execute", seen)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["failed", "failed", "failed", "created", "created"], results
    for i in range(3):
        error = {"loc": ["body", "items", i, "solution_ids", 0], "msg": msg, "code": "unknown_reference"}
        assert results[i]["errors"] == [error], results[i]
    assert len(statements) == 1, statements
