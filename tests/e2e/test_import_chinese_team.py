"""A team with Chinese names imported through the real processes (issue 18): every
agent and manager stored, with distinct e-mails and org units, their deals owned
by them, and a second import changing nothing. (Before, the `slug` filter made
every Chinese name `x`: e-mails and unit paths collided and 0 of 4 agents were
imported.) The plan-level checks are in tests/importer/test_chinese_team.py."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sanlun.importer.client import ApiClient
from tests.e2e.system import RunningSystem, free_base_port, sanlun_command, start_sanlun_up, stop, wait_until_up
from tests.e2e.test_import_demo import TOKEN, cli_env
from tests.importer.test_chinese_team import PIPELINE, TEAMS
from tests.importer.test_plan import ACCOUNTS, PRODUCTS

pytestmark = pytest.mark.e2e
NAMES = ("张伟", "章伟", "李娜 (Lina)", "刘洋", "王芳", "陈静")


@pytest.fixture(scope="module")
def gateway(fresh_database_url: str) -> Iterator[str]:
    running: RunningSystem = start_sanlun_up(fresh_database_url, free_base_port(23600))
    try:
        wait_until_up(running)
        yield running.url("gateway")
    finally:
        stop(running)


def data(folder: Path) -> Path:
    folder.mkdir()
    for name, text in {
        "sales_teams.csv": TEAMS,
        "accounts.csv": ACCOUNTS.replace("Orphan,retail,1999,1.5,400,Kenya,Nobody\r\n", ""),  # no bad row here
        "products.csv": PRODUCTS,
        "sales_pipeline.csv": PIPELINE,
    }.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def run(gateway: str, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*sanlun_command(), "import", "--quiet", "--url", gateway, "--data", str(folder)],
        env=cli_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def test_a_chinese_named_team_is_imported_whole_and_a_second_import_changes_nothing(
    gateway: str, tmp_path: Path
) -> None:
    folder = data(tmp_path / "team")
    first = run(gateway, folder)
    assert first.returncode == 0, first.stderr + first.stdout[-3000:]

    with ApiClient(gateway, TOKEN) as api:
        people = {e["name"]: e for e in api.get_all("/api/v1/employees") if e["name"] in NAMES}
        deals = {o["external_id"]: o for o in api.get_all("/api/v1/opportunities") if o.get("external_id")}
    assert set(people) == set(NAMES)  # four agents and their two managers
    assert len({e["email"] for e in people.values()}) == len(NAMES)
    assert people["张伟"]["email"] != people["章伟"]["email"]  # the same pinyin, two people
    agents = ("张伟", "章伟", "李娜 (Lina)", "刘洋")
    assert len({people[a]["org_unit_path"] for a in agents}) == 2  # 王芳's team and 陈静's team
    assert {people[a]["org_unit_path"] for a in ("张伟", "章伟", "李娜 (Lina)")} == {people["张伟"]["org_unit_path"]}
    owners = {key: deal["owner_id"] for key, deal in deals.items() if key.startswith("maven:C")}
    assert owners == {
        "maven:C1": people["张伟"]["id"],
        "maven:C2": people["章伟"]["id"],
        "maven:C3": people["李娜 (Lina)"]["id"],
        "maven:C4": people["刘洋"]["id"],
    }

    again = run(gateway, folder)
    assert again.returncode == 0, again.stderr + again.stdout[-3000:]
    for entity in ("org units", "employees", "accounts", "solutions", "opportunities"):
        # created, updated, unchanged, rejected: nothing written the second time
        assert re.search(rf"^{entity}\s+0\s+0\s+[1-9]\d*\s+0$", again.stdout, re.MULTILINE), again.stdout[-3000:]
    assert "Traceback" not in first.stderr + again.stderr
