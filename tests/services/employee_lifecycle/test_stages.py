"""Evaluation through the API: rules, as_of on past dates, hysteresis, overrides, history, events."""

import datetime as dt

import sqlalchemy as sa

from tests.services.employee_lifecycle.helpers import (
    ADMIN,
    backfill,
    evaluate,
    lost,
    new_employee,
    repeat_business,
    won,
)
from tests.support import auth


async def stage_events(connection, employee_id: str) -> list[dict]:
    """`employee.stage_changed` events about one employee, in publishing order."""
    rows = await connection.execute(
        sa.text(
            "SELECT data FROM employee_lifecycle.outbox WHERE subject = :s AND type = 'employee.stage_changed' "
            "AND subscriber = 'opportunity' ORDER BY id"
        ),
        {"s": employee_id},
    )
    return [r.data for r in rows]


async def test_repeat_business_reaches_l2_with_explanation_and_event(service_client, connection):
    client = await service_client("employee_lifecycle")
    emp = await new_employee(client, entered_sales_on="2015-01-01")
    await backfill(client, repeat_business(emp["id"], accounts=3))
    result = await evaluate(client, emp["id"], "2017-12-31")
    assert result["stage"] == "L2_COMFORTABLE" and result["changed"] is True
    assert result["signals"]["stable_accounts"] == 3 and result["signals"]["wins_12m"] == 6
    assert result["signals"]["quota_attainment_4q"] is None
    rule = next(r for r in result["rules"] if r["rule_id"] == "l2_repeat_business")
    assert rule["status"] == "met"
    assert rule["conditions"][0] == {
        "signal": "stable_accounts",
        "op": ">=",
        "threshold": 3.0,
        "observed": 3.0,
        "met": True,
    }
    assert next(r for r in result["rules"] if r["rule_id"] == "l3_quota_mastery")["status"] == "unknown"
    assert result["gap"]["target_stage"] == "L3_AFFLUENT"
    assert result["gap"]["en"] == ("To reach affluent: 5 more stable accounts; 20 more influence points.")
    assert result["gap"]["zh"].startswith("进入富裕还需：再增加 5 个稳定客户")
    [event] = await stage_events(connection, emp["id"])
    assert event == {
        "employee_id": emp["id"],
        "org_unit_path": "/group/east/team-1",
        "stage": "L2_COMFORTABLE",
        "previous_stage": None,
        "since": "2017-12-31",
        "needs": ["lacks_deals"],
        "capacity": 20,
        "reason": "evaluation",
        "policy_version": 0,
    }


async def test_as_of_on_past_dates_uses_only_the_facts_known_then(service_client):
    client = await service_client("employee_lifecycle")
    emp = await new_employee(client, entered_sales_on="2016-01-01")
    await backfill(client, repeat_business(emp["id"], accounts=3, year=2017))
    before = await evaluate(client, emp["id"], "2016-12-31", record=False)
    assert before["recorded"] is False and before["stage"] == "L1_SUBSISTENCE"
    assert before["signals"]["wins_12m"] == 0 and before["signals"]["tenure_months"] == 11
    assert "lacks_support" in before["needs"]
    mid = await evaluate(client, emp["id"], "2017-06-30", record=False)
    assert mid["signals"]["wins_12m"] == 3 and mid["signals"]["stable_accounts"] == 0
    # a year after the last wins they have left the 12-month window
    later = await evaluate(client, emp["id"], "2018-12-31", record=False)
    assert later["signals"]["wins_12m"] == 0 and later["signals"]["stable_accounts"] == 3
    # previews store nothing
    r = await client.get(f"/api/v1/employees/{emp['id']}/stage", headers=ADMIN)
    assert r.status_code == 404 and r.json()["code"] == "not_evaluated"


async def test_win_rate_and_quota_attainment(service_client):
    client = await service_client("employee_lifecycle")
    emp = await new_employee(client)
    await backfill(
        client,
        [
            won(emp["id"], "2017-02-01", "a", amount="600.00"),
            won(emp["id"], "2017-05-01", "b", amount="1200.00"),
            lost(emp["id"], "2017-05-02"),
        ],
    )
    for period, amount in (("2017-Q1", "500.00"), ("2017-Q2", "1500.00"), ("2016-Q3", "100.00")):
        r = await client.put(
            f"/api/v1/employees/{emp['id']}/quotas/{period}",
            json={"amount": {"amount": amount, "currency": "CNY"}},
            headers=ADMIN,
        )
        assert r.status_code == 201, r.text
    r = await client.get(f"/api/v1/employees/{emp['id']}/signals", params={"as_of": "2017-06-30"}, headers=ADMIN)
    s = r.json()["signals"]
    assert round(s["win_rate_12m"], 3) == 0.667
    assert s["revenue_12m"] == 1800.0
    # Q3 2016 (0 of 100), Q1 2017 (600 of 500), Q2 2017 (1200 of 1500): 1800 / 2100
    assert round(s["quota_attainment_4q"], 4) == round(1800 / 2100, 4) and s["quarters_at_quota"] == 1


async def test_recorded_manual_evaluations_are_provisional_and_never_confirm(service_client, connection):
    """Only the scheduled round confirms (tests/.../test_confirmation.py); an evaluate call
    records the explanation and a provisional stage, in the history, without an event."""
    client = await service_client("employee_lifecycle")
    emp = await new_employee(client, entered_sales_on="2015-01-01")
    await backfill(client, repeat_business(emp["id"], accounts=3, year=2017))
    first = await evaluate(client, emp["id"], "2017-12-31")
    assert first["stage"] == "L2_COMFORTABLE" and first["changed"] is True and first["scheduled"] is False
    # in 2019 the wins are outside both windows: the computed stage is L1, however often it is asked
    for as_of in ("2019-06-30", "2019-07-01", "2019-07-02", "2019-07-02"):
        again = await evaluate(client, emp["id"], as_of)
        assert again["computed_stage"] == "L1_SUBSISTENCE" and again["stage"] == "L2_COMFORTABLE"
        assert again["changed"] is False and again["pending"] is None
        assert again["provisional"]["stage"] == "L1_SUBSISTENCE" and again["provisional"]["since"] == "2019-06-30"
    state = (await client.get(f"/api/v1/employees/{emp['id']}/stage", headers=ADMIN)).json()
    assert state["stage"] == "L2_COMFORTABLE" and state["pending"] is None
    assert state["provisional"]["stage"] == "L1_SUBSISTENCE"
    assert state["provisional"]["reasons"]["en"].startswith("No rule")
    events = await stage_events(connection, emp["id"])
    assert [(e["previous_stage"], e["stage"]) for e in events] == [(None, "L2_COMFORTABLE")]
    history = (await client.get(f"/api/v1/employees/{emp['id']}/stage/history", headers=ADMIN)).json()
    assert [(h["kind"], h["stage"], h["previous_stage"], h["as_of"]) for h in history["items"]] == [
        ("provisional", "L1_SUBSISTENCE", "L2_COMFORTABLE", "2019-06-30"),
        ("confirmed", "L2_COMFORTABLE", None, "2017-12-31"),
    ]
    assert history["items"][0]["reasons"]["en"].startswith("No rule")
    confirmed = (
        await client.get(f"/api/v1/employees/{emp['id']}/stage/history", params={"kind": "confirmed"}, headers=ADMIN)
    ).json()
    assert [h["stage"] for h in confirmed["items"]] == ["L2_COMFORTABLE"]


async def test_as_of_out_of_range_is_a_422_naming_the_field(service_client):
    client = await service_client("employee_lifecycle")
    emp = await new_employee(client)
    for bad in ("0001-01-01", "9999-12-31"):
        r = await client.get(f"/api/v1/employees/{emp['id']}/signals", params={"as_of": bad}, headers=ADMIN)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["errors"][0]["loc"] == ["query", "as_of"]
        for path, body in (
            (f"/api/v1/employees/{emp['id']}/stage:evaluate", {"as_of": bad}),
            ("/api/v1/employees/stages:evaluate", {"as_of": bad, "employee_ids": [emp["id"]]}),
            ("/api/v1/employees/stages:evaluate", {"as_of": bad, "org_unit": "/group"}),
        ):
            r = await client.post(path, json=body, headers=ADMIN)
            assert r.status_code == 422, (path, r.text)
            assert r.json()["errors"][0]["loc"] == ["body", "as_of"]
    edge = await client.get(f"/api/v1/employees/{emp['id']}/signals", params={"as_of": "1900-01-01"}, headers=ADMIN)
    assert edge.status_code == 200
    edge = await evaluate(client, emp["id"], "2199-12-31", record=False)
    assert edge["stage"] == "L1_SUBSISTENCE"


async def test_override_with_reason_then_expiry(service_client, connection):
    client = await service_client("employee_lifecycle")
    emp = await new_employee(client)
    await evaluate(client, emp["id"], "2017-12-31")
    manager = auth(org_unit="/group/east", roles=("manager",))
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
    r = await client.put(
        f"/api/v1/employees/{emp['id']}/stage/override",
        json={"stage": "L2_COMFORTABLE", "reason": "Took over the Acme key account", "expires_at": expires},
        headers=manager,
    )
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "L2_COMFORTABLE" and r.json()["evaluated_stage"] == "L1_SUBSISTENCE"
    assert r.json()["override"]["reason"] == "Took over the Acme key account"
    batch = await client.post("/api/v1/employees/stages:batch-get", json={"employee_ids": [emp["id"]]}, headers=manager)
    assert batch.json()["items"][0]["stage"] == "L2_COMFORTABLE"
    # evaluation while the override holds changes nothing visible
    again = await evaluate(client, emp["id"], "2017-12-31")
    assert again["stage"] == "L2_COMFORTABLE" and again["changed"] is False
    # time passes: the override has expired
    await connection.execute(
        sa.text(
            "UPDATE employee_lifecycle.employee_stages SET override_expires_at = now() - interval '1 minute' "
            "WHERE employee_id = :e"
        ),
        {"e": emp["id"]},
    )
    batch = await client.post("/api/v1/employees/stages:batch-get", json={"employee_ids": [emp["id"]]}, headers=manager)
    assert batch.json()["items"][0]["stage"] == "L1_SUBSISTENCE"
    lifted = await client.post("/api/v1/employees/stages:lift-expired-overrides", headers=ADMIN)
    assert lifted.json() == {"lifted": 1}
    events = await stage_events(connection, emp["id"])
    assert [(e["stage"], e["reason"]) for e in events][-1] == ("L1_SUBSISTENCE", "override_expired"), events
    assert ("L2_COMFORTABLE", "override") in [(e["stage"], e["reason"]) for e in events]
    state = (await client.get(f"/api/v1/employees/{emp['id']}/stage", headers=ADMIN)).json()
    assert state["override"] is None and state["stage"] == "L1_SUBSISTENCE"


async def test_override_rules(service_client):
    client = await service_client("employee_lifecycle")
    emp = await new_employee(client)
    body = {"stage": "L3_AFFLUENT", "reason": "because", "expires_at": "2099-01-01T00:00:00Z"}
    not_yet = await client.put(f"/api/v1/employees/{emp['id']}/stage/override", json=body, headers=ADMIN)
    assert not_yet.status_code == 409
    await evaluate(client, emp["id"], "2017-12-31")
    rep = auth(employee=emp["id"], org_unit="/group/east/team-1", roles=("rep",))
    assert (
        await client.put(f"/api/v1/employees/{emp['id']}/stage/override", json=body, headers=rep)
    ).status_code == 403
    past = {**body, "expires_at": "2001-01-01T00:00:00Z"}
    r = await client.put(f"/api/v1/employees/{emp['id']}/stage/override", json=past, headers=ADMIN)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "expires_at"]
    other_manager = auth(org_unit="/group/west", roles=("manager",))
    assert (
        await client.put(f"/api/v1/employees/{emp['id']}/stage/override", json=body, headers=other_manager)
    ).status_code == 404


async def test_evaluate_a_whole_org_unit(service_client):
    client = await service_client("employee_lifecycle")
    a = await new_employee(client, "/group/south/t1")
    b = await new_employee(client, "/group/south/t2")
    outside = await new_employee(client, "/group/southern")
    await backfill(client, repeat_business(a["id"], accounts=3))
    r = await client.post(
        "/api/v1/employees/stages:evaluate", json={"org_unit": "/group/south", "as_of": "2017-12-31"}, headers=ADMIN
    )
    assert r.status_code == 200, r.text
    assert r.json()["evaluated"] == 2 and r.json()["changed"] == 2
    batch = (
        await client.post(
            "/api/v1/employees/stages:batch-get",
            json={"employee_ids": [a["id"], b["id"], outside["id"]]},
            headers=ADMIN,
        )
    ).json()
    stages = {i["employee_id"]: i["stage"] for i in batch["items"]}
    assert stages == {a["id"]: "L2_COMFORTABLE", b["id"]: "L1_SUBSISTENCE", outside["id"]: None}
    neither = await client.post("/api/v1/employees/stages:evaluate", json={"as_of": "2017-12-31"}, headers=ADMIN)
    assert neither.status_code == 422
