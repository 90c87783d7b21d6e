"""`sanlun import` as a user runs it, through the real processes on a database
of this module's own: a dry run into the empty system and one after an import
write nothing (rows counted in every schema), a re-import after work done in
the CRM reverts none of it and reports the fields both sides changed, the
errors file round trip, and every exit code with one line on stderr and no
traceback.

One system for the module, the steps in order in one fixture (each import
builds on the one before); the tests read what the steps left."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from sanlun.importer.client import ApiClient
from tests.e2e.system import RunningSystem, free_base_port, sanlun_command, start_sanlun_up, stop, wait_until_up
from tests.e2e.test_import_demo import TOKEN, cli_env
from tests.importer.test_plan import MAVEN

pytestmark = pytest.mark.e2e
DEALS = 300  # of the sample's pipeline: enough for every stage, quick to import
OTHERS = ("sales_teams.csv", "accounts.csv", "products.csv")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*sanlun_command(), "import", "--quiet", *args],
        env=cli_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> None:
    columns = columns or list(rows[0])
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)


def data_set(folder: Path, deals: list[dict[str, str]]) -> Path:
    """The sample's teams, accounts and products, and these pipeline rows."""
    folder.mkdir(parents=True)
    for name in OTHERS:
        shutil.copyfile(MAVEN / name, folder / name)
    write_csv(folder / "sales_pipeline.csv", deals, list(read_csv(MAVEN / "sales_pipeline.csv")[0]))
    return folder


# The gateway's rate limiter keeps a bucket per caller: traffic, not data.
NOT_DATA = frozenset({"gateway.rate_limit_buckets"})


def row_counts(database_url: str) -> dict[str, int]:
    """Rows of every table of every schema of the database (but `NOT_DATA`)."""

    async def count() -> dict[str, int]:
        conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            tables = await conn.fetch(
                "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
                "AND table_schema NOT IN ('pg_catalog', 'information_schema')"
            )
            return {
                f"{t['table_schema']}.{t['table_name']}": await conn.fetchval(
                    f'SELECT count(*) FROM "{t["table_schema"]}"."{t["table_name"]}"'
                )
                for t in tables
                if f"{t['table_schema']}.{t['table_name']}" not in NOT_DATA
            }
        finally:
            await conn.close()

    return asyncio.run(count())


def settled_counts(database_url: str) -> dict[str, int]:
    """The counts once event delivery of earlier writes has stopped changing them."""
    before = row_counts(database_url)
    for _ in range(60):
        asyncio.run(asyncio.sleep(1))
        now = row_counts(database_url)
        if now == before:
            return now
        before = now
    raise AssertionError("the row counts did not settle")


def stored(gateway: str, path: str = "/api/v1/opportunities") -> dict[str, dict[str, Any]]:
    with ApiClient(gateway, TOKEN) as client:
        return {o["external_id"]: o for o in client.get_all(path) if o.get("external_id")}


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Runs:
    """What each step of the module's story did."""

    gateway: str
    deals: list[dict[str, str]]
    dry_empty: subprocess.CompletedProcess[str] | None = None
    dry_empty_report: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    first: subprocess.CompletedProcess[str] | None = None
    assigned: dict[str, str] = field(default_factory=dict)  # external id -> owner id given in the CRM
    lost: str = ""
    conflicted: tuple[str, str, str] = ("", "", "")  # external id, CRM amount, file amount
    file_only: tuple[str, str] = ("", "")  # external id, new file amount
    second: subprocess.CompletedProcess[str] | None = None
    second_report: dict[str, Any] = field(default_factory=dict)
    after_second: dict[str, dict[str, Any]] = field(default_factory=dict)
    dry_again: subprocess.CompletedProcess[str] | None = None
    dry_again_report: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def system(fresh_database_url: str) -> Iterator[tuple[RunningSystem, str]]:
    running = start_sanlun_up(fresh_database_url, free_base_port(23000))
    try:
        wait_until_up(running)
        yield running, fresh_database_url
    finally:
        stop(running)


@pytest.fixture(scope="module")
def runs(system: tuple[RunningSystem, str], tmp_path_factory: pytest.TempPathFactory) -> Runs:
    running, database = system
    gateway = running.url("gateway")
    tmp = tmp_path_factory.mktemp("rerun")
    deals = read_csv(MAVEN / "sales_pipeline.csv")[:DEALS]
    first_set = data_set(tmp / "first", deals)
    out = Runs(gateway, deals)
    base = ["--url", gateway, "--data"]

    # 1. a dry run into the empty system
    out.counts["empty"] = settled_counts(database)
    out.dry_empty = cli(*base, str(first_set), "--dry-run", "--report-json", str(tmp / "dry-empty.json"))
    out.counts["after dry run into the empty system"] = row_counts(database)
    out.dry_empty_report = json.loads((tmp / "dry-empty.json").read_text())

    # 2. the import, leaving the Prospecting deals to the assignment node
    out.first = cli(*base, str(first_set), "--leave-unassigned", "Prospecting")
    assert out.first.returncode == 0, out.first.stderr + out.first.stdout[-3000:]

    # 3. work in the CRM: leads assigned, a qualified deal closed as lost, a won deal's amount corrected
    deals_now = stored(gateway)
    people = [e for e in stored(gateway, "/api/v1/employees").values() if e["capacity"]]
    with ApiClient(gateway, TOKEN) as api:
        leads = [o for o in deals_now.values() if o["stage"] == "lead" and o["owner_id"] is None][:5]
        for i, lead in enumerate(leads):
            owner = people[i % len(people)]
            api.call("PATCH", f"/api/v1/opportunities/{lead['id']}", json_body={"owner_id": owner["id"]})
            out.assigned[lead["external_id"]] = owner["id"]
        qualified = next(o for o in deals_now.values() if o["stage"] == "qualified")
        api.call(
            "POST",
            f"/api/v1/opportunities/{qualified['id']}/stage",
            json_body={"stage": "lost", "closed_on": dt.date.today().isoformat()},
        )
        out.lost = qualified["external_id"]
        won = [o for o in deals_now.values() if o["stage"] == "won"]
        api.call(
            "PATCH",
            f"/api/v1/opportunities/{won[0]['id']}",
            json_body={"amount": {"amount": "12345.00", "currency": "USD"}},
        )

    # 4. the source changed that won deal's value too, and another one's
    edited = [dict(d) for d in deals]
    by_key = {f"maven:{d['opportunity_id']}": d for d in edited}
    by_key[won[0]["external_id"]]["close_value"] = "999"
    out.conflicted = (won[0]["external_id"], "12345.00", "999.00")
    by_key[won[1]["external_id"]]["close_value"] = "777"
    out.file_only = (won[1]["external_id"], "777.00")
    second_set = data_set(tmp / "second", edited)
    out.second = cli(
        *base, str(second_set), "--leave-unassigned", "Prospecting", "--report-json", str(tmp / "second.json")
    )
    out.second_report = json.loads((tmp / "second.json").read_text())
    out.after_second = stored(gateway)

    # 5. a dry run of a file with new and changed rows, into the system as it now is
    more = [*edited, *read_csv(MAVEN / "sales_pipeline.csv")[DEALS : DEALS + 20]]
    more[2] = {**more[2], "close_value": "1"} if more[2]["deal_stage"] == "Won" else more[2]
    third_set = data_set(tmp / "third", more)
    out.counts["before the second dry run"] = settled_counts(database)
    out.dry_again = cli(
        *base, str(third_set), "--leave-unassigned", "Prospecting", "--dry-run", "--report-json", str(tmp / "d2.json")
    )
    out.counts["after the second dry run"] = row_counts(database)
    out.dry_again_report = json.loads((tmp / "d2.json").read_text())
    return out


def test_a_dry_run_writes_nothing_anywhere_and_says_what_would_happen(runs: Runs) -> None:
    assert runs.dry_empty is not None and runs.dry_again is not None
    assert runs.dry_empty.returncode == 0, runs.dry_empty.stderr + runs.dry_empty.stdout[-3000:]
    assert runs.counts["after dry run into the empty system"] == runs.counts["empty"]
    assert "DRY RUN: nothing was written" in runs.dry_empty.stdout
    counts = runs.dry_empty_report["counts"]
    assert runs.dry_empty_report["dry_run"] is True
    assert counts["opportunities"]["created"] == DEALS and counts["opportunities"]["rejected"] == 0
    assert counts["org_units"]["created"] == 11 and counts["solutions"]["created"] == 7
    assert runs.dry_empty_report["facts"]["sent"] == 0

    assert runs.dry_again.returncode == 0, runs.dry_again.stderr + runs.dry_again.stdout[-3000:]
    assert runs.counts["after the second dry run"] == runs.counts["before the second dry run"]
    again = runs.dry_again_report["counts"]
    assert again["opportunities"]["created"] == 20 and again["opportunities"]["rejected"] == 0
    assert again["employees"]["created"] == again["accounts"]["created"] == 0


def test_a_reimport_after_crm_work_reverts_nothing_and_reports_both_sides_changes(runs: Runs) -> None:
    assert runs.second is not None
    assert runs.second.returncode == 0, runs.second.stderr + runs.second.stdout[-3000:]
    after = runs.after_second
    # the leads assigned in the CRM keep their owners; the deal lost in the CRM stays lost
    assert {k: after[k]["owner_id"] for k in runs.assigned} == runs.assigned
    assert after[runs.lost]["stage"] == "lost"
    # changed on both sides: the CRM's value kept, reported with both values
    key, crm, file = runs.conflicted
    assert after[key]["amount"]["amount"] == crm
    (conflict,) = runs.second_report["conflicts"]
    assert (conflict["entity"], conflict["key"], conflict["field"]) == ("opportunities", key, "amount")
    assert (conflict["crm"]["amount"], conflict["file"]["amount"]) == (crm, file)
    assert conflict["source"]["file"] == "sales_pipeline.csv"
    assert "Conflicts: 1" in runs.second.stdout and f"{key}  amount: CRM" in runs.second.stdout
    # changed in the file only: applied
    key, amount = runs.file_only
    assert after[key]["amount"]["amount"] == amount
    counts = runs.second_report["counts"]
    assert counts["opportunities"]["updated"] == 1 and counts["opportunities"]["rejected"] == 0
    assert {e: c["created"] + c["updated"] for e, c in counts.items() if e != "opportunities"} == dict.fromkeys(
        ("org_units", "employees", "accounts", "solutions"), 0
    )


def test_the_errors_file_round_trip(runs: Runs, tmp_path: Path) -> None:
    """Bad rows rejected with why (the plan's and the server's), written with their columns and a
    reason; fixed, that file alone in place of the pipeline imports with exit 0."""
    template = runs.deals[0]
    bad = [
        {**template, "opportunity_id": "BAD00001", "deal_stage": "Bogus"},
        {**template, "opportunity_id": "BAD00002", "deal_stage": "Someday"},
        {**template, "opportunity_id": "BAD00003", "account": "Nobody Ltd"},
        {**template, "opportunity_id": "BAD00004-" + "x" * 240},  # too long a key: the server refuses it
    ]
    data = data_set(tmp_path / "bad", [*runs.deals[:50], *bad])
    errors = tmp_path / "errors.csv"
    first = cli("--url", runs.gateway, "--data", str(data), "--errors", str(errors))
    assert first.returncode == 1, first.stderr + first.stdout[-3000:]
    assert first.stderr.strip().startswith("error: 4 of ") and first.stderr.strip().endswith(" rows rejected")
    assert "Traceback" not in first.stderr
    rejected = read_csv(errors)
    assert [r["opportunity_id"][:8] for r in rejected] == ["BAD00001", "BAD00002", "BAD00003", "BAD00004"]
    assert all(r["reason"] for r in rejected)
    assert list(rejected[0]) == [*list(template), "reason"]

    tolerated = cli("--url", runs.gateway, "--data", str(data), "--max-rejected", "4")
    assert tolerated.returncode == 0, tolerated.stderr

    fixed = [
        {**r, "deal_stage": "Engaging", "account": template["account"], "opportunity_id": r["opportunity_id"][:8]}
        for r in rejected
    ]
    write_csv(errors, fixed)
    again = data_set(tmp_path / "fixed", [])
    shutil.copyfile(errors, again / "sales_pipeline.csv")
    done = cli("--url", runs.gateway, "--data", str(again), "--report-json", str(tmp_path / "fixed.json"))
    assert done.returncode == 0, done.stderr + done.stdout[-3000:]
    counts = json.loads((tmp_path / "fixed.json").read_text())["counts"]["opportunities"]
    assert (counts["created"], counts["rejected"]) == (4, 0)


def _fails(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr + result.stdout[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert all(w in lines[0] for w in words), lines[0]


def test_a_run_that_cannot_be_done_exits_2_with_one_line(runs: Runs, tmp_path: Path) -> None:
    sample = data_set(tmp_path / "ok", runs.deals[:20])
    _fails(cli("--url", f"http://127.0.0.1:{unused_port()}", "--data", str(sample)), "cannot reach")
    _fails(cli("--url", runs.gateway, "--data", str(sample), "--token", "not-a-token"), "refused the token")
    _fails(cli("--url", runs.gateway, "--data", str(sample), "--mapping", str(tmp_path / "none.yaml")))
    _fails(cli("--url", runs.gateway, "--data", str(tmp_path / "no-such-folder")))

    empty = tmp_path / "empty"
    empty.mkdir()
    for name in (*OTHERS, "sales_pipeline.csv"):
        (empty / name).write_text((MAVEN / name).read_text().splitlines()[0] + "\n")
    _fails(cli("--url", runs.gateway, "--data", str(empty)), "no rows")

    # every row readable, every row rejected (no price is a number)
    products = tmp_path / "products"
    products.mkdir()
    header, *lines = (MAVEN / "products.csv").read_text().splitlines()
    (products / "products.csv").write_text("\n".join([header, *(line + "x" for line in lines)]) + "\n")
    mapping = tmp_path / "products.yaml"
    mapping.write_text(
        "name: products-only\ncurrency: USD\nsolutions:\n  file: products.csv\n  fields:\n"
        '    name: "{product}"\n    list_price: {template: "{sales_price}", type: money}\n'
    )
    _fails(cli("--url", runs.gateway, "--data", str(products), "--mapping", str(mapping)), "all 7 rows", "rejected")
