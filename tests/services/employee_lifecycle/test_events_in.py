"""Events from the other services become facts, signals and re-evaluations."""

import datetime as dt
import uuid

from sanlun.kernel.clock import Clock
from sanlun.kernel.event_routes import mint_service_token
from tests.services.employee_lifecycle.helpers import ADMIN, new_employee
from tests.support import TEST_SERVICE_SECRET

SERVICE = {"Authorization": f"Bearer {mint_service_token(TEST_SERVICE_SECRET, 'opportunity')}"}


def event(type_: str, data: dict, *, time: str | None = None) -> dict:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "type": type_,
        "source": type_.split(".")[0],
        "subject": str(data.get("opportunity_id") or data.get("account_id") or uuid.uuid4()),
        "time": time or dt.datetime.now(dt.UTC).isoformat(),
        "data": data,
    }


def opportunity(type_: str, owner: str | None, opp: str, **extra) -> dict:
    return event(
        type_,
        {
            "opportunity_id": opp,
            "owner_id": owner,
            "org_unit_path": "/group/east/team-1",
            "account_id": extra.pop("account_id", "acct-1"),
            "stage": extra.pop("stage", "qualified"),
            "amount": {"amount": "5000.00", "currency": "CNY"},
            "solution_ids": ["sol-1"],
            "version": 1,
            **extra,
        },
    )


async def deliver(client, *events) -> list[str]:
    r = await client.post("/internal/events", json=list(events), headers=SERVICE)
    assert r.status_code == 200, r.text
    return [x["status"] for x in r.json()["results"]]


async def test_open_load_follows_opportunity_events(service_client):
    client = await service_client("employee_lifecycle")
    a, b = await new_employee(client), await new_employee(client)
    o1, o2, o3 = (str(uuid.uuid4()) for _ in range(3))
    created = [opportunity("opportunity.created", a["id"], o) for o in (o1, o2, o3)]
    assert await deliver(client, *created) == ["processed"] * 3
    # o2 moves from a to b; o3 is won by a
    await deliver(
        client,
        opportunity("opportunity.assigned", b["id"], o2, previous_owner_id=a["id"]),
        opportunity("opportunity.won", a["id"], o3, stage="won", closed_on=dt.date.today().isoformat()),
    )
    r = await client.post(
        "/api/v1/employees/stages:batch-get", json={"employee_ids": [a["id"], b["id"]]}, headers=ADMIN
    )
    load = {i["employee_id"]: i["open_load"] for i in r.json()["items"]}
    assert load == {a["id"]: 1, b["id"]: 1}
    # the win re-evaluated a: they now have a stage
    stages = {i["employee_id"]: i["stage"] for i in r.json()["items"]}
    assert stages[a["id"]] == "L1_SUBSISTENCE" and stages[b["id"]] is None
    signals = (await client.get(f"/api/v1/employees/{a['id']}/signals", headers=ADMIN)).json()["signals"]
    assert signals["wins_12m"] == 1 and signals["revenue_12m"] == 5000.0 and signals["open_pipeline_value"] == 5000.0


async def test_redelivered_event_counts_once(service_client):
    client = await service_client("employee_lifecycle")
    a = await new_employee(client)
    won = opportunity("opportunity.won", a["id"], str(uuid.uuid4()), stage="won", closed_on=dt.date.today().isoformat())
    assert await deliver(client, won) == ["processed"]
    assert await deliver(client, won) == ["duplicate"]
    signals = (await client.get(f"/api/v1/employees/{a['id']}/signals", headers=ADMIN)).json()["signals"]
    assert signals["wins_12m"] == 1


async def test_coverage_makes_repeat_wins_stable_and_ignores_stale_versions(service_client, connection):
    client = await service_client("employee_lifecycle")
    a = await new_employee(client)
    today = dt.date.today()
    year_ago = (today - dt.timedelta(days=400)).isoformat()
    # two wins on one account in the same quarter: not stable by quarters alone
    wins = [
        opportunity(
            "opportunity.won", a["id"], str(uuid.uuid4()), stage="won", account_id="acct-9", closed_on=today.isoformat()
        )
        for _ in range(2)
    ]
    await deliver(client, *wins)
    sig = lambda: client.get(f"/api/v1/employees/{a['id']}/signals", headers=ADMIN)  # noqa: E731
    assert (await sig()).json()["signals"]["stable_accounts"] == 0
    team = {
        "account_id": "acct-9",
        "org_unit_path": "/group/east",
        "version": 2,
        "members": [{"employee_id": a["id"], "role": "account_owner", "valid_from": year_ago, "valid_to": None}],
    }
    await deliver(client, event("account.coverage_changed", team))
    assert (await sig()).json()["signals"]["stable_accounts"] == 1
    stale = {**team, "version": 1, "members": []}
    await deliver(client, event("account.coverage_changed", stale))
    assert (await sig()).json()["signals"]["stable_accounts"] == 1


async def test_influence_from_resource_use_and_introductions(service_client):
    client = await service_client("employee_lifecycle")
    a, b = await new_employee(client, "/group/east/t"), await new_employee(client, "/group/west/t")
    used = {
        "resource_id": str(uuid.uuid4()),
        "resource_type": "reference_case",
        "owner_id": a["id"],
        "owner_org_unit_path": "/group/east/t",
        "user_id": b["id"],
        "user_org_unit_path": "/group/west/t",
        "request_id": str(uuid.uuid4()),
        "opportunity_id": None,
        "outcome": "contributed_to_win",
    }
    own_use = {**used, "user_id": a["id"], "user_org_unit_path": "/group/east/t"}
    intro = {
        "introduction_id": str(uuid.uuid4()),
        "connector_id": a["id"],
        "requester_id": b["id"],
        "connector_org_unit_path": "/group/east/t",
        "requester_org_unit_path": "/group/west/t",
        "account_id": "x",
        "contact_id": "y",
        "outcome": "introduced",
    }
    declined = {**intro, "introduction_id": str(uuid.uuid4()), "outcome": "declined"}
    await deliver(
        client,
        event("resource.used", used),
        event("resource.used", own_use),
        event("introduction.completed", intro),
        event("introduction.completed", declined),
    )
    signals = (await client.get(f"/api/v1/employees/{a['id']}/signals", headers=ADMIN)).json()["signals"]
    # reuse across organisations that helped a win: 1 + 1 + 3; introduction across organisations: 2 + 1
    assert signals["influence_score"] == 8.0


async def test_backfill_is_idempotent_and_names_unknown_employees(service_client):
    client = await service_client("employee_lifecycle")
    a = await new_employee(client)
    fact = {
        "external_id": "crm-1",
        "kind": "opportunity_won",
        "employee_id": a["id"],
        "occurred_on": "2017-03-01",
        "account_ref": "x",
        "amount": {"amount": "10.00", "currency": "USD"},
    }
    first = await client.post("/api/v1/employees/facts:backfill", json={"facts": [fact]}, headers=ADMIN)
    again = await client.post("/api/v1/employees/facts:backfill", json={"facts": [fact]}, headers=ADMIN)
    assert first.json() == {"received": 1, "inserted": 1, "duplicates": 0}
    assert again.json() == {"received": 1, "inserted": 0, "duplicates": 1}
    ghost = {**fact, "external_id": "crm-2", "employee_id": str(uuid.uuid4())}
    bad = await client.post("/api/v1/employees/facts:backfill", json={"facts": [fact, ghost]}, headers=ADMIN)
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["body", "facts", 1, "employee_id"]
    number = {**fact, "external_id": "crm-3", "amount": {"amount": 10.5, "currency": "USD"}}
    bad = await client.post("/api/v1/employees/facts:backfill", json={"facts": [number]}, headers=ADMIN)
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"][:4] == ["body", "facts", 0, "amount"]


def test_a_deal_created_already_closed_is_not_open_work():
    import datetime as _dt

    from services.employee_lifecycle.signals.service import opportunity_facts

    owner = str(uuid.uuid4())
    for stage in ("won", "lost", "abandoned"):
        data = {"opportunity_id": str(uuid.uuid4()), "owner_id": owner, "stage": stage, "version": 1}
        assert opportunity_facts(uuid.uuid4(), "opportunity.created", _dt.date(2026, 11, 27), data) == []
    data = {"opportunity_id": str(uuid.uuid4()), "owner_id": owner, "stage": "qualified", "version": 1}
    [fact] = opportunity_facts(uuid.uuid4(), "opportunity.created", _dt.date(2026, 11, 27), data)
    assert fact["kind"] == "opportunity_open" and fact["occurred_on"] == _dt.date(2026, 11, 27)


async def test_events_are_facts_of_the_business_day_on_a_clock_set_back(service_client):
    """A demo may run on the sample's own dates: an event stamped with real time is a fact of the
    service's today, not of a day no evaluation reaches."""
    clock = Clock()
    clock.set(dt.datetime(2017, 6, 30, 9, tzinfo=dt.UTC))
    client = await service_client("employee_lifecycle", clock=clock)
    a = await new_employee(client)
    await deliver(client, opportunity("opportunity.created", a["id"], str(uuid.uuid4())))
    signals = (await client.get(f"/api/v1/employees/{a['id']}/signals", headers=ADMIN)).json()
    assert signals["as_of"] == "2017-06-30" and signals["signals"]["open_pipeline_count"] == 1
    batch = await client.post("/api/v1/employees/stages:batch-get", json={"employee_ids": [a["id"]]}, headers=ADMIN)
    assert batch.json()["items"][0]["open_load"] == 1
