"""Re-imports merge three ways (issue 18): a bulk upsert with a `source` keeps
what the CRM changed since that source's last import, applies what only the
source changed, and reports fields both changed (`import_conflict`). Closed
deals stay closed unless the request gives a reason and the caller may reopen."""

import uuid

import pytest
import sqlalchemy as sa

from tests.services.opportunity.helpers import ADMIN, MANAGER, OPPORTUNITIES
from tests.services.opportunity.test_assignment_api import DOWN, PROPOSALS, add_person
from tests.services.opportunity.test_bulk_writes import history
from tests.support import auth

pytestmark = pytest.mark.usefixtures("any_id_exists")

BULK = f"{OPPORTUNITIES}:bulk-upsert"
UNIT = "/group/east/team-1"
SOURCE = "maven-crm"
INTEGRATOR = auth(org_unit="/group", roles=("integrator",))


def deal(key: str, **extra: object) -> dict:
    return {
        "external_id": key,
        "name": f"Deal {key}",
        "org_unit_path": UNIT,
        "owner_id": None,
        "amount": {"amount": "100.50", "currency": "CNY"},
        "stage": "qualified",
        "win_probability": "0.3",
        **extra,
    }


async def upsert(client, items: list[dict], headers: dict = ADMIN, **request: object) -> dict:
    r = await client.post(BULK, json={"items": items, **request}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def get(client, deal_id: str) -> dict:
    return (await client.get(f"{OPPORTUNITIES}/{deal_id}", headers=ADMIN)).json()


async def patch(client, deal_id: str, body: dict) -> dict:
    current = await get(client, deal_id)
    r = await client.patch(
        f"{OPPORTUNITIES}/{deal_id}", json=body, headers={**ADMIN, "If-Match": f'"{current["version"]}"'}
    )
    assert r.status_code == 200, r.text
    return r.json()


async def baselines(connection, keys: list[str]) -> dict[str, dict]:
    rows = await connection.execute(
        sa.text(
            "SELECT external_id, values FROM opportunity.import_baselines "
            "WHERE collection = 'opportunities' AND source = :s AND external_id = ANY(:k)"
        ),
        {"s": SOURCE, "k": keys},
    )
    return dict(rows.all())


def conflicts_of(result: dict) -> dict[str, str]:
    return {w["loc"][-1]: w["msg"] for w in result["warnings"] if w.get("code") == "import_conflict"}


async def test_each_field_merges_against_the_last_import_and_the_crm(service_client, connection):
    client = await service_client("opportunity")
    key = f"m-{uuid.uuid4().hex[:6]}"
    first = await upsert(client, [deal(key)], source=SOURCE)
    assert first["created"] == 1 and first["conflicts"] == 0
    deal_id = first["results"][0]["id"]
    assert (await baselines(connection, [key]))[key]["win_probability"] == "0.3000"
    # In the CRM: the name and the industry change; the size band and the probability too.
    await patch(
        client,
        deal_id,
        {"name": "Renamed in the CRM", "industry": "banking", "size_band": "mid", "win_probability": "0.5"},
    )
    second = await upsert(
        client,
        [
            deal(
                key,
                # unchanged in the source: name (the CRM's rename stays)
                amount={"amount": "200.00", "currency": "CNY"},  # only the source changed it: applied
                industry="banking",  # both changed it to the same: nothing to report
                size_band="large",  # both changed it differently: a conflict, the CRM's value stays
                win_probability="0.30",  # the same as the last import, written otherwise
            )
        ],
        source=SOURCE,
    )
    (result,) = second["results"]
    assert result["status"] == "updated" and second["conflicts"] == 1, second
    assert conflicts_of(result) == {
        "size_band": 'changed in the CRM since the last import (CRM: "mid", file: "large"); the CRM value was kept'
    }
    now = await get(client, deal_id)
    assert now["name"] == "Renamed in the CRM" and now["amount"] == {"amount": "200.00", "currency": "CNY"}
    assert now["industry"] == "banking" and now["size_band"] == "mid" and now["win_probability"] == "0.5000"
    # The baseline is the file's row as sent: the next import compares against it.
    assert (await baselines(connection, [key]))[key]["size_band"] == "large"
    third = await upsert(
        client,
        [deal(key, amount={"amount": "200.00", "currency": "CNY"}, industry="banking", size_band="large")],
        source=SOURCE,
    )
    assert third["unchanged"] == 1 and third["conflicts"] == 0, third


async def test_a_record_without_a_baseline_takes_only_what_the_crm_left_empty(service_client):
    client = await service_client("opportunity")
    key = f"n-{uuid.uuid4().hex[:6]}"
    # Created in the CRM (no source: no baseline), with a name and no industry.
    deal_id = (await upsert(client, [deal(key, name="Typed in the CRM")]))["results"][0]["id"]
    merged = await upsert(client, [deal(key, name="From the file", industry="retail")], source=SOURCE)
    (result,) = merged["results"]
    assert result["status"] == "updated" and merged["conflicts"] == 1
    assert conflicts_of(result)["name"].startswith("differs in the CRM and no earlier import from this source")
    now = await get(client, deal_id)
    assert now["name"] == "Typed in the CRM" and now["industry"] == "retail"


async def test_without_a_source_the_last_write_wins(service_client):
    client = await service_client("opportunity")
    key = f"p-{uuid.uuid4().hex[:6]}"
    deal_id = (await upsert(client, [deal(key)], source=SOURCE))["results"][0]["id"]
    await patch(client, deal_id, {"name": "Renamed in the CRM"})
    plain = await upsert(client, [deal(key, size_band="large")])
    assert plain["updated"] == 1 and plain["conflicts"] == 0
    assert (await get(client, deal_id))["name"] == f"Deal {key}"


async def test_a_dry_run_writes_no_baseline_and_a_failed_row_keeps_its_old_one(service_client, connection):
    client = await service_client("opportunity")
    key = f"d-{uuid.uuid4().hex[:6]}"
    await upsert(client, [deal(key)], source=SOURCE, dry_run=True)
    assert await baselines(connection, [key]) == {}
    await upsert(client, [deal(key)], source=SOURCE)
    before = await baselines(connection, [key])
    # A close without its date fails the row: its baseline stays as it was.
    failed = await upsert(client, [deal(key, stage="won", name="Won")], source=SOURCE)
    assert failed["failed"] == 1, failed
    assert await baselines(connection, [key]) == before
    await upsert(client, [deal(key, name="Dry")], source=SOURCE, dry_run=True)
    assert await baselines(connection, [key]) == before


async def test_a_closed_deal_is_reopened_only_with_a_reason_by_a_manager(service_client, connection):
    client = await service_client("opportunity")
    key = f"r-{uuid.uuid4().hex[:6]}"
    closed = deal(key, stage="lost", closed_on="2026-10-01")
    deal_id = (await upsert(client, [closed]))["results"][0]["id"]
    back = deal(key, stage="qualified")
    for headers in (ADMIN, INTEGRATOR, MANAGER):
        refused = await upsert(client, [back], headers=headers)
        assert refused["results"][0]["errors"][0]["code"] == "illegal_stage_transition", refused
    refused = await upsert(client, [back], headers=INTEGRATOR, reopen_reason="Customer came back")
    assert "only a manager or an admin" in refused["results"][0]["errors"][0]["msg"]
    # History roles may still record the outcome as the source system has it now.
    assert (await upsert(client, [{**closed, "stage": "won"}], headers=INTEGRATOR))["updated"] == 1
    reopened = await upsert(client, [back], headers=MANAGER, reopen_reason="Customer came back")
    assert reopened["updated"] == 1, reopened
    assert (await get(client, deal_id))["stage"] == "qualified"
    assert (await history(connection, deal_id))[-1] == ("won", "qualified", "Customer came back", True)


async def test_a_reimport_keeps_assignments_and_a_lost_deal_and_reports_only_double_changes(
    service_client, directory, connection
):
    """The reported bug: a second import un-assigned leads the assignment node had
    assigned and moved a lost deal back to qualified."""
    client = await service_client("opportunity")
    people = [await add_person(client, stage="L2_COMFORTABLE", capacity=3) for _ in range(2)]
    run, elsewhere = uuid.uuid4().hex[:6], str(uuid.uuid4())
    # 300 leads left unassigned, 700 deals of someone outside the pool.
    rows = [
        deal(f"b-{run}-{i:04}", stage="lead" if i < 300 else "qualified", owner_id=None if i < 300 else elsewhere)
        for i in range(1000)
    ]
    first = await upsert(client, rows, source=SOURCE)
    assert first["created"] == 1000, first
    ids = {r["external_id"]: r["id"] for r in first["results"]}
    leads = [ids[r["external_id"]] for r in rows[:4]]

    directory.failing = DOWN  # stages from the assignment node's own view
    proposal = await client.post(
        PROPOSALS, json={"opportunity_ids": leads, "pool": {"employee_ids": people}}, headers=MANAGER
    )
    assert proposal.status_code == 201, proposal.text
    assert (await client.post(f"{PROPOSALS}/{proposal.json()['id']}/commit", headers=MANAGER)).status_code == 200
    owners = {d: (await get(client, d))["owner_id"] for d in leads}
    assert all(owners.values()), owners
    lost_key = rows[500]["external_id"]
    lost = await client.post(
        f"{OPPORTUNITIES}/{ids[lost_key]}/stage",
        json={"stage": "lost", "closed_on": "2026-11-02", "force": True, "reason": "went with a rival"},
        headers=MANAGER,
    )
    assert lost.status_code == 200, lost.text
    events_before = (await connection.execute(sa.text("SELECT count(*) FROM opportunity.outbox"))).scalar_one()

    again = await upsert(client, rows, source=SOURCE)
    assert again["unchanged"] == 1000 and again["conflicts"] == 0, {k: v for k, v in again.items() if k != "results"}
    assert (await connection.execute(sa.text("SELECT count(*) FROM opportunity.outbox"))).scalar_one() == events_before
    assert {d: (await get(client, d))["owner_id"] for d in leads} == owners
    assert (await get(client, ids[lost_key]))["stage"] == "lost"

    # The source changed amounts everywhere, a lead's owner, and the lost deal's stage.
    changed = [{**r, "amount": {"amount": "999.00", "currency": "CNY"}} for r in rows]
    changed[0]["owner_id"] = people[0] if owners[leads[0]] != people[0] else people[1]
    changed[500]["stage"] = "proposal"
    third = await upsert(client, changed, source=SOURCE)
    assert third["updated"] == 1000 and third["conflicts"] == 2, {k: v for k, v in third.items() if k != "results"}
    flagged = {r["external_id"]: conflicts_of(r) for r in third["results"] if conflicts_of(r)}
    assert set(flagged) == {rows[0]["external_id"], lost_key}
    assert set(flagged[rows[0]["external_id"]]) == {"owner_id"} and set(flagged[lost_key]) == {"stage"}
    assert {d: (await get(client, d))["owner_id"] for d in leads} == owners
    kept = await get(client, ids[lost_key])
    assert kept["stage"] == "lost" and kept["amount"]["amount"] == "999.00"
    assert (await get(client, leads[1]))["amount"]["amount"] == "999.00"


async def test_a_deleted_deal_reimported_is_created_fresh_whatever_its_old_baseline_says(service_client, connection):
    """No route deletes a deal (nor any record of a collection that keeps
    baselines); an operator may, in SQL. The merge reads only stored records,
    so the old baseline of a key without one changes nothing: the row creates
    the deal as the file has it, and becomes the new baseline."""
    client = await service_client("opportunity")
    key = f"gone-{uuid.uuid4().hex[:6]}"
    first = await upsert(client, [deal(key)], source=SOURCE)
    old_id = first["results"][0]["id"]
    await patch(client, old_id, {"name": "Renamed in the CRM", "win_probability": "0.9"})
    await connection.execute(sa.text("DELETE FROM opportunity.opportunities WHERE id = :i"), {"i": old_id})

    again = await upsert(client, [deal(key, win_probability="0.4")], source=SOURCE)
    assert again["created"] == 1 and again["conflicts"] == 0, again
    fresh = await get(client, again["results"][0]["id"])
    assert fresh["id"] != old_id and fresh["name"] == f"Deal {key}" and fresh["win_probability"] == "0.4000"
    assert (await baselines(connection, [key]))[key]["win_probability"] == fresh["win_probability"]
