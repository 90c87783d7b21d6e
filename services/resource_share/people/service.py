"""Keeps the people view from `employee.created|updated|stage_changed`."""

import datetime as dt
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.db import utcnow
from sanlun.kernel.event_routes import CloudEvent
from services.resource_share.people import repository


async def on_employee_changed(*, session: AsyncSession, event: CloudEvent) -> None:
    data = event.data
    manager = data.get("manager_id")
    await repository.upsert_employee(
        session,
        {
            "employee_id": uuid.UUID(data["id"]),
            "name": data["name"],
            "org_unit_path": data["org_unit_path"],
            "manager_id": uuid.UUID(manager) if manager else None,
            "capacity": int(data["capacity"]) if data.get("capacity") is not None else None,
            "active": bool(data["active"]),
            "source_version": int(data["version"]),
            "updated_at": utcnow(),
        },
    )


async def on_stage_changed(*, session: AsyncSession, event: CloudEvent) -> None:
    data = event.data
    since = data.get("since")
    await repository.upsert_stage(
        session,
        {
            "employee_id": uuid.UUID(data["employee_id"]),
            "org_unit_path": data["org_unit_path"],
            "stage": data["stage"],
            "stage_since": dt.date.fromisoformat(since) if since else None,
            "stage_observed_at": event.time,
            "updated_at": utcnow(),
        },
    )


EVENT_HANDLERS = {
    "employee.created": on_employee_changed,
    "employee.updated": on_employee_changed,
    "employee.stage_changed": on_stage_changed,
}
