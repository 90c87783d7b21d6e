"""Keeps the sales-people view from `employee.created` / `employee.updated`."""

import datetime as dt
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from sanlun.kernel.db import utcnow
from sanlun.kernel.event_routes import CloudEvent
from services.opportunity.sales_people import repository


async def on_employee_changed(*, session: AsyncSession, event: CloudEvent) -> None:
    data = event.data
    await repository.upsert(
        session,
        {
            "employee_id": uuid.UUID(data["id"]),
            "name": data["name"],
            "org_unit_path": data["org_unit_path"],
            "capacity": int(data["capacity"]),
            "active": bool(data["active"]),
            "source_version": int(data["version"]),
            "updated_at": utcnow(),
        },
    )


async def on_stage_changed(*, session: AsyncSession, event: CloudEvent) -> None:
    data = event.data
    values = {
        "employee_id": uuid.UUID(data["employee_id"]),
        "org_unit_path": data["org_unit_path"],
        "stage": data["stage"],
        "stage_since": dt.date.fromisoformat(data["since"]) if data.get("since") else None,
        "stage_seen_at": event.time,
    }
    if data.get("capacity") is not None:
        values["capacity"] = int(data["capacity"])
    await repository.record_stage(session, values)


EVENT_HANDLERS = {
    "employee.stage_changed": on_stage_changed,
    "employee.created": on_employee_changed,
    "employee.updated": on_employee_changed,
}
