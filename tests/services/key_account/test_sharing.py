"""Implicit sharing: the owner and team of an opportunity read its account and
the account's contacts, kept from opportunity events and from a resync."""

import datetime as dt
import uuid

import jwt
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sanlun.kernel.clock import Clock
from sanlun.kernel.event_routes import mint_service_token
from tests.services.key_account.helpers import ADMIN, EAST_MANAGER, new_account, new_contact, new_member, rep
from tests.support import TEST_SERVICE_SECRET, auth
from tests.support_servers import UvicornThread, closed_url, free_port

SERVICE = {"Authorization": f"Bearer {mint_service_token(TEST_SERVICE_SECRET, 'opportunity')}"}
OPS = auth(org_unit="/group", roles=("ops",))


async def deliver(client, kind: str, opportunity: str, version: int, **data: object) -> dict:
    event = {
        "id": str(uuid.uuid4()),
        "type": f"opportunity.{kind}",
        "source": "opportunity",
        "subject": opportunity,
        "time": "2026-12-01T00:00:00Z",
        "data": {"opportunity_id": opportunity, "version": version, "stage": "lead", **data},
    }
    response = await client.post("/internal/events", json=event, headers=SERVICE)
    assert response.status_code == 200, response.text
    result = response.json()["results"][0]
    assert result["status"] == "processed", result
    return event


async def sees(client, headers: dict[str, str], account_id: str) -> bool:
    response = await client.get(f"/api/v1/accounts/{account_id}", headers=headers)
    assert response.status_code in (200, 404), response.text
    return response.status_code == 200


def team(*members: uuid.UUID, role: str = "presales") -> list[dict[str, str]]:
    return [{"employee_id": str(m), "role": role} for m in members]


async def setup(service_client):
    client = await service_client("key_account", clock=Clock())
    account = await new_account(client, name="Harbour Logistics", org_unit_path="/group/north/team-9")
    return client, account


async def test_a_deal_owner_reads_the_account_and_its_contacts_not_another_reps(service_client):
    client, account = await setup(service_client)
    other = await new_account(client, name="Other Co", org_unit_path="/group/north/team-9")
    contact = await new_contact(client, account["id"], name="Chen Wei")
    alice, bob = uuid.uuid4(), uuid.uuid4()
    opportunity = str(uuid.uuid4())
    await deliver(
        client,
        "created",
        opportunity,
        1,
        owner_id=str(alice),
        account_id=account["id"],
        org_unit_path="/group/east/team-1",
    )

    got = await client.get(f"/api/v1/accounts/{account['id']}", headers=rep(alice))
    assert got.status_code == 200, got.text
    assert got.json()["access"] == "deal"
    listed = (await client.get("/api/v1/accounts", headers=rep(alice))).json()["items"]
    assert [(a["id"], a["access"]) for a in listed] == [(account["id"], "deal")]
    found = (await client.get("/api/v1/accounts?name_prefix=harb", headers=rep(alice))).json()["items"]
    assert [a["id"] for a in found] == [account["id"]]

    contacts = await client.get(f"/api/v1/accounts/{account['id']}/contacts", headers=rep(alice))
    assert contacts.status_code == 200 and [c["id"] for c in contacts.json()["items"]] == [contact["id"]]
    one = await client.get(f"/api/v1/accounts/{account['id']}/contacts/{contact['id']}", headers=rep(alice))
    assert one.status_code == 200
    assert (await client.get(f"/api/v1/accounts/{account['id']}/relationship-map", headers=rep(alice))).is_success
    assert (await client.get(f"/api/v1/accounts/{account['id']}/coverage", headers=rep(alice))).is_success

    # Not hers: 404 as before; not bob's at all.
    assert not await sees(client, rep(alice), other["id"])
    assert not await sees(client, rep(bob), account["id"])
    hidden = await client.get(f"/api/v1/accounts/{account['id']}/contacts", headers=rep(bob))
    assert hidden.status_code == 404
    assert (await client.get("/api/v1/accounts", headers=rep(bob))).json()["items"] == []


async def test_sharing_is_read_only(service_client):
    client, account = await setup(service_client)
    contact = await new_contact(client, account["id"])
    alice = uuid.uuid4()
    await deliver(client, "created", str(uuid.uuid4()), 1, owner_id=str(alice), account_id=account["id"])
    base = f"/api/v1/accounts/{account['id']}"
    refused = [
        await client.patch(base, json={"employees": 10}, headers=rep(alice)),
        await client.post(f"{base}/contacts", json={"name": "New Person"}, headers=rep(alice)),
        await client.patch(f"{base}/contacts/{contact['id']}", json={"title": "CIO"}, headers=rep(alice)),
        await client.post(
            f"{base}/coverage/members",
            json={"employee_id": str(alice), "org_unit_path": "/group/east/team-1", "role": "account_owner"},
            headers=rep(alice),
        ),
        await client.post(
            "/api/v1/account-plans",
            json={"account_id": account["id"], "period": "2026", "starts_on": "2026-01-01", "ends_on": "2026-12-31"},
            headers=rep(alice),
        ),
    ]
    for response in refused:
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "deal_access_read_only"
    # Plans are the account team's: not shared.
    assert (await client.get(f"/api/v1/account-plans?account_id={account['id']}", headers=rep(alice))).json()[
        "items"
    ] == []
    # A stranger still learns nothing from a write.
    stranger = await client.patch(base, json={"employees": 10}, headers=rep(uuid.uuid4()))
    assert stranger.status_code == 404
    # Coverage gives back what sharing does not: the change goes through.
    await new_member(client, account["id"], "overlay", employee=alice)
    changed = await client.patch(base, json={"employees": 10}, headers=rep(alice))
    assert changed.status_code == 200, changed.text
    assert (await client.get(base, headers=rep(alice))).json()["access"] == "coverage"


async def test_reassignment_moves_access_and_team_changes_add_and_remove(service_client):
    client, account = await setup(service_client)
    alice, bob, carol, dan = (uuid.uuid4() for _ in range(4))
    opportunity = str(uuid.uuid4())
    common = {"account_id": account["id"], "org_unit_path": "/group/east/team-1"}
    await deliver(client, "created", opportunity, 1, owner_id=str(alice), team=team(carol), **common)
    assert await sees(client, rep(alice), account["id"]) and await sees(client, rep(carol), account["id"])

    await deliver(client, "assigned", opportunity, 2, owner_id=str(bob), previous_owner_id=str(alice), **common)
    assert not await sees(client, rep(alice), account["id"])
    assert await sees(client, rep(bob), account["id"])
    assert await sees(client, rep(carol), account["id"]), "an event without `team` keeps the known team"

    await deliver(client, "team_changed", opportunity, 3, owner_id=str(bob), team=team(dan), **common)
    assert not await sees(client, rep(carol), account["id"])
    assert await sees(client, rep(dan), account["id"])

    await deliver(client, "team_changed", opportunity, 4, owner_id=str(bob), team=[], **common)
    assert not await sees(client, rep(dan), account["id"])
    assert await sees(client, rep(bob), account["id"])

    # The deal moves to another account: the shares follow it.
    moved = await new_account(client, name="Moved Co", org_unit_path="/group/north/team-9")
    await deliver(client, "updated", opportunity, 5, owner_id=str(bob), account_id=moved["id"])
    assert not await sees(client, rep(bob), account["id"])
    assert await sees(client, rep(bob), moved["id"])

    await deliver(client, "deleted", opportunity, 6, owner_id=str(bob), account_id=moved["id"])
    assert not await sees(client, rep(bob), moved["id"])
    # A late event cannot bring a deleted deal back.
    await deliver(client, "stage_changed", opportunity, 7, owner_id=str(bob), account_id=moved["id"])
    assert not await sees(client, rep(bob), moved["id"])


async def test_older_versions_are_ignored_and_duplicates_change_nothing(service_client, connection):
    client, account = await setup(service_client)
    alice, bob = uuid.uuid4(), uuid.uuid4()
    opportunity = str(uuid.uuid4())
    await deliver(client, "assigned", opportunity, 5, owner_id=str(bob), account_id=account["id"], team=team(bob))
    # An older fact arriving late (a replayed parked event) changes nothing.
    await deliver(client, "created", opportunity, 2, owner_id=str(alice), account_id=account["id"], team=team(alice))
    assert not await sees(client, rep(alice), account["id"])
    assert await sees(client, rep(bob), account["id"])

    # The same event twice: the inbox answers `duplicate`; the same facts again (same version) are harmless.
    event = await deliver(client, "stage_changed", opportunity, 6, owner_id=str(bob), account_id=account["id"])
    again = await client.post("/internal/events", json=event, headers=SERVICE)
    assert again.json()["results"][0]["status"] == "duplicate"
    await deliver(client, "won", opportunity, 6, owner_id=str(bob), account_id=account["id"], stage="won")

    rows = (
        await connection.execute(
            sa.text(
                "SELECT employee_id, source, role FROM key_account.account_shares "
                "WHERE opportunity_id = :o ORDER BY source"
            ),
            {"o": opportunity},
        )
    ).all()
    assert [(r.employee_id, r.source, r.role) for r in rows] == [(bob, "owner", None), (bob, "team", "presales")]


async def test_managers_above_the_deal_read_its_account_read_only(service_client):
    client, account = await setup(service_client)
    alice = uuid.uuid4()
    await deliver(
        client,
        "created",
        str(uuid.uuid4()),
        1,
        owner_id=str(alice),
        account_id=account["id"],
        org_unit_path="/group/east/team-1",
    )
    got = await client.get(f"/api/v1/accounts/{account['id']}", headers=EAST_MANAGER)
    assert got.status_code == 200 and got.json()["access"] == "deal"
    west = auth(org_unit="/group/west", roles=("manager",))
    assert not await sees(client, west, account["id"])
    another_admin = auth(org_unit="/group", roles=("group_admin",))
    assert (await client.get(f"/api/v1/accounts/{account['id']}", headers=another_admin)).json()["access"] == "org"
    assert (await client.get(f"/api/v1/accounts/{account['id']}", headers=ADMIN)).json()["access"] == "owner"
    # A manager who reads the account only through a deal may not change it either.
    refused = await client.patch(f"/api/v1/accounts/{account['id']}", json={"employees": 1}, headers=EAST_MANAGER)
    assert refused.status_code == 403


async def test_coverage_violations_suggest_the_deal_owners(service_client):
    client, account = await setup(service_client)
    await client.put(
        f"/api/v1/accounts/{account['id']}/tier-override", json={"tier": "key", "reason": "test"}, headers=ADMIN
    )
    alice, bob, carol = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for owner, stage in ((alice, "won"), (alice, "proposal"), (alice, "lost"), (bob, "lead"), (carol, "lead")):
        await deliver(
            client, "created", str(uuid.uuid4()), 1, owner_id=str(owner), account_id=account["id"], stage=stage
        )
    await new_member(client, account["id"], "overlay", employee=carol)  # already covering: no suggestion

    page = (await client.get("/api/v1/accounts/coverage-violations", headers=ADMIN)).json()["items"]
    (item,) = [i for i in page if i["account_id"] == account["id"]]
    assert item["suggested_members"] == [
        {"employee_id": str(alice), "deals": 3, "open_deals": 1},
        {"employee_id": str(bob), "deals": 1, "open_deals": 1},
    ]


async def test_coverage_as_of_is_bounded(service_client):
    client, account = await setup(service_client)
    for bad in ("0001-01-01", "9999-12-31"):
        response = await client.get(f"/api/v1/accounts/{account['id']}/coverage?as_of={bad}", headers=ADMIN)
        assert response.status_code == 422, response.text
    fine = await client.get(f"/api/v1/accounts/{account['id']}/coverage?as_of=2017-03-01", headers=ADMIN)
    assert fine.status_code == 200 and fine.json()["as_of"] == "2017-03-01"


async def test_business_today_comes_from_the_clock(service_client):
    clock = Clock()
    client = await service_client("key_account", clock=clock)
    account = await new_account(client, org_unit_path="/group/east/team-1")
    clock.set(dt.datetime(2017, 3, 1, 12, tzinfo=dt.UTC))
    member = await new_member(client, account["id"], "overlay")
    assert member["valid_from"] == "2017-03-01"
    coverage = (await client.get(f"/api/v1/accounts/{account['id']}/coverage", headers=ADMIN)).json()
    assert coverage["as_of"] == "2017-03-01" and [m["id"] for m in coverage["members"]] == [member["id"]]


# -- resync --------------------------------------------------------------------


class FakeOpportunityService:
    """The opportunity service's participants listing, paged by `after`, service tokens only."""

    def __init__(self, items: list[dict]) -> None:
        self.items = sorted(items, key=lambda i: i["opportunity_id"])
        self.calls: list[dict] = []
        self.app = Starlette(routes=[Route("/internal/opportunities/participants", self.participants)])

    async def participants(self, request: Request) -> JSONResponse:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        claims = jwt.decode(token, TEST_SERVICE_SECRET, algorithms=["HS256"])
        assert "service" in claims["roles"]
        after, limit = request.query_params.get("after"), int(request.query_params["limit"])
        self.calls.append({"after": after, "limit": limit})
        rest = [i for i in self.items if after is None or i["opportunity_id"] > after]
        page = rest[:limit]
        next_after = page[-1]["opportunity_id"] if len(rest) > limit else None
        return JSONResponse({"items": page, "next_after": next_after})


@pytest.fixture
async def opportunity_fake():
    fake = FakeOpportunityService([])
    server = UvicornThread(fake.app, free_port())
    await server.start()
    yield fake, server.url
    await server.stop()


def participant(opportunity: str, account: str, owner: uuid.UUID | None, *team_ids: uuid.UUID, version: int = 1):
    return {
        "opportunity_id": opportunity,
        "account_id": account,
        "owner_id": str(owner) if owner else None,
        "team_ids": [str(t) for t in team_ids],
        "version": version,
    }


async def test_resync_rebuilds_the_shares_from_the_participants(service_client, opportunity_fake):
    fake, url = opportunity_fake
    client = await service_client("key_account", clock=Clock(), opportunity_url=url)
    account = await new_account(client, org_unit_path="/group/north/team-9")
    alice, bob, carol, stale_owner = (uuid.uuid4() for _ in range(4))
    kept, newer, gone = (str(uuid.uuid4()) for _ in range(3))
    # What events brought before: one deal the listing still has at an older version,
    # one it no longer lists.
    await deliver(client, "created", newer, 9, owner_id=str(carol), account_id=account["id"])
    await deliver(client, "created", gone, 1, owner_id=str(stale_owner), account_id=account["id"])
    fake.items = sorted(
        [
            participant(kept, account["id"], alice, bob),
            participant(newer, account["id"], alice, version=3),  # older than the event: carol stays
            *(participant(str(uuid.uuid4()), account["id"], None) for _ in range(3)),
        ],
        key=lambda i: i["opportunity_id"],
    )

    assert (await client.post("/ops/account-shares/resync", headers=rep(alice))).status_code == 403
    done = await client.post("/ops/account-shares/resync?page_size=2", headers=OPS)
    assert done.status_code == 200, done.text
    report = done.json()
    assert report == {"pages": 3, "listed": 5, "applied": 4, "removed": 1, "opportunities": 5, "shares": 3}
    assert [c["after"] for c in fake.calls] == [None, fake.items[1]["opportunity_id"], fake.items[3]["opportunity_id"]]
    assert await sees(client, rep(alice), account["id"]) and await sees(client, rep(bob), account["id"])
    assert await sees(client, rep(carol), account["id"])
    assert not await sees(client, rep(stale_owner), account["id"])

    # Running it again changes nothing.
    fake.calls.clear()
    again = (await client.post("/ops/account-shares/resync?page_size=2", headers=OPS)).json()
    assert again == {**report, "removed": 0}


async def test_resync_fails_cleanly_when_the_opportunity_service_is_down(service_client):
    client = await service_client("key_account", clock=Clock(), opportunity_url=closed_url())
    response = await client.post("/ops/account-shares/resync", headers=OPS)
    assert response.status_code == 502, response.text
    assert response.json()["service"] == "opportunity"


async def test_coverage_visibility_follows_the_business_clock(service_client):
    clock = Clock()
    client = await service_client("key_account", clock=clock)
    account = await new_account(client, org_unit_path="/group/north/team-9")
    alice = uuid.uuid4()
    clock.advance(dt.timedelta(days=60))
    await new_member(client, account["id"], "overlay", employee=alice)  # valid from business today, 60 days ahead
    got = await client.get(f"/api/v1/accounts/{account['id']}", headers=rep(alice))
    assert got.status_code == 200 and got.json()["access"] == "coverage"
    clock.advance(dt.timedelta(days=-61))
    assert not await sees(client, rep(alice), account["id"])


async def test_the_opportunity_services_own_events_drive_sharing(service_client, connection):
    """The payloads the opportunity service really publishes (read from its
    outbox, as the dispatcher would send them) keep the shares."""
    opportunities = await service_client("opportunity", clock=Clock())
    client, account = await setup(service_client)
    alice, bob, carol = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    created = await opportunities.post(
        "/api/v1/opportunities",
        json={
            "name": "Cold chain",
            "account_id": account["id"],
            "owner_id": str(alice),
            "org_unit_path": "/group/east/team-1",
            "team": [{"employee_id": str(carol), "role": "presales"}],
        },
        headers=ADMIN,
    )
    assert created.status_code == 201, created.text
    deal = created.json()
    changed = await opportunities.patch(
        f"/api/v1/opportunities/{deal['id']}",
        json={"owner_id": str(bob), "team": []},
        headers={**ADMIN, "If-Match": created.headers["etag"]},
    )
    assert changed.status_code == 200, changed.text

    rows = (
        await connection.execute(
            sa.text(
                "SELECT event_id, type, source, subject, time, data FROM opportunity.outbox "
                "WHERE subscriber = 'key_account' AND subject = :s ORDER BY id"
            ),
            {"s": deal["id"]},
        )
    ).all()
    assert {r.type for r in rows} >= {"opportunity.created", "opportunity.assigned", "opportunity.team_changed"}
    first, rest = rows[0], rows[1:]

    async def send(row) -> None:
        event = {
            "id": str(row.event_id),
            "type": row.type,
            "source": row.source,
            "subject": row.subject,
            "time": row.time.isoformat(),
            "data": row.data,
        }
        response = await client.post("/internal/events", json=event, headers=SERVICE)
        assert response.json()["results"][0]["status"] == "processed", response.text

    await send(first)
    assert await sees(client, rep(alice), account["id"]) and await sees(client, rep(carol), account["id"])
    for row in rest:
        await send(row)
    assert not await sees(client, rep(alice), account["id"])
    assert not await sees(client, rep(carol), account["id"])
    assert await sees(client, rep(bob), account["id"])


# -- a run of events in one delivery ends where the same events one at a time end ---


def event_of(kind: str, opportunity: str, version: int, **data: object) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "type": f"opportunity.{kind}",
        "source": "opportunity",
        "subject": opportunity,
        "time": "2026-12-01T00:00:00Z",
        "data": {"opportunity_id": opportunity, "version": version, **data},
    }


async def post_events(client, events: list[dict]) -> list[str]:
    response = await client.post("/internal/events", json=events, headers=SERVICE)
    assert response.status_code == 200, response.text
    return [r["status"] for r in response.json()["results"]]


async def state(connection, opportunity: str) -> tuple[tuple, list[tuple]]:
    facts = (
        await connection.execute(
            sa.text(
                "SELECT account_id, owner_id, org_unit_path, stage, version, deleted "
                "FROM key_account.shared_opportunities WHERE opportunity_id = :o"
            ),
            {"o": opportunity},
        )
    ).one_or_none()
    shares = await connection.execute(
        sa.text(
            "SELECT employee_id, source, role, account_id, since FROM key_account.account_shares "
            "WHERE opportunity_id = :o ORDER BY source, employee_id"
        ),
        {"o": opportunity},
    )
    return (tuple(facts) if facts else ()), [tuple(r) for r in shares]


async def batch_and_one_by_one(client, connection, prelude, events) -> tuple[tuple, list[tuple]]:
    """`prelude` then `events` ((kind, version, data) each) for two new
    opportunities: the prelude one at a time for both, then `events` in one
    delivery for the first and one at a time for the second. Both end in the
    same state, which is returned."""
    batched, alone = str(uuid.uuid4()), str(uuid.uuid4())
    for kind, version, data in prelude:
        for opportunity in (batched, alone):
            assert await post_events(client, [event_of(kind, opportunity, version, **data)]) == ["processed"]
    run = [event_of(kind, batched, version, **data) for kind, version, data in events]
    statuses = await post_events(client, run)
    assert statuses == ["processed"] * len(run)
    for kind, version, data in events:
        assert await post_events(client, [event_of(kind, alone, version, **data)]) == ["processed"]
    got = await state(connection, batched)
    assert got == await state(connection, alone)
    return got


async def test_a_run_of_events_in_one_delivery_ends_as_one_at_a_time(service_client, connection):
    """Created, reassigned (an event without `team`: the team stays as the
    first event set it), the team changed, moved to another account and
    deleted, all in one delivery: the state after each step, and at the end,
    is the state the same events leave one at a time."""
    client, account = await setup(service_client)
    moved = await new_account(client, name="Moved Co", org_unit_path="/group/north/team-9")
    alice, bob, carol, dan = (str(uuid.uuid4()) for _ in range(4))
    common = {"account_id": account["id"], "org_unit_path": "/group/east/team-1", "stage": "lead"}
    steps = [
        ("created", 1, {**common, "owner_id": alice, "team": team(uuid.UUID(carol))}),
        ("assigned", 2, {**common, "owner_id": bob, "previous_owner_id": alice}),
        ("team_changed", 3, {**common, "owner_id": bob, "team": team(uuid.UUID(dan), role="architect")}),
        ("updated", 4, {**common, "owner_id": bob, "account_id": moved["id"], "stage": None}),
        ("deleted", 5, {**common, "owner_id": bob, "account_id": moved["id"]}),
    ]
    for n in range(2, len(steps) + 1):
        facts, shares = await batch_and_one_by_one(client, connection, [], steps[:n])
        assert facts[4] == n  # the version of the last step
    # Before the deletion: bob owns it on the moved account, dan is on the team, carol and alice are off it.
    facts, shares = await batch_and_one_by_one(client, connection, [], steps[:4])
    assert facts[:4] == (uuid.UUID(moved["id"]), uuid.UUID(bob), "/group/east/team-1", "lead")
    assert [s[:4] for s in shares] == [
        (uuid.UUID(bob), "owner", None, uuid.UUID(moved["id"])),
        (uuid.UUID(dan), "team", "architect", uuid.UUID(moved["id"])),
    ]
    # Deleted: a tombstone without shares; what follows the deletion in the same run changes nothing.
    late = ("stage_changed", 6, {**common, "owner_id": bob})
    facts, shares = await batch_and_one_by_one(client, connection, [], [*steps, late])
    assert facts == (None, None, "/group/east/team-1", "lead", 5, True)
    assert shares == []


async def test_a_run_tolerates_old_repeated_and_partial_facts(service_client, connection):
    """Out of order and repeated in one delivery: an older fact after a newer
    one changes nothing, the same version again is applied again, a fact
    without `org_unit_path`/`stage`/`team` keeps what an earlier one of the
    run gave, a member who left and came back starts anew (their role too),
    and so does an owner who handed the deal over and got it back."""
    client, account = await setup(service_client)
    alice, bob, carol = (uuid.uuid4() for _ in range(3))
    acc = account["id"]
    prelude = [("created", 1, {"owner_id": str(alice), "account_id": acc, "team": team(carol, role="presales")})]
    events = [
        ("assigned", 5, {"owner_id": str(bob), "account_id": acc, "team": team(bob), "stage": "proposal"}),
        ("created", 2, {"owner_id": str(alice), "account_id": acc, "team": team(alice), "stage": "lead"}),
        ("stage_changed", 6, {"owner_id": str(bob), "account_id": acc, "org_unit_path": "/group/east/team-2"}),
        ("stage_changed", 6, {"owner_id": str(bob), "account_id": acc, "org_unit_path": "/group/east/team-2"}),
        ("team_changed", 7, {"owner_id": str(alice), "account_id": acc, "team": [{"employee_id": str(carol)}]}),
        ("assigned", 8, {"owner_id": str(bob), "account_id": acc}),
        ("assigned", 4, {"owner_id": str(carol), "account_id": acc, "team": []}),
    ]
    facts, shares = await batch_and_one_by_one(client, connection, prelude, events)
    assert facts == (uuid.UUID(acc), bob, "/group/east/team-2", "proposal", 8, False)
    # carol left (version 5) and came back without a role: a new share, no role.
    assert [s[:3] for s in shares] == [(bob, "owner", None), (carol, "team", None)]

    # Without a team in the last fact, the run's earlier team holds; a role given keeps a member's share.
    events = [
        ("team_changed", 2, {"owner_id": str(alice), "account_id": acc, "team": team(carol, role="architect")}),
        ("stage_changed", 3, {"owner_id": str(alice), "account_id": acc, "stage": "won"}),
    ]
    facts, shares = await batch_and_one_by_one(client, connection, prelude, events)
    assert [s[:3] for s in shares] == [(alice, "owner", None), (carol, "team", "architect")]

    # A run entirely older than what is stored changes nothing; a repeated event id is a duplicate.
    opportunity = str(uuid.uuid4())
    await post_events(client, [event_of("created", opportunity, 9, owner_id=str(bob), account_id=acc)])
    before = await state(connection, opportunity)
    stale = event_of("assigned", opportunity, 3, owner_id=str(alice), account_id=acc)
    assert await post_events(client, [stale, stale]) == ["processed", "duplicate"]
    assert await state(connection, opportunity) == before
