"""What the assignment node asks other services: stages and capacity from the
employee lifecycle service, coverage teams from the key account service.

Both calls forward the caller's `Authorization` and `X-Request-ID` and have a
timeout. Neither failure stops an assignment: stages fall back to the local
view kept from `employee.stage_changed` (and the answer says so), coverage
falls back to no continuity (and the answer says so).
"""

import asyncio
import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import Request

BATCH = 1000


@dataclass(slots=True)
class StageInfo:
    stage: str | None
    capacity: int
    open_load: int | None = None


@dataclass(slots=True)
class Stages:
    by_employee: dict[uuid.UUID, StageInfo]
    source: str  # "live" | "cached"
    as_of: dt.datetime | None
    not_found: list[uuid.UUID] = field(default_factory=list)
    note: str | None = None


@dataclass(slots=True)
class Coverage:
    members: dict[str, set[str]]
    source: str  # "live" | "partial" | "unavailable" | "none"
    checked: int = 0
    failed: int = 0
    skipped: int = 0
    note: str | None = None
    # The account's Who tier (ESP+), from the same answer: a deal of a strategic account is strategic.
    tiers: dict[str, str] = field(default_factory=dict)


def _headers(request: Request) -> dict[str, str]:
    return {k: v for k in ("authorization", "x-request-id") if (v := request.headers.get(k))}


async def live_stages(request: Request, employee_ids: list[uuid.UUID]) -> Stages:
    """Raises httpx.HTTPError / ValueError / KeyError when the service cannot answer."""
    settings = request.app.state.settings
    http: httpx.AsyncClient = request.app.state.http
    url = settings.employee_lifecycle_url.rstrip("/") + "/api/v1/employees/stages:batch-get"

    async def one(chunk: list[uuid.UUID]) -> dict[str, Any]:
        response = await http.post(
            url, json={"employee_ids": [str(e) for e in chunk]}, headers=_headers(request),
            timeout=settings.http_timeout_seconds,
        )
        response.raise_for_status()
        return response.json()

    answers = await asyncio.gather(*(one(employee_ids[i : i + BATCH]) for i in range(0, len(employee_ids), BATCH)))
    out: dict[uuid.UUID, StageInfo] = {}
    missing: list[uuid.UUID] = []
    for answer in answers:
        for item in answer["items"]:
            out[uuid.UUID(item["employee_id"])] = StageInfo(
                item.get("stage"), int(item.get("capacity") or 0), item.get("open_load"),
            )
        missing += [uuid.UUID(i) for i in answer.get("not_found", [])]
    return Stages(out, "live", dt.datetime.now(dt.UTC), missing)


async def coverage(request: Request, account_ids: list[uuid.UUID]) -> Coverage:
    if not account_ids:
        return Coverage({}, "none")
    settings = request.app.state.settings
    http: httpx.AsyncClient = request.app.state.http
    base = settings.key_account_url.rstrip("/") + "/api/v1/accounts/{}/coverage"
    limit = settings.coverage_max_accounts
    asked, skipped = account_ids[:limit], max(0, len(account_ids) - limit)
    gate = asyncio.Semaphore(settings.coverage_concurrency)
    today = dt.date.today().isoformat()

    async def one(account_id: uuid.UUID) -> tuple[set[str], str | None] | None:
        async with gate:
            try:
                response = await http.get(
                    base.format(account_id), headers=_headers(request), timeout=settings.http_timeout_seconds
                )
                if response.status_code == 404:
                    return set(), None
                response.raise_for_status()
                body = response.json()
                members = body["members"]
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                return None
        current = {
            str(m["employee_id"]) for m in members
            if (m.get("valid_from") or "") <= today and (m.get("valid_to") is None or m["valid_to"] >= today)
        }
        return current, body.get("tier")

    results = await asyncio.gather(*(one(a) for a in asked))
    failed = sum(r is None for r in results)
    members = {str(a): r[0] for a, r in zip(asked, results) if r and r[0]}
    tiers = {str(a): r[1] for a, r in zip(asked, results) if r and r[1]}
    source = "unavailable" if failed == len(asked) else "partial" if failed or skipped else "live"
    note = None
    if source != "live":
        note = (
            f"coverage unknown for {failed + skipped} of {len(account_ids)} accounts "
            "(key account service unreachable or batch over the limit): their continuity scores 0"
        )
    return Coverage(members, source, len(asked), failed, skipped, note, tiers)
