"""Stages of many employees: live from the lifecycle service, else the local view.

The call forwards the caller's `Authorization` (the lifecycle service applies
the caller's visibility) and `X-Request-ID`. When it fails, the answer comes
from the people view kept from `employee.stage_changed`, marked `cached` with
the time of that data. Ids the lifecycle service does not show to the caller
are filled from the local view too: the desk needs a stage for its ordering.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from dataclasses import dataclass

import httpx
import structlog
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.context import outbound_headers
from sanlun.kernel.db import utcnow
from services.resource_share.people import repository

log = structlog.get_logger("resource_share.stages")
BATCH = 1000


@dataclass(frozen=True, slots=True)
class Stages:
    by_employee: dict[uuid.UUID, str]
    source: str  # "live" | "cached"
    as_of: dt.datetime | None


async def fetch(request: Request, session: AsyncSession, employee_ids: Collection[uuid.UUID]) -> Stages:
    ids = sorted(set(employee_ids), key=str)
    if not ids:
        return Stages({}, "live", utcnow())
    settings = request.app.state.settings
    http: httpx.AsyncClient = request.app.state.http
    url = settings.employee_lifecycle_url.rstrip("/") + "/api/v1/employees/stages:batch-get"
    headers = {**outbound_headers(), "Authorization": request.headers.get("authorization", "")}
    live: dict[uuid.UUID, str] = {}
    try:
        for start in range(0, len(ids), BATCH):
            response = await http.post(
                url, json={"employee_ids": [str(i) for i in ids[start:start + BATCH]]}, headers=headers,
                timeout=settings.http_timeout_seconds,
            )
            response.raise_for_status()
            for item in response.json()["items"]:
                if item.get("stage"):
                    live[uuid.UUID(item["employee_id"])] = item["stage"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        log.warning("stages_live_failed", error=f"{type(exc).__name__}: {exc}"[:300])
        cached, as_of = await repository.stages_of(session, ids)
        return Stages(cached, "cached", as_of)
    missing = [i for i in ids if i not in live]
    if missing:
        cached, _ = await repository.stages_of(session, missing)
        live.update(cached)
    return Stages(live, "live", utcnow())
