"""The prebuilt stage reads (`stages/reads.py`) answer the bytes the ORM path
answers (`service.get_state` + the router's `stage_read`, `service.batch_get`,
serialised through their response models as FastAPI did): for the employee
themself, their manager, a manager elsewhere, admins and a caller without an
employee record, on every kind of stage row, by the business clock."""

import datetime as dt
import uuid
from dataclasses import asdict

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.auth import Principal, VisibilityShape
from sanlun.kernel.clock import CLOCK_KEY, SYSTEM_CLOCK, Clock
from sanlun.kernel.errors import NotFound
from sanlun.kernel.reads import PrebuiltCache
from services.employee_lifecycle.stages import reads, router, service
from services.employee_lifecycle.stages.schemas import BatchGetResult, StageSnapshotRead
from tests.services.employee_lifecycle.helpers import ADMIN, backfill, evaluate, new_employee, won
from tests.support import auth

TEAM, OTHER_TEAM, WEST = "/group/east/team-1", "/group/east/team-2", "/group/west/team-1"
BATCH = "/api/v1/employees/stages:batch-get"


def _fact(kind: str, employee_id: str, on: dt.date, opportunity: str | None) -> dict:
    return {
        "external_id": f"{kind}-{uuid.uuid4().hex}",
        "kind": kind,
        "employee_id": employee_id,
        "occurred_on": on.isoformat(),
        "opportunity_ref": opportunity,
    }


async def _people(client, connection, clock: Clock) -> dict[str, tuple[str, str]]:
    """Employees in every state a stage row can be in; name -> (id, org unit)."""
    today = clock.today()
    people = {
        "plain": await new_employee(client, TEAM, entered_sales_on="2015-01-01", capacity=7),
        "pending": await new_employee(client, TEAM, entered_sales_on="2024-01-01"),
        "old explanation": await new_employee(client, TEAM),
        "overridden": await new_employee(client, TEAM, capacity=3),
        "override expired": await new_employee(client, OTHER_TEAM),
        "override without reason": await new_employee(client, OTHER_TEAM),
        "never evaluated": await new_employee(client, TEAM),
        "inactive": await new_employee(client, OTHER_TEAM),
        "manager": await new_employee(client, TEAM),
        "west": await new_employee(client, WEST),
    }
    ids = {name: e["id"] for name, e in people.items()}
    plain, never = ids["plain"], ids["never evaluated"]
    day = dt.timedelta(days=1)
    facts = [
        # open load, as of the business clock's today: o1, o4 (reopened) and the
        # null-ref opportunity are open; o2 released, o3 won, o5 opens after today.
        _fact("opportunity_open", plain, today - 40 * day, "o1"),
        _fact("opportunity_open", plain, today - 40 * day, "o2"),
        _fact("opportunity_released", plain, today - 30 * day, "o2"),
        _fact("opportunity_open", plain, today - 40 * day, "o3"),
        _fact("opportunity_open", plain, today - 20 * day, "o4"),
        _fact("opportunity_released", plain, today - 10 * day, "o4"),
        _fact("opportunity_open", plain, today, "o4"),
        _fact("opportunity_open", plain, today + day, "o5"),
        _fact("opportunity_open", plain, today - 5 * day, None),
        _fact("opportunity_open", plain, today - 4 * day, None),
        _fact("opportunity_open", never, today - 3 * day, "n1"),
        _fact("opportunity_open", ids["west"], today - 3 * day, "w1"),
        {**won(plain, (today - 2 * day).isoformat(), "acct-9"), "opportunity_ref": "o3"},
    ]
    await backfill(client, facts)
    for name, employee_id in ids.items():
        if name != "never evaluated":
            await evaluate(client, employee_id, today)
    manager = auth(employee=ids["manager"], org_unit=TEAM, roles=("manager",))
    overridden = await client.put(
        f"/api/v1/employees/{ids['overridden']}/stage/override",
        json={"stage": "L2_COMFORTABLE", "reason": "Took over a key account", "expires_at": "2099-01-01T00:00:00Z"},
        headers=manager,
    )
    assert overridden.status_code == 200, overridden.text

    async def update(name: str, values: str, **params: object) -> None:
        await connection.execute(
            sa.text(f"UPDATE employee_lifecycle.employee_stages SET {values} WHERE employee_id = :id"),
            {"id": uuid.UUID(ids[name]), **params},
        )

    await update(
        "pending",
        "candidate_stage = 'L2_COMFORTABLE', candidate_since = :since, candidate_days = 3, last_counted_on = :last, "
        "provisional_stage = 'L2_COMFORTABLE', provisional_since = :since",
        since=today - 6 * day,
        last=today - day,
    )
    # A version stored before dwells and reasons were explained.
    await update(
        "old explanation",
        "candidate_stage = 'L2_COMFORTABLE', candidate_since = :since, candidate_days = 1, last_counted_on = NULL, "
        "provisional_stage = 'L2_COMFORTABLE', provisional_since = :since, "
        "explanation = explanation - 'hysteresis' - 'confirm_after_days' - 'reasons'",
        since=today - 2 * day,
    )
    # Expired by the business clock (not yet lifted), while the system clock still sees it in force.
    await update(
        "override expired",
        "override_stage = 'L3_AFFLUENT', override_since = :since, override_expires_at = :expired",
        since=today - 9 * day,
        expired=clock.now() - day,
    )
    await update(
        "override without reason",
        "override_stage = 'L2_COMFORTABLE', override_since = :since, override_expires_at = :expires, "
        "override_reason = NULL, override_by = NULL",
        since=today - 9 * day,
        expires=clock.now() + 3 * day,
    )
    await connection.execute(
        sa.text("UPDATE employee_lifecycle.employees SET active = false WHERE id = :id"), {"id": ids["inactive"]}
    )
    return {name: (e["id"], e["org_unit_path"]) for name, e in people.items()}


def _principals(people: dict[str, tuple[str, str]]) -> dict[str, Principal]:
    def person(subject: str, unit: str, *roles: str) -> Principal:
        return Principal(subject, unit, frozenset(roles))

    ids = {name: i for name, (i, _) in people.items()}
    return {
        **{f"{name} themself": person(i, unit, "rep") for name, (i, unit) in people.items()},
        "their manager": person(ids["manager"], TEAM, "manager", "rep"),
        "east manager (no record)": person(str(uuid.uuid4()), "/group/east", "manager"),
        "manager elsewhere": person(str(uuid.uuid4()), "/group/west", "manager"),
        "org admin": person(str(uuid.uuid4()), OTHER_TEAM, "org_admin"),
        "group admin": person(str(uuid.uuid4()), "/group", "group_admin"),
        "integrator (no employee id)": person("integration-bot", "/group/west", "integrator"),
        "rep without a record": person(str(uuid.uuid4()), TEAM, "rep"),
    }


def _headers(principal: Principal) -> dict[str, str]:
    return auth(employee=principal.subject, org_unit=principal.org_unit_path, roles=tuple(principal.roles))


def _session(connection, clock: Clock) -> AsyncSession:
    return AsyncSession(bind=connection, info={CLOCK_KEY: clock})


async def _orm_stage(connection, clock: Clock, principal: Principal, employee_id: uuid.UUID) -> tuple[int, object]:
    """The ORM path's answer: (200, the bytes) or (404, (code, detail))."""
    async with _session(connection, clock) as session:
        try:
            row = await service.get_state(session=session, principal=principal, employee_id=employee_id)
        except NotFound as problem:
            return 404, (problem.code, problem.detail)
        return 200, router.stage_read(row, clock).model_dump_json().encode()


async def _orm_batch(connection, clock: Clock, principal: Principal, employee_ids: list[uuid.UUID]) -> bytes:
    async with _session(connection, clock) as session:
        items, missing = await service.batch_get(session=session, principal=principal, employee_ids=employee_ids)
    # The ORM statement had no ORDER BY; the prebuilt one orders by id.
    items = sorted(items, key=lambda i: i.employee_id)
    return (
        BatchGetResult(items=[StageSnapshotRead(**asdict(i)) for i in items], not_found=missing)
        .model_dump_json()
        .encode()
    )


async def _mismatches(client, connection, clock: Clock, people: dict[str, tuple[str, str]]) -> tuple[list[tuple], int]:
    """Every principal reads every employee (and one who does not exist) one
    by one and in one batch; the differences from the ORM path, and how many
    answers were compared."""
    wanted = [uuid.UUID(i) for i, _ in people.values()]
    ghost = uuid.uuid4()
    batch = [*wanted, ghost, wanted[0], wanted[3]]  # an unknown id, ids twice
    differences: list[tuple] = []
    compared = 0
    for who, principal in _principals(people).items():
        headers = _headers(principal)
        for employee_id in [*wanted, ghost]:
            status, expected = await _orm_stage(connection, clock, principal, employee_id)
            got = await client.get(f"/api/v1/employees/{employee_id}/stage", headers=headers)
            answer: object = got.content
            if got.status_code == 404 and got.headers["content-type"] == "application/problem+json":
                answer = (got.json()["code"], got.json()["detail"])
            if (got.status_code, answer) != (status, expected):
                differences.append((who, employee_id, status, got.status_code, expected, answer))
            compared += 1
        expected_batch = await _orm_batch(connection, clock, principal, batch)
        got = await client.post(BATCH, json={"employee_ids": [str(i) for i in batch]}, headers=headers)
        if (got.status_code, got.content) != (200, expected_batch):
            differences.append((who, "batch", got.status_code, expected_batch, got.content))
        compared += 1
    return differences, compared


@pytest.fixture
def clock() -> Clock:
    # A month ahead of the system time: answers that follow the system clock differ.
    moved = Clock()
    moved.advance(dt.timedelta(days=30))
    return moved


async def test_fast_stage_reads_answer_the_orm_bytes_for_every_principal(service_client, connection, clock):
    client = await service_client("employee_lifecycle", clock=clock)
    people = await _people(client, connection, clock)
    differences, compared = await _mismatches(client, connection, clock, people)
    assert differences == []
    assert compared == len(_principals(people)) * (len(people) + 2)

    # Not vacuous: every part of the answers occurs among them.
    ids = {name: i for name, (i, _) in people.items()}
    stages = {name: await client.get(f"/api/v1/employees/{i}/stage", headers=ADMIN) for name, i in ids.items()}
    never = stages.pop("never evaluated")
    assert never.status_code == 404 and never.json()["code"] == "not_evaluated"
    answers = {name: r.json() for name, r in stages.items()}
    pending = answers["pending"]
    assert pending["pending"]["days_required"] == 2 and pending["pending"]["days_held"] == 5
    assert pending["provisional"]["reasons"]["en"] and pending["stage"] == pending["evaluated_stage"]
    old = answers["old explanation"]
    assert old["pending"]["days_held"] == 0 and old["pending"]["confirm_after_days"] == 14
    assert old["provisional"]["reasons"] is None
    assert answers["overridden"]["override"]["by"] == ids["manager"]
    assert answers["overridden"]["stage"] == "L2_COMFORTABLE" != answers["overridden"]["evaluated_stage"]
    assert answers["override expired"]["override"] is None
    assert answers["override expired"]["stage"] == answers["override expired"]["evaluated_stage"]
    assert {k: answers["override without reason"]["override"][k] for k in ("reason", "by")} == {"reason": "", "by": ""}
    everyone = (await client.post(BATCH, json={"employee_ids": list(ids.values())}, headers=ADMIN)).json()["items"]
    assert [i["employee_id"] for i in everyone] == sorted(ids.values(), key=uuid.UUID)
    by_id = {i["employee_id"]: i for i in everyone}
    assert by_id[ids["plain"]]["open_load"] == 3 and by_id[ids["plain"]]["capacity"] == 7
    assert by_id[ids["never evaluated"]] == {
        "employee_id": ids["never evaluated"],
        "stage": None,
        "stage_since": None,
        "capacity": 20,
        "open_load": 1,
        "needs": [],
    }
    assert by_id[ids["overridden"]]["stage"] == "L2_COMFORTABLE" and by_id[ids["overridden"]]["capacity"] == 3


async def test_the_comparison_fails_when_the_fast_reads_drop_visibility_or_the_clock(
    service_client, connection, clock, monkeypatch
):
    client = await service_client("employee_lifecycle", clock=clock)
    people = await _people(client, connection, clock)
    with monkeypatch.context() as patch:
        everything = VisibilityShape(everything=True)
        patch.setattr(reads, "ONE", PrebuiltCache(lambda _shape: reads._one(everything)))
        patch.setattr(reads, "MANY", PrebuiltCache(lambda _shape: reads._many(everything)))
        differences, _ = await _mismatches(client, connection, clock, people)
    assert {d[0] for d in differences} >= {"plain themself", "manager elsewhere", "integrator (no employee id)"}
    with monkeypatch.context() as patch:
        patch.setattr(router, "request_clock", lambda _request: SYSTEM_CLOCK)
        differences, _ = await _mismatches(client, connection, clock, people)
    # The override that expired by the business clock is in force by the system's, and
    # the plain rep's open load by the system's today is another.
    assert {d[1] for d in differences} >= {uuid.UUID(people["override expired"][0]), "batch"}


async def test_a_service_token_is_refused_as_before(service_client):
    client = await service_client("employee_lifecycle")
    service_token = auth(org_unit="/group", roles=("service",))
    batch = await client.post(BATCH, json={"employee_ids": [str(uuid.uuid4())]}, headers=service_token)
    one = await client.get(f"/api/v1/employees/{uuid.uuid4()}/stage", headers=service_token)
    assert batch.status_code == one.status_code == 401
