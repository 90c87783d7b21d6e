"""`sanlun import` of the whole sample set into a fresh database, through the real
running system: counts against the files, an import killed midway and re-run,
and a further run that changes nothing."""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import gateway
from sanlun.importer.client import ApiClient
from sanlun.importer.diff import canonical
from sanlun.importer.engine import Importer
from sanlun.importer.mapping import load_mapping
from sanlun.importer.progress import Silent
from sanlun.kernel.auth import mint_token
from sanlun.kernel.migrations import upgrade
from sanlun.topology import SERVICES
from tests.e2e.system import (
    RunningSystem,
    free_base_port,
    sanlun_env,
    start_sanlun_up,
    stop,
    wait_until_up,
)
from tests.importer.test_plan import MAVEN
from tests.support import (
    TEST_SECRET,
    admin_url_for_tests,
    create_database,
    drop_database,
    with_database,
)

pytestmark = pytest.mark.e2e
TOKEN = mint_token(TEST_SECRET, subject="sanlun-import", org_unit_path="/", roles=["group_admin"], ttl_seconds=3600)


def rows(name: str) -> list[dict[str, str]]:
    with (MAVEN / name).open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def fresh_database() -> Iterator[str]:
    """Its own database: the counts below are of this import alone."""
    admin = admin_url_for_tests()
    name = f"sanlun_import_{uuid.uuid4().hex[:8]}"
    asyncio.run(create_database(admin, name))
    url = with_database(admin, name)
    for spec in SERVICES:
        upgrade(spec.migrations_dir, spec.schema, url)
    gateway_migrations = Path(gateway.__file__).resolve().parent / "migrations"
    if gateway_migrations.is_dir():  # the gateway's own schema (API keys, rate limits)
        upgrade(gateway_migrations, "gateway", url)
    try:
        yield url
    finally:
        asyncio.run(drop_database(admin, name))


@pytest.fixture(scope="module")
def system(fresh_database: str) -> Iterator[RunningSystem]:
    running = start_sanlun_up(fresh_database, free_base_port(19000))
    try:
        wait_until_up(running)
        yield running
    finally:
        stop(running)


def run_import(gateway: str):
    with ApiClient(gateway, TOKEN) as client:
        return Importer(
            mapping=load_mapping("maven-crm"), data_dir=MAVEN, client=client, progress=Silent(), target=gateway
        ).run()


def kill_midway(gateway: str, env: dict[str, str]) -> int:
    """Start `python -m sanlun.importer` and SIGKILL it once some opportunity batches are in."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sanlun.importer", "--url", gateway, "--batch-size", "250"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    done = 0
    for line in process.stderr:
        if line.startswith("opportunities: ") and "/" in line:
            done = int(line.split()[1].split("/")[0])
            if done >= 2000:
                break
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    process.stderr.close()
    return done


def stored_opportunities(gateway: str) -> dict[str, dict]:
    with ApiClient(gateway, TOKEN) as client:
        return {o["external_id"]: o for o in client.get_all("/api/v1/opportunities") if o["external_id"]}


def test_killed_import_resumes_to_the_full_sample_set_and_a_rerun_changes_nothing(system: RunningSystem) -> None:
    gateway = system.url("gateway")
    pipeline, teams, accounts, products = (
        rows(n) for n in ("sales_pipeline.csv", "sales_teams.csv", "accounts.csv", "products.csv")
    )

    done_before_kill = kill_midway(gateway, {**sanlun_env("unused"), "SANLUN_JWT_SECRET": TEST_SECRET})
    partial = stored_opportunities(gateway)
    assert 0 < len(partial) < len(pipeline), "the kill must land midway through the opportunities"
    assert len(partial) >= done_before_kill - 250  # the batches it reported are stored

    resumed = run_import(gateway)
    c = resumed.counts()
    people = len({t["sales_agent"] for t in teams} | {t["manager"] for t in teams})
    assert c["opportunities"] == {
        "created": len(pipeline) - len(partial),
        "updated": 0,
        "unchanged": len(partial),
        "rejected": 0,
    }
    assert c["employees"]["rejected"] == 0 and sum(c["employees"].values()) == people
    assert c["accounts"]["unchanged"] + c["accounts"]["created"] == len(accounts)
    assert c["solutions"]["unchanged"] + c["solutions"]["created"] == len(products)
    # every row of every file is accounted for
    assert resumed.complete()
    assert resumed.row_accounting()["opportunities"] == {"read": 8800, "stored": 8800, "rejected": 0}
    closed = sum(p["deal_stage"] in ("Won", "Lost") for p in pipeline)
    assert resumed.facts["inserted"] + resumed.facts["duplicates"] == len(pipeline) + closed

    # the end state is the file, whatever the interruption
    stored = stored_opportunities(gateway)
    assert len(stored) == len(pipeline)
    stages = Counter(o["stage"] for o in stored.values())
    file_stages = Counter(p["deal_stage"] for p in pipeline)
    assert stages == {
        "won": file_stages["Won"],
        "lost": file_stages["Lost"],
        "qualified": file_stages["Engaging"],
        "lead": file_stages["Prospecting"],
    }
    assert sum(o["account_id"] is None for o in stored.values()) == sum(not p["account"] for p in pipeline)
    by_id = {p["opportunity_id"]: p for p in pipeline}
    won = [o for o in stored.values() if o["stage"] == "won"]
    assert all(
        canonical(o["amount"]) == canonical({"amount": by_id[o["external_id"][6:]]["close_value"], "currency": "USD"})
        and o["closed_on"] == by_id[o["external_id"][6:]]["close_date"]
        for o in won
    )
    assert all(o["owner_id"] and o["solution_ids"] for o in stored.values())

    # a further run changes nothing and writes nothing
    again = run_import(gateway)
    assert again.changed() == 0
    assert {e: n["unchanged"] for e, n in again.counts().items()} == {
        "org_units": 11,
        "employees": people,
        "accounts": len(accounts),
        "solutions": len(products),
        "opportunities": len(pipeline),
    }
    assert again.facts["duplicates"] == len(pipeline) + closed
    after = stored_opportunities(gateway)
    assert {k: (o["version"], o["updated_at"]) for k, o in after.items()} == {
        k: (o["version"], o["updated_at"]) for k, o in stored.items()
    }
