"""An employee's own influence and demand figures (the workspace asks for
both on every L3 view) as prebuilt statements (`sanlun.kernel.reads`): one
SELECT each, run outside a transaction.

Yourself you may always see (`service._in_line`), so your own figures need no
profile, people view or lifecycle lookup: the router takes this path only when
the caller asks for themself, and `service` answers everyone else.
"""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from sanlun.kernel.reads import Prebuilt
from services.resource_share.influence import repository, service
from services.resource_share.influence.schemas import Demand, Influence

BREAKDOWN = Prebuilt(repository.BREAKDOWN)
DEMAND = Prebuilt(repository.DEMAND)


async def own_influence(conn: asyncpg.Connection, employee_id: uuid.UUID) -> Influence:
    row = await BREAKDOWN.fetchrow(conn, {"employee_id": employee_id})
    if row is None:  # pragma: no cover - a SELECT of scalar subqueries always answers one row
        raise RuntimeError("the influence breakdown answered no row")
    return service.influence_figures(employee_id, row)


async def own_demand(conn: asyncpg.Connection, employee_id: uuid.UUID, *, now: dt.datetime, window_days: int) -> Demand:
    """What others asked of the employee in the `window_days` before `now` (the business clock)."""
    since = now - dt.timedelta(days=window_days)
    row = await DEMAND.fetchrow(conn, {"employee_id": employee_id, "since": since, "now": now})
    if row is None:  # pragma: no cover - a SELECT of scalar subqueries always answers one row
        raise RuntimeError("the demand figures answered no row")
    figures = repository.demand_figures(row)
    return Demand(employee_id=employee_id, since=since, window_days=window_days, **figures)
