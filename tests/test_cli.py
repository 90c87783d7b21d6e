"""The `sanlun` command line (`up` is covered end to end in tests/e2e)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import uuid

import asyncpg
import jwt
import pytest

from sanlun.cli import main
from sanlun.topology import SCHEMA_OWNERS, SERVICES
from tests.support import ROOT, TEST_SECRET, admin_url_for_tests, create_database, drop_database, with_database

SPEC_FILES = sorted([f"{s.name}.json" for s in SERVICES] + ["gateway.json"])


def sanlun(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the command in its own process: building every app configures logging globally."""
    return subprocess.run(
        [sys.executable, "-m", "sanlun.cli", *args],
        cwd=ROOT,
        env={**_without_database_overrides(os.environ), **env},
        capture_output=True,
        text=True,
        check=False,  # the test reads the exit status
        timeout=120,
    )


def _without_database_overrides(environ: os._Environ[str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if not re.fullmatch(r"SANLUN_\w+_DATABASE_URL", k)}


def test_token_verifies_with_the_secret_and_carries_the_claims(monkeypatch, capsys):
    monkeypatch.setenv("SANLUN_JWT_SECRET", TEST_SECRET)
    employee = str(uuid.uuid4())
    code = main(
        ["token", "--employee", employee, "--org-unit", "group/east/", "--roles", "rep,manager", "--ttl", "600"]
    )
    assert code == 0
    claims = jwt.decode(capsys.readouterr().out.strip(), TEST_SECRET, algorithms=["HS256"])
    assert claims["sub"] == employee
    assert claims["org_unit_path"] == "/group/east"
    assert claims["roles"] == ["manager", "rep"]
    assert claims["exp"] - claims["iat"] == 600


def test_token_is_not_signed_with_another_secret(monkeypatch, capsys):
    monkeypatch.setenv("SANLUN_JWT_SECRET", TEST_SECRET)
    main(["token", "--employee", str(uuid.uuid4()), "--org-unit", "/group"])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(capsys.readouterr().out.strip(), "another-secret-of-at-least-32-bytes", algorithms=["HS256"])


def test_token_refuses_an_unknown_role(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["token", "--employee", str(uuid.uuid4()), "--org-unit", "/group", "--roles", "rep,boss"])
    assert exit_.value.code == 2
    assert "unknown role(s) boss" in capsys.readouterr().err


def test_token_refuses_the_placeholder_secret_outside_development(monkeypatch, capsys):
    monkeypatch.delenv("SANLUN_JWT_SECRET", raising=False)
    monkeypatch.setenv("SANLUN_ENVIRONMENT", "production")
    assert main(["token", "--employee", str(uuid.uuid4()), "--org-unit", "/group"]) == 1
    assert "SANLUN_JWT_SECRET is the development placeholder" in capsys.readouterr().err


def test_openapi_check_passes_on_the_committed_specs():
    result = sanlun("openapi", "export", "--check")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (ROOT / "openapi").glob("*.json")) == SPEC_FILES
    # The copy the gateway serves is checked too: package data, so a wheel install has it.
    assert "gateway/openapi.json" in result.stdout
    packaged = json.loads((ROOT / "gateway" / "openapi.json").read_text())
    assert packaged == json.loads((ROOT / "openapi" / "gateway.json").read_text())


def test_openapi_check_names_the_files_that_drifted(tmp_path):
    assert sanlun("openapi", "export", "--dir", str(tmp_path)).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == SPEC_FILES
    spec = json.loads((tmp_path / "opportunity.json").read_text())
    assert spec["paths"]["/api/v1/opportunities"]
    spec["info"]["title"] = "edited by hand"
    (tmp_path / "opportunity.json").write_text(json.dumps(spec))
    (tmp_path / "gateway.json").unlink()
    result = sanlun("openapi", "export", "--check", "--dir", str(tmp_path))
    assert result.returncode == 1
    named = sorted(line.split("/")[-1].split()[0] for line in result.stderr.splitlines() if "differs" in line)
    assert named == ["gateway.json", "opportunity.json"]
    assert "edited by hand" in (tmp_path / "opportunity.json").read_text()  # --check wrote nothing


async def _schemas(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'alembic_version'"
        )
    finally:
        await conn.close()
    return {r["table_schema"] for r in rows}


def test_migrate_honours_a_per_service_database_url():
    admin_url = admin_url_for_tests()
    shared, own = (f"sanlun_cli_{uuid.uuid4().hex[:10]}" for _ in range(2))
    for name in (shared, own):
        asyncio.run(create_database(admin_url, name))
    try:
        result = sanlun(
            "migrate",
            SANLUN_DATABASE_URL=with_database(admin_url, shared),
            SANLUN_OPPORTUNITY_DATABASE_URL=with_database(admin_url, own),
        )
        assert result.returncode == 0, result.stderr
        assert asyncio.run(_schemas(with_database(admin_url, own))) == {"opportunity"}
        assert asyncio.run(_schemas(with_database(admin_url, shared))) == {s.schema for s in SCHEMA_OWNERS} - {
            "opportunity"
        }
    finally:
        for name in (shared, own):
            asyncio.run(drop_database(admin_url, name))


# -- sanlun import --shift-dates-to and the demo's words -------------------------------------------


def test_import_help_documents_the_data_clock():
    result = sanlun("import", "--help")
    assert result.returncode == 0, result.stderr
    help_text = " ".join(result.stdout.split())
    assert "--shift-dates-to today|YYYY-MM-DD" in help_text
    assert "so no date moves twice" in help_text and "--keep-weekdays" in help_text


def test_import_refuses_a_shift_target_that_is_not_a_date():
    result = sanlun("import", "--shift-dates-to", "next-week", "--url", "http://127.0.0.1:9")
    assert result.returncode == 2
    assert "give `today` or a date YYYY-MM-DD" in result.stderr


def test_the_demo_speaks_in_stages_and_money_a_sales_manager_reads():
    from sanlun.demo import money, proposal_spread, spread, stage_words

    assert stage_words("L1_SUBSISTENCE") == "温饱 Subsistence"
    assert stage_words("L2_COMFORTABLE") == "小康 Comfortable"
    assert stage_words("L3_AFFLUENT") == "富裕 Affluent"
    assert stage_words(None) == "no stage yet"
    assert money({"amount": "1234567.40", "currency": "USD"}) == "USD 1,234,567"
    assert money(430068.0, "USD") == "USD 430,068"
    assert money(None, "USD") == "-"
    assert spread({"a": 71, "b": 1, "c": 14, "d": 0}) == (3, 1, 14.0, 71)
    assert spread({}) == (0, 0, 0.0, 0)
    items = [{"proposed_owner_id": rep} for rep in ("a", "a", "b", "c", "c", "c")]
    assert proposal_spread({"summary": {}, "items": items}) == (3, 1, 2.0, 3)
    # the proposal's own summary wins when it reports recipients and spread
    reported = {"people_receiving": 30, "per_person": {"min": 10, "median": 16, "max": 20}}
    assert proposal_spread({"summary": reported, "items": items}) == (30, 10, 16.0, 20)


def test_the_demo_explains_why_employees_are_not_all_salespeople():
    from sanlun.demo import headcount

    people = [
        {"id": "m1", "name": "Mo Chen", "capacity": 0, "manager_id": None},
        {"id": "m2", "name": "Sam Lee", "capacity": 10, "manager_id": None},
        {"id": "a1", "name": "Ada Lin", "capacity": 80, "manager_id": "m1"},
        {"id": "a2", "name": "Bo Wu", "capacity": 80, "manager_id": "m1"},
        {"id": "a3", "name": "Cy Ho", "capacity": 80, "manager_id": "m2"},
        {"id": "x1", "name": "Di Ma", "capacity": 0, "manager_id": "m2"},
    ]
    staff = headcount(people, {"a1": 3, "m2": 2, "a3": 1})
    text = staff.text()
    assert text[0].startswith("6 employees in the data set, 4 salespeople")
    assert "1 are managers who lead a team and carry no deals (capacity 0): Mo Chen" in text
    assert "1 others have capacity 0: Di Ma" in text
    assert "1 managers also sell (capacity > 0): Sam Lee" in text
    assert any(line.startswith("1 of the 4 salespeople own no deal") and line.endswith("Bo Wu") for line in text)
