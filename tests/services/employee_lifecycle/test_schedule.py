"""The scheduled round: every active employee evaluated as of the clock's today, once per day."""

import datetime as dt

from sanlun.kernel.clock import Clock
from services.employee_lifecycle import schedule
from tests.services.employee_lifecycle.helpers import ADMIN, backfill, new_employee, repeat_business
from tests.support import auth

OPS = auth(org_unit="/group", roles=("ops",))


async def test_scheduled_round_evaluates_active_employees(service_client):
    clock = Clock()
    clock.set(dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC))
    client = await service_client("employee_lifecycle", clock=clock)
    a = await new_employee(client)
    b = await new_employee(client, active=False)
    await backfill(client, repeat_business(a["id"], accounts=3, year=2026))
    db = client._transport.app.state.db  # the app's database, joined to the test's transaction
    result = await schedule.run_once(db)
    assert result.ran and result.as_of == dt.date(2026, 12, 1)
    assert (result.evaluated, result.counted, result.confirmed, result.changed) == (1, 1, 1, 1)
    state = await client.get(f"/api/v1/employees/{a['id']}/stage", headers=ADMIN)
    assert state.status_code == 200 and state.json()["last_evaluation"]["as_of"] == "2026-12-01"
    assert state.json()["last_evaluation"]["scheduled"] is True
    inactive = await client.get(f"/api/v1/employees/{b['id']}/stage", headers=ADMIN)
    assert inactive.status_code == 404


async def test_the_operator_endpoint_runs_the_round_and_counts_each_day_once(service_client):
    clock = Clock()
    clock.set(dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC))
    client = await service_client("employee_lifecycle", clock=clock)
    await new_employee(client)
    first = await client.post("/ops/stages/round", headers=OPS)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "ran": True,
        "as_of": "2026-12-01",
        "evaluated": 1,
        "counted": 1,
        "confirmed": 1,
        "changed": 1,
        "provisional": 0,
        "overrides_lifted": 0,
    }
    again = (await client.post("/ops/stages/round", headers=OPS)).json()
    assert (again["evaluated"], again["counted"], again["confirmed"]) == (1, 0, 0)
    clock.advance(dt.timedelta(days=1))
    next_day = (await client.post("/ops/stages/round", headers=ADMIN)).json()
    assert next_day["as_of"] == "2026-12-02" and next_day["counted"] == 1
    manager = auth(org_unit="/group", roles=("manager",))
    assert (await client.post("/ops/stages/round", headers=manager)).status_code == 403
