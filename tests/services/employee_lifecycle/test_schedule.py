"""The scheduled round: every active employee evaluated, expired overrides lifted."""

from services.employee_lifecycle import schedule
from tests.services.employee_lifecycle.helpers import ADMIN, backfill, new_employee, repeat_business


async def test_scheduled_round_evaluates_active_employees(service_client):
    client = await service_client("employee_lifecycle")
    a = await new_employee(client)
    b = await new_employee(client, active=False)
    await backfill(client, repeat_business(a["id"], accounts=3, year=2026))
    db = client._transport.app.state.db  # the app's database, joined to the test's transaction
    assert await schedule.run_once(db) == 1
    state = await client.get(f"/api/v1/employees/{a['id']}/stage", headers=ADMIN)
    assert state.status_code == 200 and state.json()["last_evaluation"]["as_of"]
    inactive = await client.get(f"/api/v1/employees/{b['id']}/stage", headers=ADMIN)
    assert inactive.status_code == 404
