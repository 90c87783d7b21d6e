"""`sanlun import` against an in-process fake API: what each bulk call carries
(the source, the organisation's catalogue, reopen_reason, a dry run without an
Idempotency-Key and without facts) and the exit codes a server decides (rows
rejected: 1, tolerated with --max-rejected: 0; a server that keeps failing: 2,
one line, no traceback)."""

from __future__ import annotations

import csv
import functools
import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from sanlun.importer import cli, client
from sanlun.importer.client import ApiClient
from tests.importer.test_plan import MAVEN


class FakeApi:
    """Bulk upserts that answer created (no id on a dry run) or, for `reject`ed keys, failed."""

    def __init__(self, *, reject: frozenset[str] = frozenset(), status: int = 200) -> None:
        self.reject, self.status = reject, status
        self.calls: list[tuple[str, dict[str, Any], str | None]] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.status != 200:
            return httpx.Response(self.status, json={"detail": "the database is away"})
        path = request.url.path.removeprefix("/api/v1/")
        if request.method == "GET":
            return httpx.Response(200, json={"items": [], "next_cursor": None})
        body = json.loads(request.content)
        self.calls.append((path, body, request.headers.get("idempotency-key")))
        if path == "employees/facts:backfill":
            return httpx.Response(200, json={"received": len(body["facts"]), "inserted": 0, "duplicates": 0})
        results = []
        for i, item in enumerate(body["items"]):
            key = item["external_id"]
            if key in self.reject:
                errors = [{"loc": ["body", "items", i, "stage"], "msg": "closed", "code": "illegal_stage_transition"}]
                results.append({"index": i, "status": "failed", "id": None, "errors": errors, "warnings": []})
                continue
            made = None if body.get("dry_run") else f"id-{key}"
            results.append({"index": i, "status": "created", "id": made, "errors": [], "warnings": []})
        return httpx.Response(200, json={"results": results})

    def bulk(self, collection: str) -> list[dict[str, Any]]:
        return [body for path, body, _ in self.calls if path == f"{collection}:bulk-upsert"]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("sales_teams.csv", "accounts.csv", "products.csv"):
        shutil.copyfile(MAVEN / name, folder / name)
    lines = (MAVEN / "sales_pipeline.csv").read_text().splitlines()[:41]
    (folder / "sales_pipeline.csv").write_text("\n".join(lines) + "\n")
    return folder


def run(api: FakeApi, data: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(cli, "ApiClient", functools.partial(ApiClient, transport=httpx.MockTransport(api.handler)))
    monkeypatch.setattr(client.time, "sleep", lambda s: None)
    return cli.main(["--url", "http://gw", "--token", "t", "--data", str(data), "--quiet", *args])


def test_every_bulk_call_names_the_source_and_solutions_go_to_the_organisations_catalogue(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = FakeApi()
    assert run(api, data, monkeypatch, "--reopen-closed", "the customer came back") == 0
    bulks = [body for path, body, _ in api.calls if path.endswith(":bulk-upsert")]
    assert bulks and all(b["source"] == "maven-crm" and "dry_run" not in b for b in bulks)
    assert all(key for path, _, key in api.calls)  # an Idempotency-Key on every write
    (solutions,) = api.bulk("solutions")
    assert solutions["organization_path"] == "/maven/maventech"
    assert {s["external_id"] for s in solutions["items"]} == {s["name"] for s in solutions["items"]}
    assert all(b["reopen_reason"] == "the customer came back" for b in api.bulk("opportunities"))
    assert not any("reopen_reason" in b for c in ("employees", "accounts") for b in api.bulk(c))
    facts = [body for path, body, _ in api.calls if path == "employees/facts:backfill"]
    assert sum(len(f["facts"]) for f in facts) >= 40  # an opening each, an outcome each closed deal
    assert {f["opportunity_ref"] for b in facts for f in b["facts"]} <= {f"id-maven:{i}" for i in ids(data)}


def ids(data: Path) -> list[str]:
    with (data / "sales_pipeline.csv").open(newline="") as f:
        return [r["opportunity_id"] for r in csv.DictReader(f)]


def test_a_dry_run_asks_the_server_to_roll_back_and_sends_no_key_and_no_facts(
    data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api = FakeApi()
    assert run(api, data, monkeypatch, "--dry-run") == 0
    assert api.calls and all(body.get("dry_run") is True and key is None for _, body, key in api.calls)
    assert not [path for path, _, _ in api.calls if "facts" in path]
    # nothing exists yet: the people (their units would be created first), and so the deals, are not sent
    assert [path for path, _, _ in api.calls] == ["org-units:bulk-upsert", "solutions:bulk-upsert"]
    out = capsys.readouterr().out
    assert "DRY RUN: nothing was written" in out
    assert "not checked by the server, it names the org unit this run would create" in out


def test_rejected_rows_exit_1_or_0_when_tolerated_and_the_errors_file_has_them(
    data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    closed = frozenset(f"maven:{i}" for i in ids(data)[:3])
    errors = tmp_path / "errors.csv"
    assert run(FakeApi(reject=closed), data, monkeypatch, "--errors", str(errors)) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: 3 of ") and err.count("\n") == 1
    with errors.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["opportunity_id"] for r in rows] == ids(data)[:3]
    assert all("--reopen-closed REASON" in r["reason"] for r in rows)
    assert run(FakeApi(reject=closed), data, monkeypatch, "--max-rejected", "3") == 0
    assert run(FakeApi(reject=closed), data, monkeypatch, "--max-rejected", "2") == 1


def test_a_server_that_keeps_failing_exits_2_with_one_line(
    data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(FakeApi(status=503), data, monkeypatch) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "server failed after retries" in captured.err
    assert "Traceback" not in captured.err + captured.out
    assert "INTERRUPTED" in captured.out  # the report of what was done says so
    assert run(FakeApi(status=401), data, monkeypatch) == 2
    assert "refused the token (401)" in capsys.readouterr().err


def test_a_file_whose_rows_are_all_rejected_fails_the_run_whatever_max_rejected_tolerates(
    data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline = data / "sales_pipeline.csv"
    with pipeline.open(newline="") as f:
        rows = list(csv.DictReader(f))
    with pipeline.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**row, "deal_stage": "Negotiating"} for row in rows)  # no such stage in the mapping
    assert run(FakeApi(), data, monkeypatch, "--max-rejected", "1000") == 1
    err = capsys.readouterr().err
    assert f"every one of the {len(rows)} opportunities rows was rejected" in err
    assert "Traceback" not in err


def test_a_conflicts_values_come_whole_from_the_warning_and_from_the_message_of_an_older_server() -> None:
    from sanlun.importer.engine import conflict_values

    long = "x" * 300  # longer than a message shows
    msg = 'changed in the CRM since the last import (CRM: "kept", file: "xxx…"); the CRM value was kept'
    assert conflict_values({"msg": msg, "conflict": {"crm": "kept", "file": long}}) == ("kept", long)
    assert conflict_values({"msg": msg}) == ("kept", "xxx…")
    assert conflict_values({"msg": "something else"}) == (None, None)
