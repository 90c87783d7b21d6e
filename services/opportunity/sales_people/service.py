"""Keeps the sales-people view from `employee.created` / `employee.updated`
and `employee.stage_changed`."""

import datetime as dt
import itertools
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.db import utcnow
from sanlun.kernel.event_routes import CloudEvent
from sanlun.kernel.events import Batched
from services.opportunity.sales_people import repository


def _employee(event: CloudEvent) -> dict[str, Any]:
    data = event.data
    return {
        "employee_id": uuid.UUID(data["id"]),
        "name": data["name"],
        "org_unit_path": data["org_unit_path"],
        "capacity": int(data["capacity"]),
        "active": bool(data["active"]),
        "source_version": int(data["version"]),
        "updated_at": utcnow(),
    }


def _stage(event: CloudEvent) -> dict[str, Any]:
    data = event.data
    return {
        "employee_id": uuid.UUID(data["employee_id"]),
        "org_unit_path": data["org_unit_path"],
        "stage": data["stage"],
        "stage_since": dt.date.fromisoformat(data["since"]) if data.get("since") else None,
        "stage_seen_at": event.time,
        "capacity": int(data["capacity"]) if data.get("capacity") is not None else None,
    }


async def on_employee_events(*, session: AsyncSession, events: list[CloudEvent]) -> None:
    """A run of `employee.*` events, applied in their order: each stretch of
    employee records, then of stages, in one statement."""
    for stages, stretch in itertools.groupby(events, key=lambda e: e.type == "employee.stage_changed"):
        if stages:
            await repository.record_stages(session, [_stage(e) for e in stretch])
        else:
            await repository.upsert_employees(session, [_employee(e) for e in stretch])


EMPLOYEE_EVENTS = Batched(on_employee_events)
EVENT_HANDLERS = dict.fromkeys(("employee.created", "employee.updated", "employee.stage_changed"), EMPLOYEE_EVENTS)
