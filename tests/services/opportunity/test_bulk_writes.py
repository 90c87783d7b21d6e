"""Bulk upsert writes set-based (issue 17): one statement per batch for the deals,
their history, teams and events, with the row-by-row contract unchanged."""

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from services.opportunity.opportunities import repository
from tests.services.opportunity.helpers import ADMIN, OPPORTUNITIES, outbox
from tests.support import auth

pytestmark = pytest.mark.usefixtures("any_id_exists")

UNIT = "/group/east/team-1"
BULK = f"{OPPORTUNITIES}:bulk-upsert"


def row(key: str, **extra: object) -> dict:
    return {
        "external_id": key,
        "name": f"Deal {key}",
        "org_unit_path": UNIT,
        "owner_id": OWNER,
        "amount": {"amount": "100.50", "currency": "CNY"},
        "industry": "banking",
        **extra,
    }


OWNER, OTHER, HELPER = (str(uuid.uuid4()) for _ in range(3))


async def history(connection, deal: str) -> list[tuple]:
    rows = await connection.execute(
        sa.text(
            "SELECT from_stage, to_stage, reason, forced FROM opportunity.opportunity_stage_history"
            " WHERE opportunity_id = :d ORDER BY id"
        ),
        {"d": deal},
    )
    return [tuple(r) for r in rows]


async def test_created_updated_and_unchanged_rows_write_history_teams_versions_and_events_per_changed_row(
    service_client, connection
):
    client = await service_client("opportunity")
    team = [{"employee_id": HELPER, "role": "presales"}]
    first = (
        await client.post(
            BULK,
            json={
                "items": [
                    row("w-1", team=team),
                    row("w-2", stage="won", closed_on="2026-05-01"),
                    row("w-3", owner_id=None),
                    row("w-4"),
                ]
            },
            headers=ADMIN,
        )
    ).json()
    assert first["created"] == 4, first
    ids = {r["external_id"]: r["id"] for r in first["results"]}
    deal = (await client.get(f"{OPPORTUNITIES}/{ids['w-1']}", headers=ADMIN)).json()
    assert deal["version"] == 1 and deal["team"] == team and deal["assigned_at"] is not None
    assert (await client.get(f"{OPPORTUNITIES}/{ids['w-3']}", headers=ADMIN)).json()["assigned_at"] is None
    assert await history(connection, ids["w-2"]) == [(None, "won", "import", False)]
    (created,) = await outbox(connection, ids["w-1"])
    assert created[0] == "opportunity.created" and created[1]["team"] == team and created[1]["version"] == 1

    second = (
        await client.post(
            BULK,
            json={
                "items": [
                    row("w-1", stage="qualified", team=team),  # a stage move
                    row("w-2", stage="won", closed_on="2026-05-01"),  # as stored: unchanged
                    row("w-3", owner_id=OTHER),  # assigned
                    row("w-4", team=[{"employee_id": HELPER, "role": "delivery"}]),  # the team alone
                ]
            },
            headers=ADMIN,
        )
    ).json()
    assert [r["status"] for r in second["results"]] == ["updated", "unchanged", "updated", "updated"]
    versions = {k: (await client.get(f"{OPPORTUNITIES}/{i}", headers=ADMIN)).json()["version"] for k, i in ids.items()}
    assert versions == {"w-1": 2, "w-2": 1, "w-3": 2, "w-4": 2}
    assert await history(connection, ids["w-1"]) == [
        (None, "lead", "import", False),
        ("lead", "qualified", "import", False),
    ]
    assert [k for k, _ in await outbox(connection, ids["w-1"])] == ["opportunity.created", "opportunity.stage_changed"]
    assert [k for k, _ in await outbox(connection, ids["w-2"])] == ["opportunity.created"]  # nothing since
    kind, data = (await outbox(connection, ids["w-3"]))[-1]
    assert kind == "opportunity.assigned" and data["owner_id"] == OTHER and data["previous_owner_id"] is None
    assert data["version"] == 2
    assert (await client.get(f"{OPPORTUNITIES}/{ids['w-3']}", headers=ADMIN)).json()["assigned_at"] is not None
    kind, data = (await outbox(connection, ids["w-4"]))[-1]
    assert kind == "opportunity.team_changed" and data["previous_team"] == [] and data["version"] == 2


async def test_a_closed_deal_moved_by_history_rows_leaves_and_reenters_the_outcome_rollup(service_client, connection):
    client = await service_client("opportunity")
    solution = (
        await client.post(
            "/api/v1/solutions",
            json={"name": f"Ledger {uuid.uuid4().hex[:6]}", "list_price": {"amount": "1.00", "currency": "CNY"}},
            headers=ADMIN,
        )
    ).json()["id"]
    won = row("o-1", stage="won", closed_on="2026-05-01", solution_ids=[solution])
    await client.post(BULK, json={"items": [won]}, headers=ADMIN)

    async def rollup() -> tuple:
        r = await connection.execute(
            sa.text("SELECT wins, losses FROM opportunity.solution_outcomes WHERE solution_id = :s"), {"s": solution}
        )
        return tuple(r.one())

    assert await rollup() == (1, 0)
    await client.post(BULK, json={"items": [{**won, "stage": "lost"}]}, headers=ADMIN)
    assert await rollup() == (0, 1)
    await client.post(BULK, json={"items": [{**won, "stage": "lost", "name": "renamed"}]}, headers=ADMIN)
    assert await rollup() == (0, 1)


async def test_an_update_of_a_row_changed_since_it_was_read_is_refused(service_client):
    client = await service_client("opportunity")
    made = (await client.post(BULK, json={"items": [row("s-1")]}, headers=ADMIN)).json()["results"][0]["id"]
    database = client._transport.app.state.db  # type: ignore[attr-defined]
    async with database.transaction() as session:
        stored = (await repository.by_external_ids(session, ["s-1"]))["s-1"]
        assert str(stored.id) == made and stored.version == 1
        values = list(stored)
        values[repository.BULK_COLUMNS.index("version")] = 7  # not the stored version
        with pytest.raises(StaleDataError):
            await repository.update_many(session, [values])


async def test_accounts_are_checked_in_one_batch_read_or_one_read_each_from_an_older_key_account_service(
    service_client, directory
):
    directory.open_world = False
    seen, hidden = directory.account(), directory.account(unit="/group/west/team-9", owner=str(uuid.uuid4()))
    directory.employees[uuid.UUID(OWNER)] = UNIT
    client = await service_client("opportunity")
    org_admin = auth(org_unit="/group/east", roles=("org_admin",))
    for older in (False, True):
        directory.without_account_batch, directory.calls[:] = older, []
        items = [row(f"a-{older}-{i}", account_id=account) for i, account in enumerate((seen, hidden, seen))]
        report = (await client.post(BULK, json={"items": items}, headers=org_admin)).json()
        assert [r["status"] for r in report["results"]] == ["created", "failed", "created"], report
        assert report["results"][1]["errors"][0]["code"] == "unknown_reference"
        account_calls = sorted(path for _, path in directory.calls if "/accounts" in path)
        each = sorted(f"/api/v1/accounts/{a}" for a in (seen, hidden)) if older else []
        assert account_calls == sorted(["/api/v1/accounts:batch-get", *each])
