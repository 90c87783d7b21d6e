"""`sanlun import --shift-dates-to today` of the whole sample set into a fresh
database, through the real running system, once for the module: a first run
killed midway and resumed, so the end state is the file with every date moved
by one offset and the data ending yesterday; then a re-run for another day
that moves and writes nothing, and `sanlun demo` on top, speaking in stages
and money a sales manager reads.

One import serves both tests (an import of the sample through the real
processes is the costliest step of the suite): the first only reads, the
second re-runs the import (which must change nothing) before the demo, the
only step that writes (it publishes a policy, records evaluations and leaves
the Prospecting deals to the assignment node)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sanlun.importer.client import ApiClient
from sanlun.importer.diff import canonical
from sanlun.importer.engine import Importer
from sanlun.importer.mapping import load_mapping
from sanlun.importer.progress import Silent
from sanlun.importer.report import Report
from sanlun.kernel.auth import mint_token
from tests.e2e.system import (
    RunningSystem,
    free_base_port,
    sanlun_command,
    sanlun_env,
    start_sanlun_up,
    stop,
    wait_until_up,
)
from tests.importer.test_plan import MAVEN
from tests.support import TEST_SECRET

pytestmark = pytest.mark.e2e
TOKEN = mint_token(TEST_SECRET, subject="sanlun-import", org_unit_path="/", roles=["group_admin"], ttl_seconds=3600)
STAGE_CODES = ("L1_SUBSISTENCE", "L2_COMFORTABLE", "L3_AFFLUENT")


def rows(name: str) -> list[dict[str, str]]:
    with (MAVEN / name).open(newline="") as f:
        return list(csv.DictReader(f))


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def cli_env() -> dict[str, str]:
    return {**sanlun_env("unused"), "SANLUN_JWT_SECRET": TEST_SECRET}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*sanlun_command(), *args], env=cli_env(), capture_output=True, text=True, check=False, timeout=600
    )


def kill_midway(gateway: str, *args: str) -> int:
    """Start `python -m sanlun.importer` and SIGKILL it once some opportunity batches are in."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sanlun.importer", "--url", gateway, "--batch-size", "250", *args],
        env=cli_env(),
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


@dataclass
class Imported:
    """The module's import: what the killed first run left, the resumed run's
    report, and the records as the resume left them."""

    system: RunningSystem
    today: dt.date
    done_before_kill: int
    partial: dict[str, dict]
    resumed: Report
    stored: dict[str, dict]

    @property
    def gateway(self) -> str:
        return self.system.url("gateway")


@pytest.fixture(scope="module")
def imported(fresh_database_url: str) -> Iterator[Imported]:
    """Its own database (the counts below are of this import alone), a first
    `--shift-dates-to today` run killed midway, and the resume."""
    system = start_sanlun_up(fresh_database_url, free_base_port(19000))
    try:
        wait_until_up(system)
        gateway = system.url("gateway")
        today = dt.datetime.now(dt.UTC).date()
        done = kill_midway(gateway, "--shift-dates-to", "today")
        partial = stored_opportunities(gateway)
        with ApiClient(gateway, TOKEN) as client:
            resumed = Importer(
                mapping=load_mapping("maven-crm"),
                data_dir=MAVEN,
                client=client,
                progress=Silent(),
                target=gateway,
                shift_dates_to=today,
            ).run()
        yield Imported(system, today, done, partial, resumed, stored_opportunities(gateway))
    finally:
        stop(system)


def test_a_killed_shifted_import_resumes_to_the_whole_sample_ending_yesterday(imported: Imported) -> None:
    pipeline, teams, accounts, products = (
        rows(n) for n in ("sales_pipeline.csv", "sales_teams.csv", "accounts.csv", "products.csv")
    )
    partial, resumed, stored = imported.partial, imported.resumed, imported.stored
    file_last = max(day(d) for p in pipeline for d in (p["engage_date"], p["close_date"]) if d)
    yesterday = imported.today - dt.timedelta(days=1)
    days = (yesterday - file_last).days
    by_id = {p["opportunity_id"]: p for p in pipeline}

    # the kill landed midway, and the first run had already moved what it stored by today's offset
    assert 0 < len(partial) < len(pipeline), "the kill must land midway through the opportunities"
    assert len(partial) >= imported.done_before_kill - 250  # the batches it reported are stored
    partial_closed = [o for o in partial.values() if o["closed_on"]]
    assert partial_closed
    assert {(day(o["closed_on"]) - day(by_id[o["external_id"][6:]]["close_date"])).days for o in partial_closed} == {
        days
    }

    # the resume kept that offset (read back from the records), whatever day it runs
    shift = resumed.date_shift
    assert shift is not None
    assert (shift.source, shift.last, shift.new_last, shift.days) == ("stored", file_last, yesterday, days)
    assert f"shifted by {days} days: {file_last} -> {yesterday}" in resumed.text()

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
    closed_n = sum(p["deal_stage"] in ("Won", "Lost") for p in pipeline)
    assert resumed.facts["inserted"] + resumed.facts["duplicates"] == len(pipeline) + closed_n

    # the end state is the file, whatever the interruption, with every date moved by the same days
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
    won = [o for o in stored.values() if o["stage"] == "won"]
    assert all(
        canonical(o["amount"]) == canonical({"amount": by_id[o["external_id"][6:]]["close_value"], "currency": "USD"})
        for o in won
    )
    assert all(o["owner_id"] and o["solution_ids"] for o in stored.values())
    closed = {k: o for k, o in stored.items() if o["closed_on"]}
    assert len(closed) == sum(bool(p["close_date"]) for p in pipeline)
    moved = {(day(o["closed_on"]) - day(by_id[k.removeprefix("maven:")]["close_date"])).days for k, o in closed.items()}
    assert moved == {days}
    assert max(day(o["closed_on"]) for o in closed.values()) <= yesterday
    in_file_order = sorted(closed, key=lambda k: (by_id[k.removeprefix("maven:")]["close_date"], k))
    assert in_file_order == sorted(closed, key=lambda k: (closed[k]["closed_on"], k))

    # people's entry into sales (their first engagement) moved by the same days
    first_engaged: dict[str, str] = {}
    for p in pipeline:
        if p["engage_date"] and (
            p["sales_agent"] not in first_engaged or p["engage_date"] < first_engaged[p["sales_agent"]]
        ):
            first_engaged[p["sales_agent"]] = p["engage_date"]
    with ApiClient(imported.gateway, TOKEN) as api:
        staff = {e["external_id"]: e for e in api.get_all("/api/v1/employees") if e["external_id"]}
        agents = [staff[f"person:{name}"] for name in first_engaged]
        assert {(day(a["entered_sales_on"]) - day(first_engaged[a["name"]])).days for a in agents} == {days}
        # the back-filled facts moved too: the last 12 months, as of today, are full of wins
        busiest = max(
            first_engaged, key=lambda n: sum(p["sales_agent"] == n and p["deal_stage"] == "Won" for p in pipeline)
        )
        preview = api.post(
            "/api/v1/employees/stages:evaluate",
            {"employee_ids": [staff[f"person:{busiest}"]["id"]], "record": False},
            what="preview",
        )
        assert preview["items"][0]["signals"]["wins_12m"] > 0


def test_a_rerun_for_another_day_changes_nothing_and_the_demo_speaks_a_managers_words(
    imported: Imported, tmp_path: Path
) -> None:
    gateway = imported.gateway
    pipeline, teams = rows("sales_pipeline.csv"), rows("sales_teams.csv")
    people = len({t["sales_agent"] for t in teams} | {t["manager"] for t in teams})
    days = imported.resumed.date_shift.days  # type: ignore[union-attr]
    before = stored_opportunities(gateway)

    # a week later someone asks for another "today": the offset stored with the records is kept,
    # and nothing is written
    later = str(imported.today + dt.timedelta(days=7))
    again = cli("import", "--url", gateway, "--quiet", "--shift-dates-to", later, "--report-json", str(tmp_path / "2"))
    assert again.returncode == 0, again.stderr + again.stdout[-3000:]
    report = json.loads((tmp_path / "2").read_text())
    assert (report["date_shift"]["source"], report["date_shift"]["days"]) == ("stored", days)
    assert "kept from the records already imported" in again.stdout
    assert {e: (n["created"], n["updated"], n["rejected"]) for e, n in report["counts"].items()} == dict.fromkeys(
        report["counts"], (0, 0, 0)
    )
    assert {e: n["unchanged"] for e, n in report["counts"].items()} == {
        "org_units": 11,
        "employees": people,
        "accounts": len(rows("accounts.csv")),
        "solutions": len(rows("products.csv")),
        "opportunities": len(pipeline),
    }
    closed_n = sum(p["deal_stage"] in ("Won", "Lost") for p in pipeline)
    assert (report["facts"]["inserted"], report["facts"]["duplicates"]) == (0, len(pipeline) + closed_n)
    after = stored_opportunities(gateway)
    assert {k: (o["version"], o["updated_at"], o["closed_on"]) for k, o in after.items()} == {
        k: (o["version"], o["updated_at"], o["closed_on"]) for k, o in before.items()
    }

    # the demo on this system: stages in words, money with separators, who sells and who received deals
    demo = cli("demo", "--url", gateway, "--exit")
    assert demo.returncode == 0, demo.stderr + demo.stdout[-3000:]
    out = demo.stdout
    assert not any(code in out for code in STAGE_CODES), out
    assert "温饱 Subsistence" in out and "小康 Comfortable" in out
    assert re.search(r"USD \d{1,3}(,\d{3})+", out)
    agents_n = len({t["sales_agent"] for t in teams})
    assert f"{people} employees in the data set, {agents_n} salespeople" in out
    managers_n = len({t["manager"] for t in teams})
    assert f"{managers_n} are managers who lead a team and carry no deals (capacity 0)" in out
    without = len({t["sales_agent"] for t in teams} - {p["sales_agent"] for p in pipeline})
    if without:
        assert f"{without} of the {agents_n} salespeople own no deal in the data" in out
    assert re.search(r"\d+ of the \d+ salespeople in the pool receive deals, \d+ to \d+ each \(median [\d.]+\)", out)
    assert "now ends yesterday" in out
    assert "wins in similar accounts" in out
