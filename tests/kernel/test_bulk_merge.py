"""Re-imports on every bulk endpoint (issue 18, `sanlun.kernel.baselines`): with
a `source`, a field the CRM changed since that source's last import is kept, a
field only the source changed is applied, one both changed is reported; a dry
run writes no baseline."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.kernel.test_bulk import ADMIN, ENDPOINTS, Endpoint, _client, _key

SOURCE = "legacy-crm"


async def _name(connection, e: Endpoint, key: str) -> str:
    stmt = sa.text(f"SELECT name FROM {e.table} WHERE external_id = :k")
    return (await connection.execute(stmt, {"k": key})).scalar_one()


async def _rename_in_the_crm(connection, e: Endpoint, key: str, name: str) -> None:
    stmt = sa.text(f"UPDATE {e.table} SET name = :n, version = version + 1 WHERE external_id = :k")
    await connection.execute(stmt, {"k": key, "n": name})


async def _baseline(connection, e: Endpoint, key: str) -> dict | None:
    schema = e.table.split(".")[0]
    stmt = sa.text(f"SELECT values FROM {schema}.import_baselines WHERE source = :s AND external_id = :k")
    return (await connection.execute(stmt, {"s": SOURCE, "k": key})).scalar_one_or_none()


async def _import(client, e: Endpoint, rows: list[dict], **request: object) -> dict:
    response = await client.post(e.path, json={"items": rows, "source": SOURCE, **request}, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("e", ENDPOINTS, ids=lambda e: e.path.rsplit("/", 1)[1])
async def test_a_reimport_keeps_crm_changes_applies_source_changes_and_reports_both(
    service_client, connection, e: Endpoint
):
    client = await _client(service_client, e)
    kept, applied = _key("kept"), _key("applied")
    first = await _import(client, e, [e.good(kept, "Imported"), e.good(applied, "Imported too")])
    assert first["created"] == 2 and first["conflicts"] == 0, first
    assert (await _baseline(connection, e, kept))["name"] == "Imported"
    await _rename_in_the_crm(connection, e, kept, "In the CRM")

    same = await _import(client, e, [e.good(kept, "Imported"), e.good(applied, "From the file")])
    assert [r["status"] for r in same["results"]] == ["unchanged", "updated"] and same["conflicts"] == 0, same
    assert await _name(connection, e, kept) == "In the CRM"
    assert await _name(connection, e, applied) == "From the file"

    both = await _import(client, e, [e.good(kept, "Renamed in the file")])
    (result,) = both["results"]
    assert result["status"] == "unchanged" and both["conflicts"] == 1, both
    assert [(w["loc"], w["code"]) for w in result["warnings"]] == [(["body", "items", 0, "name"], "import_conflict")]
    assert '(CRM: "In the CRM", file: "Renamed in the file")' in result["warnings"][0]["msg"]
    # The two values whole, for a client to show or compare (the message cuts long ones).
    assert result["warnings"][0]["conflict"] == {"crm": "In the CRM", "file": "Renamed in the file"}
    assert await _name(connection, e, kept) == "In the CRM"
    assert (await _baseline(connection, e, kept))["name"] == "Renamed in the file"

    dry = _key("dry")
    report = await _import(client, e, [e.good(dry, "Dry"), e.good(applied, "Dry too")], dry_run=True)
    assert [r["status"] for r in report["results"]] == ["created", "updated"]
    assert await _baseline(connection, e, dry) is None
    assert (await _baseline(connection, e, applied))["name"] == "From the file"


@pytest.mark.parametrize("e", ENDPOINTS, ids=lambda e: e.path.rsplit("/", 1)[1])
async def test_a_stored_record_without_a_baseline_keeps_what_differs(service_client, connection, e: Endpoint):
    client = await _client(service_client, e)
    key = _key("plain")
    plain = await client.post(e.path, json={"items": [e.good(key, "Typed in the CRM")]}, headers=ADMIN)
    assert plain.json()["conflicts"] == 0
    merged = await _import(client, e, [e.good(key, "From the file")])
    assert merged["conflicts"] == 1 and merged["results"][0]["status"] == "unchanged", merged
    assert merged["results"][0]["warnings"][0]["msg"].startswith("differs in the CRM and no earlier import")
    assert await _name(connection, e, key) == "Typed in the CRM"
