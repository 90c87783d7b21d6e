"""Keeps the people view from `employee.created|updated|stage_changed`."""

import datetime as dt
import itertools
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.db import utcnow
from sanlun.kernel.event_routes import CloudEvent
from sanlun.kernel.events import Batched
from services.resource_share.people import repository


def _employee(event: CloudEvent) -> dict[str, Any]:
    data = event.data
    manager = data.get("manager_id")
    return {
        "employee_id": uuid.UUID(data["id"]),
        "name": data["name"],
        "org_unit_path": data["org_unit_path"],
        "manager_id": uuid.UUID(manager) if manager else None,
        "capacity": int(data["capacity"]) if data.get("capacity") is not None else None,
        "active": bool(data["active"]),
        "source_version": int(data["version"]),
        "updated_at": utcnow(),
    }


def _stage(event: CloudEvent) -> dict[str, Any]:
    data = event.data
    since = data.get("since")
    return {
        "employee_id": uuid.UUID(data["employee_id"]),
        "org_unit_path": data["org_unit_path"],
        "stage": data["stage"],
        "stage_since": dt.date.fromisoformat(since) if since else None,
        "stage_observed_at": event.time,
        "updated_at": utcnow(),
    }


async def on_employee_events(*, session: AsyncSession, events: list[CloudEvent]) -> None:
    """A run of `employee.*` events in their order: each stretch of records,
    then of stages, in one statement."""
    for stages, stretch in itertools.groupby(events, key=lambda e: e.type == "employee.stage_changed"):
        if stages:
            await repository.upsert_stages(session, [_stage(e) for e in stretch])
        else:
            await repository.upsert_employees(session, [_employee(e) for e in stretch])


EVENT_HANDLERS = dict.fromkeys(
    ("employee.created", "employee.updated", "employee.stage_changed"), Batched(on_employee_events)
)
