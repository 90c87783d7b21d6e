"""`sanlun import --shift-dates-to today` of the whole sample set into a fresh
database, through the real running system: every date moves by one offset so
the data ends yesterday, a re-run moves nothing, and `sanlun demo` on top of it
speaks in stages and money a sales manager reads."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from pathlib import Path

import pytest

from sanlun.importer.client import ApiClient
from tests.e2e.system import RunningSystem, sanlun_command, sanlun_env
from tests.e2e.test_import_demo import TOKEN, fresh_database, rows, stored_opportunities, system  # noqa: F401
from tests.support import TEST_SECRET

pytestmark = pytest.mark.e2e
STAGE_CODES = ("L1_SUBSISTENCE", "L2_COMFORTABLE", "L3_AFFLUENT")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**sanlun_env("unused"), "SANLUN_JWT_SECRET": TEST_SECRET}
    return subprocess.run([*sanlun_command(), *args], env=env, capture_output=True, text=True, check=False, timeout=600)


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def test_shifted_import_ends_yesterday_keeps_every_distance_and_a_rerun_moves_nothing(
    system: RunningSystem,  # noqa: F811 (the module fixture of test_import_demo: its own fresh database)
    tmp_path: Path,
) -> None:
    gateway = system.url("gateway")
    pipeline, teams = rows("sales_pipeline.csv"), rows("sales_teams.csv")
    file_last = max(day(d) for p in pipeline for d in (p["engage_date"], p["close_date"]) if d)

    today = dt.datetime.now(dt.UTC).date()
    first = cli(
        "import", "--url", gateway, "--quiet", "--shift-dates-to", "today", "--report-json", str(tmp_path / "1")
    )
    assert first.returncode == 0, first.stderr + first.stdout[-3000:]
    shift = json.loads((tmp_path / "1").read_text())["date_shift"]
    yesterday = today - dt.timedelta(days=1)
    days = (yesterday - file_last).days
    assert shift["source"] == "computed"
    assert (shift["data_last"], shift["shifted_last"], shift["days"]) == (str(file_last), str(yesterday), days)
    assert f"shifted by {days} days: {file_last} -> {yesterday}" in first.stdout

    # every close date moved by the same offset: the last is yesterday's offset, order and distances kept
    stored = stored_opportunities(gateway)
    by_id = {p["opportunity_id"]: p for p in pipeline}
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
    with ApiClient(gateway, TOKEN) as api:
        people = {e["external_id"]: e for e in api.get_all("/api/v1/employees") if e["external_id"]}
        agents = [people[f"person:{name}"] for name in first_engaged]
        assert {(day(a["entered_sales_on"]) - day(first_engaged[a["name"]])).days for a in agents} == {days}
        # the back-filled facts moved too: the last 12 months, as of today, are full of wins
        busiest = max(
            first_engaged, key=lambda n: sum(p["sales_agent"] == n and p["deal_stage"] == "Won" for p in pipeline)
        )
        preview = api.post(
            "/api/v1/employees/stages:evaluate",
            {"employee_ids": [people[f"person:{busiest}"]["id"]], "record": False},
            what="preview",
        )
        assert preview["items"][0]["signals"]["wins_12m"] > 0

    # a week later someone asks for another "today": the offset stored with the records is kept
    later = str(today + dt.timedelta(days=7))
    again = cli("import", "--url", gateway, "--quiet", "--shift-dates-to", later, "--report-json", str(tmp_path / "2"))
    assert again.returncode == 0, again.stderr + again.stdout[-3000:]
    report = json.loads((tmp_path / "2").read_text())
    assert (report["date_shift"]["source"], report["date_shift"]["days"]) == ("stored", days)
    assert "kept from the records already imported" in again.stdout
    assert all(c["created"] == c["updated"] == 0 for c in report["counts"].values())
    assert report["facts"]["inserted"] == 0
    assert {k: o["closed_on"] for k, o in stored_opportunities(gateway).items()} == {
        k: o["closed_on"] for k, o in stored.items()
    }

    # the demo on this system: stages in words, money with separators, who sells and who received deals
    demo = cli("demo", "--url", gateway, "--exit")
    assert demo.returncode == 0, demo.stderr + demo.stdout[-3000:]
    out = demo.stdout
    assert not any(code in out for code in STAGE_CODES), out
    assert "温饱 Subsistence" in out and "小康 Comfortable" in out
    assert re.search(r"USD \d{1,3}(,\d{3})+", out)
    agents_n = len({t["sales_agent"] for t in teams})
    employees_n = len({t["sales_agent"] for t in teams} | {t["manager"] for t in teams})
    assert f"{employees_n} employees in the data set, {agents_n} salespeople" in out
    managers_n = len({t["manager"] for t in teams})
    assert f"{managers_n} are managers who lead a team and carry no deals (capacity 0)" in out
    without = len({t["sales_agent"] for t in teams} - {p["sales_agent"] for p in pipeline})
    if without:
        assert f"{without} of the {agents_n} salespeople own no deal in the data" in out
    assert re.search(r"\d+ of the \d+ salespeople in the pool receive deals, \d+ to \d+ each \(median [\d.]+\)", out)
    assert "now ends yesterday" in out
    assert "wins in similar accounts" in out
