"""Resource sharing runs on the business clock (sanlun.kernel.clock): expiry,
SLAs, the desk's ageing and waits, consent and the demand window follow a
moved clock, without any real waiting."""

import datetime as dt
import uuid

import pytest

from sanlun.kernel.clock import Clock
from tests.services.resource_share.helpers import ALL_EVENTS, TODAY, Person, new_relationship, outbox, share
from tests.services.resource_share.test_support import ENGINEER, L1, MANAGER, ask, join_pool, stage_event
from tests.support_servers import closed_url

OWNER = Person("/group/east/team-1")
REQUESTER = Person("/group/west/team-2")
OUTSIDER = Person("/group/west/team-1")


async def _request(client, resource_id: str, **extra: object) -> dict:
    response = await client.post(
        "/api/v1/resource-requests", json={"resource_id": resource_id, **extra}, headers=REQUESTER.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_resource_request_expires_when_the_clock_passes_its_expiry(service_client):
    clock = Clock()
    client = await service_client("resource_share", clock=clock, **ALL_EVENTS)
    resource = await share(client, OWNER, {"type": "reference_case", "title": "Cold chain", "scope": "group"})
    created = await _request(client, resource["id"])
    url = f"/api/v1/resource-requests/{created['id']}"
    requested_at = dt.datetime.fromisoformat(created["requested_at"])
    assert abs(requested_at - clock.now()) < dt.timedelta(seconds=5)
    assert dt.datetime.fromisoformat(created["expires_at"]) - requested_at == dt.timedelta(days=14)

    clock.advance(dt.timedelta(hours=49))  # past the 48 h SLA, not yet expired
    got = (await client.get(url, headers=OWNER.headers)).json()
    assert (got["status"], got["overdue"], got["allowed_actions"]) == ("requested", True, ["approve", "decline"])

    clock.advance(dt.timedelta(days=14))
    got = (await client.get(url, headers=OWNER.headers)).json()
    assert (got["status"], got["overdue"], got["allowed_actions"]) == ("expired", False, [])
    listed = {
        status: [
            r["id"]
            for r in (
                await client.get("/api/v1/resource-requests", params={"status": status}, headers=OWNER.headers)
            ).json()["items"]
        ]
        for status in ("requested", "expired")
    }
    assert listed == {"requested": [], "expired": [created["id"]]}
    late = await client.post(f"{url}/approve", json={}, headers=OWNER.headers)
    assert (late.status_code, late.json()["code"], late.json()["status_now"]) == (409, "illegal_transition", "expired")

    # Set back, the same request is live again, and what is decided is stamped on the business clock.
    clock.set(requested_at + dt.timedelta(days=1))
    approved = await client.post(f"{url}/approve", json={}, headers=OWNER.headers)
    assert approved.status_code == 200, approved.text
    decided_at = dt.datetime.fromisoformat(approved.json()["decided_at"])
    assert abs(decided_at - (requested_at + dt.timedelta(days=1))) < dt.timedelta(seconds=5)


async def test_needed_by_is_judged_on_the_clock_and_absurd_dates_are_refused(service_client):
    clock = Clock()
    client = await service_client("resource_share", clock=clock)
    resource = await share(client, OWNER, {"type": "reference_case", "title": "Cold chain", "scope": "group"})
    clock.set(dt.datetime(2031, 3, 1, tzinfo=dt.UTC))
    past = await client.post(
        "/api/v1/resource-requests",
        json={"resource_id": resource["id"], "needed_by": "2031-02-28T12:00:00Z"},
        headers=REQUESTER.headers,
    )
    assert past.status_code == 422 and past.json()["errors"][0]["loc"] == ["body", "needed_by"]
    # Without an offset a time is UTC (it used to fail comparing with an aware time).
    naive = await _request(client, resource["id"], needed_by="2031-03-02T12:00:00")
    assert dt.datetime.fromisoformat(naive["expires_at"]) == dt.datetime(2031, 3, 2, 12, tzinfo=dt.UTC)
    for absurd in ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"):
        response = await client.post(
            "/api/v1/resource-requests",
            json={"resource_id": resource["id"], "needed_by": absurd},
            headers=REQUESTER.headers,
        )
        assert response.status_code == 422, response.text
        assert [e["loc"] for e in response.json()["errors"]] == [["body", "needed_by"]]


async def test_an_introduction_expires_on_the_clock(service_client):
    clock = Clock()
    client = await service_client("resource_share", clock=clock)
    target = uuid.uuid4()
    rel = await share(client, OWNER, new_relationship(target, strength=90))
    asked = await client.post(
        "/api/v1/introductions",
        headers=REQUESTER.headers,
        json={"contact_id": str(target), "relationship_ids": [rel["id"]]},
    )
    assert asked.status_code == 201, asked.text
    url = f"/api/v1/introductions/{asked.json()['id']}"
    clock.advance(dt.timedelta(days=15))
    got = (await client.get(url, headers=OWNER.headers)).json()
    assert (got["status"], got["allowed_actions"]) == ("expired", [])
    for status, expected in (("requested", []), ("expired", [got["id"]])):
        listed = await client.get("/api/v1/introductions", params={"status": status}, headers=OWNER.headers)
        assert [i["id"] for i in listed.json()["items"]] == expected
    late = await client.post(f"{url}/accept", json={}, headers=OWNER.headers)
    assert (late.status_code, late.json()["status_now"]) == (409, "expired")


async def test_consent_expiry_follows_the_clock(service_client):
    clock = Clock()
    client = await service_client("resource_share", clock=clock)
    target = uuid.uuid4()
    created = await share(client, OWNER, new_relationship(target, expires=TODAY + dt.timedelta(days=10)))
    url = f"/api/v1/resources/{created['id']}"
    assert (await client.get(url, headers=OUTSIDER.headers)).status_code == 200

    clock.advance(dt.timedelta(days=11))
    assert (await client.get(url, headers=OUTSIDER.headers)).status_code == 404
    listed = await client.get("/api/v1/resources", params={"type": "relationship"}, headers=OUTSIDER.headers)
    assert created["id"] not in [r["id"] for r in listed.json()["items"]]
    mine = (await client.get(url, headers=OWNER.headers)).json()
    assert mine["relationship"]["consent_expired"] is True
    found = await client.get(
        "/api/v1/introductions/paths", params={"contact_id": str(target)}, headers=OUTSIDER.headers
    )
    assert found.json()["items"] == []

    # A consent that is live by the system's day but past by the clock's is refused, naming the field.
    stale = await client.post(
        "/api/v1/resources",
        json=new_relationship(uuid.uuid4(), expires=TODAY + dt.timedelta(days=5)),
        headers=OWNER.headers,
    )
    assert stale.status_code == 422, stale.text
    assert [(e["loc"], e["msg"]) for e in stale.json()["errors"]] == [
        (["body", "relationship", "consent_expires_on"], "is already past: record a live consent")
    ]
    # And one past by the system's day is live on a clock set back.
    clock.set(dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    old = await share(
        client, OWNER, new_relationship(uuid.uuid4(), given=dt.date(2019, 6, 1), expires=dt.date(2020, 6, 1))
    )
    assert old["relationship"]["consent_expired"] is False
    assert (await client.get(f"/api/v1/resources/{old['id']}", headers=OUTSIDER.headers)).status_code == 200


async def test_the_desks_ageing_waits_and_fairness_follow_the_clock(service_client, connection):
    clock = Clock()
    client = await service_client("resource_share", clock=clock, employee_lifecycle_url=closed_url(), **ALL_EVENTS)
    await stage_event(client, L1, "L1_SUBSISTENCE")
    await join_pool(client, ENGINEER, ["storage"], ["retail"])
    waiting = await ask(client, L1, title="Waiting")

    async def queue() -> list[dict]:
        response = await client.get("/api/v1/support-requests/queue", headers=ENGINEER.headers)
        assert response.status_code == 200, response.text
        return response.json()["items"]

    def ageing(item: dict) -> float:
        return sum(r["factor"] for r in item["reasons"] if r["code"] == "ageing")

    [fresh] = await queue()
    assert ageing(fresh) < 0.01
    clock.advance(dt.timedelta(hours=10))
    [aged] = await queue()
    assert aged["reasons"][-1]["code"] == "ageing" and aged["reasons"][-1]["detail"].startswith("waited 10.0 h")
    assert aged["priority"] == pytest.approx(fresh["priority"] + 2.5, abs=0.01)
    # A request made after the clock moved has waited nothing.
    newcomer = await ask(client, L1, title="Newcomer")
    by_id = {i["request"]["id"]: i for i in await queue()}
    assert ageing(by_id[newcomer["id"]]) < 0.01 and ageing(by_id[waiting["id"]]) == pytest.approx(2.5, abs=0.01)

    assigned = await client.post(f"/api/v1/support-requests/{waiting['id']}/assign", json={}, headers=ENGINEER.headers)
    assert assigned.status_code == 200, assigned.text
    assigned_at = dt.datetime.fromisoformat(assigned.json()["assigned_at"])
    assert abs(assigned_at - clock.now()) < dt.timedelta(seconds=5)
    fulfilled = await client.post(f"/api/v1/support-requests/{waiting['id']}/fulfil", headers=ENGINEER.headers)
    assert fulfilled.status_code == 200, fulfilled.text
    [published] = await outbox(connection, "support_request.fulfilled")
    assert 9.9 < published["waited_hours"] < 10.1
    figures = (await client.get("/api/v1/support-requests/fairness", headers=MANAGER.headers)).json()
    l1 = next(s for s in figures["stages"] if s["stage"] == "L1_SUBSISTENCE")
    assert (l1["requests"], l1["fulfilled"]) == (2, 1) and 9.9 < l1["median_wait_hours"] < 10.1

    # `until` defaults to the clock's day: far ahead, today's requests fall out of the window.
    clock.advance(dt.timedelta(days=400))
    figures = (await client.get("/api/v1/support-requests/fairness", headers=MANAGER.headers)).json()
    assert figures["until"] == str(clock.today())
    assert all(s["requests"] == 0 for s in figures["stages"])


@pytest.mark.parametrize("field", ["since", "until"])
@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31"])
async def test_absurd_fairness_dates_answer_422_naming_the_field(service_client, field, value):
    client = await service_client("resource_share")
    response = await client.get("/api/v1/support-requests/fairness", params={field: value}, headers=MANAGER.headers)
    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["errors"]] == [["query", field]]


async def test_the_demand_window_and_waiting_decisions_follow_the_clock(service_client):
    clock = Clock()
    client = await service_client("resource_share", clock=clock)
    resource = await share(client, OWNER, {"type": "reference_case", "title": "Cold chain", "scope": "group"})
    await _request(client, resource["id"])
    url = f"/api/v1/resources/people/{OWNER.id}/demand"
    figures = (await client.get(url, headers=OWNER.headers)).json()["resource_requests"]
    assert (figures["total"], figures["by_status"], figures["waiting_decision"]) == (1, {"requested": 1}, 1)
    clock.advance(dt.timedelta(days=20))  # expired, still in the 90-day window
    figures = (await client.get(url, headers=OWNER.headers)).json()["resource_requests"]
    assert (figures["total"], figures["by_status"], figures["waiting_decision"]) == (1, {"expired": 1}, 0)
    clock.advance(dt.timedelta(days=80))  # out of the window
    demand = (await client.get(url, headers=OWNER.headers)).json()
    assert dt.datetime.fromisoformat(demand["since"]) > dt.datetime.now(dt.UTC) + dt.timedelta(days=9)
    assert (demand["resource_requests"]["total"], demand["resource_requests"]["waiting_decision"]) == (0, 0)
