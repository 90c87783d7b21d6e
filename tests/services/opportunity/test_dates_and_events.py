"""Dates done right (close-date filters, close months, as_of bounds, the
business clock) and the events implicit sharing follows (team in every event,
team_changed, account changes) plus the participants listing for services."""

import datetime as dt
import uuid

import pytest

from sanlun.kernel.clock import Clock
from sanlun.kernel.event_routes import mint_service_token
from tests.services.opportunity.helpers import ADMIN, FORCED, MANAGER, OPPORTUNITIES, new_opportunity, outbox, rep
from tests.support import TEST_SERVICE_SECRET, auth

pytestmark = pytest.mark.usefixtures("any_id_exists")

SERVICE = {"Authorization": f"Bearer {mint_service_token(TEST_SERVICE_SECRET, 'key_account')}"}
PARTICIPANTS = "/internal/opportunities/participants"
UNIT = "/group/east/team-1"


async def create(client, headers=ADMIN, **extra) -> dict:
    body = new_opportunity(**{"org_unit_path": UNIT, "owner_id": str(uuid.uuid4()), **FORCED, **extra})
    r = await client.post(OPPORTUNITIES, json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def ids(client, **params) -> set[str]:
    r = await client.get(OPPORTUNITIES, params={"limit": 200, **params}, headers=ADMIN)
    assert r.status_code == 200, r.text
    return {o["id"] for o in r.json()["items"]}


async def test_closed_from_to_filter_the_close_date_and_close_from_to_the_expected_one(service_client):
    client = await service_client("opportunity")
    q1 = await create(client, stage="won", closed_on="2017-02-14", expected_close_date="2016-12-31")
    q2 = await create(client, stage="won", closed_on="2017-05-02", expected_close_date="2017-03-01")
    lost = await create(client, stage="lost", closed_on="2017-03-31")
    open_deal = await create(client, expected_close_date="2017-02-01")

    # "Won in Q1 2017".
    assert await ids(client, stage="won", closed_from="2017-01-01", closed_to="2017-03-31") == {q1["id"]}
    assert await ids(client, closed_from="2017-01-01", closed_to="2017-03-31") == {q1["id"], lost["id"]}
    assert await ids(client, closed_from="2017-04-01") == {q2["id"]}
    # close_from/close_to keep meaning the expected close date, closed or not.
    assert await ids(client, close_from="2017-01-01", close_to="2017-03-31") == {q2["id"], open_deal["id"]}

    backwards = {"closed_from": "2017-04-01", "closed_to": "2017-01-01"}
    bad = await client.get(OPPORTUNITIES, params=backwards, headers=ADMIN)
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["query", "closed_to"]


@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31"])
async def test_as_of_outside_the_sane_range_is_a_422_naming_the_field(service_client, value):
    client = await service_client("opportunity")
    deal = await create(client, industry="banking")
    for path, params in (
        (f"{OPPORTUNITIES}/{deal['id']}/recommended-solutions", {"as_of": value}),
        (f"{OPPORTUNITIES}/pipeline", {"as_of": value}),
        (OPPORTUNITIES, {"closed_from": value}),
        (OPPORTUNITIES, {"close_to": value}),
    ):
        r = await client.get(path, params=params, headers=ADMIN)
        assert r.status_code == 422, (path, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"][0]["loc"][0] == "query" and r.json()["errors"][0]["loc"][1] in params
    batch = await client.post(
        f"{OPPORTUNITIES}/recommended-solutions:batch-get",
        json={"opportunity_ids": [deal["id"]], "as_of": value},
        headers=ADMIN,
    )
    assert batch.status_code == 422 and batch.json()["errors"][0]["loc"] == ["body", "as_of"]


async def test_pipeline_months_place_open_deals_by_expected_and_closed_ones_by_close_date(service_client):
    clock = Clock()
    clock.set(dt.datetime(2017, 6, 15, 9, tzinfo=dt.UTC))
    client = await service_client("opportunity", clock=clock)
    owner, _ = rep(UNIT)
    mine = {"owner_id": str(owner), "org_unit_path": UNIT}
    headers = MANAGER  # records the rep's history (a rep's own create passes the gates)
    for body in (
        # Won in March, expected for January: counts in March.
        new_opportunity(stage="won", closed_on="2017-03-10", expected_close_date="2017-01-20", **mine),
        new_opportunity(stage="lost", closed_on="2017-03-28", **mine),
        # Open, expected in July.
        new_opportunity(stage="proposal", win_probability="0.5", expected_close_date="2017-07-05", **mine),
        # Abandoned: a close date but nothing to forecast.
        new_opportunity(stage="abandoned", closed_on="2017-03-01", **mine),
        # Won long before the window.
        new_opportunity(stage="won", closed_on="2014-01-01", **mine),
    ):
        assert (await client.post(OPPORTUNITIES, json={**body, **FORCED}, headers=headers)).status_code == 201
    headers = auth(employee=owner, org_unit=UNIT, roles=("rep",))
    r = await client.get(f"{OPPORTUNITIES}/pipeline", params={"scope": "me"}, headers=headers)
    assert r.status_code == 200, r.text
    months = {b["month"]: b for b in r.json()["by_close_month"]}
    assert set(months) == {"2017-03-01", "2017-07-01"}
    march = months["2017-03-01"]
    assert (march["count"], march["open_count"], march["won_count"], march["lost_count"]) == (2, 0, 1, 1)
    # The win counts in full, the loss not at all.
    assert march["weighted_amount"] == {"amount": "120000.50", "currency": "CNY"}
    assert months["2017-07-01"]["open_count"] == 1
    # months_back=0: only from the clock's month on; as_of moves the turn.
    ahead = (
        await client.get(f"{OPPORTUNITIES}/pipeline", params={"scope": "me", "months_back": 0}, headers=headers)
    ).json()
    assert [b["month"] for b in ahead["by_close_month"]] == ["2017-07-01"]
    old = (
        await client.get(
            f"{OPPORTUNITIES}/pipeline", params={"scope": "me", "as_of": "2014-02-01", "months": 1}, headers=headers
        )
    ).json()
    assert [b["month"] for b in old["by_close_month"]] == ["2014-01-01"]


async def test_closing_and_assigning_follow_the_business_clock(service_client):
    clock = Clock()
    clock.set(dt.datetime(2017, 3, 31, 10, tzinfo=dt.UTC))
    client = await service_client("opportunity", clock=clock)
    deal = await create(client)
    assert deal["assigned_at"].startswith("2017-03-31")
    clock.advance(dt.timedelta(days=2))
    r = await client.post(f"{OPPORTUNITIES}/{deal['id']}/stage", json={"stage": "abandoned"}, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert r.json()["closed_on"] == "2017-04-02"
    url = f"{OPPORTUNITIES}/{(await create(client))['id']}"
    moved = await client.patch(url, json={"owner_id": str(uuid.uuid4())}, headers=ADMIN)
    assert moved.json()["assigned_at"].startswith("2017-04-02")


async def test_every_event_carries_the_team_and_team_or_account_changes_are_published(service_client, connection):
    client = await service_client("opportunity")
    helper, other = str(uuid.uuid4()), str(uuid.uuid4())
    deal = await create(client, team=[{"employee_id": helper, "role": "presales"}])
    (created,) = await outbox(connection, deal["id"])
    assert created[0] == "opportunity.created"
    assert created[1]["team"] == [{"employee_id": helper, "role": "presales"}]

    url = f"{OPPORTUNITIES}/{deal['id']}"
    team = [{"employee_id": other, "role": "delivery"}, {"employee_id": helper, "role": "presales"}]
    r = await client.patch(url, json={"team": team}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["version"] == deal["version"] + 1
    kind, data = (await outbox(connection, deal["id"]))[-1]
    assert kind == "opportunity.team_changed"
    assert data["team"] == sorted(team, key=lambda m: m["employee_id"])
    assert data["previous_team"] == [{"employee_id": helper, "role": "presales"}]
    assert data["version"] == r.json()["version"]
    # The same team again is no change and publishes nothing.
    before = len(await outbox(connection, deal["id"]))
    await client.patch(url, json={"team": list(reversed(team))}, headers=ADMIN)
    assert len(await outbox(connection, deal["id"])) == before

    account = str(uuid.uuid4())
    r = await client.patch(url, json={"account_id": account}, headers=ADMIN)
    kind, data = (await outbox(connection, deal["id"]))[-1]
    assert kind == "opportunity.updated"
    assert data["account_id"] == account and data["previous_account_id"] == deal["account_id"]
    assert len(data["team"]) == 2 and data["version"] == r.json()["version"]

    new_owner = str(uuid.uuid4())
    await client.patch(url, json={"owner_id": new_owner}, headers=ADMIN)
    kind, data = (await outbox(connection, deal["id"]))[-1]
    assert kind == "opportunity.assigned" and data["owner_id"] == new_owner and len(data["team"]) == 2

    r = await client.post(f"{url}/stage", json={"stage": "lost", "closed_on": "2026-11-01"}, headers=ADMIN)
    assert r.status_code == 200, r.text
    tail = (await outbox(connection, deal["id"]))[-2:]
    assert [k for k, _ in tail] == ["opportunity.stage_changed", "opportunity.lost"]
    assert all(len(d["team"]) == 2 for _, d in tail)


async def test_bulk_upsert_publishes_team_owner_and_account_changes_with_the_team(service_client, connection):
    client = await service_client("opportunity")
    helper = str(uuid.uuid4())
    row = new_opportunity(external_id="bulk-team-1", owner_id=None, org_unit_path=UNIT)
    first = (
        await client.post(
            f"{OPPORTUNITIES}:bulk-upsert",
            json={"items": [{**row, "team": [{"employee_id": helper, "role": "presales"}]}]},
            headers=ADMIN,
        )
    ).json()
    deal = first["results"][0]["id"]
    (created,) = await outbox(connection, deal)
    assert created[1]["team"] == [{"employee_id": helper, "role": "presales"}]

    owner, account, newcomer = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    changed = {**row, "owner_id": owner, "account_id": account, "team": [{"employee_id": newcomer, "role": "delivery"}]}
    r = (await client.post(f"{OPPORTUNITIES}:bulk-upsert", json={"items": [changed]}, headers=ADMIN)).json()
    assert r["results"][0]["status"] == "updated"
    published = (await outbox(connection, deal))[1:]
    assert [k for k, _ in published] == ["opportunity.assigned", "opportunity.updated", "opportunity.team_changed"]
    for _, data in published:
        assert data["owner_id"] == owner and data["account_id"] == account
        assert data["team"] == [{"employee_id": newcomer, "role": "delivery"}]
    assert published[2][1]["previous_team"] == [{"employee_id": helper, "role": "presales"}]
    version = (await client.get(f"{OPPORTUNITIES}/{deal}", headers=ADMIN)).json()["version"]
    assert all(d["version"] == version for _, d in published)


async def test_participants_lists_deals_with_an_account_to_services_only(service_client):
    client = await service_client("opportunity")
    helper = str(uuid.uuid4())
    with_account = [
        await create(client, account_id=str(uuid.uuid4()), team=[{"employee_id": helper, "role": "presales"}])
        for _ in range(3)
    ]
    await create(client)  # no account: not listed
    unassigned = await create(client, account_id=str(uuid.uuid4()), owner_id=None)

    r = await client.get(PARTICIPANTS, params={"limit": 2}, headers=SERVICE)
    assert r.status_code == 200, r.text
    seen, page = [], r.json()
    while True:
        seen += page["items"]
        if page["next_after"] is None:
            break
        assert len(page["items"]) == 2
        page = (
            await client.get(PARTICIPANTS, params={"limit": 2, "after": page["next_after"]}, headers=SERVICE)
        ).json()
    assert [i["opportunity_id"] for i in seen] == sorted(i["opportunity_id"] for i in seen)
    by_id = {i["opportunity_id"]: i for i in seen}
    assert set(by_id) == {d["id"] for d in [*with_account, unassigned]}
    one = by_id[with_account[0]["id"]]
    assert one == {
        "opportunity_id": with_account[0]["id"],
        "account_id": with_account[0]["account_id"],
        "owner_id": with_account[0]["owner_id"],
        "org_unit_path": with_account[0]["org_unit_path"],
        "stage": with_account[0]["stage"],
        "team_ids": [helper],
        "team": [{"employee_id": helper, "role": "presales"}],
        "version": with_account[0]["version"],
    }
    assert by_id[unassigned["id"]]["owner_id"] is None
    assert by_id[unassigned["id"]]["team_ids"] == [] and by_id[unassigned["id"]]["team"] == []

    assert (await client.get(PARTICIPANTS, headers=ADMIN)).status_code in (401, 403)
    assert (await client.get(PARTICIPANTS)).status_code == 401
    assert (await client.get(PARTICIPANTS, params={"limit": 0}, headers=SERVICE)).status_code == 422
    assert (await client.get(PARTICIPANTS, params={"limit": 1001}, headers=SERVICE)).status_code == 422
    schema = (await client.get("/openapi.json")).json()
    assert not any(p.startswith("/internal/") for p in schema["paths"])


async def test_a_caller_with_no_employee_id_has_no_pipeline_of_their_own(service_client):
    """`scope=me` for an integrator: nothing, not the unassigned deals it may see."""
    client = await service_client("opportunity")
    unassigned = new_opportunity(owner_id=None, org_unit_path=UNIT)
    assert (await client.post(OPPORTUNITIES, json=unassigned, headers=ADMIN)).status_code == 201
    integrator = auth(employee="integration-bot", org_unit="/group", roles=("integrator",))  # sub: no employee
    team = (await client.get(f"{OPPORTUNITIES}/pipeline", params={"scope": "organization"}, headers=integrator)).json()
    assert sum(s["count"] for s in team["by_stage"]) >= 1  # the deal is in its view
    mine = await client.get(f"{OPPORTUNITIES}/pipeline", params={"scope": "me"}, headers=integrator)
    assert mine.status_code == 200, mine.text
    assert sum(s["count"] for s in mine.json()["by_stage"]) == 0
