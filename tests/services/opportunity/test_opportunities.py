import uuid

import pytest

from tests.services.opportunity.helpers import FORCED, MANAGER
from tests.support import auth

pytestmark = pytest.mark.usefixtures("any_id_exists")

OPPORTUNITIES = "/api/v1/opportunities"
ADMIN = auth(org_unit="/group", roles=("group_admin",))


def new_opportunity(**extra: object) -> dict:
    return {"name": "Core banking refresh", "amount": {"amount": "120000.50", "currency": "CNY"}, **extra}


def rep(org_unit: str = "/group/east/team-1") -> tuple[uuid.UUID, dict[str, str]]:
    employee = uuid.uuid4()
    return employee, auth(employee=employee, org_unit=org_unit, roles=("rep",))


async def test_create_get_update(service_client):
    client = await service_client("opportunity")
    me, headers = rep()
    account = uuid.uuid4()
    created = await client.post(
        OPPORTUNITIES,
        json=new_opportunity(
            account_id=str(account),
            expected_close_date="2026-03-31",
            win_probability="0.35",
            source="trade show",
            external_id="crm-1",
        ),
        headers=headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["location"] == f"{OPPORTUNITIES}/{body['id']}"
    assert created.headers["etag"] == '"1"'
    assert body["owner_id"] == str(me)
    assert body["org_unit_path"] == "/group/east/team-1"
    assert body["stage"] == "lead"
    assert body["amount"] == {"amount": "120000.50", "currency": "CNY"}
    assert body["win_probability"] == "0.3500"

    got = await client.get(f"{OPPORTUNITIES}/{body['id']}", headers=headers)
    assert got.status_code == 200
    assert got.headers["etag"] == '"1"'
    assert got.json() == body

    patched = await client.patch(
        f"{OPPORTUNITIES}/{body['id']}",
        json={
            "name": "Core banking 2",
            "amount": {"amount": "99", "currency": "USD"},
            "compelling_event": "Audit in May",
        },
        headers={**headers, "If-Match": '"1"'},
    )
    assert patched.status_code == 200, patched.text
    assert patched.headers["etag"] == '"2"'
    assert patched.json()["name"] == "Core banking 2"
    assert patched.json()["amount"] == {"amount": "99.00", "currency": "USD"}
    assert patched.json()["compelling_event"] == "Audit in May"

    stale = await client.patch(
        f"{OPPORTUNITIES}/{body['id']}", json={"name": "late"}, headers={**headers, "If-Match": '"1"'}
    )
    assert stale.status_code == 412


async def test_amount_can_be_cleared_and_is_null_when_absent(service_client):
    client = await service_client("opportunity")
    _, headers = rep()
    created = (await client.post(OPPORTUNITIES, json=new_opportunity(), headers=headers)).json()
    cleared = await client.patch(f"{OPPORTUNITIES}/{created['id']}", json={"amount": None}, headers=headers)
    assert cleared.status_code == 200 and cleared.json()["amount"] is None
    got = await client.get(f"{OPPORTUNITIES}/{created['id']}", headers=headers)
    assert got.json()["amount"] is None
    bare = await client.post(OPPORTUNITIES, json={"name": "No amount yet"}, headers=headers)
    assert bare.status_code == 201 and bare.json()["amount"] is None


async def test_stage_must_be_known_and_not_null(service_client):
    client = await service_client("opportunity")
    _, headers = rep()
    created = (await client.post(OPPORTUNITIES, json=new_opportunity(), headers=headers)).json()
    unknown = await client.patch(f"{OPPORTUNITIES}/{created['id']}", json={"stage": "closing"}, headers=headers)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["loc"] == ["body", "stage"]
    null = await client.patch(f"{OPPORTUNITIES}/{created['id']}", json={"stage": None}, headers=headers)
    assert null.status_code == 422
    assert null.json()["errors"][0]["loc"] == ["body", "stage"]


async def test_money_errors_name_the_field(service_client):
    client = await service_client("opportunity")
    _, headers = rep()
    cases = [
        ({"amount": "abc", "currency": "CNY"}, ["body", "amount", "amount"]),
        ({"amount": "-5.00", "currency": "CNY"}, ["body", "amount", "amount"]),
        ({"amount": "1.005", "currency": "CNY"}, ["body", "amount", "amount"]),
        ({"amount": 12.5, "currency": "CNY"}, ["body", "amount", "amount"]),
        ({"amount": "12.50", "currency": "yuan"}, ["body", "amount", "currency"]),
        ({"amount": "12.50"}, ["body", "amount", "currency"]),
    ]
    for money, loc in cases:
        response = await client.post(OPPORTUNITIES, json=new_opportunity(amount=money), headers=headers)
        assert response.status_code == 422, money
        assert response.headers["content-type"] == "application/problem+json"
        assert [e["loc"] for e in response.json()["errors"]] == [loc], money


async def test_unknown_field_and_bad_probability_are_named(service_client):
    client = await service_client("opportunity")
    _, headers = rep()
    extra = await client.post(OPPORTUNITIES, json=new_opportunity(colour="red"), headers=headers)
    assert extra.status_code == 422 and extra.json()["errors"][0]["loc"] == ["body", "colour"]
    probability = await client.post(OPPORTUNITIES, json=new_opportunity(win_probability="1.5"), headers=headers)
    assert probability.status_code == 422 and probability.json()["errors"][0]["loc"] == ["body", "win_probability"]


async def test_duplicate_external_id_conflicts(service_client):
    client = await service_client("opportunity")
    _, headers = rep()
    assert (
        await client.post(OPPORTUNITIES, json=new_opportunity(external_id="x-1"), headers=headers)
    ).status_code == 201
    again = await client.post(OPPORTUNITIES, json=new_opportunity(external_id="x-1"), headers=headers)
    assert again.status_code == 409
    assert again.json()["errors"][0]["loc"] == ["body", "external_id"]


async def test_filters(service_client):
    client = await service_client("opportunity")
    me, headers = rep()
    account = str(uuid.uuid4())

    async def make(**extra: object) -> str:
        response = await client.post(OPPORTUNITIES, json=new_opportunity(**extra), headers=headers)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    async def made_for_me(**extra: object) -> str:
        # Created at a stage past lead: the gates apply, so a manager forces them for the rep.
        body = new_opportunity(owner_id=str(me), org_unit_path="/group/east/team-1", **FORCED, **extra)
        response = await client.post(OPPORTUNITIES, json=body, headers=MANAGER)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    march = await made_for_me(account_id=account, expected_close_date="2026-03-15", stage="proposal")
    april = await made_for_me(expected_close_date="2026-04-20", stage="qualified")
    may = await make(account_id=account, expected_close_date="2026-05-02")
    unassigned = (
        await client.post(
            OPPORTUNITIES, json=new_opportunity(owner_id=None, org_unit_path="/group/east/team-1"), headers=ADMIN
        )
    ).json()["id"]

    async def ids(**params: object) -> list[str]:
        response = await client.get(OPPORTUNITIES, params=params, headers=ADMIN)
        assert response.status_code == 200, response.text
        return [o["id"] for o in response.json()["items"]]

    assert await ids(account_id=account) == [march, may]
    assert await ids(stage="proposal") == [march]
    assert await ids(stage=["proposal", "qualified"]) == [march, april]
    assert await ids(owner_id=str(me)) == [march, april, may]
    assert await ids(unassigned="true") == [unassigned]
    assert await ids(close_from="2026-04-01") == [april, may]
    assert await ids(close_from="2026-03-01", close_to="2026-04-30") == [march, april]
    assert await ids(org_unit="/group/east") == [march, april, may, unassigned]
    assert await ids(org_unit="/group/west") == []
    backwards = await client.get(
        OPPORTUNITIES, params={"close_from": "2026-05-01", "close_to": "2026-04-01"}, headers=ADMIN
    )
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["loc"] == ["query", "close_to"]
    bad_stage = await client.get(OPPORTUNITIES, params={"stage": "closing"}, headers=ADMIN)
    assert bad_stage.status_code == 422 and bad_stage.json()["errors"][0]["loc"][:2] == ["query", "stage"]


async def test_pagination_walks_every_page_once(service_client):
    client = await service_client("opportunity")
    _, headers = rep()
    made = []
    for i in range(5):
        made.append(
            (await client.post(OPPORTUNITIES, json=new_opportunity(name=f"Deal {i}"), headers=headers)).json()["id"]
        )
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(OPPORTUNITIES, params=params, headers=headers)).json()
        seen += [o["id"] for o in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == made
    assert pages == 3
    foreign = await client.get(OPPORTUNITIES, params={"cursor": "not-a-cursor"}, headers=headers)
    assert foreign.status_code == 400


async def test_visibility_follows_owner_and_org_tree(service_client):
    client = await service_client("opportunity")
    _, rep_a = rep("/group/east/team-1")
    _, rep_b = rep("/group/east/team-1")
    mine = (await client.post(OPPORTUNITIES, json=new_opportunity(), headers=rep_b)).json()
    url = f"{OPPORTUNITIES}/{mine['id']}"

    other_rep = await client.get(url, headers=rep_a)
    assert other_rep.status_code == 404
    assert other_rep.headers["content-type"] == "application/problem+json"
    assert (await client.patch(url, json={"name": "Mine now"}, headers=rep_a)).status_code == 404
    assert (await client.get(OPPORTUNITIES, headers=rep_a)).json()["items"] == []

    above = auth(org_unit="/group/east", roles=("manager",))
    assert (await client.get(url, headers=above)).status_code == 200
    assert [o["id"] for o in (await client.get(OPPORTUNITIES, headers=above)).json()["items"]] == [mine["id"]]
    # `/group/eastern` shares a string prefix with `/group/east` but is not above it.
    for sibling in ("/group/east/team-2", "/group/eastern"):
        manager = auth(org_unit=sibling, roles=("manager",))
        assert (await client.get(url, headers=manager)).status_code == 404


async def test_rep_cannot_create_for_someone_else(service_client):
    client = await service_client("opportunity")
    _, headers = rep()
    someone = await client.post(OPPORTUNITIES, json=new_opportunity(owner_id=str(uuid.uuid4())), headers=headers)
    assert someone.status_code == 403
    assert someone.json()["errors"][0]["loc"] == ["body", "owner_id"]
    nobody = await client.post(OPPORTUNITIES, json=new_opportunity(owner_id=None), headers=headers)
    assert nobody.status_code == 403
    elsewhere = await client.post(OPPORTUNITIES, json=new_opportunity(org_unit_path="/group/west"), headers=headers)
    assert elsewhere.status_code == 403
    assert elsewhere.json()["errors"][0]["loc"] == ["body", "org_unit_path"]
    assert (await client.get(OPPORTUNITIES, headers=ADMIN)).json()["items"] == []


async def test_rep_cannot_hand_over_their_opportunity(service_client):
    client = await service_client("opportunity")
    _, headers = rep()
    created = (await client.post(OPPORTUNITIES, json=new_opportunity(), headers=headers)).json()
    response = await client.patch(
        f"{OPPORTUNITIES}/{created['id']}", json={"owner_id": str(uuid.uuid4())}, headers=headers
    )
    assert response.status_code == 403
    assert (await client.get(f"{OPPORTUNITIES}/{created['id']}", headers=headers)).json()["owner_id"] == created[
        "owner_id"
    ]


async def test_manager_creates_for_reps_inside_their_units_only(service_client):
    client = await service_client("opportunity")
    manager = auth(org_unit="/group/east", roles=("manager",))
    owner = uuid.uuid4()
    inside = await client.post(
        OPPORTUNITIES, json=new_opportunity(owner_id=str(owner), org_unit_path="/group/east/team-2"), headers=manager
    )
    assert inside.status_code == 201, inside.text
    assert inside.json()["owner_id"] == str(owner)
    owner_token = auth(employee=owner, org_unit="/group/east/team-2", roles=("rep",))
    assert (await client.get(f"{OPPORTUNITIES}/{inside.json()['id']}", headers=owner_token)).status_code == 200

    outside = await client.post(
        OPPORTUNITIES, json=new_opportunity(owner_id=str(owner), org_unit_path="/group/west/team-1"), headers=manager
    )
    assert outside.status_code == 403
    assert outside.json()["errors"][0]["loc"] == ["body", "org_unit_path"]
    moved = await client.patch(
        f"{OPPORTUNITIES}/{inside.json()['id']}", json={"org_unit_path": "/group/west"}, headers=manager
    )
    assert moved.status_code == 403


async def test_idempotent_create_replays(service_client):
    client = await service_client("opportunity")
    _, headers = rep()
    keyed = {**headers, "Idempotency-Key": "opp-create-1"}
    first = await client.post(OPPORTUNITIES, json=new_opportunity(), headers=keyed)
    second = await client.post(OPPORTUNITIES, json=new_opportunity(), headers=keyed)
    assert first.status_code == second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert len((await client.get(OPPORTUNITIES, headers=headers)).json()["items"]) == 1


async def test_unauthenticated_is_401(service_client):
    client = await service_client("opportunity")
    response = await client.get(OPPORTUNITIES)
    assert response.status_code == 401


async def test_assigned_at_follows_every_change_of_hands_and_lists_newly_assigned_first(service_client):
    import datetime as dt

    from tests.services.opportunity.helpers import ADMIN as GROUP_ADMIN
    from tests.services.opportunity.helpers import OPPORTUNITIES as PATH
    from tests.services.opportunity.helpers import new_opportunity as body_of
    from tests.services.opportunity.helpers import rep as new_rep

    client = await service_client("opportunity")
    me, headers = new_rep()
    first = (await client.post(PATH, json=body_of(name="Mine from the start"), headers=headers)).json()
    assert first["owner_id"] == str(me) and first["assigned_at"] is not None
    pool = (
        await client.post(
            PATH,
            json=body_of(name="From the pool", owner_id=None, org_unit_path="/group/east/team-1"),
            headers=GROUP_ADMIN,
        )
    ).json()
    assert pool["assigned_at"] is None
    renamed = await client.patch(f"{PATH}/{first['id']}", json={"name": "Renamed"}, headers=headers)
    assert renamed.json()["assigned_at"] == first["assigned_at"]  # no change of hands
    given = await client.patch(f"{PATH}/{pool['id']}", json={"owner_id": str(me)}, headers=GROUP_ADMIN)
    assert given.status_code == 200, given.text
    assert given.json()["assigned_at"] > first["assigned_at"]

    newest = (await client.get(PATH, params={"owner_id": str(me), "sort": "-assigned_at"}, headers=headers)).json()[
        "items"
    ]
    assert [o["name"] for o in newest] == ["From the pool", "Renamed"]
    since = dt.datetime.fromisoformat(given.json()["assigned_at"])
    recent = (
        await client.get(PATH, params={"owner_id": str(me), "assigned_since": since.isoformat()}, headers=headers)
    ).json()
    assert [o["id"] for o in recent["items"]] == [pool["id"]]
    back = await client.patch(f"{PATH}/{pool['id']}", json={"owner_id": None}, headers=GROUP_ADMIN)
    assert back.json()["assigned_at"] is None
