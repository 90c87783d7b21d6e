"""Confirmation by time, run on a moved clock: 40 simulated days in-process,
with a storm of event-triggered and manual evaluations every day and the
scheduled round (`POST /ops/stages/round`) once a day."""

import datetime as dt
import uuid

from sanlun.kernel.clock import Clock
from tests.services.employee_lifecycle.helpers import ADMIN, backfill, evaluate, new_employee, repeat_business, won
from tests.services.employee_lifecycle.test_events_in import deliver, opportunity
from tests.services.employee_lifecycle.test_stages import stage_events
from tests.support import auth

OPS = auth(org_unit="/group", roles=("ops",))
MANAGER = auth(org_unit="/group/east", roles=("manager",))
L1, L2 = "L1_SUBSISTENCE", "L2_COMFORTABLE"
DWELL = dt.timedelta(days=14)


async def started(service_client, day: dt.date) -> tuple[Clock, object]:
    clock = Clock()
    clock.set(dt.datetime.combine(day, dt.time(8), tzinfo=dt.UTC))
    return clock, await service_client("employee_lifecycle", clock=clock)


async def storm(client, clock: Clock, employee_id: str, *, events: int = 3, evaluations: int = 2) -> None:
    """What a busy day does: lost deals (each re-evaluates the owner), a manager's evaluate calls."""
    today = clock.today().isoformat()
    lost = [
        opportunity("opportunity.lost", employee_id, str(uuid.uuid4()), stage="lost", closed_on=today)
        for _ in range(events)
    ]
    assert await deliver(client, *lost) == ["processed"] * events
    for _ in range(evaluations):
        await evaluate(client, employee_id, today, headers=MANAGER)
    r = await client.post("/api/v1/employees/stages:evaluate", json={"org_unit": "/group/east"}, headers=MANAGER)
    assert r.status_code == 200, r.text


async def scheduled_round(client) -> dict:
    r = await client.post("/ops/stages/round", headers=OPS)
    assert r.status_code == 200, r.text
    return r.json()


async def stage(client, employee_id: str) -> dict:
    r = await client.get(f"/api/v1/employees/{employee_id}/stage", headers=ADMIN)
    assert r.status_code == 200, r.text
    return r.json()


async def test_wins_ageing_out_move_a_rep_down_only_after_the_dwell(service_client, connection):
    start = dt.date(2026, 2, 20)
    clock, client = await started(service_client, start)
    rep = await new_employee(client, entered_sales_on="2015-01-01")
    # wins on three accounts in March and August 2025: L2 until the March wins leave the 12 months
    await backfill(client, repeat_business(rep["id"], accounts=3, year=2025))
    days = []
    for n in range(40):
        if n:
            clock.advance(dt.timedelta(days=1))
        await storm(client, clock, rep["id"])
        result = await scheduled_round(client)
        assert result["as_of"] == clock.today().isoformat() and result["counted"] == 1
        again = await scheduled_round(client)  # a second round the same day counts nothing
        assert again["counted"] == 0 and again["confirmed"] == 0
        days.append((clock.today(), await stage(client, rep["id"])))

    assert days[0][1]["stage"] == L2
    first_l1 = next(day for day, s in days if s["last_evaluation"]["computed_stage"] == L1)
    assert start < first_l1 < start + dt.timedelta(days=20)
    assert all(s["last_evaluation"]["computed_stage"] == L1 for day, s in days if day >= first_l1)
    confirmed_on = first_l1 + DWELL
    for day, s in days:
        assert s["stage"] == (L1 if day >= confirmed_on else L2), (day, s["stage"])
        if first_l1 <= day < confirmed_on:
            assert s["provisional"]["stage"] == L1 and s["provisional"]["since"] == first_l1.isoformat()
            assert s["pending"]["stage"] == L1 and s["pending"]["since"] == first_l1.isoformat()
            assert s["pending"]["confirm_on"] == confirmed_on.isoformat()
            assert s["pending"]["days_counted"] == (day - first_l1).days + 1
        else:
            assert s["pending"] is None
    assert dict(days)[confirmed_on]["stage_since"] == confirmed_on.isoformat()

    events = await stage_events(connection, rep["id"])
    assert [(e["previous_stage"], e["stage"], e["since"]) for e in events] == [
        (None, L2, start.isoformat()),
        (L2, L1, confirmed_on.isoformat()),
    ]
    history = (
        await client.get(f"/api/v1/employees/{rep['id']}/stage/history", params={"limit": 100}, headers=ADMIN)
    ).json()["items"]
    assert [(h["kind"], h["stage"], h["as_of"]) for h in history] == [
        ("confirmed", L1, confirmed_on.isoformat()),
        ("provisional", L1, first_l1.isoformat()),
        ("confirmed", L2, start.isoformat()),
    ]
    assert history[0]["reasons"]["en"] and history[0]["detail"]["scheduled"] is True
    assert history[1]["detail"]["scheduled"] is False  # the storm saw it first; it confirmed nothing


async def test_a_storm_of_evaluations_on_one_day_never_changes_the_confirmed_stage(service_client, connection):
    clock, client = await started(service_client, dt.date(2026, 2, 20))
    rep = await new_employee(client, entered_sales_on="2015-01-01")
    await backfill(client, repeat_business(rep["id"], accounts=3, year=2025))
    assert (await scheduled_round(client))["confirmed"] == 1
    assert (await stage(client, rep["id"]))["stage"] == L2
    clock.advance(dt.timedelta(days=30))  # the March wins are out of the window: L1 is computed
    for _ in range(5):
        await storm(client, clock, rep["id"], events=4, evaluations=3)
    for _ in range(3):
        await scheduled_round(client)
        await storm(client, clock, rep["id"])
    s = await stage(client, rep["id"])
    assert s["stage"] == L2 and s["last_evaluation"]["computed_stage"] == L1
    assert s["provisional"]["stage"] == L1
    assert (s["pending"]["days_counted"], s["pending"]["days_held"]) == (1, 0)
    events = await stage_events(connection, rep["id"])
    assert [(e["previous_stage"], e["stage"]) for e in events] == [(None, L2)]


async def test_a_rep_whose_deals_come_in_moves_up_after_the_dwell(service_client, connection):
    start = dt.date(2026, 1, 5)
    clock, client = await started(service_client, start)
    rep = await new_employee(client, entered_sales_on="2015-01-01")
    arrived = start + dt.timedelta(days=3)
    days = []
    for n in range(35):
        if n:
            clock.advance(dt.timedelta(days=1))
        if clock.today() == arrived:
            # wins on three accounts in two quarters: L2 from today on
            facts = []
            for a in range(3):
                facts.append(won(rep["id"], "2025-06-02", f"acct-{a}"))
                facts.append(won(rep["id"], "2025-11-03", f"acct-{a}"))
            await backfill(client, facts)
        await storm(client, clock, rep["id"], events=2, evaluations=1)
        await scheduled_round(client)
        days.append((clock.today(), await stage(client, rep["id"])))
    confirmed_on = arrived + DWELL
    for day, s in days:
        assert s["stage"] == (L2 if day >= confirmed_on else L1), (day, s["stage"])
        computed = s["last_evaluation"]["computed_stage"]
        assert computed == (L2 if day >= arrived else L1)
        if arrived <= day < confirmed_on:
            assert s["provisional"]["stage"] == L2 and s["pending"]["confirm_on"] == confirmed_on.isoformat()
    events = await stage_events(connection, rep["id"])
    assert [(e["previous_stage"], e["stage"], e["since"]) for e in events] == [
        (None, L1, start.isoformat()),
        (L1, L2, confirmed_on.isoformat()),
    ]


async def test_a_missed_round_does_not_block_the_dwell(service_client, connection):
    clock, client = await started(service_client, dt.date(2026, 2, 20))
    rep = await new_employee(client, entered_sales_on="2015-01-01")
    await backfill(client, repeat_business(rep["id"], accounts=3, year=2025))
    await scheduled_round(client)
    clock.advance(dt.timedelta(days=30))  # L1 computed from here on
    first = (await scheduled_round(client))["as_of"]
    clock.advance(dt.timedelta(days=20))  # no rounds for 20 days (an outage)
    result = await scheduled_round(client)
    assert result["confirmed"] == 1 and (await stage(client, rep["id"]))["stage"] == L1
    events = await stage_events(connection, rep["id"])
    assert events[-1]["since"] == clock.today().isoformat() and first < events[-1]["since"]
