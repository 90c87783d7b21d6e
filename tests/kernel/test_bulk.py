"""The one bulk-upsert contract (`sanlun.kernel.bulk`), on every bulk endpoint.

Each endpoint gets the same batch shape: a new row, a row that changes a
stored record, a row that repeats one, a row its model refuses and a key sent
twice. Then: a dry run reports the same and writes nothing (no row, no
outbox event), and the old URL forms answer as deprecated aliases.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support import auth, ensure_org_unit

ADMIN = auth(org_unit="/group", roles=("group_admin",))


@dataclass(frozen=True)
class Endpoint:
    service: str
    path: str
    table: str  # the schema-qualified table the rows land in
    good: Any  # external_id, name -> a valid row
    bad: dict[str, Any]  # a row the row model refuses
    alias: str | None = None
    units: tuple[str, ...] = ()  # org units the rows are placed in, made first (issue 16)


def _opportunity(ext: str, name: str) -> dict[str, Any]:
    return {"external_id": ext, "name": name, "owner_id": None, "org_unit_path": "/group/east/team-1"}


def _employee(ext: str, name: str) -> dict[str, Any]:
    return {"external_id": ext, "name": name, "email": f"{ext}@bulk.example", "org_unit_path": "/group/east"}


def _org_unit(ext: str, name: str) -> dict[str, Any]:
    return {"external_id": ext, "slug": ext, "name": name}


def _solution(ext: str, name: str) -> dict[str, Any]:
    return {"external_id": ext, "name": name}


def _account(ext: str, name: str) -> dict[str, Any]:
    return {"external_id": ext, "name": name, "org_unit_path": "/group/east"}


ENDPOINTS = [
    Endpoint(
        "opportunity",
        "/api/v1/opportunities:bulk-upsert",
        "opportunity.opportunities",
        _opportunity,
        {"name": "Bad", "stage": "no-such-stage"},
        alias="/api/v1/opportunities/bulk-upsert",
    ),
    Endpoint(
        "employee_lifecycle",
        "/api/v1/employees:bulk-upsert",
        "employee_lifecycle.employees",
        _employee,
        {"name": "Bad", "email": "not an email", "org_unit_path": "/group/east"},
        units=("/group/east",),
    ),
    Endpoint(
        "employee_lifecycle",
        "/api/v1/org-units:bulk-upsert",
        "employee_lifecycle.org_units",
        _org_unit,
        {"slug": "has space", "name": "Bad"},
    ),
    Endpoint(
        "opportunity",
        "/api/v1/solutions:bulk-upsert",
        "opportunity.solutions",
        _solution,
        {"name": "Bad", "list_price": {"amount": 5, "currency": "CNY"}},
    ),
    Endpoint(
        "key_account",
        "/api/v1/accounts:bulk-upsert",
        "key_account.accounts",
        _account,
        {"name": "Bad", "employees": -3},
        alias="/api/v1/accounts/bulk-upsert",
    ),
]


async def _client(service_client, e: Endpoint):
    client = await service_client(e.service)
    for unit in e.units:
        await ensure_org_unit(client, unit)
    return client


def _key(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def _count(connection, e: Endpoint, keys: list[str]) -> tuple[int, int]:
    rows = (
        await connection.execute(sa.text(f"SELECT count(*) FROM {e.table} WHERE external_id = ANY(:k)"), {"k": keys})
    ).scalar_one()
    schema = e.table.split(".")[0]
    events = (await connection.execute(sa.text(f"SELECT count(*) FROM {schema}.outbox"))).scalar_one()
    return rows, events


@pytest.mark.parametrize("e", ENDPOINTS, ids=lambda e: e.path.rsplit("/", 1)[1])
async def test_created_updated_unchanged_failed(service_client, e: Endpoint):
    client = await _client(service_client, e)
    stays, changes, new, bad = _key("stays"), _key("changes"), _key("new"), _key("bad")
    first = await client.post(
        e.path, json={"items": [e.good(stays, "Stays"), e.good(changes, "Before")]}, headers=ADMIN
    )
    assert first.status_code == 200, first.text
    assert [r["status"] for r in first.json()["results"]] == ["created", "created"]

    items = [
        e.good(new, "New"),
        e.good(changes, "After"),
        e.good(stays, "Stays"),
        {**e.bad, "external_id": bad},
        e.good(new, "New again"),
        {"name": "no key"},
        "not an object",
    ]
    response = await client.post(e.path, json={"items": items}, headers=ADMIN)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["dry_run"] is False
    assert [(r["index"], r["status"]) for r in report["results"]] == [
        (0, "created"),
        (1, "updated"),
        (2, "unchanged"),
        (3, "failed"),
        (4, "failed"),
        (5, "failed"),
        (6, "failed"),
    ]
    assert (report["created"], report["updated"], report["unchanged"], report["failed"]) == (1, 1, 1, 4)
    results = report["results"]
    assert results[1]["id"] == first.json()["results"][1]["id"] and results[2]["id"] == first.json()["results"][0]["id"]
    assert all(r["errors"] == [] for r in results[:3])
    for r in results[3:]:
        assert r["id"] is None and r["errors"]
        assert all(err["loc"][:3] == ["body", "items", r["index"]] and err["msg"] for err in r["errors"])
    assert results[4]["errors"] == [
        {"loc": ["body", "items", 4, "external_id"], "msg": "duplicate of row 0 in this batch", "code": "duplicate"}
    ]
    assert results[5]["external_id"] is None and results[5]["errors"][0]["loc"] == ["body", "items", 5, "external_id"]
    assert results[6]["errors"][0]["loc"] == ["body", "items", 6]


@pytest.mark.parametrize("e", ENDPOINTS, ids=lambda e: e.path.rsplit("/", 1)[1])
async def test_dry_run_reports_and_writes_nothing(service_client, connection, e: Endpoint):
    client = await _client(service_client, e)
    stored, new = _key("stored"), _key("dry")
    made = (await client.post(e.path, json={"items": [e.good(stored, "Stored")]}, headers=ADMIN)).json()
    before = await _count(connection, e, [stored, new])

    items = [e.good(new, "Dry"), e.good(stored, "Renamed"), {**e.bad, "external_id": _key("bad")}]
    response = await client.post(e.path, json={"items": items, "dry_run": True}, headers=ADMIN)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["dry_run"] is True
    assert [r["status"] for r in report["results"]] == ["created", "updated", "failed"]
    assert report["results"][0]["id"] is None  # assigned only when written
    assert report["results"][1]["id"] == made["results"][0]["id"]
    assert await _count(connection, e, [stored, new]) == before  # no row written, no event published
    again = (await client.post(e.path, json={"items": [e.good(stored, "Renamed")]}, headers=ADMIN)).json()
    assert again["results"][0]["status"] == "updated"  # the dry run changed nothing


@pytest.mark.parametrize("e", [e for e in ENDPOINTS if e.alias], ids=lambda e: e.alias.rsplit("/", 2)[1])
async def test_old_url_answers_as_a_deprecated_alias(service_client, e: Endpoint):
    client = await _client(service_client, e)
    ext = _key("alias")
    headers = {**ADMIN, "Idempotency-Key": ext}
    response = await client.post(e.alias, json={"items": [e.good(ext, "Alias")]}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["status"] == "created"
    assert response.headers["deprecation"] == "true"
    assert response.headers["link"] == f'<{e.path}>; rel="successor-version"'
    replay = await client.post(e.alias, json={"items": [e.good(ext, "Alias")]}, headers=headers)
    assert replay.json() == response.json() and replay.headers["deprecation"] == "true"
    current = await client.post(e.path, json={"items": [e.good(ext, "Alias")]}, headers=ADMIN)
    assert "deprecation" not in current.headers
    assert current.json()["results"][0]["status"] == "unchanged"

    spec = (await client.get("/openapi.json")).json()
    assert spec["paths"][e.alias]["post"]["deprecated"] is True
    assert not spec["paths"][e.path]["post"].get("deprecated")


@pytest.mark.parametrize("e", ENDPOINTS, ids=lambda e: e.path.rsplit("/", 1)[1])
async def test_idempotency_key_replays_the_report(service_client, connection, e: Endpoint):
    client = await _client(service_client, e)
    ext = _key("idem")
    headers = {**ADMIN, "Idempotency-Key": ext}
    body = {"items": [e.good(ext, "Once")]}
    first = await client.post(e.path, json=body, headers=headers)
    replay = await client.post(e.path, json=body, headers=headers)
    assert first.status_code == replay.status_code == 200
    assert replay.json() == first.json() and first.json()["results"][0]["status"] == "created"
    other = await client.post(e.path, json={"items": [e.good(ext, "Twice")]}, headers=headers)
    assert other.status_code == 422
